//! `close connection NAME [--reason TEXT]`: `DELETE /api/connections/{name}` with the
//! reason in the `X-Reason` header.

use super::Ctx;
use crate::cli::CloseCmd;
use crate::client::Subject;
use crate::encode;
use crate::error::Result;
use crate::output;

/// Runs `close`.
pub fn run(ctx: &Ctx, cmd: &CloseCmd) -> Result<()> {
    let CloseCmd::Connection { name, reason } = cmd;
    let headers: Vec<(&str, &str)> = reason
        .as_deref()
        .map(|r| vec![("X-Reason", r)])
        .unwrap_or_default();
    ctx.client.delete(
        &encode::api_path(&["connections", name]),
        &headers,
        &Subject::global("connection", name),
    )?;
    output::println(&format!("closed connection '{name}'"))
}

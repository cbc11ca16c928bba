//! `purge queue NAME`: `DELETE /api/queues/{vhost}/{name}/contents`.

use super::Ctx;
use crate::cli::PurgeCmd;
use crate::client::Subject;
use crate::encode;
use crate::error::Result;
use crate::output;

/// Runs `purge`.
pub fn run(ctx: &Ctx, cmd: &PurgeCmd) -> Result<()> {
    let PurgeCmd::Queue { name } = cmd;
    let vhost = ctx.vhost();
    ctx.client.delete(
        &encode::api_path(&["queues", vhost, name, "contents"]),
        &[],
        &Subject::in_vhost("queue", name, vhost),
    )?;
    output::println(&format!("purged queue '{name}' in vhost '{vhost}'"))
}

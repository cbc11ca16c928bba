//! `replay QUEUE` and `move --from Q --to Q`: Warren's
//! `POST /api/warren/queues/{vhost}/{queue}/replay|move`. Replay sends dead-lettered
//! messages back to the queue named in their `x-death` (or to `--to`); move sends
//! them all to `--to`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::Ctx;
use crate::cli::{MoveArgs, ReplayArgs};
use crate::client::Subject;
use crate::encode;
use crate::error::{CliError, Result};
use crate::format::Format;
use crate::output;

/// The server's answer.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct MoveReply {
    /// Messages moved (or that would be, in a dry run).
    pub moved: u64,
    /// Whether nothing was moved.
    pub dry_run: bool,
    /// Messages per destination queue.
    #[serde(default)]
    pub destinations: BTreeMap<String, u64>,
    /// Messages left in place: no `x-death`, or their destination does not exist.
    #[serde(default)]
    pub skipped: u64,
}

/// Runs `replay`.
pub fn replay(ctx: &Ctx, a: &ReplayArgs) -> Result<()> {
    let body = json!({"to": a.to, "limit": a.limit, "dry_run": a.dry_run});
    call(ctx, &a.queue, a.to.as_deref(), "replay", &body)
}

/// Runs `move`.
pub fn move_messages(ctx: &Ctx, a: &MoveArgs) -> Result<()> {
    let body = json!({"to": a.to, "limit": a.limit, "dry_run": a.dry_run});
    call(ctx, &a.from, Some(&a.to), "move", &body)
}

fn call(ctx: &Ctx, queue: &str, to: Option<&str>, action: &str, body: &Value) -> Result<()> {
    let vhost = ctx.vhost();
    let path = encode::api_path(&["warren", "queues", vhost, queue, action]);
    let endpoint = format!("/api/warren/queues/{{vhost}}/{{queue}}/{action}");
    let reply = match ctx
        .client
        .post_json(&path, body, &Subject::warren_endpoint(&endpoint))
    {
        Ok(reply) => reply,
        // A 404 is the source or destination queue (or the vhost) missing, or a server
        // without the endpoint: ask which.
        Err(err @ CliError::NotFound(_)) => {
            for q in std::iter::once(queue).chain(to) {
                ctx.client.get_json(
                    &encode::api_path(&["queues", vhost, q]),
                    &Subject::in_vhost("queue", q, vhost),
                )?;
            }
            return Err(err);
        }
        Err(err) => return Err(err),
    };
    if ctx.format == Format::Json {
        return output::print_json(&reply.json()?);
    }
    let parsed: MoveReply = serde_json::from_str(&reply.body).map_err(|e| CliError::Server {
        status: reply.status,
        reason: format!("unexpected {action} reply: {e}"),
    })?;
    output::println(&summary(&parsed))
}

/// `moved 5 messages (orders: 3, payments: 2)`, `would move ...` in a dry run, and the
/// skipped count when there is one.
pub fn summary(r: &MoveReply) -> String {
    let verb = if r.dry_run { "would move" } else { "moved" };
    let noun = if r.moved == 1 { "message" } else { "messages" };
    let mut line = format!("{verb} {} {noun}", r.moved);
    if !r.destinations.is_empty() {
        let per: Vec<String> = r
            .destinations
            .iter()
            .map(|(q, n)| format!("{q}: {n}"))
            .collect();
        line.push_str(&format!(" ({})", per.join(", ")));
    }
    if r.skipped > 0 {
        line.push_str(&format!(
            "; {} skipped (no x-death, or destination missing)",
            r.skipped
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lists_destinations_and_skips() {
        let r: MoveReply = serde_json::from_str(
            r#"{"moved":5,"dry_run":false,"destinations":{"payments":2,"orders":3},"skipped":1}"#,
        )
        .unwrap();
        assert_eq!(
            summary(&r),
            "moved 5 messages (orders: 3, payments: 2); 1 skipped (no x-death, or destination missing)"
        );
        let dry = MoveReply {
            moved: 1,
            dry_run: true,
            destinations: BTreeMap::from([("q".to_string(), 1)]),
            skipped: 0,
        };
        assert_eq!(summary(&dry), "would move 1 message (q: 1)");
    }
}

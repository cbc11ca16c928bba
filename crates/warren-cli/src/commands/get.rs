//! `get QUEUE`: `POST /api/queues/{vhost}/{queue}/get`. By default the messages are
//! requeued (a peek, though it marks them redelivered); `--ack` takes them.

use serde_json::{json, Value};

use super::Ctx;
use crate::cli::GetArgs;
use crate::client::Subject;
use crate::encode;
use crate::error::Result;
use crate::format::cell::{lookup, plain};
use crate::format::{table, tsv, Format};
use crate::output;

/// Payloads longer than this are cut by the server.
const TRUNCATE: u64 = 50_000;

/// The fields printed for each message, in order (TSV columns too).
const FIELDS: &[&str] = &[
    "exchange",
    "routing_key",
    "redelivered",
    "message_count",
    "payload_bytes",
    "payload_encoding",
    "properties",
];

/// Runs `get`.
pub fn run(ctx: &Ctx, a: &GetArgs) -> Result<()> {
    let vhost = ctx.vhost();
    let body = request_body(a);
    let reply = ctx.client.post_json(
        &encode::api_path(&["queues", vhost, &a.queue, "get"]),
        &body,
        &Subject::in_vhost("queue", &a.queue, vhost),
    )?;
    let messages = reply.json()?;
    let messages = messages.as_array().cloned().unwrap_or_default();
    match ctx.format {
        Format::Json => output::print_json(&Value::Array(messages)),
        Format::Tsv => {
            let mut headers: Vec<String> = FIELDS.iter().map(|f| f.to_string()).collect();
            headers.push("payload".into());
            let rows: Vec<Vec<String>> = messages
                .iter()
                .map(|m| {
                    let mut row: Vec<String> = FIELDS.iter().map(|f| field(m, f)).collect();
                    row.push(field(m, "payload"));
                    row
                })
                .collect();
            output::print(&tsv::render(&headers, &rows))
        }
        Format::Table if messages.is_empty() => {
            output::println(&format!("queue '{}' in vhost '{vhost}' is empty", a.queue))
        }
        Format::Table => output::print(&render(&messages)),
    }
}

/// The get request: `ack_requeue_true` (peek) unless `--ack`.
pub fn request_body(a: &GetArgs) -> Value {
    let ackmode = if a.ack {
        "ack_requeue_false"
    } else {
        "ack_requeue_true"
    };
    json!({"count": a.count, "ackmode": ackmode, "encoding": "auto", "truncate": TRUNCATE})
}

fn field(message: &Value, name: &str) -> String {
    match lookup(message, name) {
        Some(v @ Value::Object(_)) => v.to_string(),
        Some(v) => plain(v),
        None => String::new(),
    }
}

fn render(messages: &[Value]) -> String {
    let mut out = String::new();
    for (i, m) in messages.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("message {} of {}\n", i + 1, messages.len()));
        let pairs: Vec<(String, String)> = FIELDS
            .iter()
            .map(|f| (format!("  {f}"), field(m, f)))
            .collect();
        out.push_str(&table::render_pairs(&pairs));
        let size = lookup(m, "payload_bytes")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let payload = field(m, "payload");
        let cut = if size > payload.len() as u64 && field(m, "payload_encoding") == "string" {
            format!(" (first {} of {size} bytes)", payload.len())
        } else {
            String::new()
        };
        out.push_str(&format!("  payload{cut}:\n{payload}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peek_requeues_unless_ack() {
        let mut a = GetArgs {
            queue: "q".into(),
            count: 2,
            ack: false,
        };
        assert_eq!(
            request_body(&a),
            json!({"count": 2, "ackmode": "ack_requeue_true", "encoding": "auto", "truncate": 50000})
        );
        a.ack = true;
        assert_eq!(request_body(&a)["ackmode"], json!("ack_requeue_false"));
    }

    #[test]
    fn messages_print_fields_then_payload() {
        let m = json!({"exchange": "", "routing_key": "q", "redelivered": true,
            "message_count": 4, "payload_bytes": 5, "payload_encoding": "string",
            "properties": {"delivery_mode": 2}, "payload": "hello"});
        let text = render(&[m]);
        assert!(text.starts_with("message 1 of 1\n"), "{text}");
        assert!(text.contains("  redelivered       true\n"), "{text}");
        assert!(text.contains("  message_count     4\n"), "{text}");
        assert!(
            text.contains("  properties        {\"delivery_mode\":2}\n"),
            "{text}"
        );
        assert!(text.ends_with("  payload:\nhello\n"), "{text}");
    }
}

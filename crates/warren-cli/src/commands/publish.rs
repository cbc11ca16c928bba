//! `publish`: `POST /api/exchanges/{vhost}/{exchange}/publish`. Prints whether the
//! message was routed; a message no queue received is exit 65.

use base64::Engine;
use serde_json::{json, Map, Value};

use super::Ctx;
use crate::args;
use crate::cli::PublishArgs;
use crate::client::Subject;
use crate::encode;
use crate::error::{CliError, Result};
use crate::files;
use crate::format::Format;
use crate::output;

/// Runs `publish`.
pub fn run(ctx: &Ctx, a: &PublishArgs) -> Result<()> {
    let vhost = ctx.vhost();
    let payload = match (&a.payload, &a.payload_file) {
        (Some(text), _) => text.clone().into_bytes(),
        (None, Some(path)) => files::read(path)?,
        (None, None) => return Err(CliError::Usage("give --payload or --payload-file".into())),
    };
    let body = request_body(a, &payload);
    let exchange = encode::exchange_in_path(&a.exchange);
    let reply = ctx.client.post_json(
        &encode::api_path(&["exchanges", vhost, exchange, "publish"]),
        &body,
        &Subject::in_vhost("exchange", exchange, vhost),
    )?;
    let reply = reply.json()?;
    let routed = reply
        .get("routed")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if ctx.format == Format::Json {
        output::print_json(&reply)?;
    } else {
        output::println(&format!("routed: {routed}"))?;
    }
    if routed {
        Ok(())
    } else {
        Err(CliError::Unroutable(format!(
            "exchange '{exchange}' with routing key '{}' in vhost '{vhost}'",
            a.routing_key
        )))
    }
}

/// The publish request: text payloads as `string`, anything else `base64`.
pub fn request_body(a: &PublishArgs, payload: &[u8]) -> Value {
    let (payload, encoding) = match std::str::from_utf8(payload) {
        Ok(text) => (text.to_string(), "string"),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(payload),
            "base64",
        ),
    };
    let mut properties: Map<String, Value> = args::to_object(&a.properties);
    if !a.headers.is_empty() {
        properties.insert("headers".into(), Value::Object(args::to_object(&a.headers)));
    }
    json!({
        "properties": properties,
        "routing_key": a.routing_key,
        "payload": payload,
        "payload_encoding": encoding,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish_args() -> PublishArgs {
        PublishArgs {
            exchange: String::new(),
            routing_key: "tasks".into(),
            payload: None,
            payload_file: None,
            properties: vec![("delivery_mode".into(), json!(2))],
            headers: vec![("attempt".into(), json!(3))],
        }
    }

    #[test]
    fn text_is_sent_as_string_binary_as_base64() {
        let a = publish_args();
        let text = request_body(&a, b"hello");
        assert_eq!(
            text,
            json!({"properties": {"delivery_mode": 2, "headers": {"attempt": 3}},
                   "routing_key": "tasks", "payload": "hello", "payload_encoding": "string"})
        );
        let binary = request_body(&a, &[0xff, 0x00]);
        assert_eq!(binary["payload"], json!("/wA="));
        assert_eq!(binary["payload_encoding"], json!("base64"));
    }
}

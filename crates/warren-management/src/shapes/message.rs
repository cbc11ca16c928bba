//! Messages in the API: properties to and from JSON, and a got message as
//! `POST /api/queues/{vhost}/{name}/get` returns it.

use base64::Engine;
use serde_json::{json, Map, Value};
use warren_broker::definitions::arguments::{table_from_json, table_to_json};
use warren_broker::vhost::GotMessage;
use warren_protocol::BasicProperties;

use crate::error::{ApiError, ApiResult};

/// Properties as RabbitMQ shows them: only those set, `type` for the kind.
pub fn properties_to_json(p: &BasicProperties) -> Value {
    let mut m = Map::new();
    let mut text = |key: &str, v: &Option<String>| {
        if let Some(v) = v {
            m.insert(key.to_owned(), Value::String(v.clone()));
        }
    };
    text("content_type", &p.content_type);
    text("content_encoding", &p.content_encoding);
    text("correlation_id", &p.correlation_id);
    text("reply_to", &p.reply_to);
    text("expiration", &p.expiration);
    text("message_id", &p.message_id);
    text("type", &p.kind);
    text("user_id", &p.user_id);
    text("app_id", &p.app_id);
    text("cluster_id", &p.cluster_id);
    if let Some(v) = p.delivery_mode {
        m.insert("delivery_mode".into(), v.into());
    }
    if let Some(v) = p.priority {
        m.insert("priority".into(), v.into());
    }
    if let Some(v) = p.timestamp {
        m.insert("timestamp".into(), v.into());
    }
    if let Some(h) = &p.headers {
        m.insert("headers".into(), Value::Object(table_to_json(h)));
    }
    Value::Object(m)
}

/// The most bytes of a short-string property (AMQP `shortstr`).
const SHORTSTR_MAX: usize = 255;

fn text_of(m: &Map<String, Value>, key: &str) -> ApiResult<Option<String>> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::String(s)) if s.len() > SHORTSTR_MAX => Err(ApiError::bad_request(format!(
            "property '{key}' is {} bytes, more than {SHORTSTR_MAX}",
            s.len()
        ))),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ApiError::bad_request(format!(
            "not_string: property '{key}' must be a string, got {other}"
        ))),
    }
}

fn u8_of(m: &Map<String, Value>, key: &str) -> ApiResult<Option<u8>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let n = match v {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            };
            n.and_then(|n| u8::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| ApiError::bad_request(format!("property '{key}' must be 0..255")))
        }
    }
}

/// Properties from the JSON of a publish; unknown keys are a 400 as in RabbitMQ.
pub fn properties_from_json(v: &Value) -> ApiResult<BasicProperties> {
    let m = match v {
        Value::Object(m) => m.clone(),
        Value::Array(a) if a.is_empty() => Map::new(),
        Value::Null => Map::new(),
        _ => return Err(ApiError::bad_request("properties must be an object")),
    };
    const KNOWN: [&str; 14] = [
        "content_type",
        "content_encoding",
        "headers",
        "delivery_mode",
        "priority",
        "correlation_id",
        "reply_to",
        "expiration",
        "message_id",
        "timestamp",
        "type",
        "user_id",
        "app_id",
        "cluster_id",
    ];
    if let Some(k) = m.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!("unknown property '{k}'")));
    }
    let headers = match m.get("headers") {
        None | Some(Value::Null) => None,
        Some(Value::Object(h)) => Some(table_from_json(h)),
        Some(Value::Array(a)) if a.is_empty() => None,
        Some(_) => return Err(ApiError::bad_request("headers must be an object")),
    };
    let timestamp = match m.get("timestamp") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().ok_or_else(|| {
            ApiError::bad_request("property 'timestamp' must be a non-negative integer")
        })?),
    };
    let delivery_mode = u8_of(&m, "delivery_mode")?;
    if delivery_mode.is_some_and(|d| d != 1 && d != 2) {
        return Err(ApiError::bad_request(
            "delivery_mode_unknown: delivery_mode must be 1 or 2",
        ));
    }
    let expiration = text_of(&m, "expiration")?;
    if expiration
        .as_deref()
        .is_some_and(|e| e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(ApiError::bad_request(
            "invalid expiration: a number of milliseconds, as a string",
        ));
    }
    if let Some(Value::Object(h)) = m.get("headers") {
        if let Some((k, _)) = h.iter().find(|(_, v)| v.is_null()) {
            return Err(ApiError::bad_request(format!(
                "null_not_allowed: header '{k}' is null"
            )));
        }
    }
    Ok(BasicProperties {
        content_type: text_of(&m, "content_type")?,
        content_encoding: text_of(&m, "content_encoding")?,
        headers,
        delivery_mode,
        priority: u8_of(&m, "priority")?,
        correlation_id: text_of(&m, "correlation_id")?,
        reply_to: text_of(&m, "reply_to")?,
        expiration,
        message_id: text_of(&m, "message_id")?,
        timestamp,
        kind: text_of(&m, "type")?,
        user_id: text_of(&m, "user_id")?,
        app_id: text_of(&m, "app_id")?,
        cluster_id: text_of(&m, "cluster_id")?,
    })
}

/// A message returned by a get: payload as text when `encoding` is `auto` and it is
/// UTF-8, else base64; cut to `truncate` bytes if given.
pub fn got(m: &GotMessage, encoding: &str, truncate: Option<usize>) -> Value {
    let body = &m.message.body;
    let shown = &body[..truncate.map_or(body.len(), |t| t.min(body.len()))];
    let (payload, payload_encoding) = match std::str::from_utf8(shown) {
        Ok(text) if encoding == "auto" => (text.to_owned(), "string"),
        _ => (
            base64::engine::general_purpose::STANDARD.encode(shown),
            "base64",
        ),
    };
    json!({
        "payload_bytes": body.len(),
        "redelivered": m.redelivered,
        "exchange": m.message.exchange.as_ref(),
        "routing_key": m.message.routing_key.as_ref(),
        "message_count": m.remaining,
        "properties": properties_to_json(&m.message.properties()),
        "payload": payload,
        "payload_encoding": payload_encoding,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_round_trip_and_unknown_keys_are_refused() {
        let v = json!({"delivery_mode": 2, "headers": {"h": 1}, "type": "t", "priority": "3"});
        let p = properties_from_json(&v).unwrap();
        assert_eq!(p.delivery_mode, Some(2));
        assert_eq!(p.priority, Some(3));
        assert_eq!(p.kind.as_deref(), Some("t"));
        let back = properties_to_json(&p);
        assert_eq!(back["headers"]["h"], 1);
        assert_eq!(back["type"], "t");
        assert!(properties_from_json(&json!({"bogus": 1})).is_err());
        assert!(properties_from_json(&json!({"delivery_mode": 300})).is_err());
        assert!(properties_from_json(&json!({"delivery_mode": 7})).is_err());
        assert!(properties_from_json(&json!({"expiration": "abc"})).is_err());
        assert!(properties_from_json(&json!({"expiration": 60000})).is_err());
        assert!(properties_from_json(&json!({"content_type": 5})).is_err());
        assert!(properties_from_json(&json!({"headers": {"h": null}})).is_err());
        assert!(properties_from_json(&json!({"message_id": "x".repeat(256)})).is_err());
        assert!(properties_from_json(&json!({"expiration": "60000"})).is_ok());
        assert!(properties_from_json(&json!([])).unwrap() == BasicProperties::default());
    }
}

//! Request fields as rabbitmqadmin v1 sends them: booleans and numbers may arrive as
//! strings (`"durable": "true"`, `"count": "1"`), which RabbitMQ accepts.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A boolean, or the string `"true"` / `"false"`.
pub(crate) fn bool_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match Value::deserialize(d)? {
        Value::Bool(b) => Ok(b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        other => Err(serde::de::Error::custom(format!(
            "expected true or false, got {other}"
        ))),
    }
}

/// A non-negative integer, or a string holding one.
pub(crate) fn usize_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| serde::de::Error::custom(format!("expected a count, got {n}"))),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("expected a count, got '{s}'"))),
        other => Err(serde::de::Error::custom(format!(
            "expected a count, got {other}"
        ))),
    }
}

/// An optional count that may be a string.
pub(crate) fn opt_usize_or_string<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<usize>, D::Error> {
    usize_or_string(d).map(Some)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Body {
        #[serde(deserialize_with = "super::bool_or_string")]
        durable: bool,
        #[serde(deserialize_with = "super::usize_or_string")]
        count: usize,
    }

    #[test]
    fn strings_are_read_as_rabbitmq_reads_them() {
        let b: Body = serde_json::from_str(r#"{"durable": "true", "count": "3"}"#).unwrap();
        assert!(b.durable);
        assert_eq!(b.count, 3);
        let b: Body = serde_json::from_str(r#"{"durable": false, "count": 2}"#).unwrap();
        assert!(!b.durable);
        assert!(serde_json::from_str::<Body>(r#"{"durable": "yes", "count": 1}"#).is_err());
    }
}

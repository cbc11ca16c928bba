//! Per-vhost and per-user limits, RabbitMQ's `vhost-limits` and user limits: a missing
//! or negative value means no limit, as in RabbitMQ.

use serde_json::Value;

use crate::definitions::JsonMap;

/// A limit value that is not a whole number, or a key that is not a limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// Not one of the limit's keys.
    #[error("unknown limit '{0}' (expected one of: {1})")]
    UnknownKey(String, &'static str),
    /// Not an integer.
    #[error("limit '{0}' must be an integer, got {1}")]
    NotInteger(String, String),
}

fn parse(map: &JsonMap, keys: &'static [&'static str]) -> Result<Vec<Option<u64>>, LimitError> {
    let mut out = vec![None; keys.len()];
    for (key, value) in map {
        let Some(i) = keys.iter().position(|k| k == key) else {
            return Err(LimitError::UnknownKey(key.clone(), keys_text(keys)));
        };
        let n = match value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
        .ok_or_else(|| LimitError::NotInteger(key.clone(), value.to_string()))?;
        out[i] = u64::try_from(n).ok();
    }
    Ok(out)
}

fn keys_text(keys: &[&str]) -> &'static str {
    if keys.contains(&"max-queues") {
        "max-connections, max-queues"
    } else {
        "max-connections, max-channels"
    }
}

fn to_json(pairs: &[(&str, Option<u64>)]) -> JsonMap {
    pairs
        .iter()
        .filter_map(|(k, v)| v.map(|v| ((*k).to_owned(), Value::from(v))))
        .collect()
}

/// A virtual host's limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VHostLimits {
    /// Most client connections open to the vhost at once.
    pub max_connections: Option<u64>,
    /// Most queues the vhost may hold.
    pub max_queues: Option<u64>,
}

impl VHostLimits {
    const KEYS: &'static [&'static str] = &["max-connections", "max-queues"];

    /// Reads `{"max-connections": n, "max-queues": n}`.
    pub fn from_json(map: &JsonMap) -> Result<Self, LimitError> {
        let v = parse(map, Self::KEYS)?;
        Ok(VHostLimits {
            max_connections: v[0],
            max_queues: v[1],
        })
    }

    /// The limits as RabbitMQ writes them (set ones only).
    pub fn to_json(&self) -> JsonMap {
        to_json(&[
            ("max-connections", self.max_connections),
            ("max-queues", self.max_queues),
        ])
    }

    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        *self == VHostLimits::default()
    }
}

/// A user's limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserLimits {
    /// Most connections the user may have open at once.
    pub max_connections: Option<u64>,
    /// Most channels the user may have open at once, over all their connections.
    pub max_channels: Option<u64>,
}

impl UserLimits {
    const KEYS: &'static [&'static str] = &["max-connections", "max-channels"];

    /// Reads `{"max-connections": n, "max-channels": n}`.
    pub fn from_json(map: &JsonMap) -> Result<Self, LimitError> {
        let v = parse(map, Self::KEYS)?;
        Ok(UserLimits {
            max_connections: v[0],
            max_channels: v[1],
        })
    }

    /// The limits as RabbitMQ writes them (set ones only).
    pub fn to_json(&self) -> JsonMap {
        to_json(&[
            ("max-connections", self.max_connections),
            ("max-channels", self.max_channels),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_means_unlimited_and_unknown_keys_are_refused() {
        let map: JsonMap =
            serde_json::from_str(r#"{"max-connections": -1, "max-queues": 10}"#).unwrap();
        let l = VHostLimits::from_json(&map).unwrap();
        assert_eq!(l.max_connections, None);
        assert_eq!(l.max_queues, Some(10));
        assert_eq!(l.to_json().len(), 1);
        let bad: JsonMap = serde_json::from_str(r#"{"max-channels": 1}"#).unwrap();
        assert!(VHostLimits::from_json(&bad).is_err());
        let text: JsonMap = serde_json::from_str(r#"{"max-channels": "x"}"#).unwrap();
        assert!(UserLimits::from_json(&text).is_err());
    }
}

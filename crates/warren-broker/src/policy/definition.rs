//! A policy's definition: the JSON map of settings, validated into typed values.
//!
//! The keys and their checks are RabbitMQ 3.10's (`rabbit_policies:register/0` and
//! `validate_policy0/2`): `max-priority` is not a policy setting, and an operator policy
//! takes only the numeric limits. Warren adds `consumer-timeout` (a later RabbitMQ's
//! policy key). `queue-mode` and the quorum queues' `max-in-memory-*` limits are accepted
//! and ignored (Warren has one queue storage mode, and pages durable queues by its own
//! budget).

use std::sync::Arc;

use serde_json::Value;

use super::error::{erlang_term, PolicyError};
use crate::definitions::JsonMap;
use crate::queue::args::{Overflow, MAX_EXPIRY_MS};
use crate::queue::stream_args::parse_max_age;

/// A settable key: its name, what RabbitMQ calls its value in an error, whether an
/// operator policy may set it, and how it is stored (false: the value is invalid).
struct Key {
    name: &'static str,
    what: &'static str,
    operator: bool,
    store: fn(&mut PolicyDefinition, &Value) -> bool,
}

const fn key(
    name: &'static str,
    what: &'static str,
    operator: bool,
    store: fn(&mut PolicyDefinition, &Value) -> bool,
) -> Key {
    Key {
        name,
        what,
        operator,
        store,
    }
}

/// Longest TTL or expiry a policy may set, ms (what a declare argument may set).
const MAX_MS: u64 = MAX_EXPIRY_MS as u64;
/// Largest length limit or timeout (a declare argument's bound).
const MAX_LEN: u64 = i64::MAX as u64;

/// An integer in `min..=max`.
fn int(v: &Value, min: u64, max: u64) -> Option<u64> {
    v.as_u64().filter(|n| (min..=max).contains(n))
}

fn text(v: &Value) -> Option<Arc<str>> {
    v.as_str().map(Arc::from)
}

/// Stores a valid value; says whether it was valid.
fn put<T>(slot: &mut Option<T>, value: Option<T>) -> bool {
    let valid = value.is_some();
    if valid {
        *slot = value;
    }
    valid
}

fn overflow(v: &Value) -> Option<Overflow> {
    match v.as_str()? {
        "drop-head" => Some(Overflow::DropHead),
        "reject-publish" => Some(Overflow::RejectPublish),
        "reject-publish-dlx" => Some(Overflow::RejectPublishDlx),
        _ => None,
    }
}

fn queue_mode(v: &Value) -> Option<String> {
    v.as_str()
        .filter(|m| ["default", "lazy"].contains(m))
        .map(str::to_owned)
}

/// Every key a policy may set.
const KEYS: &[Key] = &[
    key(
        "alternate-exchange",
        "alternate exchange name",
        false,
        |d, v| put(&mut d.alternate_exchange, text(v)),
    ),
    key(
        "dead-letter-exchange",
        "dead letter exchange name",
        false,
        |d, v| put(&mut d.dead_letter_exchange, text(v)),
    ),
    key(
        "dead-letter-routing-key",
        "dead letter routing key",
        false,
        |d, v| put(&mut d.dead_letter_routing_key, text(v)),
    ),
    key("message-ttl", "message TTL", true, |d, v| {
        put(&mut d.message_ttl_ms, int(v, 0, MAX_MS))
    }),
    key("expires", "queue expiry", true, |d, v| {
        put(&mut d.expires_ms, int(v, 1, MAX_MS))
    }),
    key("max-length", "maximum length", true, |d, v| {
        put(&mut d.max_length, int(v, 0, MAX_LEN))
    }),
    key(
        "max-length-bytes",
        "maximum length in bytes",
        true,
        |d, v| put(&mut d.max_length_bytes, int(v, 0, MAX_LEN)),
    ),
    key(
        "max-in-memory-length",
        "maximum memory in bytes",
        true,
        |_, v| int(v, 0, MAX_LEN).is_some(),
    ),
    key(
        "max-in-memory-bytes",
        "maximum memory in bytes",
        true,
        |_, v| int(v, 0, MAX_LEN).is_some(),
    ),
    key("queue-mode", "queue-mode value", false, |d, v| {
        put(&mut d.queue_mode, queue_mode(v))
    }),
    key("overflow", "overflow value", false, |d, v| {
        put(&mut d.overflow, overflow(v))
    }),
    key("delivery-limit", "delivery limit", true, |d, v| {
        let limit = int(v, 0, u64::from(u32::MAX)).map(|n| n as u32);
        put(&mut d.delivery_limit, limit)
    }),
    key("consumer-timeout", "consumer timeout", false, |d, v| {
        put(&mut d.consumer_timeout_ms, int(v, 1, MAX_LEN))
    }),
    // Streams' retention by age: the value as `x-max-age` takes it ("7D", "1h").
    key("max-age", "max age", false, |d, v| {
        put(&mut d.max_age_ms, v.as_str().and_then(parse_max_age))
    }),
];

/// Keys accepted and stored but without effect in Warren.
pub const IGNORED_KEYS: &[&str] = &["queue-mode", "max-in-memory-length", "max-in-memory-bytes"];

/// A validated policy definition: the settings Warren applies, typed, and the map as
/// given (for listing and export).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyDefinition {
    /// `message-ttl`, ms.
    pub message_ttl_ms: Option<u64>,
    /// `expires`, ms (at least 1).
    pub expires_ms: Option<u64>,
    /// `max-length`, messages.
    pub max_length: Option<u64>,
    /// `max-length-bytes`, body bytes.
    pub max_length_bytes: Option<u64>,
    /// `overflow`.
    pub overflow: Option<Overflow>,
    /// `dead-letter-exchange`.
    pub dead_letter_exchange: Option<Arc<str>>,
    /// `dead-letter-routing-key`.
    pub dead_letter_routing_key: Option<Arc<str>>,
    /// `delivery-limit`.
    pub delivery_limit: Option<u32>,
    /// `consumer-timeout`, ms (at least 1).
    pub consumer_timeout_ms: Option<u64>,
    /// `max-age` (streams), ms.
    pub max_age_ms: Option<u64>,
    /// `alternate-exchange` (exchanges).
    pub alternate_exchange: Option<Arc<str>>,
    /// `queue-mode` (`default` or `lazy`): accepted, ignored.
    pub queue_mode: Option<String>,
    raw: JsonMap,
}

impl PolicyDefinition {
    /// Validates `map` as the definition of a policy, or of an operator policy when
    /// `operator` is set. As in RabbitMQ, a bad value of a known key is reported before
    /// keys that are not settings.
    pub fn parse(map: &JsonMap, operator: bool) -> Result<PolicyDefinition, PolicyError> {
        if map.is_empty() {
            return Err(PolicyError::Empty);
        }
        let mut d = PolicyDefinition {
            message_ttl_ms: None,
            expires_ms: None,
            max_length: None,
            max_length_bytes: None,
            overflow: None,
            dead_letter_exchange: None,
            dead_letter_routing_key: None,
            delivery_limit: None,
            consumer_timeout_ms: None,
            max_age_ms: None,
            alternate_exchange: None,
            queue_mode: None,
            raw: map.clone(),
        };
        let mut unrecognised = Vec::new();
        for (name, value) in map {
            match KEYS
                .iter()
                .find(|k| k.name == name && (k.operator || !operator))
            {
                Some(k) => d.set(k, value)?,
                None => unrecognised.push((name, value)),
            }
        }
        if unrecognised.is_empty() {
            return Ok(d);
        }
        let terms: Vec<String> = unrecognised
            .iter()
            .map(|(k, v)| format!("{{<<{}>>,{}}}", Value::String((*k).clone()), erlang_term(v)))
            .collect();
        Err(PolicyError::Unrecognised {
            keys: unrecognised.iter().map(|(k, _)| (*k).clone()).collect(),
            terms: format!("[{}]", terms.join(",")),
        })
    }

    fn set(&mut self, key: &Key, value: &Value) -> Result<(), PolicyError> {
        if (key.store)(self, value) {
            Ok(())
        } else {
            Err(PolicyError::InvalidValue {
                key: key.name.to_owned(),
                value: erlang_term(value),
                what: key.what,
            })
        }
    }

    /// The definition as given.
    pub fn raw(&self) -> &JsonMap {
        &self.raw
    }

    /// The keys it sets that Warren accepts but ignores ([`IGNORED_KEYS`]).
    pub fn ignored_keys(&self) -> impl Iterator<Item = &str> {
        self.raw
            .keys()
            .map(String::as_str)
            .filter(|k| IGNORED_KEYS.contains(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> JsonMap {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn parse(v: Value) -> Result<PolicyDefinition, PolicyError> {
        PolicyDefinition::parse(&map(v), false)
    }

    fn parse_op(v: Value) -> Result<PolicyDefinition, PolicyError> {
        PolicyDefinition::parse(&map(v), true)
    }

    #[test]
    fn every_setting_parses_to_its_typed_value() {
        let d = parse(json!({
            "message-ttl": 1000, "expires": 2000, "max-length": 3, "max-length-bytes": 4,
            "overflow": "reject-publish-dlx", "dead-letter-exchange": "dlx",
            "dead-letter-routing-key": "rk", "delivery-limit": 5, "consumer-timeout": 6000,
            "alternate-exchange": "ae", "queue-mode": "lazy"
        }))
        .unwrap();
        assert_eq!(d.message_ttl_ms, Some(1000));
        assert_eq!(d.expires_ms, Some(2000));
        assert_eq!((d.max_length, d.max_length_bytes), (Some(3), Some(4)));
        assert_eq!(d.overflow, Some(Overflow::RejectPublishDlx));
        assert_eq!(d.dead_letter_exchange.as_deref(), Some("dlx"));
        assert_eq!(d.dead_letter_routing_key.as_deref(), Some("rk"));
        assert_eq!(d.delivery_limit, Some(5));
        assert_eq!(d.consumer_timeout_ms, Some(6000));
        assert_eq!(d.alternate_exchange.as_deref(), Some("ae"));
        assert_eq!(d.queue_mode.as_deref(), Some("lazy"));
        assert_eq!(d.raw().len(), 11);
        assert_eq!(d.ignored_keys().collect::<Vec<_>>(), ["queue-mode"]);
    }

    #[test]
    fn max_priority_and_unknown_keys_are_not_policy_settings() {
        let e = parse(json!({"max-priority": 5})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Validation failed\n\n[{<<\"max-priority\">>,5}] are not recognised policy settings"
        );
        let e = parse(json!({"foo": "x", "max-length": 1, "bar": [1]})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Validation failed\n\n[{<<\"bar\">>,[1]},{<<\"foo\">>,<<\"x\">>}] are not recognised policy settings"
        );
        assert!(matches!(e, PolicyError::Unrecognised { keys, .. } if keys == ["bar", "foo"]));
    }

    #[test]
    fn bad_values_are_refused_before_unknown_keys() {
        let text = |v| parse(v).unwrap_err().to_string();
        assert_eq!(
            text(json!({"message-ttl": -1})),
            "Validation failed\n\n-1 is not a valid message TTL"
        );
        assert_eq!(
            text(json!({"message-ttl": "x"})),
            "Validation failed\n\n<<\"x\">> is not a valid message TTL"
        );
        assert_eq!(
            text(json!({"expires": 0})),
            "Validation failed\n\n0 is not a valid queue expiry"
        );
        assert_eq!(
            text(json!({"max-length": 1.5})),
            "Validation failed\n\n1.5 is not a valid maximum length"
        );
        assert_eq!(
            text(json!({"overflow": "drop-tail"})),
            "Validation failed\n\n<<\"drop-tail\">> is not a valid overflow value"
        );
        assert_eq!(
            text(json!({"dead-letter-exchange": 5})),
            "Validation failed\n\n5 is not a valid dead letter exchange name"
        );
        assert_eq!(
            text(json!({"queue-mode": "fast"})),
            "Validation failed\n\n<<\"fast\">> is not a valid queue-mode value"
        );
        // RabbitMQ 3.10.8's texts for max-age (an integer there fails with a 500).
        assert_eq!(
            text(json!({"max-age": "1X"})),
            "Validation failed\n\n<<\"1X\">> is not a valid max age"
        );
        assert_eq!(
            text(json!({"max-age": "0D"})),
            "Validation failed\n\n<<\"0D\">> is not a valid max age"
        );
        assert_eq!(
            text(json!({"max-age": 10})),
            "Validation failed\n\n10 is not a valid max age"
        );
        assert_eq!(
            parse(json!({"max-age": "7D"})).unwrap().max_age_ms,
            Some(7 * 86_400_000)
        );
        assert_eq!(
            text(json!({"aaa": 1, "delivery-limit": -2})),
            "Validation failed\n\n-2 is not a valid delivery limit"
        );
        assert_eq!(
            text(json!({"message-ttl": MAX_EXPIRY_MS + 1})),
            format!(
                "Validation failed\n\n{} is not a valid message TTL",
                MAX_EXPIRY_MS + 1
            )
        );
        assert_eq!(parse(json!({})).unwrap_err(), PolicyError::Empty);
    }

    #[test]
    fn operator_policies_take_only_the_numeric_limits() {
        let d = parse_op(json!({
            "message-ttl": 1, "expires": 2, "max-length": 3, "max-length-bytes": 4,
            "delivery-limit": 5, "max-in-memory-length": 6, "max-in-memory-bytes": 7
        }))
        .unwrap();
        assert_eq!(d.delivery_limit, Some(5));
        for refused in [
            json!({"dead-letter-exchange": "dlx"}),
            json!({"overflow": "drop-head"}),
            json!({"alternate-exchange": "ae"}),
            json!({"queue-mode": "lazy"}),
            json!({"consumer-timeout": 5}),
        ] {
            let e = parse_op(refused.clone()).unwrap_err();
            assert!(
                matches!(e, PolicyError::Unrecognised { .. }),
                "{refused}: {e}"
            );
            assert!(parse(refused).is_ok());
        }
    }
}

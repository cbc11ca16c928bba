//! `x-consistent-hash` exchanges, as RabbitMQ's `rabbitmq_consistent_hash_exchange`
//! plugin: each message goes to one bound destination, chosen by a consistent hash of its
//! routing key (or of the header named by the exchange argument `hash-header`, or of the
//! `message_id`, `correlation_id` or `timestamp` property named by `hash-property`).
//!
//! A binding's key is its weight: a positive integer, written in decimal (`"1"`, `"+4"`,
//! `"007"`; RabbitMQ's `list_to_integer`), giving the destination that many shares of
//! the hash space. A destination bound several times gets the sum of its weights.
//! Messages without the header or property hashed all go to one destination, as in
//! RabbitMQ.
//!
//! Where Warren differs from the plugin (RabbitMQ 3.10 uses jump consistent hashing over
//! buckets numbered in binding order): the ring ([`Ring`]) places a destination's points
//! by a hash of its name, so a key keeps its destination across restarts and whatever
//! order the bindings were made in, and unbinding one destination moves only that
//! destination's keys. Which destination a given key goes to is not the same as in
//! RabbitMQ (the plugin hashes Erlang terms with `erlang:phash2`).
//!
//! The error texts of [`validate_binding_key`] and [`HashOn::from_arguments`] were checked
//! against RabbitMQ 3.10.8 with the plugin enabled. A non-string `hash-header` or
//! `hash-property` crashes RabbitMQ's validation (541 `INTERNAL_ERROR`, connection
//! closed); Warren refuses it with 406 and the text given below.

use std::collections::BTreeMap;
use std::sync::Arc;

use warren_protocol::{FieldTable, FieldValue};

use super::headers::erlang_term;
use super::ring::{hash_bytes, KeyHasher, Ring};
use super::{Binding, Destination, MessageFields};

/// The exchange type name.
pub const CONSISTENT_HASH_EXCHANGE_TYPE: &str = "x-consistent-hash";
/// The exchange argument naming a header to hash instead of the routing key.
pub const HASH_HEADER_ARG: &str = "hash-header";
/// The exchange argument naming a property to hash instead of the routing key.
pub const HASH_PROPERTY_ARG: &str = "hash-property";

/// What a consistent-hash exchange hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashOn {
    /// The routing key (the default).
    RoutingKey,
    /// The value of this header.
    Header(Arc<str>),
    /// This property.
    Property(HashProperty),
}

/// The properties `hash-property` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashProperty {
    /// `message_id`.
    MessageId,
    /// `correlation_id`.
    CorrelationId,
    /// `timestamp` (hashed as its decimal digits, as RabbitMQ's `integer_to_binary`).
    Timestamp,
}

impl HashOn {
    /// Reads `hash-header` / `hash-property` from an exchange's declare arguments, with
    /// RabbitMQ's texts for the errors it reports (406 `PRECONDITION_FAILED`).
    pub fn from_arguments(args: &FieldTable) -> Result<HashOn, String> {
        let string = |name: &str| -> Result<Option<String>, String> {
            match args.get(name) {
                None => Ok(None),
                Some(FieldValue::LongString(b)) => Ok(Some(String::from_utf8_lossy(b).into())),
                Some(other) => Err(format!(
                    "Invalid argument '{name}': expected a string, got {}",
                    erlang_term(other)
                )),
            }
        };
        match (string(HASH_HEADER_ARG)?, string(HASH_PROPERTY_ARG)?) {
            (None, None) => Ok(HashOn::RoutingKey),
            (Some(header), None) => Ok(HashOn::Header(header.into())),
            (None, Some(property)) => match property.as_str() {
                "message_id" => Ok(HashOn::Property(HashProperty::MessageId)),
                "correlation_id" => Ok(HashOn::Property(HashProperty::CorrelationId)),
                "timestamp" => Ok(HashOn::Property(HashProperty::Timestamp)),
                _ => Err(format!("Unsupported property: {property}")),
            },
            (Some(_), Some(_)) => {
                Err("hash-header and hash-property are mutually exclusive".to_owned())
            }
        }
    }
}

/// Checks a binding key as RabbitMQ's plugin does before binding (406
/// `PRECONDITION_FAILED` with this text otherwise) and returns the weight it gives.
/// Any decimal integer is an integer, however long; weights beyond `u64::MAX` count as
/// `u64::MAX` (the ring shares its points in proportion anyway).
pub fn validate_binding_key(key: &str) -> Result<u64, String> {
    let not_integer = || {
        format!(
            "The binding key must be an integer: {}",
            erlang_term(&FieldValue::LongString(bytes::Bytes::copy_from_slice(
                key.as_bytes()
            )))
        )
    };
    let (negative, digits) = match key.as_bytes().first() {
        Some(b'-') => (true, &key[1..]),
        Some(b'+') => (false, &key[1..]),
        _ => (false, key),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_integer());
    }
    let weight = digits.bytes().fold(0u64, |acc, d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    if negative || weight == 0 {
        return Err("The binding key must be greater than 0".to_owned());
    }
    Ok(weight)
}

/// The weight a stored or validated binding key gives (0 for a key that is not one,
/// which [`validate_binding_key`] keeps from being bound).
fn weight_of(key: &str) -> u64 {
    validate_binding_key(key).unwrap_or(0)
}

/// Routing structure of a consistent-hash exchange: the summed weight of each
/// destination and the ring built from them (rebuilt on every binding change).
#[derive(Debug)]
pub(super) struct ConsistentHashRoutes {
    on: HashOn,
    weights: BTreeMap<Destination, u64>,
    ring: Ring<Destination>,
}

impl ConsistentHashRoutes {
    /// An empty table hashing `on`.
    pub(super) fn new(on: HashOn) -> Self {
        ConsistentHashRoutes {
            on,
            weights: BTreeMap::new(),
            ring: Ring::default(),
        }
    }

    /// Follows a binding the index has just added.
    pub(super) fn bound(&mut self, binding: &Binding) {
        let weight = weight_of(&binding.routing_key);
        let total = self.weights.entry(binding.destination.clone()).or_default();
        *total = total.saturating_add(weight);
        self.rebuild();
    }

    /// Follows a binding the index has just removed.
    pub(super) fn unbound(&mut self, destination: &Destination, routing_key: &str) {
        if let Some(total) = self.weights.get_mut(destination) {
            *total = total.saturating_sub(weight_of(routing_key));
            if *total == 0 {
                self.weights.remove(destination);
            }
        }
        self.rebuild();
    }

    /// Follows the removal of every binding to `destination`.
    pub(super) fn destination_removed(&mut self, destination: &Destination) {
        if self.weights.remove(destination).is_some() {
            self.rebuild();
        }
    }

    /// Appends the one destination the message's hash falls to (none without bindings).
    pub(super) fn route(
        &self,
        routing_key: &str,
        fields: &MessageFields<'_>,
        out: &mut Vec<Destination>,
    ) {
        if let Some(d) = self.ring.owner(self.hash(routing_key, fields)) {
            out.push(d.clone());
        }
    }

    /// The hash of what this exchange hashes.
    fn hash(&self, routing_key: &str, fields: &MessageFields<'_>) -> u64 {
        match &self.on {
            HashOn::RoutingKey => hash_bytes(routing_key.as_bytes()),
            HashOn::Header(name) => match fields.headers.and_then(|h| h.get(name)) {
                Some(v) => {
                    let mut h = KeyHasher::default();
                    hash_value(&mut h, v);
                    h.finish()
                }
                None => ABSENT,
            },
            HashOn::Property(p) => match p {
                HashProperty::MessageId => fields.message_id.map(|s| hash_bytes(s.as_bytes())),
                HashProperty::CorrelationId => {
                    fields.correlation_id.map(|s| hash_bytes(s.as_bytes()))
                }
                HashProperty::Timestamp => fields.timestamp.map(|t| {
                    let mut h = KeyHasher::default();
                    h.write_decimal(t);
                    h.finish()
                }),
            }
            .unwrap_or(ABSENT),
        }
    }

    /// Rebuilds the ring from the weights; destinations in name order with their name's
    /// hash as identity, so the ring depends only on who is bound with what weight.
    fn rebuild(&mut self) {
        self.ring = Ring::build(
            self.weights
                .iter()
                .map(|(d, w)| (d.clone(), identity(d), *w)),
        );
    }
}

/// Where messages lacking the hashed header or property go: one fixed point, so all of
/// them reach the same destination, as in RabbitMQ.
const ABSENT: u64 = 0;

/// A destination's identity on the ring: its kind and name.
pub(crate) fn identity(d: &Destination) -> u64 {
    let mut h = KeyHasher::default();
    h.write_u8(match d {
        Destination::Queue(_) => b'q',
        Destination::Exchange(_) => b'e',
    });
    h.write(d.name().as_bytes());
    h.finish()
}

/// Feeds a header value: strings and byte arrays as their bytes (so a string header
/// hashes like the same routing key), integers of every width as their decimal digits
/// (clients pick the width), other types with a type tag.
fn hash_value(h: &mut KeyHasher, v: &FieldValue) {
    use FieldValue as V;
    match v {
        V::LongString(b) | V::Bytes(b) => h.write(b),
        V::I8(n) => h.write_signed_decimal(i64::from(*n)),
        V::I16(n) => h.write_signed_decimal(i64::from(*n)),
        V::I32(n) => h.write_signed_decimal(i64::from(*n)),
        V::I64(n) => h.write_signed_decimal(*n),
        V::U8(n) => h.write_decimal(u64::from(*n)),
        V::U16(n) => h.write_decimal(u64::from(*n)),
        V::U32(n) => h.write_decimal(u64::from(*n)),
        V::U64(n) | V::Timestamp(n) => h.write_decimal(*n),
        V::Bool(b) => h.write(if *b { b"\0true" } else { b"\0false" }),
        V::F32(x) => {
            h.write_u8(b'f');
            h.write(&x.to_bits().to_le_bytes());
        }
        V::F64(x) => {
            h.write_u8(b'd');
            h.write(&x.to_bits().to_le_bytes());
        }
        V::Decimal(d) => {
            h.write_u8(b'D');
            h.write_u8(d.scale);
            h.write(&d.value.to_le_bytes());
        }
        V::Table(t) => {
            h.write_u8(b'F');
            for (k, v) in t.iter() {
                h.write(k.as_bytes());
                h.write_u8(0);
                hash_value(h, v);
            }
        }
        V::Array(items) => {
            h.write_u8(b'A');
            for v in items {
                hash_value(h, v);
                h.write_u8(0);
            }
        }
        V::Void => h.write_u8(b'V'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::{ExchangeKind, RoutingTable};
    use warren_protocol::BasicProperties;

    fn q(name: &str) -> Destination {
        Destination::Queue(name.into())
    }

    fn table(on: &[(&str, &str)]) -> RoutingTable {
        let args: FieldTable = on
            .iter()
            .map(|&(k, v)| (k, FieldValue::string(v)))
            .collect();
        RoutingTable::for_exchange(ExchangeKind::ConsistentHash, &args)
    }

    fn bind(t: &mut RoutingTable, dest: &str, weight: &str) -> bool {
        t.bind(Binding::new(q(dest), weight, FieldTable::new()))
    }

    fn route(t: &RoutingTable, key: &str, fields: &MessageFields<'_>) -> Vec<Destination> {
        let mut out = Vec::new();
        t.route_message(key, fields, &mut out);
        out
    }

    #[test]
    fn binding_keys_as_rabbitmq() {
        assert_eq!(validate_binding_key("1"), Ok(1));
        assert_eq!(validate_binding_key("+4"), Ok(4));
        assert_eq!(validate_binding_key("007"), Ok(7));
        assert_eq!(
            validate_binding_key("99999999999999999999999"),
            Ok(u64::MAX)
        );
        for bad in ["abc", "", " 4", "1.5", "+", "-", "4 "] {
            assert_eq!(
                validate_binding_key(bad),
                Err(format!(
                    "The binding key must be an integer: <<{}>>",
                    if bad.is_empty() {
                        String::new()
                    } else {
                        format!("\"{bad}\"")
                    }
                ))
            );
        }
        for small in ["0", "-3", "-0", "000"] {
            assert_eq!(
                validate_binding_key(small),
                Err("The binding key must be greater than 0".to_owned()),
                "{small}"
            );
        }
    }

    #[test]
    fn hash_arguments_as_rabbitmq() {
        let args = |pairs: &[(&str, FieldValue)]| -> FieldTable { pairs.iter().cloned().collect() };
        assert_eq!(HashOn::from_arguments(&args(&[])), Ok(HashOn::RoutingKey));
        assert_eq!(
            HashOn::from_arguments(&args(&[("hash-header", FieldValue::string("h"))])),
            Ok(HashOn::Header("h".into()))
        );
        for (name, p) in [
            ("message_id", HashProperty::MessageId),
            ("correlation_id", HashProperty::CorrelationId),
            ("timestamp", HashProperty::Timestamp),
        ] {
            assert_eq!(
                HashOn::from_arguments(&args(&[("hash-property", FieldValue::string(name))])),
                Ok(HashOn::Property(p))
            );
        }
        assert_eq!(
            HashOn::from_arguments(&args(&[("hash-property", FieldValue::string("app_id"))])),
            Err("Unsupported property: app_id".to_owned())
        );
        assert_eq!(
            HashOn::from_arguments(&args(&[
                ("hash-property", FieldValue::string("message_id")),
                ("hash-header", FieldValue::string("h")),
            ])),
            Err("hash-header and hash-property are mutually exclusive".to_owned())
        );
        assert_eq!(
            HashOn::from_arguments(&args(&[("hash-header", FieldValue::I32(5))])),
            Err("Invalid argument 'hash-header': expected a string, got 5".to_owned())
        );
    }

    #[test]
    fn one_destination_per_message_and_stable() {
        let mut t = table(&[]);
        assert!(route(&t, "k", &MessageFields::default()).is_empty());
        bind(&mut t, "a", "1");
        bind(&mut t, "b", "1");
        bind(&mut t, "c", "2");
        let mut seen = std::collections::BTreeSet::new();
        for k in 0..200 {
            let key = format!("key-{k}");
            let r = route(&t, &key, &MessageFields::default());
            assert_eq!(r.len(), 1, "{key}");
            assert_eq!(r, route(&t, &key, &MessageFields::default()));
            seen.insert(r[0].clone());
        }
        assert_eq!(seen.len(), 3);
    }

    #[test]
    fn weights_add_up_and_unbind_restores() {
        let mut t = table(&[]);
        bind(&mut t, "a", "1");
        bind(&mut t, "b", "1");
        let before: Vec<_> = (0..500)
            .map(|k| route(&t, &k.to_string(), &MessageFields::default()))
            .collect();
        // A second binding of `a` (another weight) adds to its share...
        assert!(bind(&mut t, "a", "3"));
        let a_share = (0..2000)
            .filter(|k| route(&t, &k.to_string(), &MessageFields::default()) == vec![q("a")])
            .count();
        assert!((1200..1800).contains(&a_share), "{a_share}");
        // ...and unbinding it puts every key back.
        assert!(t.unbind(&q("a"), "3", &FieldTable::new()));
        for (k, r) in before.iter().enumerate() {
            assert_eq!(&route(&t, &k.to_string(), &MessageFields::default()), r);
        }
        assert_eq!(t.remove_destination(&q("a")), 1);
        for k in 0..100 {
            assert_eq!(
                route(&t, &k.to_string(), &MessageFields::default()),
                vec![q("b")]
            );
        }
    }

    #[test]
    fn header_hashing() {
        let mut t = table(&[("hash-header", "h")]);
        for d in ["a", "b", "c", "d"] {
            bind(&mut t, d, "1");
        }
        let with = |v: FieldValue| -> FieldTable { [("h", v)].into_iter().collect() };
        // The routing key plays no part.
        let h = with(FieldValue::string("user-1"));
        let one = route(&t, "x", &MessageFields::headers(Some(&h)));
        assert_eq!(one, route(&t, "y", &MessageFields::headers(Some(&h))));
        // A string header hashes like the same routing key would on a routing-key table.
        let mut by_key = table(&[]);
        for d in ["a", "b", "c", "d"] {
            bind(&mut by_key, d, "1");
        }
        assert_eq!(one, route(&by_key, "user-1", &MessageFields::default()));
        // Integers hash by value whatever their width.
        assert_eq!(
            route(
                &t,
                "",
                &MessageFields::headers(Some(&with(FieldValue::I32(42))))
            ),
            route(
                &t,
                "",
                &MessageFields::headers(Some(&with(FieldValue::U64(42))))
            )
        );
        // Different values spread; absent headers all go to one place.
        let spread: std::collections::BTreeSet<_> = (0..100)
            .map(|i| {
                route(
                    &t,
                    "",
                    &MessageFields::headers(Some(&with(FieldValue::I64(i)))),
                )
            })
            .collect();
        assert!(spread.len() > 1);
        let none = route(&t, "a", &MessageFields::default());
        assert_eq!(none.len(), 1);
        assert_eq!(
            none,
            route(&t, "b", &MessageFields::headers(Some(&FieldTable::new())))
        );
    }

    #[test]
    fn property_hashing() {
        let mut t = table(&[("hash-property", "message_id")]);
        for d in ["a", "b", "c"] {
            bind(&mut t, d, "1");
        }
        let props = |id: &str| BasicProperties {
            message_id: Some(id.to_owned()),
            ..BasicProperties::default()
        };
        let spread: std::collections::BTreeSet<_> = (0..60)
            .map(|i| {
                let p = props(&format!("m{i}"));
                let r = route(&t, "same-key", &MessageFields::of(&p));
                assert_eq!(r, route(&t, "other-key", &MessageFields::of(&p)));
                r
            })
            .collect();
        assert_eq!(spread.len(), 3);
        let mut ts = table(&[("hash-property", "timestamp")]);
        bind(&mut ts, "a", "1");
        bind(&mut ts, "b", "1");
        let at = |t: u64| BasicProperties {
            timestamp: Some(t),
            ..BasicProperties::default()
        };
        let spread: std::collections::BTreeSet<_> = (0..60)
            .map(|i| route(&ts, "k", &MessageFields::of(&at(1_700_000_000 + i))))
            .collect();
        assert_eq!(spread.len(), 2);
    }
}

//! Binding objects (`/api/bindings`) and their `properties_key`, the name a binding
//! has in URLs: its routing key, plus `~` and a hash of its arguments when it has any.

use std::sync::Arc;

use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use warren_broker::routing::{Binding, Destination};
use warren_broker::VHost;
use warren_protocol::FieldTable;

use super::arguments;

/// The key that names a binding in `/api/bindings/{vhost}/e/{source}/q/{dest}/{key}`,
/// as RabbitMQ shows it: the routing key percent-encoded (`orders.%23`), then `~` and a
/// hash of the arguments if there are any; `~` alone for neither.
pub fn properties_key(routing_key: &str, args: &FieldTable) -> String {
    let key = quote_plus(routing_key);
    if args.is_empty() {
        if key.is_empty() {
            "~".to_owned()
        } else {
            key
        }
    } else {
        let canonical = arguments(args).to_string();
        let digest = Sha256::digest(canonical.as_bytes());
        let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..6]);
        format!("{key}~{hash}")
    }
}

/// Whether `given` (a URL segment, decoded once by the router) names the binding with
/// `routing_key` and `args`: clients send the key as listed, encoded once more, or
/// decoded.
pub fn key_matches(given: &str, routing_key: &str, args: &FieldTable) -> bool {
    let key = properties_key(routing_key, args);
    given == key || unquote_plus(given) == key || given == unquote_plus(&key)
}

/// RabbitMQ's `quote_plus`: letters, digits and `-._~` stay, a space becomes `+`,
/// anything else `%XX`.
fn quote_plus(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The inverse of [`quote_plus`] (a malformed escape is kept as is).
fn unquote_plus(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| s.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], escaped) {
            (_, Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (other, None) => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One binding from `source`.
pub fn binding(source: &str, b: &Binding, vhost: &str) -> Value {
    let (destination, kind) = match &b.destination {
        Destination::Queue(q) => (q.as_ref(), "queue"),
        Destination::Exchange(e) => (e.as_ref(), "exchange"),
    };
    json!({
        "source": source,
        "vhost": vhost,
        "destination": destination,
        "destination_type": kind,
        "routing_key": b.routing_key.as_ref(),
        "arguments": arguments(&b.arguments),
        "properties_key": properties_key(&b.routing_key, &b.arguments),
    })
}

/// The default exchange's implicit binding of a queue (routing key = queue name).
pub fn default_binding(queue: &Arc<str>, vhost: &str) -> Value {
    json!({
        "source": "",
        "vhost": vhost,
        "destination": queue.as_ref(),
        "destination_type": "queue",
        "routing_key": queue.as_ref(),
        "arguments": {},
        "properties_key": properties_key(queue, &FieldTable::new()),
    })
}

/// Every binding of a vhost: the default exchange's first (one per queue, by name),
/// then each exchange's, by source name.
pub fn all_bindings(vhost: &VHost) -> Vec<Value> {
    let name = vhost.name();
    let mut queues: Vec<Arc<str>> = vhost.queues().iter().map(|q| q.name().clone()).collect();
    queues.sort();
    let mut out: Vec<Value> = queues.iter().map(|q| default_binding(q, name)).collect();
    let mut exchanges = vhost.exchanges();
    exchanges.sort_by(|a, b| a.name().cmp(b.name()));
    for e in exchanges {
        for b in e.bindings() {
            out.push(binding(e.name(), &b, name));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_as_rabbitmq_encodes_them_and_match_either_way() {
        let none = FieldTable::new();
        assert_eq!(properties_key("orders.#", &none), "orders.%23");
        assert_eq!(properties_key("a.*.b c", &none), "a.%2A.b+c");
        assert_eq!(properties_key("", &none), "~");
        for given in ["orders.%23", "orders.%2523", "orders.#"] {
            assert!(key_matches(given, "orders.#", &none), "{given}");
        }
        assert!(!key_matches("orders.x", "orders.#", &none));
        assert_eq!(unquote_plus("100%"), "100%");
    }
}

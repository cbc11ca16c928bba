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

/// The key that names a binding in `/api/bindings/{vhost}/e/{source}/q/{dest}/{key}`.
pub fn properties_key(routing_key: &str, args: &FieldTable) -> String {
    if args.is_empty() {
        if routing_key.is_empty() {
            "~".to_owned()
        } else {
            routing_key.to_owned()
        }
    } else {
        let canonical = arguments(args).to_string();
        let digest = Sha256::digest(canonical.as_bytes());
        let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..6]);
        format!("{routing_key}~{hash}")
    }
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

//! Users, vhosts, permissions, policies and limits as the API shows them.

use serde_json::{json, Map, Value};
use warren_broker::access::User;
use warren_broker::definitions::{PermissionDef, PolicyDef, TopicPermissionDef};

/// A user (`GET /api/users`): its tags as an array (RabbitMQ 3.10), hash and limits.
pub fn user(u: &User) -> Value {
    let def = u.to_def();
    json!({
        "name": u.name,
        "password_hash": def.password_hash,
        "hashing_algorithm": def.hashing_algorithm,
        "tags": u.tags,
        "limits": Value::Object(u.limits.to_json()),
    })
}

/// A permission entry.
pub fn permission(p: &PermissionDef) -> Value {
    json!({
        "user": p.user,
        "vhost": p.vhost,
        "configure": p.configure,
        "write": p.write,
        "read": p.read,
    })
}

/// A topic permission entry.
pub fn topic_permission(p: &TopicPermissionDef) -> Value {
    json!({
        "user": p.user,
        "vhost": p.vhost,
        "exchange": p.exchange,
        "write": p.write,
        "read": p.read,
    })
}

/// A policy (or operator policy).
pub fn policy(p: &PolicyDef) -> Value {
    json!({
        "vhost": p.vhost,
        "name": p.name,
        "pattern": p.pattern,
        "apply-to": p.apply_to,
        "definition": Value::Object(p.definition.clone()),
        "priority": p.priority,
    })
}

/// A limits entry: `{"vhost": v, "value": {...}}` or `{"user": u, "value": {...}}`.
pub fn limits(owner_key: &str, owner: &str, value: Map<String, Value>) -> Value {
    json!({ owner_key: owner, "value": Value::Object(value) })
}

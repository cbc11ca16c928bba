//! How the admin layer's definitions are kept in the store: a kind, a key, and the
//! definitions-format JSON of the entry (the same shape an export writes), so a record
//! never needs a format of its own.

use bytes::Bytes;
use serde::{de::DeserializeOwned, Serialize};
use warren_store::DefinitionRecord;

/// A vhost: key = name, value = `VHostDef`.
pub const VHOST: &str = "vhost";
/// A user: key = name, value = `UserDef` (with hash and limits).
pub const USER: &str = "user";
/// Permissions: key = `[vhost, user]`, value = `PermissionDef`.
pub const PERMISSION: &str = "permission";
/// Topic permissions: key = `[vhost, user, exchange]`, value = `TopicPermissionDef`.
pub const TOPIC_PERMISSION: &str = "topic_permission";
/// Vhost limits: key = vhost, value = `{"max-connections": n, ...}`.
pub const VHOST_LIMITS: &str = "vhost_limits";
/// A policy: key = `[vhost, name]`, value = `PolicyDef`.
pub const POLICY: &str = "policy";
/// An operator policy: key = `[vhost, name]`, value = `PolicyDef`.
pub const OPERATOR_POLICY: &str = "operator_policy";
/// The broker's own state: key `initialized` once the first boot created its defaults.
pub const BROKER: &str = "broker";
/// The key of the first-boot marker.
pub const INITIALIZED: &str = "initialized";

/// A composite key (unambiguous whatever the names contain).
pub fn key(parts: &[&str]) -> String {
    serde_json::to_string(parts).expect("strings serialize")
}

/// A record of `kind` under `key` holding `value`.
pub fn record(kind: &str, key: String, value: &impl Serialize) -> DefinitionRecord {
    DefinitionRecord {
        kind: kind.to_owned(),
        key,
        value: Bytes::from(serde_json::to_vec(value).expect("definitions serialize")),
    }
}

/// A record's value.
pub fn value<T: DeserializeOwned>(r: &DefinitionRecord) -> Result<T, String> {
    serde_json::from_slice(&r.value).map_err(|e| format!("stored {} '{}': {e}", r.kind, r.key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_keys_do_not_collide() {
        assert_ne!(key(&["a\",\"b", "c"]), key(&["a", "b\",\"c"]));
    }
}

//! Key layouts. Numeric parts are big-endian so sled's byte order is numeric order:
//! a queue's entries iterate in seq order, delayed messages in due order.

use crate::codec::Writer;
use crate::records::DelayedKey;

/// Exchanges and queues: length-prefixed vhost, then length-prefixed name.
pub fn named(vhost: &str, name: &str) -> Vec<u8> {
    let mut w = Writer::with_capacity(vhost.len() + name.len() + 2);
    w.bytes(vhost.as_bytes()).bytes(name.as_bytes());
    w.0
}

/// Splits a [`named`] key back into its two parts (both must be UTF-8).
pub fn split_named(key: &[u8]) -> Option<(String, String)> {
    let mut r = crate::codec::Reader::new(key);
    let first = r.bytes("kind").ok()?;
    let second = r.bytes("key").ok()?;
    Some((
        String::from_utf8(first.to_vec()).ok()?,
        String::from_utf8(second.to_vec()).ok()?,
    ))
}

/// Messages: the id.
pub fn message(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// Queue entries: queue id, then seq.
pub fn entry(queue: u64, seq: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&queue.to_be_bytes());
    k[8..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// The prefix of every entry of `queue`.
pub fn entry_prefix(queue: u64) -> [u8; 8] {
    queue.to_be_bytes()
}

/// Splits an entry key into (queue id, seq).
pub fn split_entry(key: &[u8]) -> Option<(u64, u64)> {
    if key.len() != 16 {
        return None;
    }
    let mut q = [0u8; 8];
    let mut s = [0u8; 8];
    q.copy_from_slice(&key[..8]);
    s.copy_from_slice(&key[8..]);
    Some((u64::from_be_bytes(q), u64::from_be_bytes(s)))
}

/// Splits a message key into its id.
pub fn split_message(key: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = key.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

/// Delayed messages: due time, then seq.
pub fn delayed(key: DelayedKey) -> [u8; 16] {
    entry(key.due_ms, key.seq)
}

/// Splits a delayed-message key.
pub fn split_delayed(key: &[u8]) -> Option<DelayedKey> {
    split_entry(key).map(|(due_ms, seq)| DelayedKey { due_ms, seq })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_keys_sort_by_queue_then_seq() {
        let mut keys = [entry(2, 1), entry(1, 300), entry(1, 2), entry(1, 256)];
        keys.sort();
        let split: Vec<_> = keys.iter().map(|k| split_entry(k).unwrap()).collect();
        assert_eq!(split, vec![(1, 2), (1, 256), (1, 300), (2, 1)]);
        assert_eq!(split_entry(&[0; 15]), None);
    }

    #[test]
    fn named_keys_split_back_into_their_parts() {
        assert_eq!(
            split_named(&named("user", "bob")),
            Some(("user".to_owned(), "bob".to_owned()))
        );
        assert_eq!(split_named(&[3, b'a']), None);
    }

    #[test]
    fn named_keys_do_not_collide_across_the_vhost_boundary() {
        assert_ne!(named("ab", "c"), named("a", "bc"));
        assert!(named("a", "q").starts_with(&named("a", "")[..2]));
    }
}

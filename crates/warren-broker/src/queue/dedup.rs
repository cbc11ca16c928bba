//! Message deduplication: remembers recent message ids (from a header) and drops
//! repeats within the cache's size and time window, as LavinMQ's
//! `x-message-deduplication` does.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use warren_protocol::FieldValue;

use crate::message::Message;
use crate::queue::args::DedupConfig;

/// Recently seen ids, oldest first.
#[derive(Debug)]
pub(crate) struct DedupCache {
    config: DedupConfig,
    seen: HashMap<Bytes, u64>,
    order: VecDeque<(Bytes, u64)>,
}

impl DedupCache {
    /// An empty cache.
    pub fn new(config: &DedupConfig) -> Self {
        DedupCache {
            config: config.clone(),
            seen: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Whether `message` repeats an id seen within the window; remembers it if not.
    /// Messages without the header are never duplicates.
    pub fn is_duplicate(&mut self, message: &Message, now_ms: u64) -> bool {
        let Some(id) = dedup_id(message, &self.config.header) else {
            return false;
        };
        self.evict(now_ms);
        if self.seen.contains_key(&id) {
            return true;
        }
        let expires = self
            .config
            .cache_ttl_ms
            .map_or(u64::MAX, |ttl| now_ms.saturating_add(ttl));
        self.seen.insert(id.clone(), expires);
        self.order.push_back((id, expires));
        while self.order.len() > self.config.cache_size {
            if let Some((old, _)) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        false
    }

    fn evict(&mut self, now_ms: u64) {
        // Entries share one TTL, so they expire in insertion order.
        while self.order.front().is_some_and(|(_, exp)| *exp <= now_ms) {
            if let Some((old, _)) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
    }
}

/// The deduplication id of a message: the header's value, as bytes.
pub(crate) fn dedup_id(message: &Message, header: &str) -> Option<Bytes> {
    let props = message.properties();
    let value = props.headers?.remove(header)?;
    Some(match value {
        FieldValue::LongString(b) | FieldValue::Bytes(b) => b,
        other => Bytes::from(crate::queue::args::value_text(&other)),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use warren_protocol::{BasicProperties, FieldTable};

    use super::*;

    fn msg(id: Option<&str>) -> Message {
        let mut headers = FieldTable::new();
        if let Some(id) = id {
            headers.insert("x-deduplication-header", FieldValue::string(id));
        }
        let props = BasicProperties {
            headers: Some(headers),
            ..Default::default()
        };
        let mut raw = bytes::BytesMut::new();
        props.encode(&mut raw);
        Message::new(Arc::from(""), "k", &props, raw.freeze(), Bytes::new())
    }

    fn cache(size: usize, ttl: Option<u64>) -> DedupCache {
        DedupCache::new(&DedupConfig {
            cache_size: size,
            cache_ttl_ms: ttl,
            header: "x-deduplication-header".into(),
        })
    }

    #[test]
    fn repeats_within_the_window_are_duplicates() {
        let mut c = cache(10, Some(1000));
        assert!(!c.is_duplicate(&msg(Some("a")), 0));
        assert!(c.is_duplicate(&msg(Some("a")), 500));
        assert!(
            !c.is_duplicate(&msg(Some("a")), 1500),
            "forgotten after the TTL"
        );
        assert!(!c.is_duplicate(&msg(None), 0));
        assert!(!c.is_duplicate(&msg(None), 0), "no id, never a duplicate");
    }

    #[test]
    fn cache_size_bounds_memory() {
        let mut c = cache(2, None);
        for id in ["a", "b", "c"] {
            assert!(!c.is_duplicate(&msg(Some(id)), 0));
        }
        assert!(!c.is_duplicate(&msg(Some("a")), 0), "evicted by size");
        assert_eq!(c.seen.len(), 2);
    }
}

//! Helpers shared by the store's tests.
#![allow(dead_code)]

use std::path::Path;

use bytes::Bytes;
use warren_store::{
    EntryRecord, MessageRecord, QueueId, QueueRecord, SledStore, Store, StoreConfig, StoredEntry,
};

/// Opens a store in `dir` with settings suited to tests (small cache).
pub fn open(dir: &Path) -> SledStore {
    SledStore::open(&config(dir)).expect("open store")
}

/// The test configuration for `dir`.
pub fn config(dir: &Path) -> StoreConfig {
    let mut config = StoreConfig::new(dir);
    config.cache_capacity_bytes = 16 << 20;
    config
}

/// A message with a recognisable body.
pub fn message(body: &str) -> MessageRecord {
    MessageRecord {
        exchange: "amq.direct".into(),
        routing_key: "work".into(),
        raw_properties: Bytes::from_static(&[0x10, 0x00, 0x02]),
        body: Bytes::from(body.as_bytes().to_vec()),
        published_at_ms: 1_700_000_000_000,
        expiration_ms: None,
    }
}

/// A queue record in vhost `/`.
pub fn queue(name: &str) -> QueueRecord {
    QueueRecord {
        vhost: "/".into(),
        name: name.into(),
        auto_delete: false,
        arguments: Bytes::new(),
    }
}

/// An entry for `id` at `seq`.
pub fn entry(seq: u64, id: u64) -> EntryRecord {
    EntryRecord {
        seq,
        message_id: id,
        expires_at_ms: None,
        priority: 0,
        body_len: 0,
    }
}

/// Stores a message and enqueues it into `queues` at `seq`; returns its id.
pub fn publish(store: &dyn Store, queues: &[QueueId], seq: u64, body: &str) -> u64 {
    let id = store.next_message_id().unwrap();
    let m = message(body);
    store.put_message(id, &m).unwrap();
    for q in queues {
        let mut e = entry(seq, id);
        e.body_len = m.body.len() as u32;
        store.enqueue(*q, &e).unwrap();
    }
    id
}

/// A queue's entries.
pub fn entries(store: &dyn Store, q: QueueId) -> Vec<StoredEntry> {
    store.entries(q).unwrap().map(|e| e.unwrap()).collect()
}

/// The bodies of a queue's messages, in order.
pub fn bodies(store: &dyn Store, q: QueueId) -> Vec<String> {
    entries(store, q)
        .iter()
        .map(|e| {
            let m = store
                .get_message(e.record.message_id)
                .unwrap()
                .expect("message");
            String::from_utf8(m.body.to_vec()).unwrap()
        })
        .collect()
}

/// The id of queue `name` after recovery.
pub fn queue_id(store: &dyn Store, name: &str) -> QueueId {
    store
        .recover()
        .unwrap()
        .queues
        .iter()
        .find(|q| q.record.name == name)
        .map(|q| q.id)
        .expect("queue recovered")
}

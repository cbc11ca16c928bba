//! Random operation sequences against a plain in-memory model, with reopens in between:
//! after every step the store's entries, delivered flags, bodies and message count
//! must equal the model's. Segments are small (4 KiB, a few bodies each) and any
//! sealed segment with a dead record is a segment-compaction candidate, so
//! `CompactSegments` moves live records, again and again (forwards of forwards).

mod common;

use std::collections::BTreeMap;

use common::queue;
use proptest::prelude::*;
use warren_store::{QueueId, SledStore, Store};

const QUEUES: [&str; 3] = ["a", "b", "c"];

#[derive(Debug, Clone)]
enum Op {
    Declare(usize),
    Delete(usize),
    /// Publish to the queues whose bit is set (none: put then discard).
    Publish(u8),
    MarkDelivered(usize, usize),
    Remove(usize, usize),
    Purge(usize),
    Reopen,
    Compact,
    CompactSegments,
}

fn open(dir: &std::path::Path) -> SledStore {
    let mut config = common::config(dir);
    config.segment_bytes = 4096;
    config.compaction.segment_live_percent = 100;
    SledStore::open(&config).expect("open store")
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..3usize).prop_map(Op::Declare),
        1 => (0..3usize).prop_map(Op::Delete),
        6 => (0..8u8).prop_map(Op::Publish),
        3 => (0..3usize, any::<usize>()).prop_map(|(q, i)| Op::MarkDelivered(q, i)),
        4 => (0..3usize, any::<usize>()).prop_map(|(q, i)| Op::Remove(q, i)),
        1 => (0..3usize).prop_map(Op::Purge),
        1 => Just(Op::Reopen),
        1 => Just(Op::Compact),
        2 => Just(Op::CompactSegments),
    ]
}

/// seq -> (message id, delivered)
type ModelQueue = BTreeMap<u64, (u64, bool)>;

#[derive(Default)]
struct Model {
    queues: BTreeMap<usize, ModelQueue>,
    bodies: BTreeMap<u64, String>,
    next_seq: u64,
}

impl Model {
    fn referenced(&self) -> usize {
        let mut ids: Vec<u64> = self
            .queues
            .values()
            .flat_map(|q| q.values().map(|(id, _)| *id))
            .collect();
        ids.sort();
        ids.dedup();
        ids.len()
    }
}

fn ids(store: &SledStore) -> BTreeMap<usize, QueueId> {
    store
        .recover()
        .unwrap()
        .queues
        .into_iter()
        .map(|q| {
            let i = QUEUES.iter().position(|n| *n == q.record.name).unwrap();
            (i, q.id)
        })
        .collect()
}

fn check(store: &SledStore, model: &Model, ids: &BTreeMap<usize, QueueId>) {
    assert_eq!(
        ids.keys().collect::<Vec<_>>(),
        model.queues.keys().collect::<Vec<_>>()
    );
    for (i, q) in ids {
        let stored: ModelQueue = common::entries(store, *q)
            .into_iter()
            .map(|e| (e.record.seq, (e.record.message_id, e.delivered)))
            .collect();
        assert_eq!(&stored, &model.queues[i], "queue {}", QUEUES[*i]);
        for (id, _) in stored.values() {
            let m = store.get_message(*id).unwrap().expect("referenced message");
            assert_eq!(m.body, model.bodies[id].as_bytes());
        }
    }
    assert_eq!(
        store.stats().unwrap().messages as usize,
        model.referenced(),
        "messages stored vs referenced"
    );
}

fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let mut model = Model::default();
    let mut qids = BTreeMap::new();
    for op in ops {
        match op {
            Op::Declare(i) => {
                let id = store.put_queue(&queue(QUEUES[i])).unwrap();
                qids.insert(i, id);
                model.queues.entry(i).or_default();
            }
            Op::Delete(i) => {
                if let Some(id) = qids.remove(&i) {
                    store.delete_queue(id).unwrap();
                    model.queues.remove(&i);
                }
            }
            Op::Publish(mask) => {
                let targets: Vec<usize> = (0..3)
                    .filter(|i| mask & (1 << i) != 0 && qids.contains_key(i))
                    .collect();
                let id = store.next_message_id().unwrap();
                let body = format!("body of {id} {}", "x".repeat(1800));
                store.put_message(id, &common::message(&body)).unwrap();
                let seq = model.next_seq;
                model.next_seq += 1;
                for i in &targets {
                    store.enqueue(qids[i], &common::entry(seq, id)).unwrap();
                    model.queues.get_mut(i).unwrap().insert(seq, (id, false));
                }
                if targets.is_empty() {
                    store.discard_message(id).unwrap();
                } else {
                    model.bodies.insert(id, body);
                }
            }
            Op::MarkDelivered(i, pick) | Op::Remove(i, pick) => {
                let Some(q) = model.queues.get_mut(&i) else {
                    continue;
                };
                if q.is_empty() {
                    continue;
                }
                let seq = *q.keys().nth(pick % q.len()).unwrap();
                if matches!(op, Op::Remove(..)) {
                    assert_eq!(store.remove(qids[&i], &[seq]).unwrap(), 1);
                    q.remove(&seq);
                } else {
                    store.mark_delivered(qids[&i], &[seq]).unwrap();
                    q.get_mut(&seq).unwrap().1 = true;
                }
            }
            Op::Purge(i) => {
                if let Some(id) = qids.get(&i) {
                    let n = store.purge(*id).unwrap();
                    let q = model.queues.get_mut(&i).unwrap();
                    assert_eq!(n as usize, q.len());
                    q.clear();
                }
            }
            Op::Compact => {
                let before = store.next_message_id().unwrap();
                store.compact().unwrap();
                assert!(store.next_message_id().unwrap() > before, "ids continue");
            }
            Op::CompactSegments => {
                store.compact_segments().unwrap();
            }
            Op::Reopen => {
                drop(store);
                store = open(dir.path());
                qids = ids(&store);
                assert_eq!(store.recover().unwrap().repairs, Default::default());
            }
        }
        check(&store, &model, &qids);
    }
    drop(store);
    let store = open(dir.path());
    let recovered = ids(&store);
    check(&store, &model, &recovered);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        run(ops);
    }
}

//! The first `recover` after opening says how many entries each queue has (counted by
//! the open-time pass), so a broker can keep a recovered backlog on disk without
//! reading it; `entries_from` reads a queue from a position on.

mod common;

use common::{entries, open, publish, queue};
use warren_store::{EntryStats, Store};

#[test]
fn the_first_recover_after_open_counts_each_queues_entries() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        let a = store.put_queue(&queue("a")).unwrap();
        let b = store.put_queue(&queue("b")).unwrap();
        store.put_queue(&queue("empty")).unwrap();
        for seq in 3..8 {
            publish(&store, &[a], seq, "abcd");
        }
        publish(&store, &[a, b], 8, "shared");
        store.remove(a, &[4]).unwrap();
        store.sync().wait().unwrap();
    }
    let store = open(dir.path());
    let recovered = store.recover().unwrap();
    let stats = |name: &str| {
        recovered
            .queues
            .iter()
            .find(|q| q.record.name == name)
            .unwrap()
            .entries
    };
    assert_eq!(
        stats("a"),
        Some(EntryStats {
            count: 5,
            body_bytes: 4 * 4 + 6,
            first_seq: 3,
            last_seq: 8
        })
    );
    assert_eq!(
        stats("b"),
        Some(EntryStats {
            count: 1,
            body_bytes: 6,
            first_seq: 8,
            last_seq: 8
        })
    );
    assert_eq!(stats("empty"), Some(EntryStats::default()));
    // Later calls cannot know what changed since the open: they do not count.
    assert!(store
        .recover()
        .unwrap()
        .queues
        .iter()
        .all(|q| q.entries.is_none()));

    let a = recovered
        .queues
        .iter()
        .find(|q| q.record.name == "a")
        .unwrap()
        .id;
    let from_6: Vec<u64> = store
        .entries_from(a, 6)
        .unwrap()
        .map(|e| e.unwrap().record.seq)
        .collect();
    assert_eq!(from_6, vec![6, 7, 8]);
    assert_eq!(entries(&store, a).len(), 5);
}

//! Round trips through the store and back through a reopen.

mod common;

use bytes::Bytes;
use common::{bodies, entries, entry, open, publish, queue, queue_id};
use warren_store::{
    BindingRecord, DefinitionRecord, DelayedKey, DelayedRecord, ExchangeRecord, SledStore, Store,
    StoreError,
};

fn exchange(name: &str) -> ExchangeRecord {
    ExchangeRecord {
        vhost: "/".into(),
        name: name.into(),
        kind: "topic".into(),
        durable: true,
        auto_delete: false,
        internal: false,
        arguments: Bytes::from_static(b"\0\0\0\x05args!"),
    }
}

fn binding(source: &str, destination: &str, key: &str) -> BindingRecord {
    BindingRecord {
        vhost: "/".into(),
        source: source.into(),
        destination: destination.into(),
        destination_is_exchange: false,
        routing_key: key.into(),
        arguments: Bytes::new(),
    }
}

#[test]
fn topology_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (q1, q2) = {
        let store = open(dir.path());
        store.put_exchange(&exchange("logs")).unwrap();
        store.put_exchange(&exchange("gone")).unwrap();
        let q1 = store.put_queue(&queue("a")).unwrap();
        let q2 = store.put_queue(&queue("b")).unwrap();
        assert_ne!(q1, q2);
        assert_eq!(
            store.put_queue(&queue("a")).unwrap(),
            q1,
            "redeclare keeps the id"
        );
        store.put_binding(&binding("logs", "a", "x.*")).unwrap();
        store.put_binding(&binding("logs", "a", "y.#")).unwrap();
        store.put_binding(&binding("gone", "b", "z")).unwrap();
        store.delete_exchange("/", "gone").unwrap();
        store.sync().wait().unwrap();
        (q1, q2)
    };
    let store = open(dir.path());
    let r = store.recover().unwrap();
    assert_eq!(r.exchanges, vec![exchange("logs")]);
    let mut queues: Vec<_> = r
        .queues
        .iter()
        .map(|q| (q.id, q.record.name.clone()))
        .collect();
    queues.sort();
    assert_eq!(queues, vec![(q1, "a".to_string()), (q2, "b".to_string())]);
    let mut keys: Vec<_> = r.bindings.iter().map(|b| b.routing_key.clone()).collect();
    keys.sort();
    assert_eq!(
        keys,
        vec!["x.*", "y.#"],
        "bindings of a deleted exchange go with it"
    );
    assert_eq!(r.repairs, Default::default());
}

fn definition(kind: &str, key: &str, value: &str) -> DefinitionRecord {
    DefinitionRecord {
        kind: kind.into(),
        key: key.into(),
        value: Bytes::copy_from_slice(value.as_bytes()),
    }
}

#[test]
fn definitions_survive_a_reopen_overwritten_and_deleted_as_written() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store
            .put_definition(&definition("vhost", "/", "{}"))
            .unwrap();
        store
            .put_definition(&definition("user", "bob", "v1"))
            .unwrap();
        store
            .put_definition(&definition("user", "bob", "v2"))
            .unwrap();
        store
            .put_definition(&definition("user", "eve", "x"))
            .unwrap();
        store.delete_definition("user", "eve").unwrap();
        store.delete_definition("user", "never-there").unwrap();
        store.sync().wait().unwrap();
    }
    let mut got = open(dir.path()).recover().unwrap().definitions;
    got.sort_by(|a, b| (&a.kind, &a.key).cmp(&(&b.kind, &b.key)));
    assert_eq!(
        got,
        vec![
            definition("user", "bob", "v2"),
            definition("vhost", "/", "{}")
        ]
    );
}

#[test]
fn messages_come_back_in_order_with_delivered_flags() {
    let dir = tempfile::tempdir().unwrap();
    let q = {
        let store = open(dir.path());
        let q = store.put_queue(&queue("work")).unwrap();
        // Enqueue out of seq order: recovery orders by seq, not by write order.
        for seq in [3u64, 1, 2, 10, 300] {
            publish(&store, &[q], seq, &format!("m{seq}"));
        }
        store.mark_delivered(q, &[2, 300, 999]).unwrap();
        store.sync().wait().unwrap();
        q
    };
    let store = open(dir.path());
    assert_eq!(queue_id(&store, "work"), q);
    let got: Vec<_> = entries(&store, q)
        .iter()
        .map(|e| (e.record.seq, e.delivered))
        .collect();
    assert_eq!(
        got,
        vec![(1, false), (2, true), (3, false), (10, false), (300, true)]
    );
    assert_eq!(bodies(&store, q), vec!["m1", "m2", "m3", "m10", "m300"]);
    let first = entries(&store, q)[0].record;
    assert_eq!(first.body_len, 2);
    let m = store.get_message(first.message_id).unwrap().unwrap();
    assert_eq!(m, common::message("m1"));
}

#[test]
fn a_message_in_three_queues_survives_two_removes_and_goes_with_the_third() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let qs: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|n| store.put_queue(&queue(n)).unwrap())
        .collect();
    let id = publish(&store, &qs, 1, "fanout");
    assert_eq!(store.stats().unwrap().messages, 1, "stored once");
    assert_eq!(store.remove(qs[0], &[1]).unwrap(), 1);
    assert_eq!(
        store.remove(qs[0], &[1]).unwrap(),
        0,
        "a second remove is a no-op"
    );
    assert!(store.get_message(id).unwrap().is_some());
    assert_eq!(store.remove(qs[1], &[1]).unwrap(), 1);
    assert!(store.get_message(id).unwrap().is_some());
    // The count survives a reopen (it is rebuilt from the entries).
    drop(store);
    let store = open(dir.path());
    assert!(store.get_message(id).unwrap().is_some());
    assert_eq!(store.remove(qs[2], &[1]).unwrap(), 1);
    assert_eq!(store.get_message(id).unwrap(), None);
    assert_eq!(store.stats().unwrap().messages, 0);
}

#[test]
fn delete_and_purge_release_messages_and_bindings() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let a = store.put_queue(&queue("a")).unwrap();
    let b = store.put_queue(&queue("b")).unwrap();
    store.put_binding(&binding("amq.direct", "a", "k")).unwrap();
    store.put_binding(&binding("amq.direct", "b", "k")).unwrap();
    let shared = publish(&store, &[a, b], 1, "both");
    publish(&store, &[a], 2, "only a");
    assert_eq!(store.delete_queue(a).unwrap(), 2);
    assert!(matches!(
        store.enqueue(a, &entry(3, shared)),
        Err(StoreError::UnknownQueue(_))
    ));
    assert!(
        store.get_message(shared).unwrap().is_some(),
        "b still holds it"
    );
    assert_eq!(store.stats().unwrap().messages, 1);
    assert_eq!(store.purge(b).unwrap(), 1);
    assert_eq!(store.stats().unwrap().messages, 0);
    let r = store.recover().unwrap();
    assert_eq!(r.queues.len(), 1);
    assert_eq!(r.bindings, vec![binding("amq.direct", "b", "k")]);
}

#[test]
fn dead_letter_move_keeps_one_copy() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let src = store.put_queue(&queue("src")).unwrap();
    let dlq = store.put_queue(&queue("dlq")).unwrap();
    let id = publish(&store, &[src], 5, "poison");
    store.enqueue(dlq, &entry(1, id)).unwrap();
    store.remove(src, &[5]).unwrap();
    assert_eq!(bodies(&store, dlq), vec!["poison"]);
    assert_eq!(store.stats().unwrap().messages, 1);
}

#[test]
fn unqueued_messages_can_be_discarded_and_are_cleaned_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let (kept, discarded, orphan) = {
        let store = open(dir.path());
        let q = store.put_queue(&queue("q")).unwrap();
        let kept = publish(&store, &[q], 1, "kept");
        let discarded = store.next_message_id().unwrap();
        store
            .put_message(discarded, &common::message("rejected"))
            .unwrap();
        store.discard_message(discarded).unwrap();
        store.discard_message(kept).unwrap();
        let orphan = store.next_message_id().unwrap();
        store
            .put_message(orphan, &common::message("crash before enqueue"))
            .unwrap();
        store.sync().wait().unwrap();
        (kept, discarded, orphan)
    };
    // Without a compaction thread the messages pass runs during the open.
    let mut config = common::config(dir.path());
    config.compaction.check_every = None;
    {
        let store = SledStore::open(&config).unwrap();
        assert!(
            store.get_message(kept).unwrap().is_some(),
            "referenced: not discarded"
        );
        assert_eq!(store.get_message(discarded).unwrap(), None);
        assert_eq!(store.get_message(orphan).unwrap(), None);
        assert_eq!(store.recover().unwrap().repairs.orphan_messages, 1);
    }
}

#[test]
fn orphans_are_cleaned_in_the_background_after_a_default_open() {
    let dir = tempfile::tempdir().unwrap();
    let (kept, orphan) = {
        let store = open(dir.path());
        let q = store.put_queue(&queue("q")).unwrap();
        let kept = publish(&store, &[q], 1, "kept");
        let orphan = store.next_message_id().unwrap();
        store
            .put_message(orphan, &common::message("crash before enqueue"))
            .unwrap();
        store.sync().wait().unwrap();
        (kept, orphan)
    };
    // The compaction thread runs the messages pass once the store is open; messages
    // written since are never taken for orphans.
    let store = open(dir.path());
    let q = store.recover().unwrap().queues[0].id;
    let fresh = publish(&store, &[q], 2, "written after the open");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.get_message(orphan).unwrap().is_some() {
        assert!(std::time::Instant::now() < deadline, "orphan never removed");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(store.get_message(kept).unwrap().is_some());
    assert!(store.get_message(fresh).unwrap().is_some());
    assert_eq!(bodies(&store, q), vec!["kept", "written after the open"]);
}

#[test]
fn delayed_messages_come_back_in_due_order() {
    let dir = tempfile::tempdir().unwrap();
    let record = |body: &str| DelayedRecord {
        vhost: "/".into(),
        exchange: "delayed".into(),
        message: common::message(body),
    };
    {
        let store = open(dir.path());
        let later = DelayedKey {
            due_ms: 2_000,
            seq: store.next_message_id().unwrap(),
        };
        let sooner = DelayedKey {
            due_ms: 1_000,
            seq: store.next_message_id().unwrap(),
        };
        let gone = DelayedKey {
            due_ms: 1_500,
            seq: store.next_message_id().unwrap(),
        };
        store.put_delayed(later, &record("later")).unwrap();
        store.put_delayed(sooner, &record("sooner")).unwrap();
        store.put_delayed(gone, &record("routed")).unwrap();
        assert!(store.remove_delayed(gone).unwrap());
        assert!(!store.remove_delayed(gone).unwrap());
        store.sync().wait().unwrap();
    }
    let store = open(dir.path());
    let delayed = store.recover().unwrap().delayed;
    let got: Vec<_> = delayed
        .iter()
        .map(|(k, d)| {
            (
                k.due_ms,
                String::from_utf8(d.message.body.to_vec()).unwrap(),
            )
        })
        .collect();
    assert_eq!(got, vec![(1_000, "sooner".into()), (2_000, "later".into())]);
}

#[test]
fn message_ids_never_repeat_across_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let first = {
        let store = open(dir.path());
        (0..10)
            .map(|_| store.next_message_id().unwrap())
            .max()
            .unwrap()
    };
    let store = open(dir.path());
    assert!(store.next_message_id().unwrap() > first);
}

#[tokio::test]
async fn sync_tickets_can_be_awaited() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let q = store.put_queue(&queue("q")).unwrap();
    publish(&store, &[q], 1, "x");
    let before = store.stats().unwrap().flushes;
    store.sync().await.unwrap();
    assert!(store.stats().unwrap().flushes > before);
}

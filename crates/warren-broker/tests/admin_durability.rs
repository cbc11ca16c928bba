//! The admin interface owns persistence: durable exchanges, queues and bindings declared
//! through `VHost`'s operations, with no AMQP connection at all, are back after a
//! restart; a failed store write leaves nothing behind.

use std::sync::Arc;

use warren_broker::admin::FirstBoot;
use warren_broker::recovery::{open_store, recover};
use warren_broker::{Broker, ExchangeDeclare, Limits, QueueDeclare};
use warren_protocol::FieldTable;
use warren_store::faults::FaultyStore;
use warren_store::Store;

fn queue(name: &str) -> QueueDeclare {
    QueueDeclare {
        name: name.into(),
        durable: true,
        ..QueueDeclare::default()
    }
}

fn exchange(name: &str) -> ExchangeDeclare {
    ExchangeDeclare {
        name: name.into(),
        kind: "direct".into(),
        durable: true,
        ..ExchangeDeclare::default()
    }
}

/// A broker on `dir`'s store; the first start creates the default vhost `/`.
fn start(dir: &std::path::Path) -> Broker {
    let store = open_store(dir, &Limits::default()).expect("store opens");
    let broker = recover(store, &Limits::default()).expect("broker recovers");
    let first = FirstBoot {
        vhost: Some("/".into()),
        user: None,
    };
    let _ = broker.initialize(&first).expect("defaults created");
    broker
}

#[tokio::test]
async fn durable_topology_declared_without_amqp_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let broker = start(dir.path());
        let vhost = broker.vhost("/").unwrap();
        vhost
            .declare_exchange(&exchange("jobs"))
            .unwrap()
            .committed()
            .await
            .unwrap();
        let declared = vhost.declare_queue(&queue("jobs.resize"), 0).unwrap();
        assert!(
            declared.needs_commit(),
            "a new durable queue waits for a commit"
        );
        declared.committed().await.unwrap();
        vhost
            .bind_queue("jobs.resize", "jobs", "resize", &FieldTable::new(), 0)
            .unwrap()
            .committed()
            .await
            .unwrap();
        // A transient queue is not stored and needs no commit.
        let transient = QueueDeclare {
            durable: false,
            ..queue("scratch")
        };
        assert!(!vhost.declare_queue(&transient, 0).unwrap().needs_commit());
    }
    let broker = start(dir.path());
    let vhost = broker.vhost("/").unwrap();
    assert!(vhost.exchange("jobs").is_ok(), "exchange restored");
    let q = vhost.queue("jobs.resize", 0).expect("queue restored");
    assert!(
        q.persistence().is_some(),
        "restored queue is linked to the store"
    );
    assert!(vhost.queue("scratch", 0).is_err(), "transient queue gone");
    let mut routed = Vec::new();
    vhost.route("jobs", "resize", None, &mut routed).unwrap();
    assert_eq!(routed.len(), 1, "binding restored");
    assert_eq!(routed[0].name().as_ref(), "jobs.resize");
}

#[tokio::test]
async fn deletes_through_the_interface_reach_the_store_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        let broker = start(dir.path());
        let vhost = broker.vhost("/").unwrap();
        vhost
            .declare_exchange(&exchange("gone"))
            .unwrap()
            .committed()
            .await
            .unwrap();
        vhost
            .declare_queue(&queue("q1"), 0)
            .unwrap()
            .committed()
            .await
            .unwrap();
        vhost
            .delete_exchange("gone", false)
            .unwrap()
            .committed()
            .await
            .unwrap();
        vhost
            .delete_queue("q1", false, false, 0)
            .unwrap()
            .committed()
            .await
            .unwrap();
    }
    let broker = start(dir.path());
    let vhost = broker.vhost("/").unwrap();
    assert!(vhost.exchange("gone").is_err());
    assert!(vhost.queue("q1", 0).is_err());
}

#[tokio::test]
async fn a_failed_store_write_leaves_nothing_in_memory_or_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    {
        let real = open_store(dir.path(), &Limits::default()).unwrap();
        let faulty = FaultyStore::wrap(real);
        let store: Arc<dyn Store> = faulty.clone();
        let broker = recover(store, &Limits::default()).unwrap();
        let first = FirstBoot {
            vhost: Some("/".into()),
            user: None,
        };
        let _ = broker.initialize(&first).unwrap();
        let vhost = broker.vhost("/").unwrap();
        vhost
            .declare_exchange(&exchange("x"))
            .unwrap()
            .committed()
            .await
            .unwrap();
        faulty.faults().set_fail_writes(true);
        let e = vhost.declare_queue(&queue("q"), 0).unwrap_err();
        assert_eq!(e.code().code(), 541);
        assert!(e.text().starts_with("store failure: "), "{}", e.text());
        assert!(vhost.queue("q", 0).is_err(), "no queue in memory");
        let e = vhost.declare_exchange(&exchange("y")).unwrap_err();
        assert_eq!(e.code().code(), 541);
        assert!(vhost.exchange("y").is_err(), "no exchange in memory");
        // A delete the store refused leaves the exchange in place.
        assert_eq!(
            vhost.delete_exchange("x", false).unwrap_err().code().code(),
            541
        );
        assert!(vhost.exchange("x").is_ok());
        faulty.faults().set_fail_writes(false);
        faulty.faults().set_fail_syncs(true);
        let applied = vhost.declare_queue(&queue("unsynced"), 0).unwrap();
        assert_eq!(applied.committed().await.unwrap_err().code().code(), 541);
    }
    let broker = start(dir.path());
    let vhost = broker.vhost("/").unwrap();
    assert!(vhost.queue("q", 0).is_err());
    assert!(vhost.exchange("y").is_err());
    assert!(vhost.exchange("x").is_ok());
}

#[test]
fn a_broker_without_a_store_commits_nothing() {
    let broker = Broker::new();
    let vhost = broker.vhost("/").unwrap();
    assert!(!vhost.declare_queue(&queue("q"), 0).unwrap().needs_commit());
}

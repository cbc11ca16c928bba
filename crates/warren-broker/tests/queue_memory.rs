//! A queue and its consumers free each other: declaring, consuming from, cancelling and
//! deleting 100,000 queues leaves the process's memory where it was, and no queue or
//! consumer object outlives its deletion.

mod support;

use std::sync::Arc;

use support::*;
use warren_protocol::BasicProperties;

/// Queues per round.
const QUEUES: usize = 100_000;

/// The OS's page size, from the auxiliary vector the kernel gave the process
/// (`AT_PAGESZ`), so no `unsafe` call is needed.
fn page_size_bytes() -> u64 {
    const AT_PAGESZ: u64 = 6;
    let auxv = std::fs::read("/proc/self/auxv").expect("read /proc/self/auxv");
    let word = std::mem::size_of::<usize>();
    let words: Vec<u64> = auxv
        .chunks_exact(word)
        .map(|c| {
            let mut b = [0u8; 8];
            b[..word].copy_from_slice(c);
            u64::from_ne_bytes(b)
        })
        .collect();
    words
        .chunks_exact(2)
        .find(|kv| kv[0] == AT_PAGESZ)
        .map(|kv| kv[1])
        .expect("AT_PAGESZ in the auxiliary vector")
}

/// Resident set size in bytes (`/proc/self/statm`, second field, in pages).
fn rss_bytes(page: u64) -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .expect("resident pages in statm");
    pages * page
}

/// One round: each queue is declared, gets a consumer and a message, has the consumer
/// cancelled and is deleted; each time, nothing but the test holds the queue or the
/// consumer, and both are freed once the test lets go.
fn round(v: &warren_broker::VHost) {
    for i in 0..QUEUES {
        let name = format!("q-{i}");
        let q = declare(v, &name, &[]);
        let holders = Arc::strong_count(&q);
        let mut c = TestConsumer::attach(&q, "c", 0, true);
        send(v, &name, BasicProperties::default(), "m");
        assert_eq!(c.take().len(), 1);
        assert_eq!(
            Arc::strong_count(&q),
            holders,
            "a consumer holds its queue strongly"
        );
        v.consumer_removed(&c.consumer);
        applied(v.delete_queue(&name, false, false, CONN).expect("deleted"));
        let (queue, consumer) = (Arc::downgrade(&q), Arc::downgrade(&c.consumer));
        drop((q, c));
        assert!(
            queue.upgrade().is_none(),
            "queue {name} outlived its deletion"
        );
        assert!(
            consumer.upgrade().is_none(),
            "consumer of {name} outlived it"
        );
    }
}

#[test]
fn a_hundred_thousand_queues_come_and_go_without_growing_memory() {
    let page = page_size_bytes();
    let v = vhost();
    round(&v); // warm-up: the allocator and the maps reach their working size
    let before = rss_bytes(page);
    round(&v);
    let after = rss_bytes(page);
    eprintln!(
        "page {page} B; RSS after warm-up {} KiB, after {QUEUES} more queues {} KiB",
        before / 1024,
        after / 1024
    );
    assert!(
        after <= before + before / 10,
        "RSS grew from {before} to {after} bytes over {QUEUES} queues"
    );
    assert!(v.queues().is_empty());
}

#[test]
fn dropping_a_vhost_frees_queues_that_still_have_consumers() {
    let v = vhost();
    let mut held = Vec::new();
    for i in 0..100 {
        let q = declare(&v, &format!("q-{i}"), &[]);
        let c = TestConsumer::attach(&q, "c", 0, true);
        held.push((Arc::downgrade(&q), Arc::downgrade(&c.consumer)));
    }
    drop(v);
    for (q, c) in &held {
        assert!(q.upgrade().is_none(), "a queue kept alive by its consumer");
        assert!(c.upgrade().is_none(), "a consumer kept alive by its queue");
    }
}

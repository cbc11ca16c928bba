//! Queue benchmarks: enqueue and dequeue through a [`Queue`]'s public API, without
//! sockets, so the figures are the queue's own cost per message.
//!
//! Each iteration moves [`N`] messages through one queue and leaves it empty:
//! - `publish_then_get`: publish N (no consumer), then drain with `basic.get`-style
//!   `Queue::get`;
//! - `publish_then_consume`: publish N, then attach a consumer that drains the backlog;
//! - `publish_through_consumer`: a consumer is attached first, so every publish is
//!   dispatched at once (the connection side is simulated: deliveries are taken from
//!   the consumer's channel every [`BATCH`] publishes and their credit returned);
//!
//! each with auto-ack and manual-ack consumers and with `x-max-priority=10` (messages
//! with priorities 0..9).
//!
//! Run with `cargo bench -p warren-broker --bench queue`.

use std::hint::black_box;
use std::sync::{Arc, Weak};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use warren_broker::queue::QueueConfig;
use warren_broker::scheduler::Scheduler;
use warren_broker::{
    ChannelCredit, Consumer, ConsumerSpec, Message, Outbound, Queue, QueueArgs, QueuedMessage,
    VHost,
};
use warren_protocol::properties::BasicProperties;

/// Messages per iteration.
const N: usize = 10_000;
/// Deliveries taken from the consumer's channel at a time (the connection task handles
/// up to 256 queue events per wake-up).
const BATCH: usize = 256;

/// A fresh, transient queue, with priorities when `max_priority` is set.
fn queue(max_priority: Option<u8>) -> Arc<Queue> {
    let config = QueueConfig {
        name: "bench".into(),
        durable: false,
        exclusive_owner: None,
        auto_delete: false,
        arguments: Default::default(),
    };
    let args = QueueArgs {
        max_priority,
        ..QueueArgs::default()
    };
    Queue::new(
        config,
        args,
        "/".into(),
        Weak::<VHost>::new(),
        Scheduler::new(),
    )
}

/// N 16-byte messages, with priorities 0..9 in turn when `priorities` is set.
fn messages(priorities: bool) -> Vec<Arc<Message>> {
    (0..N)
        .map(|i| {
            let props = BasicProperties {
                priority: priorities.then_some((i % 10) as u8),
                ..BasicProperties::default()
            };
            Arc::new(Message::new(
                "".into(),
                "bench",
                &props,
                Bytes::new(),
                Bytes::from_static(b"0123456789abcdef"),
            ))
        })
        .collect()
}

/// A consumer of `q` (prefetch 100 for manual ack, unlimited for auto-ack) and the
/// channel its deliveries arrive on.
fn consumer(q: &Arc<Queue>, no_ack: bool) -> (Arc<Consumer>, UnboundedReceiver<Outbound>) {
    let (tx, rx) = unbounded_channel();
    let spec = ConsumerSpec {
        connection: 0,
        tag: "c".into(),
        channel_id: 1,
        no_ack,
        exclusive: false,
        prefetch: if no_ack { 0 } else { 100 },
        priority: 0,
        unsent_window: warren_broker::Limits::default().consumer_unsent_window,
    };
    let c = Arc::new(Consumer::new(
        spec,
        q,
        Arc::new(ChannelCredit::default()),
        tx,
    ));
    (c, rx)
}

/// Takes every delivery waiting for the consumer, as its connection would: writes them
/// (returns the unsent credit), acknowledges them if the consumer is manual-ack, and
/// lets the queue dispatch more. Returns how many were taken.
fn take_deliveries(
    q: &Queue,
    c: &Consumer,
    rx: &mut UnboundedReceiver<Outbound>,
    acked: &mut Vec<QueuedMessage>,
) -> usize {
    let mut n = 0;
    while let Ok(event) = rx.try_recv() {
        if let Outbound::Deliver(d) = event {
            n += 1;
            if !c.spec.no_ack {
                acked.push(d.message);
            }
        }
    }
    if n == 0 {
        return 0;
    }
    c.written(n as u32);
    if !acked.is_empty() {
        c.settled(acked.len() as u32);
        q.ack(acked);
        acked.clear();
    }
    c.wake_if_blocked();
    n
}

/// Drains whatever the consumer can be given until `expected` deliveries were taken.
fn drain(
    q: &Queue,
    c: &Consumer,
    rx: &mut UnboundedReceiver<Outbound>,
    acked: &mut Vec<QueuedMessage>,
    mut expected: usize,
) {
    while expected > 0 {
        let n = take_deliveries(q, c, rx, acked);
        assert!(n > 0, "the queue stopped dispatching with {expected} to go");
        expected -= n;
    }
}

fn publish_then_get(c: &mut Criterion) {
    let mut g = c.benchmark_group("queue_publish_then_get");
    g.throughput(Throughput::Elements(N as u64));
    for (name, prio) in [("plain", None), ("max_priority_10", Some(10))] {
        let q = queue(prio);
        let msgs = messages(prio.is_some());
        g.bench_function(name, |b| {
            b.iter(|| {
                for m in &msgs {
                    q.publish(m.clone());
                }
                let mut got = 0;
                while let Some((m, _left)) = q.get(true) {
                    black_box(&m);
                    got += 1;
                }
                assert_eq!(got, N);
            })
        });
    }
    g.finish();
}

fn publish_then_consume(c: &mut Criterion) {
    let mut g = c.benchmark_group("queue_publish_then_consume");
    g.throughput(Throughput::Elements(N as u64));
    for (name, prio) in [("plain", None), ("max_priority_10", Some(10))] {
        for no_ack in [true, false] {
            let id = BenchmarkId::new(name, if no_ack { "auto_ack" } else { "manual_ack" });
            let q = queue(prio);
            let msgs = messages(prio.is_some());
            let mut acked = Vec::with_capacity(BATCH);
            g.bench_function(id, |b| {
                b.iter(|| {
                    for m in &msgs {
                        q.publish(m.clone());
                    }
                    let (consumer, mut rx) = consumer(&q, no_ack);
                    q.add_consumer(consumer.clone()).expect("consumer attaches");
                    drain(&q, &consumer, &mut rx, &mut acked, N);
                    q.remove_consumer(&consumer);
                })
            });
        }
    }
    g.finish();
}

fn publish_through_consumer(c: &mut Criterion) {
    let mut g = c.benchmark_group("queue_publish_through_consumer");
    g.throughput(Throughput::Elements(N as u64));
    for (name, prio) in [("plain", None), ("max_priority_10", Some(10))] {
        for no_ack in [true, false] {
            let id = BenchmarkId::new(name, if no_ack { "auto_ack" } else { "manual_ack" });
            let q = queue(prio);
            let msgs = messages(prio.is_some());
            let (consumer, mut rx) = consumer(&q, no_ack);
            q.add_consumer(consumer.clone()).expect("consumer attaches");
            let mut acked = Vec::with_capacity(BATCH);
            g.bench_function(id, |b| {
                b.iter(|| {
                    let mut taken = 0;
                    for chunk in msgs.chunks(BATCH) {
                        for m in chunk {
                            q.publish(m.clone());
                        }
                        taken += take_deliveries(&q, &consumer, &mut rx, &mut acked);
                    }
                    drain(&q, &consumer, &mut rx, &mut acked, N - taken);
                })
            });
        }
    }
    g.finish();
}

criterion_group!(
    benches,
    publish_then_get,
    publish_then_consume,
    publish_through_consumer
);
criterion_main!(benches);

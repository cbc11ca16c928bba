//! Routing benchmarks: one route call against large binding sets (the routing table
//! alone; consistent-hash rings of 10 and 1,000 queues), and whole-vhost routing through exchanges with and without an alternate
//! exchange (`VHost::route`, what a publish costs before it reaches its queues).
//!
//! Run with `cargo bench -p warren-broker --bench routing`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use warren_broker::routing::{Binding, Destination, ExchangeKind, RoutingTable};
use warren_broker::vhost::{ExchangeDeclare, QueueDeclare};
use warren_broker::{Applied, Broker, VHost};
use warren_protocol::{FieldTable, FieldValue};

fn queue(name: String) -> Destination {
    Destination::Queue(name.into())
}

/// 100,000 topic bindings: 50,000 `region.R.service.S.#` (500 regions × 100 services)
/// and 50,000 `*.N.*`.
fn topic_table() -> RoutingTable {
    let mut table = RoutingTable::new(ExchangeKind::Topic);
    for region in 0..500 {
        for service in 0..100 {
            let key = format!("region.{region}.service.{service}.#");
            let dest = queue(format!("q.{region}.{service}"));
            assert!(table.bind(Binding::new(dest, key, FieldTable::new())));
        }
    }
    for n in 0..50_000 {
        let dest = queue(format!("star.{n}"));
        assert!(table.bind(Binding::new(dest, format!("*.{n}.*"), FieldTable::new())));
    }
    assert_eq!(table.len(), 100_000);
    table
}

/// 100,000 direct bindings `order.N`.
fn direct_table() -> RoutingTable {
    let mut table = RoutingTable::new(ExchangeKind::Direct);
    for n in 0..100_000 {
        let dest = queue(format!("orders.{}", n % 1000));
        assert!(table.bind(Binding::new(dest, format!("order.{n}"), FieldTable::new())));
    }
    table
}

fn bench_route(
    c: &mut Criterion,
    group: &str,
    table: &RoutingTable,
    cases: &[(&str, &str, usize)],
) {
    let mut g = c.benchmark_group(group);
    let mut out = Vec::with_capacity(16);
    for &(name, key, expected) in cases {
        out.clear();
        table.route(key, None, &mut out);
        assert_eq!(out.len(), expected, "{group}/{name}: {key}");
        g.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                table.route(black_box(key), None, &mut out);
                black_box(out.len())
            })
        });
    }
    g.finish();
}

fn topic(c: &mut Criterion) {
    let table = topic_table();
    bench_route(
        c,
        "topic_100k",
        &table,
        &[
            ("hash_tail_match", "region.123.service.45.orders.created", 1),
            ("hash_zero_words", "region.123.service.45", 1),
            ("star_match", "eu.31337.web", 1),
            ("star_on_region_prefix", "region.42.service", 1),
            ("no_match", "billing.invoice.paid.eu.1", 0),
        ],
    );
}

fn direct(c: &mut Criterion) {
    let table = direct_table();
    bench_route(
        c,
        "direct_100k",
        &table,
        &[("hit", "order.54321", 1), ("miss", "order.x", 0)],
    );
}

/// Consistent-hash tables: 10 queues of weight 1..=10 (8,800 ring points) and 1,000
/// queues of weight 1 (160,000 points); every key reaches exactly one queue.
fn consistent_hash(c: &mut Criterion) {
    for (group, queues, weight_of) in [
        (
            "consistent_hash_10q",
            10,
            (|i: u32| i % 10 + 1) as fn(u32) -> u32,
        ),
        ("consistent_hash_1000q", 1000, (|_| 1) as fn(u32) -> u32),
    ] {
        let mut table = RoutingTable::new(ExchangeKind::ConsistentHash);
        for i in 0..queues {
            let dest = queue(format!("part.{i}"));
            let weight = weight_of(i).to_string();
            assert!(table.bind(Binding::new(dest, weight, FieldTable::new())));
        }
        bench_route(
            c,
            group,
            &table,
            &[
                ("short_key", "order-17", 1),
                ("uuid_key", "6f1c2b7e-3d5a-4e8f-9a0b-1c2d3e4f5a6b", 1),
            ],
        );
    }
}

/// The value of a change made without a store (nothing to commit).
fn no_store<T>(change: Applied<T>) -> T {
    let (value, commit) = change.into_parts();
    assert!(commit.is_none(), "no store");
    value
}

/// A vhost with direct exchange `plain` (no alternate exchange) and `with-ae` (alternate
/// exchange `ae`, a fanout to queue `unrouted`), both binding `q` with key `k`.
fn vhost_with_exchanges() -> std::sync::Arc<VHost> {
    let v = Broker::new().vhost("/").expect("default vhost");
    let exchange = |name: &str, kind: &str, arguments: FieldTable| {
        let d = ExchangeDeclare {
            name: name.to_owned(),
            kind: kind.to_owned(),
            arguments,
            ..ExchangeDeclare::default()
        };
        no_store(v.declare_exchange(&d).expect("exchange declared"));
    };
    let mut ae = FieldTable::new();
    ae.insert("alternate-exchange", FieldValue::string("ae"));
    exchange("plain", "direct", FieldTable::new());
    exchange("with-ae", "direct", ae);
    exchange("ae", "fanout", FieldTable::new());
    for q in ["q", "unrouted"] {
        let d = QueueDeclare {
            name: q.to_owned(),
            ..QueueDeclare::default()
        };
        no_store(v.declare_queue(&d, 1).expect("queue declared"));
    }
    for (q, ex, key) in [
        ("q", "plain", "k"),
        ("q", "with-ae", "k"),
        ("unrouted", "ae", ""),
    ] {
        no_store(
            v.bind_queue(q, ex, key, &FieldTable::new(), 1)
                .expect("bound"),
        );
    }
    v
}

fn vhost_route(c: &mut Criterion) {
    let v = vhost_with_exchanges();
    let mut g = c.benchmark_group("vhost_route");
    let mut out = Vec::with_capacity(4);
    for (name, exchange, key, expected) in [
        ("routed", "plain", "k", "q"),
        ("unroutable_no_ae", "plain", "x", ""),
        ("routed_with_ae", "with-ae", "k", "q"),
        ("unroutable_to_ae", "with-ae", "x", "unrouted"),
    ] {
        out.clear();
        v.route(exchange, key, None, &mut out).expect("routed");
        let got: Vec<&str> = out.iter().map(|q| q.name().as_ref()).collect();
        assert_eq!(got.join(","), expected, "vhost_route/{name}");
        g.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                v.route(black_box(exchange), black_box(key), None, &mut out)
                    .expect("routed");
                black_box(out.len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, topic, direct, consistent_hash, vhost_route);
criterion_main!(benches);

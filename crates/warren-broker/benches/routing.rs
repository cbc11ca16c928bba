//! Routing-table benchmarks: one route call against large binding sets.
//!
//! Run with `cargo bench -p warren-broker --bench routing`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use warren_broker::routing::{Binding, Destination, ExchangeKind, RoutingTable};
use warren_protocol::FieldTable;

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

criterion_group!(benches, topic, direct);
criterion_main!(benches);

//! Runs the transactional-outbox example (examples/outbox.rs) against an in-process
//! broker: relays killed at random points lose no order, every message a killed relay
//! had confirmed but not marked sent comes back and is caught by the consumer's dedup,
//! and each order is shipped exactly once.
//!
//! The seed is printed; `OUTBOX_SEED=<seed>` replays a run's kill schedule.

#[allow(dead_code)] // the example's `main` is not used here
#[path = "../examples/outbox.rs"]
mod outbox;

use std::time::{Duration, Instant};

use outbox::KillPoint;
use warren_testkit::TestBroker;

const ORDERS: u32 = 200;
const KILLS: u32 = 4;

#[tokio::test]
async fn killed_relays_lose_nothing_and_their_duplicates_are_caught() {
    // Enough orders that the outbox cannot drain before the last planned kill.
    assert!(ORDERS as usize > KILLS as usize * outbox::KILL_WITHIN as usize * outbox::BATCH);
    let seed = std::env::var("OUTBOX_SEED")
        .ok()
        .map(|s| s.parse().expect("OUTBOX_SEED is a number"))
        .unwrap_or_else(outbox::fresh_seed);
    let broker = TestBroker::start().await;
    let started = Instant::now();
    let report = outbox::run(&broker.uri(), ORDERS, KILLS, seed, Duration::from_secs(10))
        .await
        .expect("the example runs");
    println!("{report:#?} in {:?}", started.elapsed());
    let n = u64::from(ORDERS);

    assert_eq!(report.orders_written, n, "{report:#?}");
    assert_eq!(
        report.unsent_left, 0,
        "the last relay drained the outbox: {report:#?}"
    );
    // Nothing lost, nothing done twice.
    assert_eq!(report.processed, n, "every order shipped: {report:#?}");
    assert_eq!(report.shipments, n, "no order shipped twice: {report:#?}");
    assert_eq!(
        report.deliveries,
        report.processed + report.duplicates_caught,
        "each delivery was either shipped or caught as a duplicate: {report:#?}"
    );

    // Every planned kill happened, one of them between the confirms and the mark-sent.
    assert_eq!(report.kills.len(), KILLS as usize, "{report:#?}");
    assert!(
        report
            .kills
            .iter()
            .any(|k| k.at.point == KillPoint::BeforeMarkSent && k.confirmed_unmarked > 0),
        "{report:#?}"
    );
    // Each message confirmed but not marked sent was published again, so reached the
    // consumer twice; and no duplicate comes from anywhere but a re-publication.
    let confirmed_unmarked: u64 = report.kills.iter().map(|k| k.confirmed_unmarked).sum();
    assert!(
        report.duplicates_caught >= confirmed_unmarked,
        "{confirmed_unmarked} confirmed, unmarked messages came back: {report:#?}"
    );
    assert!(
        report.duplicates_caught <= report.published - n,
        "no more duplicates than re-publications: {report:#?}"
    );
}

#[test]
fn every_kill_schedule_has_a_kill_between_confirms_and_mark_sent() {
    for seed in 0..2_000 {
        let plan = outbox::kill_schedule(seed, KILLS);
        assert_eq!(plan.len(), KILLS as usize);
        assert!(
            plan.iter().any(|k| k.point == KillPoint::BeforeMarkSent),
            "seed {seed}: {plan:?}"
        );
        assert!(
            plan.iter().all(|k| k.batch < outbox::KILL_WITHIN),
            "seed {seed}: {plan:?}"
        );
        assert_eq!(
            plan,
            outbox::kill_schedule(seed, KILLS),
            "seed {seed} replays"
        );
    }
    // Schedules differ between seeds, or the kills would not be random.
    let distinct: std::collections::HashSet<String> = (0..50)
        .map(|seed| format!("{:?}", outbox::kill_schedule(seed, KILLS)))
        .collect();
    assert!(distinct.len() > 40, "{distinct:?}");
}

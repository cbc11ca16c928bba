//! Runs the idempotent-consumer example (examples/idempotent_consumer.rs) against an
//! in-process broker: duplicates from the producer and the redelivery after a crash are
//! all recognised, and every order's work is done exactly once.

#[allow(dead_code)] // the example's `main` is not used here
#[path = "../examples/idempotent_consumer.rs"]
mod idempotent_consumer;

use std::time::Duration;

use warren_testkit::TestBroker;

#[tokio::test]
async fn every_order_is_worked_once_despite_duplicates_and_a_crash() {
    let broker = TestBroker::start().await;
    let report = idempotent_consumer::run(&broker.uri(), 12, Duration::from_secs(10))
        .await
        .expect("the example runs");
    assert_eq!(report.work_done.len(), 12, "{report:?}");
    assert!(report.work_done.values().all(|n| *n == 1), "{report:?}");
    // Orders 0, 3, 6, 9 were sent twice, and the crashed delivery came back once.
    assert_eq!(report.repeats_skipped, 4 + 1, "{report:?}");
}

//! Runs the retry-with-backoff example (examples/retry_worker.rs) against an
//! in-process broker: jobs that fail are retried through the TTL queues, and the one
//! that always fails reaches the parking lot after exactly three attempts.

#[allow(dead_code)] // the example's `main` is not used here
#[path = "../examples/retry_worker.rs"]
mod retry_worker;

use std::time::Duration;

use retry_worker::{Job, MAX_ATTEMPTS, PARKING_QUEUE};
use warren_testkit::args::*;
use warren_testkit::smart::*;
use warren_testkit::*;

#[tokio::test]
async fn failing_jobs_are_retried_with_backoff_and_parked_after_three_attempts() {
    let broker = TestBroker::start().await;
    let jobs = retry_worker::demo_jobs();
    let report = retry_worker::run(&broker.uri(), &jobs, Duration::from_secs(20))
        .await
        .expect("the worker runs");
    let owned = |v: &[(&str, u32)]| -> Vec<(String, u32)> {
        v.iter().map(|(n, a)| (n.to_string(), *a)).collect()
    };
    let mut completed = report.completed.clone();
    completed.sort();
    assert_eq!(
        completed,
        owned(&[("email-2", 2), ("report-3", 3), ("resize-1", 1)])
    );
    assert_eq!(report.parked, owned(&[("poison-4", MAX_ATTEMPTS)]));
    // Every failed attempt came back with the next attempt number, none was skipped.
    let attempts_of = |job: &str| -> Vec<(u32, bool)> {
        report
            .attempts
            .iter()
            .filter(|(n, _, _)| n == job)
            .map(|(_, a, ok)| (*a, *ok))
            .collect()
    };
    assert_eq!(
        attempts_of("poison-4"),
        [(1, false), (2, false), (3, false)]
    );
    assert_eq!(attempts_of("report-3"), [(1, false), (2, false), (3, true)]);

    // The parked message is in the parking lot with its history.
    let (_conn, ch) = broker.channel().await;
    let parked = get(&ch, PARKING_QUEUE)
        .await
        .expect("a parked job")
        .delivery;
    assert_eq!(parked.data, b"poison-4");
    assert_eq!(
        header(&parked.properties, retry_worker::ATTEMPTS_HEADER).and_then(int_of),
        Some(3)
    );
    assert_eq!(
        retry_worker::attempt_of(&parked.properties),
        3,
        "two recorded failures + this one"
    );
    let d = deaths(&parked.properties);
    let entry = |queue: &str, reason: &str| {
        d.iter()
            .find(|e| {
                death_text(e, "queue").as_deref() == Some(queue)
                    && death_text(e, "reason").as_deref() == Some(reason)
            })
            .map(death_count)
    };
    assert_eq!(entry(retry_worker::WORK_QUEUE, "rejected"), Some(2));
    assert_eq!(entry(&retry_worker::retry_queue(1), "expired"), Some(1));
    assert_eq!(entry(&retry_worker::retry_queue(2), "expired"), Some(1));
    assert_eq!(get(&ch, PARKING_QUEUE).await.map(|m| m.delivery.data), None);
    // Nothing is left anywhere else.
    for q in [
        retry_worker::WORK_QUEUE.to_owned(),
        retry_worker::retry_queue(1),
        retry_worker::retry_queue(2),
    ] {
        assert_eq!(depth(&ch, &q).await, 0, "{q}");
    }
}

#[tokio::test]
async fn a_job_that_succeeds_at_once_is_never_retried() {
    let broker = TestBroker::start().await;
    let jobs = [Job {
        name: "quick".into(),
        failures: 0,
    }];
    let report = retry_worker::run(&broker.uri(), &jobs, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(report.attempts, [("quick".to_owned(), 1, true)]);
    assert!(report.parked.is_empty());
}

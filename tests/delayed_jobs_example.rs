//! Runs the delayed-jobs example (examples/delayed_jobs.rs) against an in-process
//! broker: each job arrives once its delay has passed, in order of due time.

#[allow(dead_code)] // the example's `main` is not used here
#[path = "../examples/delayed_jobs.rs"]
mod delayed_jobs;

use std::time::Duration;

use warren_testkit::TestBroker;

#[tokio::test]
async fn jobs_arrive_when_due_not_before() {
    let broker = TestBroker::start().await;
    let arrived = delayed_jobs::run(&broker.uri(), Duration::from_secs(10))
        .await
        .expect("the example runs");
    let names: Vec<&str> = arrived.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["now", "retry-payment", "send-reminder"]);
    let after = |name: &str| arrived.iter().find(|(n, _)| n == name).unwrap().1;
    assert!(after("retry-payment") >= Duration::from_millis(300));
    assert!(after("send-reminder") >= Duration::from_millis(600));
    assert!(
        after("now") < Duration::from_millis(300),
        "no delay: at once"
    );
}

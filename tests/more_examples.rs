//! Runs the headers-routing and priority-jobs examples (examples/headers_routing.rs,
//! examples/priority_jobs.rs) against an in-process broker and checks the outcome.

#[allow(dead_code)] // the example's `main` is not used here
#[path = "../examples/headers_routing.rs"]
mod headers_routing;
#[allow(dead_code)]
#[path = "../examples/priority_jobs.rs"]
mod priority_jobs;

use std::time::Duration;

use warren_testkit::TestBroker;

#[tokio::test]
async fn headers_bindings_match_all_or_any() {
    let broker = TestBroker::start().await;
    let got = headers_routing::run(&broker.uri(), Duration::from_secs(10))
        .await
        .expect("the example runs");
    assert_eq!(got["pdf-reports"], ["q3-report.pdf"]);
    assert_eq!(
        got["pdf-or-logs"],
        ["q3-report.pdf", "access.log", "scan.pdf"]
    );
}

#[tokio::test]
async fn higher_priorities_go_first_and_order_holds_within_one() {
    let broker = TestBroker::start().await;
    let done = priority_jobs::run(&broker.uri(), Duration::from_secs(10))
        .await
        .expect("the example runs");
    assert_eq!(
        done,
        [
            "password-reset-email",
            "fraud-check",
            "resize-avatar",
            "reindex-search",
            "nightly-report",
            "send-newsletter",
        ]
    );
}

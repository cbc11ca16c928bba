//! Runs the pub/sub and topic-routing examples (examples/pub_sub.rs,
//! examples/topic_routing.rs) against an in-process broker and checks who got what.

#[allow(dead_code)] // the example's `main` is not used here
#[path = "../examples/pub_sub.rs"]
mod pub_sub;
#[allow(dead_code)]
#[path = "../examples/topic_routing.rs"]
mod topic_routing;

use std::time::Duration;

use warren_testkit::TestBroker;

#[tokio::test]
async fn every_subscriber_gets_every_event_in_order() {
    let broker = TestBroker::start().await;
    let received = pub_sub::run(&broker.uri(), 3, 20, Duration::from_secs(10))
        .await
        .expect("the example runs");
    let want: Vec<String> = (0..20).map(|i| format!("event-{i}")).collect();
    assert_eq!(received, vec![want.clone(), want.clone(), want]);
}

#[tokio::test]
async fn each_subscriber_gets_what_its_patterns_match_once() {
    let broker = TestBroker::start().await;
    let got = topic_routing::run(&broker.uri(), Duration::from_secs(10))
        .await
        .expect("the example runs");
    let keys = |v: &[&str]| -> Vec<String> { v.iter().map(|s| (*s).to_owned()).collect() };
    assert_eq!(got["errors"], keys(&["billing.error", "auth.error"]));
    assert_eq!(
        got["billing"],
        keys(&["billing.info", "billing.error", "billing.invoice.sent"])
    );
    assert_eq!(
        got["archive"],
        keys(topic_routing::LOGS),
        "# matches everything, once"
    );
}

//! Runs the RPC example (examples/rpc.rs) against an in-process broker: answers come
//! back matched to their requests, and a call nobody serves times out instead of
//! hanging.

#[allow(dead_code)] // the example's `main` is not used here
#[path = "../examples/rpc.rs"]
mod rpc;

use std::time::{Duration, Instant};

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use warren_testkit::TestBroker;

#[tokio::test]
async fn calls_are_answered_and_matched_by_correlation_id() {
    let broker = TestBroker::start().await;
    let inputs = [0, 1, 10, 50, 90];
    let answers = rpc::run(&broker.uri(), &inputs)
        .await
        .unwrap_or_else(|e| panic!("rpc failed: {e:?}"));
    assert_eq!(
        answers,
        [0, 1, 55, 12_586_269_025, 2_880_067_194_370_816_120]
    );
}

#[tokio::test]
async fn a_call_nobody_serves_times_out() {
    let broker = TestBroker::start().await;
    let conn = broker.connect().await;
    let ch = conn.create_channel().await.unwrap();
    ch.queue_declare(
        "example.rpc.nobody".into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let mut client = rpc::Client::new(&conn).await.unwrap();
    let started = Instant::now();
    let outcome = client
        .call("example.rpc.nobody", 5, Duration::from_millis(300))
        .await;
    assert!(
        matches!(outcome, Err(rpc::RpcError::Timeout)),
        "{outcome:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

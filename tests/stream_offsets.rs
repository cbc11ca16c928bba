//! Stream queues read from an offset: `x-stream-offset` first / last / next / a number
//! / a timestamp, every delivery carrying its offset in `x-stream-offset`, acks only
//! giving credit back (the messages stay), and several consumers each reading the
//! whole stream at their own pace.

#[path = "streams/support.rs"]
mod support;

use lapin::types::AMQPValue;
use support::*;
use warren_testkit::args::{long, s};
use warren_testkit::{depth, TestBroker};

#[tokio::test]
async fn replay_from_first_offset_last_and_next() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare_stream(&ch, "events", &[]).await;
    publish_range(&ch, "events", 0, 10).await;
    assert_eq!(depth(&ch, "events").await, 10, "depth: messages retained");

    let (_c1, ch1) = broker.channel().await;
    let mut first = consume(
        &ch1,
        "events",
        "first",
        5,
        &[("x-stream-offset", s("first"))],
    )
    .await;
    assert_eq!(take(&mut first, 10).await, expected(0..10));

    let (_c2, ch2) = broker.channel().await;
    let mut at = consume(&ch2, "events", "at", 5, &[("x-stream-offset", long(7))]).await;
    assert_eq!(take(&mut at, 3).await, expected(7..10));

    let (_c3, ch3) = broker.channel().await;
    let mut last = consume(&ch3, "events", "last", 5, &[("x-stream-offset", s("last"))]).await;
    assert_eq!(take(&mut last, 1).await, expected(9..10));

    let (_c4, ch4) = broker.channel().await;
    let mut next = consume(&ch4, "events", "next", 5, &[("x-stream-offset", s("next"))]).await;
    let (_c5, ch5) = broker.channel().await;
    let mut default = consume(&ch5, "events", "default", 5, &[]).await;
    nothing_more(&mut next).await;
    nothing_more(&mut default).await;

    publish_range(&ch, "events", 10, 12).await;
    assert_eq!(
        take(&mut next, 2).await,
        expected(10..12),
        "next: only new ones"
    );
    assert_eq!(
        take(&mut default, 2).await,
        expected(10..12),
        "default: next"
    );
    assert_eq!(
        take(&mut first, 2).await,
        expected(10..12),
        "first goes on live"
    );
    assert_eq!(
        take(&mut last, 2).await,
        expected(10..12),
        "last goes on live"
    );
    nothing_more(&mut last).await;
    assert_eq!(depth(&ch, "events").await, 12, "reading removed nothing");
    broker.stop().await;
}

#[tokio::test]
async fn replay_from_a_timestamp() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare_stream(&ch, "ts", &[]).await;
    publish_range(&ch, "ts", 0, 5).await;
    // AMQP timestamps are whole seconds: wait until the clock has passed the next one.
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let boundary = now() + 1;
    while now() < boundary {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    publish_range(&ch, "ts", 5, 8).await;
    let (_c, ch1) = broker.channel().await;
    let mut c = consume(
        &ch1,
        "ts",
        "since",
        10,
        &[("x-stream-offset", AMQPValue::Timestamp(boundary))],
    )
    .await;
    assert_eq!(take(&mut c, 3).await, expected(5..8));
    nothing_more(&mut c).await;
    let (_c, ch2) = broker.channel().await;
    let mut old = consume(
        &ch2,
        "ts",
        "old",
        10,
        &[("x-stream-offset", AMQPValue::Timestamp(1_000_000_000))],
    )
    .await;
    assert_eq!(
        take(&mut old, 8).await,
        expected(0..8),
        "a time before: from the first"
    );
    broker.stop().await;
}

#[tokio::test]
async fn three_consumers_at_different_speeds_each_see_everything_in_order() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare_stream(&ch, "fan", &[]).await;
    let total = 600u64;
    let mut readers = Vec::new();
    for (i, (prefetch, pause_ms)) in [(1u16, 2u64), (10, 0), (100, 0)].into_iter().enumerate() {
        let (conn, rch) = broker.channel().await;
        let mut c = consume(
            &rch,
            "fan",
            &format!("r{i}"),
            prefetch,
            &[("x-stream-offset", s("first"))],
        )
        .await;
        readers.push(tokio::spawn(async move {
            let _keep = (conn, rch);
            let mut got = Vec::new();
            while got.len() < total as usize {
                let batch = take(&mut c, 1).await;
                got.extend(batch);
                if pause_ms > 0 && got.len() % 50 == 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(pause_ms * 10)).await;
                }
            }
            got
        }));
    }
    publish_range(&ch, "fan", 0, total).await;
    for r in readers {
        assert_eq!(r.await.unwrap(), expected(0..total));
    }
    broker.stop().await;
}

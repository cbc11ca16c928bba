//! Streams over time: a restart keeps the messages, their offsets and the offsets
//! named consumers acknowledged (`x-stream-consumer-name`, Warren's server-side
//! tracking); retention deletes whole old segments (`x-max-length-bytes`,
//! `x-max-age`) while consumers read, and a consumer whose position was deleted goes
//! on from the first retained offset.

#[path = "streams/support.rs"]
#[allow(dead_code)]
mod support;

use lapin::options::{BasicCancelOptions, BasicPublishOptions, BasicQosOptions};
use lapin::BasicProperties;
use support::*;
use warren_testkit::args::{long, s};
use warren_testkit::{depth, eventually, TestBroker, WAIT};

/// Segment files of the one stream in the broker's data directory.
fn segment_files(broker: &TestBroker) -> usize {
    let streams = broker.data_dir().join("store").join("streams");
    std::fs::read_dir(&streams)
        .unwrap_or_else(|e| panic!("{}: {e}", streams.display()))
        .flatten()
        .map(|d| {
            std::fs::read_dir(d.path())
                .unwrap()
                .flatten()
                .filter(|f| f.file_name().to_string_lossy().ends_with(".seg"))
                .count()
        })
        .sum()
}

#[tokio::test]
async fn a_restart_keeps_messages_offsets_and_named_consumer_offsets() {
    let mut broker = TestBroker::start().await;
    {
        let (_conn, ch) = broker.channel().await;
        declare_stream(&ch, "log", &[]).await;
        publish_range(&ch, "log", 0, 10).await;
        let (conn, rch) = broker.channel().await;
        let mut c = consume(
            &rch,
            "log",
            "worker",
            3,
            &[
                ("x-stream-offset", s("first")),
                ("x-stream-consumer-name", s("billing")),
            ],
        )
        .await;
        assert_eq!(take(&mut c, 4).await, expected(0..4));
        // A synchronous method after the acks: they were handled when it returns.
        rch.basic_qos(3, BasicQosOptions::default()).await.unwrap();
        conn.close(200, "bye".into()).await.unwrap();
    }
    broker.restart().await;
    let (_conn, ch) = broker.channel().await;
    assert_eq!(depth(&ch, "log").await, 10, "every message is back");
    // The same name without an offset resumes after its last ack...
    let (_c1, ch1) = broker.channel().await;
    let mut resumed = consume(
        &ch1,
        "log",
        "again",
        3,
        &[("x-stream-consumer-name", s("billing"))],
    )
    .await;
    assert_eq!(take(&mut resumed, 6).await, expected(4..10));
    // ...an explicit offset wins over the tracked one, and another name starts at next.
    let (_c2, ch2) = broker.channel().await;
    let mut explicit = consume(
        &ch2,
        "log",
        "explicit",
        3,
        &[
            ("x-stream-offset", long(2)),
            ("x-stream-consumer-name", s("billing")),
        ],
    )
    .await;
    assert_eq!(take(&mut explicit, 8).await, expected(2..10));
    let (_c3, ch3) = broker.channel().await;
    let mut other = consume(
        &ch3,
        "log",
        "other",
        3,
        &[("x-stream-consumer-name", s("audit"))],
    )
    .await;
    nothing_more(&mut other).await;
    publish_range(&ch, "log", 10, 12).await;
    assert_eq!(
        take(&mut other, 2).await,
        expected(10..12),
        "offsets go on after a restart"
    );
    assert_eq!(take(&mut resumed, 2).await, expected(10..12));
    ch1.basic_cancel("again".into(), BasicCancelOptions::default())
        .await
        .unwrap();
    // A new consumer of the name resumes after everything acked so far.
    let (_c4, ch4) = broker.channel().await;
    let mut later = consume(
        &ch4,
        "log",
        "later",
        3,
        &[("x-stream-consumer-name", s("billing"))],
    )
    .await;
    nothing_more(&mut later).await;
    broker.stop().await;
}

#[tokio::test]
async fn retention_by_size_deletes_old_segments_while_a_consumer_reads() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare_stream(
        &ch,
        "small",
        &[
            ("x-stream-max-segment-size-bytes", long(4096)),
            ("x-max-length-bytes", long(16 * 1024)),
        ],
    )
    .await;
    // A slow consumer: it takes offset 0 and acks nothing for now.
    let (_c, rch) = broker.channel().await;
    let mut slow = consume(&rch, "small", "slow", 1, &[("x-stream-offset", s("first"))]).await;
    let body = vec![b'x'; 400];
    ch.confirm_select(Default::default()).await.unwrap();
    for _ in 0..200 {
        ch.basic_publish(
            "".into(),
            "small".into(),
            BasicPublishOptions::default(),
            &body,
            BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }
    let first = {
        let d = tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut slow))
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(offset_of(&d), 0);
        d.ack(Default::default()).await.unwrap();
        // Its next position was deleted: it goes on from the first retained offset.
        let mut c = take(&mut slow, 1).await;
        c.remove(0).0
    };
    assert!(
        first > 100,
        "the consumer skipped the deleted segments (went on at {first})"
    );
    let retained = depth(&ch, "small").await as u64;
    assert!(retained < 100, "{retained} retained of 200");
    assert!(
        200 - retained <= first,
        "resumed at the first retained offset"
    );
    assert!(
        segment_files(&broker) <= 6,
        "{} segment files",
        segment_files(&broker)
    );
    // It reads on in order to the end.
    let rest = take(&mut slow, (199 - first) as usize).await;
    assert_eq!(
        rest.iter().map(|(o, _)| *o).collect::<Vec<_>>(),
        (first + 1..200).collect::<Vec<_>>()
    );
    broker.stop().await;
}

#[tokio::test]
async fn retention_by_age_deletes_segments_whose_messages_are_all_older() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare_stream(
        &ch,
        "aged",
        &[
            ("x-stream-max-segment-size-bytes", long(4096)),
            ("x-max-age", s("1s")),
        ],
    )
    .await;
    publish_range(&ch, "aged", 0, 100).await;
    assert_eq!(depth(&ch, "aged").await, 100);
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    // The next roll (or the retention tick) deletes every segment but the active one.
    publish_range(&ch, "aged", 100, 400).await;
    eventually(WAIT, || {
        let ch = &ch;
        async move { depth(ch, "aged").await < 300 }
    })
    .await;
    let (_c, rch) = broker.channel().await;
    let mut c = consume(&rch, "aged", "r", 50, &[("x-stream-offset", s("first"))]).await;
    let got = take(&mut c, 1).await;
    assert!(
        got[0].0 >= 100,
        "the old messages are gone (first is {})",
        got[0].0
    );
    broker.stop().await;
}

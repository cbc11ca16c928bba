//! Limits that protect the broker: the consumer acknowledgement timeout and the memory
//! alarm that blocks publishers.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::*;
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use warren_testkit::TestBroker;

#[tokio::test]
async fn an_unacked_delivery_past_the_queue_consumer_timeout_closes_the_channel_and_requeues() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    let mut args = FieldTable::default();
    args.insert("x-consumer-timeout".into(), AMQPValue::LongInt(300));
    ch.queue_declare("slow".into(), QueueDeclareOptions::default(), args)
        .await
        .unwrap();
    ch.basic_publish(
        "".into(),
        "slow".into(),
        BasicPublishOptions::default(),
        b"job",
        BasicProperties::default(),
    )
    .await
    .unwrap();
    let mut consumer = ch
        .basic_consume(
            "slow".into(),
            "c".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let first = consumer.next().await.unwrap().unwrap();
    assert!(!first.redelivered);
    // Never ack: the broker closes the channel with 406 and requeues the job.
    assert!(
        warren_testkit::eventually(Duration::from_secs(5), || std::future::ready(
            !ch.status().connected()
        ))
        .await
    );
    let (_c2, ch2) = broker.channel().await;
    let got = ch2
        .basic_get("slow".into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .expect("the job was requeued");
    assert!(got.delivery.redelivered);
    assert_eq!(got.delivery.data, b"job");
}

#[tokio::test]
async fn the_server_default_consumer_timeout_applies_without_a_queue_argument() {
    let broker =
        TestBroker::start_with(|c| c.limits.consumer_timeout = Duration::from_millis(300)).await;
    let (_conn, ch) = broker.channel().await;
    ch.queue_declare(
        "q".into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.basic_publish(
        "".into(),
        "q".into(),
        BasicPublishOptions::default(),
        b"x",
        BasicProperties::default(),
    )
    .await
    .unwrap();
    let _got = ch
        .basic_get("q".into(), BasicGetOptions { no_ack: false })
        .await
        .unwrap()
        .expect("a message");
    assert!(
        warren_testkit::eventually(Duration::from_secs(5), || std::future::ready(
            !ch.status().connected()
        ))
        .await
    );
}

#[tokio::test]
async fn acked_deliveries_never_time_out() {
    let broker =
        TestBroker::start_with(|c| c.limits.consumer_timeout = Duration::from_millis(200)).await;
    let (_conn, ch) = broker.channel().await;
    ch.queue_declare(
        "q".into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    for _ in 0..3 {
        ch.basic_publish(
            "".into(),
            "q".into(),
            BasicPublishOptions::default(),
            b"x",
            BasicProperties::default(),
        )
        .await
        .unwrap();
        let got = ch
            .basic_get("q".into(), BasicGetOptions { no_ack: false })
            .await
            .unwrap()
            .expect("a message");
        got.delivery.ack(BasicAckOptions::default()).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(ch.status().connected(), "nothing was left unacked");
}

#[tokio::test]
async fn publishers_are_blocked_while_the_memory_alarm_is_on_and_resume_after() {
    let broker = TestBroker::start_with(|c| {
        c.limits.memory_high_watermark = warren_server::MemoryWatermark::Off
    })
    .await;
    let (_conn, ch) = broker.channel().await;
    ch.queue_declare(
        "q".into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let alarm = broker.memory_alarm();
    alarm.set(true);
    // The first publish is read (and blocks the connection); later ones wait unread.
    let first = ch
        .basic_publish(
            "".into(),
            "q".into(),
            BasicPublishOptions::default(),
            b"1",
            BasicProperties::default(),
        )
        .await
        .unwrap();
    first.await.unwrap();
    // lapin honours connection.blocked: its next publish waits until unblocked.
    let publisher = ch.clone();
    let second = tokio::spawn(async move {
        publisher
            .basic_publish(
                "".into(),
                "q".into(),
                BasicPublishOptions::default(),
                b"2",
                BasicProperties::default(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !second.is_finished(),
        "the second publish waits while blocked"
    );
    // A consumer on another connection keeps working during the alarm.
    let (_c2, ch2) = broker.channel().await;
    let got = ch2
        .basic_get("q".into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .expect("the first message");
    assert_eq!(got.delivery.data, b"1");
    alarm.set(false);
    tokio::time::timeout(Duration::from_secs(5), second)
        .await
        .expect("publishing resumes once the alarm clears")
        .unwrap();
    assert!(
        warren_testkit::eventually(Duration::from_secs(5), || std::future::ready(
            broker
                .broker()
                .vhost("/")
                .unwrap()
                .queue("q", 0)
                .map(|q| q.message_count() == 1)
                .unwrap_or(false)
        ))
        .await,
        "after the alarm clears the blocked publish goes through"
    );
}

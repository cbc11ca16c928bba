//! The shortest end-to-end path: declare, publish, consume, ack over TCP with lapin.

use futures_util::StreamExt;
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::BasicProperties;
use warren_testkit::TestBroker;

#[tokio::test]
async fn publish_then_consume_with_lapin() {
    let broker = TestBroker::start().await;
    let (conn, ch) = broker.channel().await;
    ch.queue_declare(
        "smoke".into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.basic_publish(
        "".into(),
        "smoke".into(),
        BasicPublishOptions::default(),
        b"hello",
        BasicProperties::default(),
    )
    .await
    .unwrap();
    let mut consumer = ch
        .basic_consume(
            "smoke".into(),
            "c1".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let delivery = consumer.next().await.unwrap().unwrap();
    assert_eq!(delivery.data, b"hello");
    delivery.ack(BasicAckOptions::default()).await.unwrap();
    conn.close(200, "bye".into()).await.unwrap();
    broker.stop().await;
}

//! The disk alarm end to end: with free space below `disk_free_limit` (here: a limit no
//! disk meets), publishing connections are blocked and their next publishes wait; once
//! the alarm clears, they go through.

use std::time::Duration;

use lapin::options::{ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel};
use warren_testkit::{depth, eventually, TestBroker, WAIT};

async fn publish(ch: Channel) -> bool {
    ch.basic_publish(
        "".into(),
        "q".into(),
        Default::default(),
        b"m",
        BasicProperties::default(),
    )
    .await
    .unwrap()
    .await
    .unwrap()
    .is_ack()
}

#[tokio::test]
async fn low_disk_blocks_publishers_until_it_clears() {
    let broker = TestBroker::start_with(|c| c.limits.disk_free_limit_bytes = u64::MAX).await;
    let alarm = broker.memory_alarm();
    assert!(
        eventually(WAIT, || async { alarm.is_on() }).await,
        "the first check raises the alarm"
    );
    assert_eq!(alarm.reason(), "low on disk");
    let (_c, ch) = broker.channel().await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    ch.queue_declare(
        "q".into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    // As with the memory alarm (and RabbitMQ), the publish that finds the alarm on is
    // read and blocks the connection; lapin honours connection.blocked, so its next
    // publish waits.
    assert!(publish(ch.clone()).await);
    let second = tokio::spawn(publish(ch.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !second.is_finished(),
        "a blocked publisher's next message waits"
    );
    // The monitor checks every 5 s; clearing by hand opens a window to see the publish
    // complete.
    alarm.set_disk(false);
    assert!(tokio::time::timeout(WAIT, second).await.unwrap().unwrap());
    let (_c2, ch2) = broker.channel().await;
    assert_eq!(depth(&ch2, "q").await, 2);
}

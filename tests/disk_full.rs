//! A full disk through the broker: persistent publishes into a durable queue are nacked
//! once the store cannot write or sync, never confirmed; every message that was
//! confirmed can still be consumed; and the broker keeps serving everything that does
//! not need the disk. Runs on a small tmpfs, so it needs the right to mount (root): it is
//! `#[ignore]`d, and `.ci/run` (root) runs it with `-- --ignored`; run without the right
//! to mount, it fails rather than pass without checking anything.

use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Confirmation};
use warren_testkit::tmpfs::Tmpfs;
use warren_testkit::TestBroker;

#[tokio::test]
#[ignore = "needs root: mounts a tmpfs (.ci/run runs it with --ignored)"]
async fn a_full_disk_nacks_persistent_publishes_and_keeps_confirmed_ones() {
    let fs = Tmpfs::mount("16m");
    let data_dir = fs.path().join("warren");
    let broker = TestBroker::start_with(|c| {
        c.data_dir = data_dir.clone();
        // This test fills the disk for real; the disk alarm would block first.
        c.limits.disk_free_limit_bytes = 0;
    })
    .await;
    let (_conn, ch) = broker.channel().await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.queue_declare("jobs".into(), durable, FieldTable::default())
        .await
        .unwrap();

    let body = vec![b'x'; 8 * 1024];
    let mut confirmed = Vec::new();
    let mut nacked = 0;
    for i in 0..20_000u32 {
        let mut payload = i.to_be_bytes().to_vec();
        payload.extend_from_slice(&body);
        let confirm = ch
            .basic_publish(
                "".into(),
                "jobs".into(),
                BasicPublishOptions::default(),
                &payload,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .expect("publish")
            .await
            .expect("confirm");
        match confirm {
            Confirmation::Ack(_) => confirmed.push(i),
            Confirmation::Nack(_) => {
                nacked += 1;
                if nacked == 20 {
                    break;
                }
            }
            other => panic!("unexpected confirmation {other:?}"),
        }
    }
    assert!(nacked > 0, "a 16 MiB disk cannot take 160 MiB of messages");
    assert!(!confirmed.is_empty(), "the first messages fit");

    // Everything that does not need the disk still works, on a new connection too.
    let (_conn2, ch2) = broker.channel().await;
    let q = ch2
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("transient declare");
    ch2.basic_publish(
        "".into(),
        q.name().as_str().into(),
        BasicPublishOptions::default(),
        b"transient",
        BasicProperties::default(),
    )
    .await
    .unwrap();
    let mut got = None;
    for _ in 0..100 {
        got = ch2
            .basic_get(q.name().as_str().into(), BasicGetOptions::default())
            .await
            .unwrap();
        if got.is_some() {
            break;
        }
    }
    assert_eq!(got.expect("the transient message").data, b"transient");

    // Every confirmed message is there, in order (nacked ones may or may not be).
    let mut seen = Vec::new();
    while let Some(m) = ch2
        .basic_get("jobs".into(), BasicGetOptions::default())
        .await
        .expect("get")
    {
        let i = u32::from_be_bytes(m.data[..4].try_into().unwrap());
        assert_eq!(m.data.len(), 4 + body.len());
        seen.push(i);
        ch2.basic_ack(m.delivery_tag, BasicAckOptions::default())
            .await
            .unwrap();
    }
    let missing: Vec<u32> = confirmed
        .iter()
        .copied()
        .filter(|i| seen.binary_search(i).is_err())
        .collect();
    assert!(
        missing.is_empty(),
        "confirmed but not delivered: {missing:?}"
    );
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in publish order");
    drop((_conn, ch, _conn2, ch2));
    broker.stop().await;
}

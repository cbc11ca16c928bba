//! Virtual hosts and limits over AMQP: entities are isolated per vhost, deleting a vhost
//! closes its connections with 320 and removes everything in it for good, and the
//! per-vhost (`max-connections`, `max-queues`) and per-user (`max-connections`,
//! `max-channels`) limits refuse with RabbitMQ's codes, leaving nothing behind.

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::Connection;
use warren_broker::access::{User, UserLimits, VHostLimits};
use warren_broker::definitions::{PermissionDef, VHostDef};
use warren_testkit::raw::RawClient;
use warren_testkit::{assert_reply, eventually, reply, TestBroker, WAIT};

async fn add_vhost(broker: &TestBroker, name: &str) {
    let b = broker.broker();
    let _ = b
        .create_vhost(&VHostDef {
            name: name.into(),
            ..VHostDef::default()
        })
        .unwrap()
        .committed()
        .await
        .unwrap();
    b.set_permissions(&PermissionDef {
        user: "guest".into(),
        vhost: name.into(),
        configure: ".*".into(),
        write: ".*".into(),
        read: ".*".into(),
    })
    .unwrap()
    .committed()
    .await
    .unwrap();
}

async fn guest_in(broker: &TestBroker, vhost: &str) -> lapin::Result<Connection> {
    broker.connect_as("guest", "guest", vhost).await
}

async fn declare(conn: &Connection, name: &str) -> lapin::Result<lapin::Queue> {
    let ch = conn.create_channel().await?;
    ch.queue_declare(
        name.into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
}

fn passive() -> QueueDeclareOptions {
    QueueDeclareOptions {
        passive: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn each_vhost_has_its_own_entities() {
    let broker = TestBroker::start().await;
    add_vhost(&broker, "tenant-a").await;
    let a = guest_in(&broker, "tenant-a").await.unwrap();
    declare(&a, "jobs").await.unwrap();
    let root = guest_in(&broker, "/").await.unwrap();
    let ch = root.create_channel().await.unwrap();
    assert_reply(
        ch.queue_declare("jobs".into(), passive(), FieldTable::default())
            .await,
        404,
        "NOT_FOUND - no queue 'jobs' in vhost '/'",
    );
    let e = guest_in(&broker, "nosuch").await.unwrap_err();
    assert_eq!(
        reply(&e),
        Some((530, "NOT_ALLOWED - vhost nosuch not found".into()))
    );
}

#[tokio::test]
async fn deleting_a_vhost_closes_its_connections_and_removes_it_for_good() {
    let mut broker = TestBroker::start().await;
    add_vhost(&broker, "doomed").await;
    let conn = guest_in(&broker, "doomed").await.unwrap();
    declare(&conn, "q").await.unwrap();
    let mut raw = RawClient::open_in(broker.addr, "doomed").await;
    let other = guest_in(&broker, "/").await.unwrap();
    broker
        .broker()
        .delete_vhost("doomed")
        .unwrap()
        .committed()
        .await
        .unwrap();
    assert!(
        eventually(WAIT, || async { !conn.status().connected() }).await,
        "the connection to the deleted vhost is closed"
    );
    assert_eq!(
        raw.expect_connection_close().await,
        (
            320,
            "CONNECTION_FORCED - vhost 'doomed' is deleted".into(),
            0,
            0
        )
    );
    assert!(other.status().connected(), "other vhosts' connections stay");
    broker.restart().await;
    assert!(broker.broker().vhost("doomed").is_none());
    let e = guest_in(&broker, "doomed").await.unwrap_err();
    assert_eq!(reply(&e).map(|r| r.0), Some(530));
    // A new vhost of the same name starts empty.
    add_vhost(&broker, "doomed").await;
    let conn = guest_in(&broker, "doomed").await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    assert_reply(
        ch.queue_declare("q".into(), passive(), FieldTable::default())
            .await,
        404,
        "NOT_FOUND - no queue 'q' in vhost 'doomed'",
    );
}

#[tokio::test]
async fn vhost_limits_refuse_connections_and_queues_and_leave_nothing_behind() {
    let broker = TestBroker::start().await;
    add_vhost(&broker, "small").await;
    broker
        .broker()
        .set_vhost_limits(
            "small",
            VHostLimits {
                max_connections: Some(1),
                max_queues: Some(1),
            },
        )
        .unwrap()
        .committed()
        .await
        .unwrap();
    let first = guest_in(&broker, "small").await.unwrap();
    let e = guest_in(&broker, "small").await.unwrap_err();
    assert_eq!(
        reply(&e),
        Some((
            530,
            "NOT_ALLOWED - access to vhost 'small' refused for user 'guest': connection limit (1) is reached".into()
        ))
    );
    declare(&first, "one").await.unwrap();
    assert_reply(
        declare(&first, "two").await,
        406,
        "PRECONDITION_FAILED - cannot declare queue 'two': queue limit in vhost 'small' (1) is reached",
    );
    declare(&first, "one")
        .await
        .expect("redeclaring an existing queue is no new queue");
    assert!(broker
        .broker()
        .vhost("small")
        .unwrap()
        .queue("two", 0)
        .is_err());
    let _ = first.close(200, "bye".into()).await;
    drop(first);
    assert!(
        eventually(WAIT, || async {
            broker.broker().connections().count_in_vhost("small") == 0
        })
        .await,
        "the closed connection frees its slot"
    );
    guest_in(&broker, "small").await.expect("room again");
}

#[tokio::test]
async fn user_limits_refuse_connections_and_channels() {
    let broker = TestBroker::start().await;
    let b = broker.broker();
    b.put_user(User::with_password("svc", "pw", vec![]))
        .unwrap()
        .committed()
        .await
        .unwrap();
    b.set_permissions(&PermissionDef {
        user: "svc".into(),
        vhost: "/".into(),
        configure: ".*".into(),
        write: ".*".into(),
        read: ".*".into(),
    })
    .unwrap()
    .committed()
    .await
    .unwrap();
    b.set_user_limits(
        "svc",
        UserLimits {
            max_connections: Some(1),
            max_channels: Some(1),
        },
    )
    .unwrap()
    .committed()
    .await
    .unwrap();
    let conn = broker.connect_as("svc", "pw", "/").await.unwrap();
    let e = broker.connect_as("svc", "pw", "/").await.unwrap_err();
    assert_eq!(
        reply(&e),
        Some((
            530,
            "NOT_ALLOWED - connection refused for user 'svc': user connection limit (1) is reached"
                .into()
        ))
    );
    let ch = conn.create_channel().await.unwrap();
    let e = conn.create_channel().await.unwrap_err();
    assert_eq!(
        reply(&e),
        Some((
            530,
            "NOT_ALLOWED - number of channels opened for user 'svc' has reached the maximum allowed user limit of (1)".into()
        ))
    );
    drop(ch);
    assert!(
        eventually(WAIT, || async {
            broker.broker().connections().count_in_vhost("/") == 0
        })
        .await,
        "the refused connection and its channels left nothing behind"
    );
    let conn = broker
        .connect_as("svc", "pw", "/")
        .await
        .expect("room again");
    conn.create_channel().await.expect("a channel again");
}

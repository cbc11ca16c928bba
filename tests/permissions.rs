//! Permissions enforced over AMQP where RabbitMQ enforces them, with its texts: configure
//! (declare, delete), write (publish, bind destination), read (consume, get, purge, bind
//! source), topic permissions on routing keys, vhost access at `connection.open`, the
//! default exchange as `amq.default`, server-named queues under their generated name, and
//! `user_id` impersonation. Users and permissions are set through the broker's admin
//! interface; every check goes through lapin over TCP.

use lapin::options::{
    BasicConsumeOptions, BasicGetOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions, QueuePurgeOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ExchangeKind};
use warren_broker::access::User;
use warren_broker::definitions::{PermissionDef, TopicPermissionDef};
use warren_testkit::{assert_reply, publish_confirmed, reply, TestBroker};

const BOB_ONLY: &str = "^bob\\.";

async fn broker_with_bob(configure: &str, write: &str, read: &str) -> TestBroker {
    let broker = TestBroker::start().await;
    let b = broker.broker();
    b.put_user(User::with_password("bob", "bob-pw", vec![]))
        .unwrap()
        .committed()
        .await
        .unwrap();
    set_permissions(&broker, configure, write, read).await;
    broker
}

async fn set_permissions(broker: &TestBroker, configure: &str, write: &str, read: &str) {
    broker
        .broker()
        .set_permissions(&PermissionDef {
            user: "bob".into(),
            vhost: "/".into(),
            configure: configure.into(),
            write: write.into(),
            read: read.into(),
        })
        .unwrap()
        .committed()
        .await
        .unwrap();
}

async fn bob(broker: &TestBroker) -> (Connection, Channel) {
    let conn = broker
        .connect_as("bob", "bob-pw", "/")
        .await
        .expect("bob connects");
    let ch = conn.create_channel().await.expect("channel");
    (conn, ch)
}

/// A queue guest declares for bob's tests.
async fn guest_queue(broker: &TestBroker, name: &str) {
    let (_c, ch) = broker.channel().await;
    ch.queue_declare(
        name.into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
}

fn refused(what: &str) -> String {
    format!("ACCESS_REFUSED - access to {what} in vhost '/' refused for user 'bob'")
}

async fn declare(ch: &Channel, name: &str) -> lapin::Result<lapin::Queue> {
    ch.queue_declare(
        name.into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
}

#[tokio::test]
async fn configure_governs_declare_and_delete_but_not_passive_declares() {
    let broker = broker_with_bob(BOB_ONLY, BOB_ONLY, BOB_ONLY).await;
    guest_queue(&broker, "shared").await;
    let (_c, ch) = bob(&broker).await;
    declare(&ch, "bob.jobs").await.expect("allowed");
    assert_reply(declare(&ch, "jobs").await, 403, &refused("queue 'jobs'"));

    let (_c, ch) = bob(&broker).await;
    assert_reply(
        declare(&ch, "amq.foo").await,
        403,
        "ACCESS_REFUSED - queue name 'amq.foo' contains reserved prefix 'amq.*'",
    );

    let (_c, ch) = bob(&broker).await;
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    ch.queue_declare("shared".into(), passive, FieldTable::default())
        .await
        .expect("a passive declare checks nothing");
    assert_reply(
        ch.queue_delete("shared".into(), QueueDeleteOptions::default())
            .await,
        403,
        &refused("queue 'shared'"),
    );
    let (_c, ch) = bob(&broker).await;
    assert_reply(
        ch.exchange_declare(
            "logs".into(),
            ExchangeKind::Fanout,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await,
        403,
        &refused("exchange 'logs'"),
    );
    let (_c, ch) = bob(&broker).await;
    ch.exchange_declare(
        "bob.logs".into(),
        ExchangeKind::Fanout,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("allowed");
}

#[tokio::test]
async fn a_server_named_queue_is_checked_under_its_generated_name() {
    let broker = broker_with_bob(BOB_ONLY, BOB_ONLY, BOB_ONLY).await;
    let (_c, ch) = bob(&broker).await;
    let e = declare(&ch, "").await.unwrap_err();
    let (code, text) = reply(&e).unwrap();
    assert_eq!(code, 403);
    assert!(
        text.starts_with("ACCESS_REFUSED - access to queue 'amq.gen-"),
        "{text}"
    );
    set_permissions(&broker, "^bob\\.|^amq\\.gen-", BOB_ONLY, BOB_ONLY).await;
    let (_c, ch) = bob(&broker).await;
    let q = declare(&ch, "").await.expect("allowed now");
    assert!(q.name().as_str().starts_with("amq.gen-"));
}

#[tokio::test]
async fn write_governs_publishing_and_the_default_exchange_is_amq_default() {
    let broker = broker_with_bob(".*", BOB_ONLY, ".*").await;
    let (_c, ch) = bob(&broker).await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    assert_reply(
        publish_confirmed(&ch, "amq.direct", "k", BasicProperties::default()).await,
        403,
        &refused("exchange 'amq.direct'"),
    );
    let (_c, ch) = bob(&broker).await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    assert_reply(
        publish_confirmed(&ch, "", "k", BasicProperties::default()).await,
        403,
        &refused("exchange 'amq.default'"),
    );
    set_permissions(&broker, ".*", "^amq\\.default$", ".*").await;
    let (_c, ch) = bob(&broker).await;
    declare(&ch, "q").await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    assert!(publish_confirmed(&ch, "", "q", BasicProperties::default())
        .await
        .unwrap()
        .is_ack());
    assert_eq!(warren_testkit::depth(&ch, "q").await, 1);
}

#[tokio::test]
async fn read_governs_consume_get_and_purge() {
    let broker = broker_with_bob(".*", ".*", BOB_ONLY).await;
    guest_queue(&broker, "shared").await;
    let (_c, ch) = bob(&broker).await;
    assert_reply(
        ch.basic_consume(
            "shared".into(),
            "c".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await,
        403,
        &refused("queue 'shared'"),
    );
    let (_c, ch) = bob(&broker).await;
    assert_reply(
        ch.basic_get("shared".into(), BasicGetOptions::default())
            .await,
        403,
        &refused("queue 'shared'"),
    );
    let (_c, ch) = bob(&broker).await;
    assert_reply(
        ch.queue_purge("shared".into(), QueuePurgeOptions::default())
            .await,
        403,
        &refused("queue 'shared'"),
    );
    let (_c, ch) = bob(&broker).await;
    declare(&ch, "bob.mine").await.unwrap();
    ch.basic_get("bob.mine".into(), BasicGetOptions::default())
        .await
        .expect("read allowed");
}

#[tokio::test]
async fn binding_needs_write_on_the_queue_then_read_on_the_exchange() {
    let broker = broker_with_bob(".*", BOB_ONLY, BOB_ONLY).await;
    guest_queue(&broker, "shared").await;
    let (_c, ch) = bob(&broker).await;
    declare(&ch, "bob.q").await.unwrap();
    let bind = |q: &'static str, x: &'static str| {
        let ch = ch.clone();
        async move {
            ch.queue_bind(
                q.into(),
                x.into(),
                "k".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
        }
    };
    assert_reply(
        bind("shared", "amq.direct").await,
        403,
        &refused("queue 'shared'"),
    );
    let (_c, ch) = bob(&broker).await;
    assert_reply(
        ch.queue_bind(
            "bob.q".into(),
            "amq.direct".into(),
            "k".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await,
        403,
        &refused("exchange 'amq.direct'"),
    );
    let (_c, ch) = bob(&broker).await;
    ch.exchange_declare(
        "bob.x".into(),
        ExchangeKind::Direct,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.queue_bind(
        "bob.q".into(),
        "bob.x".into(),
        "k".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("write on bob.q, read on bob.x");
}

#[tokio::test]
async fn topic_permissions_check_routing_keys_on_topic_exchanges() {
    let broker = broker_with_bob(".*", ".*", ".*").await;
    broker
        .broker()
        .set_topic_permissions(&TopicPermissionDef {
            user: "bob".into(),
            vhost: "/".into(),
            exchange: "amq.topic".into(),
            write: "^allowed\\.".into(),
            read: "^r\\.".into(),
        })
        .unwrap()
        .committed()
        .await
        .unwrap();
    let (_c, ch) = bob(&broker).await;
    declare(&ch, "t").await.unwrap();
    ch.queue_bind(
        "t".into(),
        "amq.topic".into(),
        "r.#".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("read topic allows r.#");
    ch.queue_bind(
        "t".into(),
        "amq.topic".into(),
        "allowed.#".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect_err("read topic refuses allowed.#");
    let (_c, ch) = bob(&broker).await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    assert!(
        publish_confirmed(&ch, "amq.topic", "allowed.x", BasicProperties::default())
            .await
            .unwrap()
            .is_ack()
    );
    assert_reply(
        publish_confirmed(&ch, "amq.topic", "denied.x", BasicProperties::default()).await,
        403,
        "ACCESS_REFUSED - access to topic 'denied.x' in exchange 'amq.topic' in vhost '/' refused for user 'bob'",
    );
    // Topic permissions apply to topic exchanges only.
    let (_c, ch) = bob(&broker).await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    assert!(
        publish_confirmed(&ch, "amq.direct", "denied.x", BasicProperties::default())
            .await
            .unwrap()
            .is_ack()
    );
}

#[tokio::test]
async fn without_permissions_on_a_vhost_the_open_is_refused_with_530() {
    let broker = TestBroker::start().await;
    broker
        .broker()
        .put_user(User::with_password("eve", "eve-pw", vec![]))
        .unwrap()
        .committed()
        .await
        .unwrap();
    let e = broker.connect_as("eve", "eve-pw", "/").await.unwrap_err();
    assert_eq!(
        reply(&e),
        Some((
            530,
            "NOT_ALLOWED - access to vhost '/' refused for user 'eve'".into()
        ))
    );
    let e = broker.connect_as("eve", "wrong", "/").await.unwrap_err();
    assert_eq!(reply(&e).map(|r| r.0), Some(403), "{e:?}");
}

#[tokio::test]
async fn a_permission_change_reaches_an_open_connection() {
    let broker = broker_with_bob(".*", ".*", ".*").await;
    let (_c, ch) = bob(&broker).await;
    declare(&ch, "before").await.expect("allowed");
    set_permissions(&broker, BOB_ONLY, ".*", ".*").await;
    assert_reply(declare(&ch, "after").await, 403, &refused("queue 'after'"));
}

#[tokio::test]
async fn only_an_impersonator_may_publish_with_another_user_id() {
    let broker = broker_with_bob(".*", ".*", ".*").await;
    let (_c, ch) = bob(&broker).await;
    declare(&ch, "q").await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let as_alice = BasicProperties::default().with_user_id("alice".into());
    assert_reply(
        publish_confirmed(&ch, "", "q", as_alice.clone()).await,
        406,
        "PRECONDITION_FAILED - user_id property set to 'alice' but authenticated user was 'bob'",
    );
    broker
        .broker()
        .put_user(User::with_password(
            "bob",
            "bob-pw",
            vec!["impersonator".into()],
        ))
        .unwrap()
        .committed()
        .await
        .unwrap();
    let (_c, ch) = bob(&broker).await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    assert!(publish_confirmed(&ch, "", "q", as_alice)
        .await
        .unwrap()
        .is_ack());
}

//! Policies and operator policies over AMQP: applied at once to live queues (max-length
//! drops from the head into the policy's dead-letter exchange, message-ttl expires what is
//! published after it), lifted when cleared, combined with queue arguments and operator
//! policies as RabbitMQ combines them, refused when invalid, and kept across restarts.

use std::time::Duration;

use lapin::options::{
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, ExchangeKind};
use warren_broker::admin::AdminError;
use warren_broker::definitions::PolicyDef;
use warren_testkit::{depth, drain_bodies, eventually, publish_confirmed, TestBroker, WAIT};

fn policy(name: &str, pattern: &str, apply_to: &str, priority: i64, definition: &str) -> PolicyDef {
    PolicyDef {
        vhost: "/".into(),
        name: name.into(),
        pattern: pattern.into(),
        apply_to: apply_to.into(),
        definition: serde_json::from_str(definition).unwrap(),
        priority,
    }
}

async fn set(broker: &TestBroker, p: &PolicyDef, operator: bool) {
    broker
        .broker()
        .set_policy(p, operator)
        .unwrap()
        .committed()
        .await
        .unwrap();
}

async fn clear(broker: &TestBroker, name: &str, operator: bool) {
    broker
        .broker()
        .clear_policy("/", name, operator)
        .unwrap()
        .committed()
        .await
        .unwrap();
}

async fn declare(ch: &Channel, name: &str, args: FieldTable) {
    ch.queue_declare(
        name.into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        args,
    )
    .await
    .unwrap();
}

async fn publish(ch: &Channel, queue: &str, bodies: &[&str]) {
    for body in bodies {
        ch.basic_publish(
            "".into(),
            queue.into(),
            Default::default(),
            body.as_bytes(),
            BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }
}

fn texts(bodies: Vec<Vec<u8>>) -> Vec<String> {
    bodies
        .into_iter()
        .map(|b| String::from_utf8(b).unwrap())
        .collect()
}

async fn dead_letter_setup(ch: &Channel) {
    ch.exchange_declare(
        "dlx".into(),
        ExchangeKind::Fanout,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    declare(ch, "dead", FieldTable::default()).await;
    ch.queue_bind(
        "dead".into(),
        "dlx".into(),
        "".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_policy_applies_to_a_live_queue_at_once_and_lifts_when_cleared() {
    let broker = TestBroker::start().await;
    let (_c, ch) = broker.channel().await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    dead_letter_setup(&ch).await;
    declare(&ch, "pol.a", FieldTable::default()).await;
    publish(&ch, "pol.a", &["1", "2", "3", "4", "5"]).await;
    set(
        &broker,
        &policy(
            "cap",
            "^pol\\.",
            "queues",
            0,
            r#"{"max-length": 2, "dead-letter-exchange": "dlx"}"#,
        ),
        false,
    )
    .await;
    assert_eq!(
        depth(&ch, "pol.a").await,
        2,
        "max-length applied to the live queue"
    );
    assert!(eventually(WAIT, || async { depth(&ch, "dead").await == 3 }).await);
    assert_eq!(
        texts(drain_bodies(&ch, "dead").await),
        ["1", "2", "3"],
        "dropped from the head, dead-lettered"
    );
    clear(&broker, "cap", false).await;
    publish(&ch, "pol.a", &["6", "7", "8"]).await;
    assert_eq!(
        depth(&ch, "pol.a").await,
        5,
        "no limit once the policy is cleared"
    );
}

#[tokio::test]
async fn a_message_ttl_policy_expires_what_is_published_after_it() {
    let broker = TestBroker::start().await;
    let (_c, ch) = broker.channel().await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    declare(&ch, "pol.ttl", FieldTable::default()).await;
    set(
        &broker,
        &policy("ttl", "^pol\\.ttl$", "queues", 0, r#"{"message-ttl": 50}"#),
        false,
    )
    .await;
    publish(&ch, "pol.ttl", &["short-lived"]).await;
    assert!(
        eventually(WAIT, || async { depth(&ch, "pol.ttl").await == 0 }).await,
        "expired under the policy's TTL"
    );
    clear(&broker, "ttl", false).await;
    publish(&ch, "pol.ttl", &["kept"]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(depth(&ch, "pol.ttl").await, 1);
}

#[tokio::test]
async fn the_highest_priority_policy_wins_and_new_queues_get_it() {
    let broker = TestBroker::start().await;
    set(
        &broker,
        &policy("low", "^p", "queues", 1, r#"{"max-length": 5}"#),
        false,
    )
    .await;
    set(
        &broker,
        &policy("high", "^pq", "queues", 10, r#"{"max-length": 1}"#),
        false,
    )
    .await;
    let (_c, ch) = broker.channel().await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    declare(&ch, "pq", FieldTable::default()).await;
    publish(&ch, "pq", &["a", "b", "c"]).await;
    assert_eq!(texts(drain_bodies(&ch, "pq").await), ["c"]);
    let q = broker.broker().vhost("/").unwrap().queue("pq", 0).unwrap();
    assert_eq!(q.policy_name().as_deref(), Some("high"));
}

#[tokio::test]
async fn arguments_and_operator_policies_combine_as_in_rabbitmq() {
    let broker = TestBroker::start().await;
    let (_c, ch) = broker.channel().await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let mut args = FieldTable::default();
    args.insert("x-max-length".into(), AMQPValue::LongInt(4));
    declare(&ch, "mix", args).await;
    set(
        &broker,
        &policy("p", "^mix$", "queues", 0, r#"{"max-length": 3}"#),
        false,
    )
    .await;
    set(
        &broker,
        &policy("op", "^mix$", "queues", 0, r#"{"max-length": 2}"#),
        true,
    )
    .await;
    publish(&ch, "mix", &["1", "2", "3", "4", "5"]).await;
    assert_eq!(
        depth(&ch, "mix").await,
        2,
        "the operator policy is stricter"
    );
    clear(&broker, "op", true).await;
    publish(&ch, "mix", &["6", "7", "8", "9"]).await;
    assert_eq!(
        depth(&ch, "mix").await,
        3,
        "the smaller of argument (4) and policy (3)"
    );
}

#[tokio::test]
async fn invalid_policies_are_refused_and_change_nothing() {
    let broker = TestBroker::start().await;
    let b = broker.broker();
    let e = b
        .set_policy(
            &policy("prio", ".*", "queues", 0, r#"{"max-priority": 5}"#),
            false,
        )
        .unwrap_err();
    assert!(matches!(e, AdminError::Invalid(_)), "{e:?}");
    assert!(e.to_string().contains("max-priority"), "{e}");
    let e = b
        .set_policy(
            &policy("bad", ".*", "queues", 0, r#"{"message-ttl": -1}"#),
            false,
        )
        .unwrap_err();
    assert!(matches!(e, AdminError::Invalid(_)), "{e:?}");
    let e = b
        .set_policy(
            &policy("re", "(", "queues", 0, r#"{"message-ttl": 1}"#),
            false,
        )
        .unwrap_err();
    assert!(matches!(e, AdminError::Invalid(_)), "{e:?}");
    assert!(b.policy_defs(false).is_empty());
}

#[tokio::test]
async fn policies_survive_a_restart() {
    let mut broker = TestBroker::start().await;
    set(
        &broker,
        &policy("cap", "^keep$", "queues", 0, r#"{"max-length": 1}"#),
        false,
    )
    .await;
    broker.restart().await;
    let (_c, ch) = broker.channel().await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    declare(&ch, "keep", FieldTable::default()).await;
    publish(&ch, "keep", &["a", "b"]).await;
    assert_eq!(depth(&ch, "keep").await, 1);
    assert_eq!(broker.broker().policy_defs(false).len(), 1);
}

#[tokio::test]
async fn an_alternate_exchange_policy_catches_unroutable_messages() {
    let broker = TestBroker::start().await;
    let (_c, ch) = broker.channel().await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    ch.exchange_declare(
        "orders".into(),
        ExchangeKind::Direct,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.exchange_declare(
        "unrouted".into(),
        ExchangeKind::Fanout,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    declare(&ch, "lost", FieldTable::default()).await;
    ch.queue_bind(
        "lost".into(),
        "unrouted".into(),
        "".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    set(
        &broker,
        &policy(
            "ae",
            "^orders$",
            "exchanges",
            0,
            r#"{"alternate-exchange": "unrouted"}"#,
        ),
        false,
    )
    .await;
    publish_confirmed(&ch, "orders", "nowhere", BasicProperties::default())
        .await
        .unwrap();
    assert_eq!(depth(&ch, "lost").await, 1);
    clear(&broker, "ae", false).await;
    publish_confirmed(&ch, "orders", "nowhere", BasicProperties::default())
        .await
        .unwrap();
    assert_eq!(
        depth(&ch, "lost").await,
        1,
        "no alternate exchange once cleared"
    );
}

//! Booting from a definitions file exported by a real RabbitMQ 3.10.8
//! (`tests/fixtures/rabbitmq-3.10-definitions.json`, made as `tests/fixtures/README.md`
//! says): every vhost, user (SHA-256 and SHA-512 hashes log in with their passwords),
//! permission, topic permission, limit, policy, operator policy, exchange of each type,
//! queue with arguments and binding (queue, headers, topic and exchange-to-exchange)
//! comes back and behaves as RabbitMQ's did; a restart re-applies it without a change, and
//! Warren's own export re-imports to the same state.

use lapin::options::{ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel};
use warren_broker::definitions::{Definitions, ImportMode};
use warren_server::ServerConfig;
use warren_testkit::{assert_reply, depth, publish_confirmed, reply, TestBroker};

fn fixture() -> Definitions {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/rabbitmq-3.10-definitions.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("RabbitMQ's export parses")
}

async fn boot() -> TestBroker {
    TestBroker::start_with(|c: &mut ServerConfig| c.definitions = fixture()).await
}

async fn admin_channel(broker: &TestBroker, vhost: &str) -> (lapin::Connection, Channel) {
    let conn = broker
        .connect_as("admin", "admin-secret", vhost)
        .await
        .expect("admin logs in");
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    (conn, ch)
}

#[tokio::test]
async fn users_exported_from_rabbitmq_log_in_with_their_passwords() {
    let broker = boot().await;
    for (user, password, vhost) in [
        ("admin", "admin-secret", "staging"),
        ("guest", "guest", "/"),
        ("svc-orders", "orders-secret", "/"),
        ("legacy-sha512", "sha512-secret", "/"),
        ("imp", "imp-secret", "/"),
    ] {
        broker
            .connect_as(user, password, vhost)
            .await
            .unwrap_or_else(|e| panic!("{user} logs in: {e}"));
        let e = broker.connect_as(user, "wrong", vhost).await.unwrap_err();
        assert_eq!(
            reply(&e).map(|r| r.0),
            Some(403),
            "{user} with a wrong password"
        );
    }
    let e = broker
        .connect_as("monitor", "monitor-secret", "staging")
        .await
        .unwrap_err();
    assert_eq!(
        reply(&e),
        Some((
            530,
            "NOT_ALLOWED - access to vhost 'staging' refused for user 'monitor'".into()
        ))
    );
    let access = broker.broker().access().clone();
    assert!(access.user("admin").unwrap().has_tag("administrator"));
    let svc = access.user("svc-orders").unwrap();
    assert_eq!(
        (svc.limits.max_connections, svc.limits.max_channels),
        (Some(5), Some(20))
    );
    let limits = access.vhost_limits("tenant-a");
    assert_eq!(
        (limits.max_connections, limits.max_queues),
        (Some(10), Some(50))
    );
}

#[tokio::test]
async fn permissions_and_topic_permissions_apply_as_exported() {
    let broker = boot().await;
    let conn = broker
        .connect_as("svc-orders", "orders-secret", "/")
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.queue_declare(
        "orders.mine".into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("configure ^orders\\.");
    assert_reply(
        ch.queue_declare(
            "billing".into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await,
        403,
        "ACCESS_REFUSED - access to queue 'billing' in vhost '/' refused for user 'svc-orders'",
    );
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    assert_reply(
        publish_confirmed(&ch, "amq.topic", "billing.x", BasicProperties::default()).await,
        403,
        "ACCESS_REFUSED - access to exchange 'amq.topic' in vhost '/' refused for user 'svc-orders'",
    );
}

#[tokio::test]
async fn the_topology_routes_as_its_bindings_say() {
    let broker = boot().await;
    let vhost = broker.broker().vhost("/").unwrap();
    for (name, kind) in [
        ("orders", "direct"),
        ("orders.events", "topic"),
        ("orders.fanout", "fanout"),
        ("orders.headers", "headers"),
        ("orders.internal", "fanout"),
    ] {
        let x = vhost
            .exchange(name)
            .unwrap_or_else(|_| panic!("exchange {name}"));
        assert_eq!(x.config().type_name(), kind, "{name}");
    }
    assert!(vhost.exchange("orders.internal").unwrap().config().internal);
    assert!(
        vhost
            .exchange("orders.fanout")
            .unwrap()
            .config()
            .auto_delete
    );
    assert_eq!(
        vhost
            .exchange("orders.with-ae")
            .unwrap()
            .alternate()
            .as_deref(),
        Some("orders.unrouted")
    );
    let created = vhost.queue("orders.created", 0).unwrap();
    assert_eq!(created.declared_args().max_length, Some(1000));
    assert_eq!(created.policy_name().as_deref(), Some("orders-ttl"));
    assert_eq!(created.operator_policy_name().as_deref(), Some("op-cap"));
    assert_eq!(
        vhost
            .queue("orders.priority", 0)
            .unwrap()
            .declared_args()
            .max_priority,
        Some(10)
    );

    let (_c, ch) = admin_channel(&broker, "/").await;
    let p = BasicProperties::default();
    publish_confirmed(&ch, "orders", "created", p.clone())
        .await
        .unwrap();
    assert_eq!(depth(&ch, "orders.created").await, 1, "direct binding");
    publish_confirmed(&ch, "orders", "fan", p.clone())
        .await
        .unwrap();
    assert_eq!(depth(&ch, "plain").await, 1, "exchange-to-exchange binding");
    publish_confirmed(&ch, "orders.events", "orders.eu.urgent", p.clone())
        .await
        .unwrap();
    assert_eq!(depth(&ch, "orders.priority").await, 1, "topic *");
    assert_eq!(depth(&ch, "orders.single").await, 1, "topic #");
    let mut headers = FieldTable::default();
    headers.insert(
        "region".into(),
        AMQPValue::LongString(LongString::from("eu")),
    );
    headers.insert(
        "kind".into(),
        AMQPValue::LongString(LongString::from("order")),
    );
    publish_confirmed(&ch, "orders.headers", "", p.clone().with_headers(headers))
        .await
        .unwrap();
    assert_eq!(
        depth(&ch, "orders.headers-match").await,
        1,
        "headers x-match all"
    );
    publish_confirmed(&ch, "orders", "nowhere", p.clone())
        .await
        .unwrap();
    assert_eq!(
        depth(&ch, "orders.unrouted").await,
        1,
        "alternate exchange from the policy"
    );

    let (_c, ch) = admin_channel(&broker, "staging").await;
    publish_confirmed(&ch, "tmp.jobs", "work", p.clone())
        .await
        .unwrap();
    assert_eq!(depth(&ch, "tmp.work").await, 1);
    publish_confirmed(&ch, "logs", "any.thing", p)
        .await
        .unwrap();
    assert_eq!(depth(&ch, "all-logs").await, 1);
}

#[tokio::test]
async fn a_restart_reapplies_it_unchanged_and_an_export_round_trips() {
    let mut broker = boot().await;
    broker.restart().await;
    broker.restart().await;
    let exported = broker.broker().export_definitions();
    assert_eq!(exported.users.len(), fixture().users.len());
    assert_eq!(exported.queues.len(), fixture().queues.len());
    assert_eq!(exported.exchanges.len(), fixture().exchanges.len());
    assert_eq!(exported.bindings.len(), fixture().bindings.len());
    assert_eq!(exported.policies.len(), fixture().policies.len());

    let other = TestBroker::start().await;
    let json = serde_json::to_string(&exported).unwrap();
    other
        .broker()
        .import_definitions(&serde_json::from_str(&json).unwrap(), ImportMode::Replace)
        .await
        .unwrap();
    let mut again = other.broker().export_definitions();
    let mut first = exported;
    for d in [&mut first, &mut again] {
        d.users.sort_by(|a, b| a.name.cmp(&b.name));
        d.bindings
            .sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    }
    assert_eq!(again, first);
    other
        .connect_as("legacy-sha512", "sha512-secret", "/")
        .await
        .expect("the SHA-512 hash survived two imports and an export");
}

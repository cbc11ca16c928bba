//! Topology, users and permissions from the configuration's definitions, applied at every
//! boot before the listeners open: a service team's five-line topology is there (and
//! routes as bound) after each restart, an unchanged restart is a no-op, a conflicting
//! change stops the start with a message naming the entity, and definitions that declare
//! users replace the default `guest`, as RabbitMQ does.

use lapin::options::{ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use warren_broker::definitions::{Definitions, QueueDef, UserDef};
use warren_server::ServerConfig;
use warren_testkit::{depth, publish_confirmed, reply, TestBroker};

/// The issue's example: a durable direct exchange, a priority queue and their binding,
/// with nothing but the names given (the defaults do the rest).
fn five_lines() -> Definitions {
    let toml_like = r#"{
        "exchanges": [{"name": "jobs", "type": "direct"}],
        "queues": [{"name": "jobs.resize", "arguments": {"x-max-priority": 5}}],
        "bindings": [{"source": "jobs", "destination": "jobs.resize", "routing_key": "resize"}]
    }"#;
    serde_json::from_str(toml_like).unwrap()
}

fn with(defs: Definitions) -> impl FnOnce(&mut ServerConfig) {
    move |c| c.definitions = defs
}

fn passive() -> QueueDeclareOptions {
    QueueDeclareOptions {
        passive: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn the_topology_is_there_and_routes_after_every_boot() {
    let mut broker = TestBroker::start_with(with(five_lines())).await;
    for round in 0..2 {
        let (_c, ch) = broker.channel().await;
        ch.queue_declare("jobs.resize".into(), passive(), FieldTable::default())
            .await
            .unwrap_or_else(|e| panic!("round {round}: queue missing: {e}"));
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        let persistent = lapin::BasicProperties::default().with_delivery_mode(2);
        publish_confirmed(&ch, "jobs", "resize", persistent)
            .await
            .unwrap();
        assert_eq!(
            depth(&ch, "jobs.resize").await,
            round + 1,
            "routed as bound"
        );
        let x = broker
            .broker()
            .vhost("/")
            .unwrap()
            .exchange("jobs")
            .unwrap();
        assert!(x.config().durable, "durable by default");
        assert_eq!(x.config().type_name(), "direct");
        broker.restart().await;
    }
}

#[tokio::test]
async fn a_conflicting_change_stops_the_start_and_names_the_entity() {
    let mut broker = TestBroker::start_with(with(five_lines())).await;
    broker.stop_server().await;
    let mut changed = five_lines();
    changed.exchanges[0].kind = "fanout".into();
    broker.config_mut().definitions = changed;
    let e = broker.try_start_again().await.unwrap_err().to_string();
    assert!(e.contains("exchange 'jobs' in vhost '/'"), "{e}");
    assert!(e.contains("inequivalent arg 'type'"), "{e}");
    // Back to the original definitions, it starts again with everything in place.
    broker.config_mut().definitions = five_lines();
    broker.start_again().await;
    let (_c, ch) = broker.channel().await;
    ch.queue_declare("jobs.resize".into(), passive(), FieldTable::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_definition_naming_a_missing_vhost_stops_the_start() {
    let mut defs = five_lines();
    defs.queues.push(QueueDef {
        vhost: "nowhere".into(),
        ..defs.queues[0].clone()
    });
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        data_dir: dir.path().to_path_buf(),
        definitions: defs,
        management_listen: None,
        ..ServerConfig::default()
    };
    let e = warren_server::Server::start(config)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("queue 'jobs.resize' in vhost 'nowhere'"), "{e}");
    assert!(e.contains("vhost 'nowhere' does not exist"), "{e}");
}

#[tokio::test]
async fn definitions_with_users_replace_the_default_guest() {
    let mut defs = five_lines();
    defs.users.push(UserDef {
        name: "svc".into(),
        password: Some("svc-pw".into()),
        ..UserDef::default()
    });
    defs.permissions
        .push(warren_broker::definitions::PermissionDef {
            user: "svc".into(),
            vhost: "/".into(),
            configure: "^jobs".into(),
            write: "^jobs".into(),
            read: "^jobs".into(),
        });
    let broker = TestBroker::start_with(with(defs)).await;
    let e = broker.connect_as("guest", "guest", "/").await.unwrap_err();
    assert_eq!(reply(&e).map(|r| r.0), Some(403), "no guest: {e:?}");
    let conn = broker.connect_as("svc", "svc-pw", "/").await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.queue_declare("jobs.resize".into(), passive(), FieldTable::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn no_default_user_when_the_config_says_so() {
    let broker = TestBroker::start_with(|c| c.default_user = None).await;
    let e = broker.connect_as("guest", "guest", "/").await.unwrap_err();
    assert_eq!(reply(&e).map(|r| r.0), Some(403), "{e:?}");
    assert!(
        broker.broker().vhost("/").is_some(),
        "the default vhost is still made"
    );
}

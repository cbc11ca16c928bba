//! The admin interface for vhosts, users, permissions and limits, and definitions
//! import/export: everything survives a restart, a boot import is idempotent and
//! refuses to change an entity, and an export re-imports to the same state.

use warren_broker::access::{User, VHostLimits};
use warren_broker::admin::{AdminError, FirstBoot};
use warren_broker::definitions::{Definitions, ImportMode};
use warren_broker::recovery::{open_store, recover};
use warren_broker::{Broker, Limits};

fn start(dir: &std::path::Path) -> Broker {
    let store = open_store(dir, &Limits::default()).expect("store opens");
    let broker = recover(store, &Limits::default()).expect("broker recovers");
    let first = FirstBoot {
        vhost: Some("/".into()),
        user: Some((
            User::with_password("guest", "guest", vec!["administrator".into()]),
            [".*".into(), ".*".into(), ".*".into()],
        )),
    };
    let _ = broker.initialize(&first).expect("defaults");
    broker
}

const TOPOLOGY: &str = r#"{
  "users": [{"name": "svc", "password": "pw", "tags": ["management"],
             "limits": {"max-connections": 5}}],
  "vhosts": [{"name": "orders"}],
  "permissions": [{"user": "svc", "vhost": "orders",
                   "configure": "^orders\\.", "write": ".*", "read": "^orders\\."}],
  "topic_permissions": [{"user": "svc", "vhost": "orders", "exchange": "amq.topic",
                         "write": "^orders\\.", "read": ".*"}],
  "parameters": [{"vhost": "orders", "component": "vhost-limits", "name": "limits",
                  "value": {"max-queues": 10}},
                 {"vhost": "orders", "component": "shovel", "name": "s", "value": {}},
                 {"vhost": "orders", "component": "operator_policy", "name": "cap",
                  "value": {"pattern": ".*", "apply-to": "queues", "priority": 0,
                            "definition": {"max-length": 1000}}}],
  "policies": [{"vhost": "orders", "name": "ttl", "pattern": "^orders\\.", "apply-to": "queues",
                "priority": 1, "definition": {"message-ttl": 60000}}],
  "global_parameters": [{"name": "cluster_name", "value": "x"}],
  "exchanges": [{"name": "jobs", "vhost": "orders", "type": "direct"}],
  "queues": [{"name": "orders.resize", "vhost": "orders",
              "arguments": {"x-max-priority": 5}}],
  "bindings": [{"source": "jobs", "vhost": "orders", "destination": "orders.resize",
                "routing_key": "resize"}]
}"#;

fn topology() -> Definitions {
    serde_json::from_str(TOPOLOGY).unwrap()
}

#[tokio::test]
async fn a_boot_import_is_idempotent_survives_restarts_and_skips_what_it_cannot_do() {
    let dir = tempfile::tempdir().unwrap();
    {
        let broker = start(dir.path());
        let r = broker
            .import_definitions(&topology(), ImportMode::Boot)
            .await
            .unwrap();
        assert_eq!(r.skipped.len(), 2, "shovel and the global parameter: {r:?}");
        assert!(r.applied >= 8, "{r:?}");
        let again = broker
            .import_definitions(&topology(), ImportMode::Boot)
            .await
            .unwrap();
        assert_eq!(
            again.applied, 1,
            "only the (idempotent) binding re-applies: {again:?}"
        );
    }
    let broker = start(dir.path());
    let svc = broker.access().user("svc").expect("user restored");
    assert!(svc.verify("pw") && !svc.verify("nope"));
    assert_eq!(svc.limits.max_connections, Some(5));
    assert!(
        broker.access().user("guest").is_some(),
        "defaults created once, kept"
    );
    let p = broker.access().permission("svc", "orders").unwrap();
    assert!(p.configure.allows("orders.x") && !p.configure.allows("billing"));
    assert_eq!(broker.access().vhost_limits("orders").max_queues, Some(10));
    let q = broker
        .vhost("orders")
        .unwrap()
        .queue("orders.resize", 0)
        .unwrap();
    assert_eq!(
        q.policy_name().as_deref(),
        Some("ttl"),
        "policy restored before the queue"
    );
    assert_eq!(q.operator_policy_name().as_deref(), Some("cap"));
    let vhost = broker.vhost("orders").expect("vhost restored");
    assert!(vhost.exchange("jobs").is_ok());
    assert!(vhost.queue("orders.resize", 0).is_ok());
    let again = broker
        .import_definitions(&topology(), ImportMode::Boot)
        .await
        .unwrap();
    assert_eq!(again.applied, 1, "{again:?}");
}

#[tokio::test]
async fn a_boot_import_refuses_to_change_an_entity_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path());
    broker
        .import_definitions(&topology(), ImportMode::Boot)
        .await
        .unwrap();
    let mut changed = topology();
    changed.queues[0]
        .arguments
        .insert("x-max-priority".into(), 9.into());
    let e = broker
        .import_definitions(&changed, ImportMode::Boot)
        .await
        .unwrap_err();
    assert!(matches!(e, AdminError::Conflict(_)), "{e:?}");
    assert!(
        e.to_string()
            .contains("queue 'orders.resize' in vhost 'orders'"),
        "{e}"
    );

    let mut changed = topology();
    changed.permissions[0].read = ".*".into();
    let e = broker
        .import_definitions(&changed, ImportMode::Boot)
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("permissions of user 'svc' in vhost 'orders'"),
        "{e}"
    );
    let mut changed = topology();
    changed.users[0].password = Some("other".into());
    let e = broker
        .import_definitions(&changed, ImportMode::Boot)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("user 'svc'"), "{e}");
    // The same change at run time (the HTTP API's import) overwrites.
    broker
        .import_definitions(&changed, ImportMode::Replace)
        .await
        .unwrap();
    assert!(broker.access().user("svc").unwrap().verify("other"));
}

#[tokio::test]
async fn an_export_reimports_to_the_same_state() {
    let dir_a = tempfile::tempdir().unwrap();
    let a = start(dir_a.path());
    a.import_definitions(&topology(), ImportMode::Boot)
        .await
        .unwrap();
    let exported = a.export_definitions();
    let json = serde_json::to_string_pretty(&exported).unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let b = start(dir_b.path());
    // b has its own guest with a different salt: replace it as RabbitMQ's import does.
    b.import_definitions(&serde_json::from_str(&json).unwrap(), ImportMode::Replace)
        .await
        .unwrap();
    let mut again = b.export_definitions();
    let mut first = exported;
    for d in [&mut first, &mut again] {
        d.users.sort_by(|x, y| x.name.cmp(&y.name));
    }
    assert_eq!(again, first);
    assert!(
        b.access().user("svc").unwrap().verify("pw"),
        "the hash moved intact"
    );
    // And b's export imports at boot into a itself without a conflict.
    let r = a
        .import_definitions(&again, ImportMode::Boot)
        .await
        .unwrap();
    assert_eq!(r.applied, 1, "only the binding re-applies: {r:?}");
}

#[tokio::test]
async fn deleting_a_vhost_removes_everything_in_it_for_good() {
    let dir = tempfile::tempdir().unwrap();
    {
        let broker = start(dir.path());
        broker
            .import_definitions(&topology(), ImportMode::Boot)
            .await
            .unwrap();
        broker
            .delete_vhost("orders")
            .unwrap()
            .committed()
            .await
            .unwrap();
        assert!(broker.vhost("orders").is_none());
        assert!(broker.access().permission("svc", "orders").is_none());
        assert_eq!(
            broker.access().vhost_limits("orders"),
            VHostLimits::default()
        );
        assert!(matches!(
            broker.delete_vhost("orders"),
            Err(AdminError::NotFound(_))
        ));
    }
    let broker = start(dir.path());
    assert!(broker.vhost("orders").is_none(), "not back after a restart");
    assert!(broker.vhost("/").is_some());
    assert!(
        broker.access().user("svc").is_some(),
        "users are not per vhost"
    );
    assert!(broker.access().permission("svc", "orders").is_none());
}

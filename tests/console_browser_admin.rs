//! The console's Admin page in a real browser: Playwright scripts (tests/console/*.mjs)
//! drive Debian's headless chromium against a broker started here, and lapin clients
//! and the API check what the clicks did. #[ignore]d for a plain `cargo test`;
//! `bash tests/console/run.sh` installs chromium and node's packages and runs them
//! (`.ci/run` runs that). Missing chromium or node fails them.

#[path = "console_support/mod.rs"]
mod support;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::BasicProperties;
use serde_json::Value;
use support::{admin, browse, screenshots_dir};
use warren_testkit::basic::declare;
use warren_testkit::http::Api;
use warren_testkit::{assert_closed_with, reply, watch, TestBroker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and node: bash tests/console/run.sh"]
async fn a_user_vhost_and_permission_added_in_admin_let_lapin_in() {
    let broker = TestBroker::start().await;
    assert!(
        broker
            .connect_as("carol", "s3cret!", "warehouse")
            .await
            .is_err(),
        "no such user yet"
    );
    browse(
        &broker,
        "admin_access.mjs",
        &[
            ("SCREENSHOTS", &screenshots_dir()),
            ("NEW_USER", "carol"),
            ("NEW_PASSWORD", "s3cret!"),
            ("NEW_VHOST", "warehouse"),
            ("TOPIC_WRITE", "^orders\\."),
        ],
    )
    .await;
    let api = admin(&broker);
    assert_eq!(
        api.get("/api/users/carol").await.json()["tags"],
        serde_json::json!(["management"])
    );
    assert_eq!(
        api.get("/api/vhosts/warehouse").await.json()["description"],
        "added in the browser"
    );
    let perm = api.get("/api/permissions/warehouse/carol").await.json();
    assert_eq!(
        (
            perm["configure"].as_str(),
            perm["write"].as_str(),
            perm["read"].as_str()
        ),
        (Some(".*"), Some(".*"), Some(".*"))
    );
    let conn = broker
        .connect_as("carol", "s3cret!", "warehouse")
        .await
        .expect("carol connects to warehouse");
    let ch = conn.create_channel().await.expect("channel");
    declare(&ch, "carols-queue").await;
    assert_eq!(
        api.get("/api/queues/warehouse/carols-queue").await.status,
        200
    );
    // The topic permission: publishing with orders.* is confirmed, billing.* refused.
    let topic = api
        .get("/api/topic-permissions/warehouse/carol")
        .await
        .json();
    assert_eq!(topic[0]["exchange"], "amq.topic");
    assert_eq!(topic[0]["write"], "^orders\\.");
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm mode");
    let confirm = ch
        .basic_publish(
            "amq.topic".into(),
            "orders.new".into(),
            BasicPublishOptions::default(),
            b"order",
            BasicProperties::default(),
        )
        .await
        .expect("publish orders.new")
        .await
        .expect("the confirm");
    assert!(confirm.is_ack(), "orders.new is allowed");
    let mut closed = watch(&ch).await;
    let _ = ch
        .basic_publish(
            "amq.topic".into(),
            "billing.x".into(),
            BasicPublishOptions::default(),
            b"bill",
            BasicProperties::default(),
        )
        .await;
    assert_closed_with(
        &mut closed,
        403,
        "ACCESS_REFUSED - access to topic 'billing.x' in exchange 'amq.topic' in vhost 'warehouse' refused for user 'carol'",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and node: bash tests/console/run.sh"]
async fn a_policy_added_in_admin_applies_to_a_queue() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "capped.orders").await;
    declare(&ch, "other").await;
    browse(
        &broker,
        "policy.mjs",
        &[
            ("POLICY", "cap-orders"),
            ("PATTERN", "^capped\\."),
            ("MAX_LENGTH", "2"),
        ],
    )
    .await;
    let api = admin(&broker);
    let q = api.get("/api/queues/%2F/capped.orders").await.json();
    assert_eq!(q["policy"], "cap-orders");
    assert_eq!(
        q["effective_policy_definition"],
        serde_json::json!({"max-length": 2})
    );
    assert!(api
        .get("/api/queues/%2F/other")
        .await
        .json()
        .get("policy")
        .is_none_or(Value::is_null));
    for i in 0..5 {
        warren_testkit::basic::publish(&ch, "capped.orders", format!("m{i}").as_bytes()).await;
    }
    let capped = warren_testkit::eventually(warren_testkit::WAIT, || async {
        api.get("/api/queues/%2F/capped.orders").await.json()["messages"] == 2
    })
    .await;
    assert!(capped, "max-length 2 keeps two of five messages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and node: bash tests/console/run.sh"]
async fn definitions_export_downloads_json_and_import_declares_an_exchange() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    // A durable queue: exports carry durable queues only, as RabbitMQ's do.
    ch.queue_declare(
        "invoices".into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .expect("declare invoices");
    let dir = tempfile::tempdir().expect("temp dir");
    let exported = dir.path().join("export.json");
    let import = dir.path().join("more-definitions.json");
    std::fs::write(
        &import,
        r#"{"exchanges": [{"name": "audit", "vhost": "/", "type": "fanout", "durable": true,
            "auto_delete": false, "internal": false, "arguments": {}}]}"#,
    )
    .expect("write the import file");
    assert_eq!(
        admin(&broker).get("/api/exchanges/%2F/audit").await.status,
        404
    );
    browse(
        &broker,
        "definitions.mjs",
        &[
            ("EXPORT_TO", exported.to_str().unwrap()),
            ("IMPORT_FROM", import.to_str().unwrap()),
        ],
    )
    .await;
    let defs: Value = serde_json::from_slice(&std::fs::read(&exported).expect("the download"))
        .expect("the download is JSON");
    let queues: Vec<&str> = defs["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .filter_map(|q| q["name"].as_str())
        .collect();
    assert!(queues.contains(&"invoices"), "exported queues: {queues:?}");
    assert!(defs["users"].as_array().is_some_and(|u| !u.is_empty()));
    let audit = admin(&broker).get("/api/exchanges/%2F/audit").await;
    assert_eq!(audit.status, 200);
    assert_eq!(audit.json()["type"], "fanout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and node: bash tests/console/run.sh"]
async fn admin_edits_tags_sets_limits_and_deletes_what_it_is_asked_to() {
    let broker = TestBroker::start().await;
    let api = admin(&broker);
    let put = |path: &'static str, body: &'static str| {
        let api = &api;
        async move {
            let status = api.put(path, body).await.status;
            assert!(status == 201 || status == 204, "PUT {path}: {status}");
        }
    };
    put(
        "/api/users/dave",
        r#"{"password": "pw1", "tags": "management"}"#,
    )
    .await;
    put("/api/users/eve", r#"{"password": "pw2", "tags": ""}"#).await;
    put(
        "/api/permissions/%2F/dave",
        r#"{"configure": ".*", "write": ".*", "read": ".*"}"#,
    )
    .await;
    put(
        "/api/policies/%2F/old-cap",
        r#"{"pattern": "^old", "definition": {"max-length": 1}}"#,
    )
    .await;
    put("/api/vhosts/scratch", "{}").await;
    broker
        .connect_as("dave", "pw1", "/")
        .await
        .expect("dave connects before");
    broker
        .connect_as("guest", "guest", "scratch")
        .await
        .expect("scratch exists before");
    browse(
        &broker,
        "admin_changes.mjs",
        &[
            ("USER", "dave"),
            ("MAX_QUEUES", "5"),
            ("POLICY", "old-cap"),
            ("OPERATOR_POLICY", "op-cap"),
            ("VHOST", "scratch"),
            ("DOOMED", "eve"),
        ],
    )
    .await;
    assert_eq!(
        api.get("/api/users/dave").await.json()["tags"],
        serde_json::json!(["management", "monitoring"])
    );
    let dave = Api::new(&broker.management_url(), "dave", "pw1");
    assert_eq!(
        dave.get("/api/whoami").await.status,
        200,
        "the password is kept"
    );
    assert_eq!(
        api.get("/api/vhost-limits/%2F").await.json()[0]["value"],
        serde_json::json!({"max-queues": 5})
    );
    assert_eq!(
        api.get("/api/user-limits/dave").await.json(),
        serde_json::json!([])
    );
    assert_eq!(api.get("/api/policies/%2F/old-cap").await.status, 404);
    let op = api.get("/api/operator-policies/%2F/op-cap").await.json();
    assert_eq!(op["definition"], serde_json::json!({"max-length": 100}));
    assert_eq!(op["apply-to"], "queues");
    assert_eq!(api.get("/api/users/eve").await.status, 404);
    assert_eq!(api.get("/api/vhosts/scratch").await.status, 404);
    let refused = broker.connect_as("dave", "pw1", "/").await.unwrap_err();
    assert_eq!(
        reply(&refused).map(|r| r.0),
        Some(530),
        "no permission in / any more"
    );
    assert!(
        broker
            .connect_as("guest", "guest", "scratch")
            .await
            .is_err(),
        "scratch is gone"
    );
}

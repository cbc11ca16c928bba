//! The console's Connections, Exchanges and Admin pages in a real browser: Playwright
//! scripts (tests/console/*.mjs) drive Debian's headless chromium against a broker
//! started here, and lapin clients and the API check what the clicks did. #[ignore]d
//! for a plain `cargo test`; `bash tests/console/run.sh` installs chromium and node's
//! packages and runs them (`.ci/run` runs that). Missing chromium or node fails them.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicGetOptions, BasicPublishOptions, BasicQosOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Event};
use serde_json::Value;
use warren_testkit::basic::{consume, declare};
use warren_testkit::browser::run_console_script;
use warren_testkit::http::Api;
use warren_testkit::{reply, TestBroker};

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `tests/console/{script}` against the broker with `env`; fails with its output.
async fn browse(broker: &TestBroker, script: &str, env: &[(&str, &str)]) {
    run_console_script(&broker.management_url(), script, env, SCRIPT_TIMEOUT)
        .await
        .assert_success(script);
}

/// Where the scripts save the README's screenshots: `WARREN_CONSOLE_SCREENSHOTS` (e.g.
/// `docs/console`), or nowhere.
fn screenshots_dir() -> String {
    std::env::var("WARREN_CONSOLE_SCREENSHOTS").unwrap_or_default()
}

/// Publishes `body` to `queue`; false once the channel is closed.
async fn publish_ok(ch: &Channel, queue: &str, body: &[u8]) -> bool {
    ch.basic_publish(
        "".into(),
        queue.into(),
        BasicPublishOptions::default(),
        body,
        BasicProperties::default(),
    )
    .await
    .is_ok()
}

fn admin(broker: &TestBroker) -> Api {
    Api::new(&broker.management_url(), "guest", "guest")
}

/// A lapin connection that names itself `name` (its client-provided name).
async fn named_connection(broker: &TestBroker, name: &str) -> Connection {
    let props = ConnectionProperties::default().with_connection_name(name.into());
    Connection::connect(&broker.uri(), props)
        .await
        .expect("lapin connects")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and node: bash tests/console/run.sh"]
async fn force_close_from_the_connections_page_reaches_the_lapin_client() {
    // Rates sampled every 500 ms, so the list shows traffic soon (for the screenshot).
    let broker = TestBroker::start_with(|c| c.stats_interval = Duration::from_millis(500)).await;
    let conn = named_connection(&broker, "billing-worker").await;
    let ch = conn.create_channel().await.expect("channel");
    declare(&ch, "invoices").await;
    let mut events = conn.events_listener();
    // Live traffic on the connection until it is closed.
    let traffic = tokio::spawn(async move {
        while publish_ok(&ch, "invoices", b"invoice").await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let other = named_connection(&broker, "bystander").await;
    let shots = screenshots_dir();
    browse(
        &broker,
        "force_close.mjs",
        &[
            ("CONNECTION", "billing-worker"),
            ("REASON", "moving to the new cluster"),
            ("SCREENSHOTS", &shots),
        ],
    )
    .await;
    let error = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.next().await {
                Some(Event::Error(e)) => break e,
                Some(_) => continue,
                None => panic!("events ended without an error"),
            }
        }
    })
    .await
    .expect("lapin is told within 10 s");
    assert_eq!(
        reply(&error),
        Some((
            320,
            "CONNECTION_FORCED - moving to the new cluster".to_owned()
        ))
    );
    assert!(!conn.status().connected());
    assert!(
        other.status().connected(),
        "only the chosen connection closes"
    );
    tokio::time::timeout(Duration::from_secs(10), traffic)
        .await
        .expect("the publisher stops with its connection")
        .expect("the publisher task");
}

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
async fn a_monitoring_user_sees_no_write_buttons() {
    let broker = TestBroker::start().await;
    let api = admin(&broker);
    assert_eq!(
        api.put(
            "/api/users/watcher",
            r#"{"password": "w4tch", "tags": "monitoring"}"#
        )
        .await
        .status,
        201
    );
    assert_eq!(
        api.put(
            "/api/permissions/%2F/watcher",
            r#"{"configure": ".*", "write": ".*", "read": ".*"}"#
        )
        .await
        .status,
        201
    );
    assert_eq!(
        api.put(
            "/api/policies/%2F/ttl",
            r#"{"pattern": "^t", "definition": {"message-ttl": 1000}}"#
        )
        .await
        .status,
        201
    );
    assert_eq!(
        api.put("/api/vhost-limits/%2F/max-queues", r#"{"value": 100}"#)
            .await
            .status,
        204
    );
    let conn = named_connection(&broker, "someone-elses-app").await;
    let _ch = conn.create_channel().await.expect("channel");
    browse(
        &broker,
        "read_only.mjs",
        &[
            ("USER_NAME", "watcher"),
            ("USER_PASSWORD", "w4tch"),
            ("CONNECTION", "someone-elses-app"),
        ],
    )
    .await;
    assert!(conn.status().connected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and node: bash tests/console/run.sh"]
async fn an_exchange_declared_bound_and_published_to_in_the_console_reaches_a_lapin_queue() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "shipments").await;
    browse(
        &broker,
        "exchange.mjs",
        &[
            ("EXCHANGE", "events"),
            ("QUEUE", "shipments"),
            ("ROUTING_KEY", "ship.#"),
            ("ROUTED_KEY", "ship.eu.berlin"),
            ("BODY", "parcel 1"),
            ("SCREENSHOTS", &screenshots_dir()),
        ],
    )
    .await;
    let got = ch
        .basic_get("shipments".into(), BasicGetOptions { no_ack: true })
        .await
        .expect("basic.get")
        .expect("the routed message is in the queue");
    assert_eq!(got.delivery.data, b"parcel 1");
    assert_eq!(got.delivery.exchange.as_str(), "events");
    assert_eq!(got.delivery.routing_key.as_str(), "ship.eu.berlin");
    let more = ch
        .basic_get("shipments".into(), BasicGetOptions { no_ack: true })
        .await
        .expect("basic.get");
    assert!(more.is_none(), "the unroutable message went nowhere");
    let api = admin(&broker);
    assert_eq!(
        api.get("/api/exchanges/%2F/events").await.status,
        404,
        "deleted in the console"
    );
    assert_eq!(
        api.get("/api/queues/%2F/shipments/bindings")
            .await
            .json()
            .as_array()
            .map(Vec::len),
        Some(1),
        "only the default exchange's binding is left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and node: bash tests/console/run.sh"]
async fn the_exchanges_connections_channels_and_admin_pages_are_accessible_and_fit_a_phone() {
    let broker = TestBroker::start().await;
    let conn = named_connection(&broker, "a11y-client").await;
    let ch = conn.create_channel().await.expect("channel");
    declare(&ch, "a11y-q").await;
    let api = admin(&broker);
    assert_eq!(
        api.put(
            "/api/policies/%2F/cap",
            r#"{"pattern": "^a11y", "definition": {"max-length": 10}}"#
        )
        .await
        .status,
        201
    );
    browse(&broker, "a11y_admin.mjs", &[("CONNECTION", "a11y-client")]).await;
    assert!(
        conn.status().connected(),
        "Escape cancelled the force close"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and node: bash tests/console/run.sh"]
async fn a_channels_prefetch_unacked_and_consumer_are_shown_and_refresh_live() {
    let broker = TestBroker::start().await;
    let conn = named_connection(&broker, "metrics-reader").await;
    let ch = conn.create_channel().await.expect("channel");
    ch.basic_qos(7, BasicQosOptions::default())
        .await
        .expect("basic.qos");
    declare(&ch, "readings").await;
    // Deliveries stay unacknowledged: the consumer never acks.
    let _consumer = consume(&ch, "readings", "reader-1").await;
    for i in 0..3 {
        publish_ok(&ch, "readings", format!("r{i}").as_bytes()).await;
    }
    let api = admin(&broker);
    let channel = format!("{} (1)", connection_named(&api, "metrics-reader").await);
    let unacked = warren_testkit::eventually(warren_testkit::WAIT, || async {
        let path = format!("/api/channels/{}", encode(&channel));
        api.get(&path).await.json()["messages_unacknowledged"] == 3
    })
    .await;
    assert!(unacked, "three deliveries wait for acks");
    browse(
        &broker,
        "channels.mjs",
        &[
            ("CHANNEL", &channel),
            ("PREFETCH", "7"),
            ("CONSUMER", "reader-1"),
            ("QUEUE", "readings"),
            ("UNACKED", "3"),
        ],
    )
    .await;
    let path = format!("/api/channels/{}", encode(&channel));
    assert_eq!(api.get(&path).await.json()["messages_unacknowledged"], 4);
}

/// The server's name of the connection whose client-provided name is `provided`.
async fn connection_named(api: &Api, provided: &str) -> String {
    let all = api.get("/api/connections").await.json();
    all.as_array()
        .expect("connections")
        .iter()
        .find(|c| c["user_provided_name"] == provided)
        .and_then(|c| c["name"].as_str())
        .expect("the connection is listed")
        .to_owned()
}

/// Percent-encodes a path segment.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
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

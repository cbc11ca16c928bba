//! The console's Connections, Channels and Exchanges pages in a real browser, with lapin
//! traffic they must show and act on, what a monitoring user sees, and accessibility
//! checks on those pages and Admin. Playwright scripts (tests/console/*.mjs) drive
//! Debian's headless chromium against a broker started here. #[ignore]d for a plain
//! `cargo test`; `bash tests/console/run.sh` runs them (`.ci/run` runs that).

#[path = "console_support/mod.rs"]
mod support;

use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicGetOptions, BasicQosOptions};
use lapin::Event;
use support::{
    admin, browse, connection_named, encode, named_connection, publish_ok, screenshots_dir,
};
use warren_testkit::basic::{consume, declare};
use warren_testkit::{reply, TestBroker};

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

//! The web console in a real browser: Playwright scripts (tests/console/*.mjs) drive
//! Debian's headless chromium against a broker started here, while lapin clients make
//! the traffic the console must show. #[ignore]d for a plain `cargo test` (they need
//! chromium and node); `bash tests/console/run.sh` installs those and runs them, and
//! `.ci/run` runs that. Missing chromium or node fails these tests, never skips them.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicQosOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use warren_broker::MemoryWatermark;
use warren_testkit::basic::{consume, declare, publish};
use warren_testkit::browser::run_console_script;
use warren_testkit::http::Api;
use warren_testkit::{drain_bodies, eventually, queue_exists, wait_depth, TestBroker};

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and node: bash tests/console/run.sh"]
async fn login_with_a_wrong_and_a_right_password_and_log_out() {
    let broker = TestBroker::start().await;
    let run = run_console_script(&broker.management_url(), "login.mjs", &[], SCRIPT_TIMEOUT).await;
    run.assert_success("login.mjs");
    broker.stop().await;
}

/// A queue declared and filled by lapin appears in the list with its depth; on its
/// page a message published from the console comes back through "Get messages" (as
/// text and base64); a binding is added and removed; messages are moved to another
/// queue (where lapin finds them); purge and delete ask first and do it; a lapin
/// consumer is listed. With WARREN_CONSOLE_SCREENSHOTS=DIR the script also saves the
/// README's screenshots there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and node: bash tests/console/run.sh"]
async fn a_lapin_queue_is_shown_published_to_read_moved_purged_and_deleted_from_the_console() {
    // Rates sampled every second, so the screenshots show the live traffic's.
    let broker = TestBroker::start_with(|c| c.stats_interval = Duration::from_secs(1)).await;
    let (conn, ch) = broker.channel().await;
    ch.queue_declare(
        "orders".into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .expect("declare orders");
    for body in ["m1", "m2", "m3"] {
        publish(&ch, "orders", body.as_bytes()).await;
    }
    wait_depth(&ch, "orders", 3).await;
    declare(&ch, "orders-archive").await;
    declare(&ch, "watched").await;
    let (_watcher_conn, watcher) = broker.channel().await;
    let mut consumer = consume(&watcher, "watched", "console-watcher").await;
    // Live traffic while the console is open, so its rates and charts have something
    // to show: a publisher and the consumer acking what it gets.
    let acker = tokio::spawn(async move {
        while let Some(Ok(delivery)) = consumer.next().await {
            let _ = delivery.ack(BasicAckOptions::default()).await;
        }
    });
    let (_pub_conn, publisher) = broker.channel().await;
    let traffic = tokio::spawn(async move {
        loop {
            publish(&publisher, "watched", b"tick").await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });

    let shots = std::env::var("WARREN_CONSOLE_SCREENSHOTS").unwrap_or_default();
    let run = run_console_script(
        &broker.management_url(),
        "queue.mjs",
        &[
            ("QUEUE", "orders"),
            ("ARCHIVE", "orders-archive"),
            ("WATCHED", "watched"),
            ("SCREENSHOTS", &shots),
        ],
        SCRIPT_TIMEOUT,
    )
    .await;
    traffic.abort();
    acker.abort();
    run.assert_success("queue.mjs");

    // What the console did, seen by a client.
    assert!(
        !queue_exists(&conn, "orders").await,
        "the queue deleted in the console is gone"
    );
    let moved = drain_bodies(&ch, "orders-archive").await;
    let moved: Vec<String> = moved
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect();
    assert_eq!(moved, ["m1", "m2", "m3", "hello from the browser"]);
    assert!(
        queue_exists(&conn, "console-added").await,
        "the queue added in the console exists"
    );
    broker.stop().await;
}

/// A `monitoring` user sees queues, depths and bindings but no control that writes;
/// an administrator sees them on the same page (the control for this test).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and node: bash tests/console/run.sh"]
async fn a_monitoring_user_sees_no_write_controls() {
    let broker = TestBroker::start().await;
    let api = Api::new(&broker.management_url(), "guest", "guest");
    let put = api
        .put(
            "/api/users/watcher",
            r#"{"password": "watch-pass", "tags": "monitoring"}"#,
        )
        .await;
    assert_eq!(put.status, 201, "{}", put.body);
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "readonly-q").await;
    ch.queue_bind(
        "readonly-q".into(),
        "amq.direct".into(),
        "ro-key".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("bind");
    publish(&ch, "readonly-q", b"a").await;
    publish(&ch, "readonly-q", b"b").await;
    wait_depth(&ch, "readonly-q", 2).await;
    let run = run_console_script(
        &broker.management_url(),
        "readonly.mjs",
        &[
            ("QUEUE", "readonly-q"),
            ("USER", "watcher"),
            ("PASSWORD", "watch-pass"),
        ],
        SCRIPT_TIMEOUT,
    )
    .await;
    run.assert_success("readonly.mjs");
    broker.stop().await;
}

/// 10,000 queues: the list shows one server-side page of 100 rows and the total, and
/// pages, sorts and filters through the API, each within the bound (generous: a debug
/// build on a shared machine; the figures are printed with --nocapture).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and node: bash tests/console/run.sh"]
async fn ten_thousand_queues_are_listed_a_page_at_a_time() {
    const COUNT: usize = 10_000;
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    for i in 0..COUNT {
        ch.queue_declare(
            format!("q-{i:05}").as_str().into(),
            QueueDeclareOptions {
                nowait: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("declare");
    }
    let vhost = broker.broker().vhost("/").expect("default vhost");
    assert!(
        eventually(Duration::from_secs(60), || {
            let vhost = vhost.clone();
            async move { vhost.queue("q-09999", 0).is_ok() }
        })
        .await,
        "the 10,000 queues are declared"
    );
    let count = COUNT.to_string();
    let run = run_console_script(
        &broker.management_url(),
        "tenk.mjs",
        &[("COUNT", &count), ("BOUND_MS", "10000")],
        SCRIPT_TIMEOUT,
    )
    .await;
    run.assert_success("tenk.mjs");
    broker.stop().await;
}

/// Accessibility basics: keyboard login and navigation, a label on every control,
/// contrast of at least 4.5:1, and no sideways scrolling at 390 px.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and node: bash tests/console/run.sh"]
async fn the_console_is_keyboard_usable_labelled_contrasted_and_fits_a_phone() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "a11y-q").await;
    publish(&ch, "a11y-q", b"x").await;
    wait_depth(&ch, "a11y-q", 1).await;
    let run = run_console_script(
        &broker.management_url(),
        "a11y.mjs",
        &[("QUEUE", "a11y-q")],
        SCRIPT_TIMEOUT,
    )
    .await;
    run.assert_success("a11y.mjs");
    broker.stop().await;
}

/// The Overview against live traffic: totals, listeners, a non-zero deliver rate in
/// the chart, and a memory alarm shown in red (the alarm blocks publishers, so the
/// traffic is a consumer working through a backlog published before it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and node: bash tests/console/run.sh"]
async fn the_overview_shows_totals_rates_listeners_and_alarms() {
    let broker = TestBroker::start_with(|c| {
        c.stats_interval = Duration::from_secs(1);
        // Off: the memory monitor would clear the alarm the test raises.
        c.limits.memory_high_watermark = MemoryWatermark::Off;
    })
    .await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "overview-q").await;
    declare(&ch, "overview-q2").await;
    for _ in 0..600 {
        publish(&ch, "overview-q", b"backlog").await;
    }
    wait_depth(&ch, "overview-q", 600).await;
    broker.memory_alarm().set(true);
    ch.basic_qos(1, BasicQosOptions::default())
        .await
        .expect("qos");
    let mut consumer = consume(&ch, "overview-q", "overview-worker").await;
    let worker = tokio::spawn(async move {
        while let Some(Ok(delivery)) = consumer.next().await {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = delivery.ack(BasicAckOptions::default()).await;
        }
    });
    let port = broker.addr.port().to_string();
    let run = run_console_script(
        &broker.management_url(),
        "overview.mjs",
        &[("CONNECTIONS", "1"), ("QUEUES", "2"), ("AMQP_PORT", &port)],
        SCRIPT_TIMEOUT,
    )
    .await;
    worker.abort();
    run.assert_success("overview.mjs");
    broker.memory_alarm().set(false);
    broker.stop().await;
}

/// The vhost selector narrows the queue list to one vhost and back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and node: bash tests/console/run.sh"]
async fn the_vhost_selector_narrows_the_queue_list() {
    let broker = TestBroker::start().await;
    let api = Api::new(&broker.management_url(), "guest", "guest");
    assert_eq!(api.put("/api/vhosts/sales", "{}").await.status, 201);
    let perm = api
        .put(
            "/api/permissions/sales/guest",
            r#"{"configure": ".*", "write": ".*", "read": ".*"}"#,
        )
        .await;
    assert!(perm.status == 201 || perm.status == 204, "{}", perm.body);
    let (_sales_conn, sales) = broker_channel_in(&broker, "sales").await;
    declare(&sales, "sales-q").await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "root-q").await;
    let run = run_console_script(
        &broker.management_url(),
        "vhost.mjs",
        &[
            ("VHOST", "sales"),
            ("OTHER_QUEUE", "sales-q"),
            ("ROOT_QUEUE", "root-q"),
        ],
        SCRIPT_TIMEOUT,
    )
    .await;
    run.assert_success("vhost.mjs");
    broker.stop().await;
}

async fn broker_channel_in(
    broker: &TestBroker,
    vhost: &str,
) -> (lapin::Connection, lapin::Channel) {
    let conn = broker
        .connect_as("guest", "guest", vhost)
        .await
        .expect("connect to the vhost");
    let ch = conn.create_channel().await.expect("channel");
    (conn, ch)
}

/// The Queues page refreshes in place (the same rows, new depths) and stops asking
/// once the user leaves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and node: bash tests/console/run.sh"]
async fn the_queue_list_refreshes_in_place_and_stops_when_left() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "growing").await;
    publish(&ch, "growing", b"1").await;
    wait_depth(&ch, "growing", 1).await;
    let grower = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            publish(&ch, "growing", b"more").await;
        }
    });
    let run = run_console_script(
        &broker.management_url(),
        "refresh.mjs",
        &[("QUEUE", "growing")],
        SCRIPT_TIMEOUT,
    )
    .await;
    grower.abort();
    run.assert_success("refresh.mjs");
    broker.stop().await;
}

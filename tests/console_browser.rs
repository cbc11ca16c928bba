//! The web console in a real browser: Playwright scripts (tests/console/*.mjs) drive
//! Debian's headless chromium against a broker started here, while lapin clients make
//! the traffic the console must show. #[ignore]d for a plain `cargo test` (they need
//! chromium and node); `bash tests/console/run.sh` installs those and runs them, and
//! `.ci/run` runs that. Missing chromium or node fails these tests, never skips them.

use std::time::Duration;

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use warren_testkit::basic::{consume, declare, publish};
use warren_testkit::browser::run_console_script;
use warren_testkit::{drain_bodies, queue_exists, wait_depth, TestBroker};

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
    let broker = TestBroker::start().await;
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
    let _consumer = consume(&watcher, "watched", "console-watcher").await;

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
    broker.stop().await;
}

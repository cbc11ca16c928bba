//! What the console browser tests (tests/console_browser_*.rs) share: running a script
//! against a broker, lapin connections with a client-provided name, screenshots.
// Each test binary uses part of this module.
#![allow(dead_code)]

use std::time::Duration;

use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use warren_testkit::browser::run_console_script;
use warren_testkit::http::Api;
use warren_testkit::TestBroker;

/// How long one browser script may take.
pub const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `tests/console/{script}` against the broker with `env`; fails with its output.
pub async fn browse(broker: &TestBroker, script: &str, env: &[(&str, &str)]) {
    run_console_script(&broker.management_url(), script, env, SCRIPT_TIMEOUT)
        .await
        .assert_success(script);
}

/// Where the scripts save the README's screenshots: `WARREN_CONSOLE_SCREENSHOTS` (e.g.
/// `docs/console`), or nowhere.
pub fn screenshots_dir() -> String {
    std::env::var("WARREN_CONSOLE_SCREENSHOTS").unwrap_or_default()
}

/// Publishes `body` to `queue`; false once the channel is closed.
pub async fn publish_ok(ch: &Channel, queue: &str, body: &[u8]) -> bool {
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

pub fn admin(broker: &TestBroker) -> Api {
    Api::new(&broker.management_url(), "guest", "guest")
}

/// A lapin connection that names itself `name` (its client-provided name).
pub async fn named_connection(broker: &TestBroker, name: &str) -> Connection {
    let props = ConnectionProperties::default().with_connection_name(name.into());
    Connection::connect(&broker.uri(), props)
        .await
        .expect("lapin connects")
}

/// The server's name of the connection whose client-provided name is `provided`.
pub async fn connection_named(api: &Api, provided: &str) -> String {
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
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

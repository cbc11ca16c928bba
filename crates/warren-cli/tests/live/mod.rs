//! What the live warrenctl tests share: a broker started in-process
//! (`warren_testkit::TestBroker`, management API on an ephemeral port), the real
//! `warrenctl` binary run with `block_in_place` on a multi-threaded runtime (so the
//! broker's tasks keep running on the other worker while the CLI blocks), and readers
//! of its output.

#![allow(dead_code)] // each test file uses its own subset

use serde_json::Value;
use warren_testkit::{eventually, TestBroker, WAIT};

use crate::common::{assert_code, Ctl, Outcome};

/// A broker and a `warrenctl` runner (guest/guest, an administrator) pointed at it.
pub async fn start() -> (TestBroker, Ctl) {
    let broker = TestBroker::start().await;
    let ctl = Ctl::new(&broker.management_url());
    (broker, ctl)
}

/// Runs warrenctl without stalling the broker's tasks.
pub fn run(ctl: &Ctl, args: &[&str]) -> Outcome {
    tokio::task::block_in_place(|| ctl.run(args))
}

/// Runs warrenctl, which must succeed, and returns its standard output.
#[track_caller]
pub fn ok(ctl: &Ctl, args: &[&str]) -> String {
    let out = run(ctl, args);
    assert_code(&out, 0);
    out.stdout
}

/// Runs warrenctl with `--format json`, which must succeed, and parses its output.
#[track_caller]
pub fn json(ctl: &Ctl, args: &[&str]) -> Value {
    let mut full = args.to_vec();
    full.extend(["--format", "json"]);
    let text = ok(ctl, &full);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The queue `name` of vhost `/` as `list queues --format json` shows it.
#[track_caller]
pub fn queue(ctl: &Ctl, name: &str) -> Value {
    let all = json(ctl, &["--vhost", "/", "list", "queues"]);
    all.as_array()
        .expect("a list")
        .iter()
        .find(|q| q["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("queue '{name}' not listed in {all:#}"))
}

/// `messages` of queue `name`.
#[track_caller]
pub fn depth(ctl: &Ctl, name: &str) -> u64 {
    queue(ctl, name)["messages"].as_u64().expect("messages")
}

/// The cells of the table row whose first cell is `first`.
#[track_caller]
pub fn row(table: &str, first: &str) -> Vec<String> {
    table
        .lines()
        .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
        .find(|cells| cells.first().map(String::as_str) == Some(first))
        .unwrap_or_else(|| panic!("no row '{first}' in:\n{table}"))
}

/// Polls `check` until it holds (the broker applies some effects asynchronously).
pub async fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let reached = eventually(WAIT, || {
        std::future::ready(tokio::task::block_in_place(&mut check))
    })
    .await;
    assert!(reached, "timed out waiting for: {what}");
}

pub fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write file");
    path.to_str().expect("utf-8 path").to_string()
}

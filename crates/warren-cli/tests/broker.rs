//! warrenctl against a live management API: each scenario takes the API's base URL.
//!
//! Until Warren's management API can be started from the testkit, these are ignored;
//! run them against any broker speaking the RabbitMQ 3.10 management API with
//! `WARRENCTL_TEST_URL=http://127.0.0.1:15672 cargo test -p warren-cli --test broker -- --ignored`
//! (user guest/guest, which must be an administrator).

mod common;

use common::{assert_code, assert_error, closed_port, Ctl};

/// A name no other run uses.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("warrenctl-test.{prefix}.{}.{nanos}", std::process::id())
}

/// Declare, list, publish, peek, take, purge, show and delete a queue.
fn queue_lifecycle(base: &str) {
    let ctl = Ctl::new(base);
    let q = unique("q");
    assert_code(
        &ctl.run(&["declare", "queue", &q, "--arg", "x-max-length=100"]),
        0,
    );

    let out = ctl.run(&[
        "--vhost",
        "/",
        "list",
        "queues",
        "--filter",
        &format!("^{}$", q.replace('.', "\\.")),
        "--columns",
        "name,arguments.x-max-length",
        "--format",
        "tsv",
    ]);
    assert_code(&out, 0);
    assert_eq!(
        out.stdout,
        format!("name\targuments.x-max-length\n{q}\t100\n")
    );

    for body in ["first", "second"] {
        let out = ctl.run(&["publish", "--routing-key", &q, "--payload", body]);
        assert_code(&out, 0);
        assert_eq!(out.stdout, "routed: true\n");
    }

    let peek = ctl.run(&["get", &q]);
    assert_code(&peek, 0);
    assert!(peek.stdout.contains("payload:\nfirst\n"), "{}", peek.stdout);
    assert!(
        peek.stdout.contains("message_count     1"),
        "{}",
        peek.stdout
    );

    let take = ctl.run(&["get", &q, "--ack", "--format", "json"]);
    assert_code(&take, 0);
    let taken: serde_json::Value = serde_json::from_str(&take.stdout).expect("json");
    assert_eq!(taken[0]["payload"], "first");
    assert_eq!(taken[0]["redelivered"], true);

    assert_code(&ctl.run(&["purge", "queue", &q]), 0);
    let empty = ctl.run(&["get", &q]);
    assert_eq!(empty.stdout, format!("queue '{q}' in vhost '/' is empty\n"));

    let show = ctl.run(&["show", "queue", &q]);
    assert_code(&show, 0);
    assert!(show
        .stdout
        .starts_with(&format!("Queue '{q}' in vhost '/'")));
    assert!(show.stdout.contains("Bindings (1)"), "{}", show.stdout);

    assert_code(&ctl.run(&["delete", "queue", &q]), 0);
    assert_error(
        &ctl.run(&["show", "queue", &q]),
        66,
        &format!("queue '{q}' not found in vhost '/'"),
    );
}

/// An exchange, a binding by routing key, an unroutable publish.
fn exchanges_and_bindings(base: &str) {
    let ctl = Ctl::new(base);
    let (x, q) = (unique("x"), unique("bq"));
    assert_code(&ctl.run(&["declare", "exchange", &x, "--type", "topic"]), 0);
    assert_code(&ctl.run(&["declare", "queue", &q]), 0);
    let bind = ctl.run(&[
        "declare",
        "binding",
        "--source",
        &x,
        "--destination",
        &q,
        "--routing-key",
        "a.#",
    ]);
    assert_code(&bind, 0);
    let routed = ctl.run(&[
        "publish",
        "--exchange",
        &x,
        "--routing-key",
        "a.b",
        "--payload",
        "m",
    ]);
    assert_code(&routed, 0);
    let lost = ctl.run(&[
        "publish",
        "--exchange",
        &x,
        "--routing-key",
        "z",
        "--payload",
        "m",
    ]);
    assert_error(&lost, 65, "not routed");
    let unbind = [
        "delete",
        "binding",
        "--source",
        &x,
        "--destination",
        &q,
        "--routing-key",
        "a.#",
    ];
    assert_code(&ctl.run(&unbind), 0);
    assert_error(&ctl.run(&unbind), 66, "no binding from exchange");
    assert_code(&ctl.run(&["delete", "queue", &q]), 0);
    assert_code(&ctl.run(&["delete", "exchange", &x]), 0);
}

/// Vhost, user, permissions, policy and limits; definitions export.
fn administration(base: &str) {
    let ctl = Ctl::new(base);
    let (vh, user) = (unique("vh"), unique("u"));
    assert_code(&ctl.run(&["add", "vhost", &vh]), 0);
    assert_code(
        &ctl.run(&[
            "add",
            "user",
            &user,
            "--password",
            "pw",
            "--tags",
            "monitoring",
        ]),
        0,
    );
    let perms = ctl.run(&[
        "--vhost",
        &vh,
        "set",
        "permissions",
        "--user",
        &user,
        "--configure",
        "^x",
        "--write",
        ".*",
        "--read",
        ".*",
    ]);
    assert_code(&perms, 0);
    let policy = ctl.run(&[
        "--vhost",
        &vh,
        "set",
        "policy",
        "cap",
        "--pattern",
        ".*",
        "--definition",
        r#"{"max-length":10}"#,
        "--apply-to",
        "queues",
    ]);
    assert_code(&policy, 0);
    assert_code(
        &ctl.run(&["--vhost", &vh, "set", "vhost-limits", "--max-queues", "5"]),
        0,
    );

    let listed = ctl.run(&["--vhost", &vh, "list", "policies", "--format", "json"]);
    let policies: serde_json::Value = serde_json::from_str(&listed.stdout).expect("json");
    assert_eq!(policies[0]["definition"]["max-length"], 10);

    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("defs.json");
    let export = ctl.run(&[
        "--vhost",
        &vh,
        "definitions",
        "export",
        file.to_str().unwrap(),
    ]);
    assert_code(&export, 0);
    let defs: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("file")).expect("json");
    assert_eq!(defs["policies"][0]["name"], "cap");

    // The new user is not an administrator: listing users is refused.
    let as_user = Ctl::new(base).with_user(&user, "pw");
    assert_error(
        &as_user.run(&["list", "users"]),
        77,
        &format!("user '{user}'"),
    );

    assert_code(
        &ctl.run(&["--vhost", &vh, "clear", "vhost-limits", "max-queues"]),
        0,
    );
    assert_code(&ctl.run(&["--vhost", &vh, "clear", "policy", "cap"]), 0);
    assert_code(
        &ctl.run(&["--vhost", &vh, "clear", "permissions", "--user", &user]),
        0,
    );
    assert_code(&ctl.run(&["delete", "user", &user]), 0);
    assert_code(&ctl.run(&["delete", "vhost", &vh]), 0);
    assert_error(&ctl.run(&["delete", "vhost", &vh]), 66, "not found");
}

/// Wrong password, unknown queue, unreachable port, bad flag.
fn error_exits(base: &str) {
    let wrong = Ctl::new(base).with_user("guest", "not-the-password");
    assert_error(
        &wrong.run(&["status"]),
        77,
        "access refused for user 'guest' (HTTP 401)",
    );
    let ctl = Ctl::new(base);
    assert_error(
        &ctl.run(&["purge", "queue", &unique("missing")]),
        66,
        "not found in vhost '/'",
    );
    let nowhere = Ctl::new(&format!("http://127.0.0.1:{}", closed_port()));
    assert_error(&nowhere.run(&["status"]), 69, "cannot reach");
    assert_error(&ctl.run(&["status", "--bogus"]), 64, "--bogus");
    let status = ctl.run(&["status"]);
    assert_code(&status, 0);
    assert!(
        status.stdout.contains("objects.queues"),
        "{}",
        status.stdout
    );
}

fn base_url() -> String {
    std::env::var("WARRENCTL_TEST_URL")
        .expect("set WARRENCTL_TEST_URL to a management API base URL")
}

#[test]
#[ignore = "needs a management API: set WARRENCTL_TEST_URL"]
fn live_queue_lifecycle() {
    queue_lifecycle(&base_url());
}

#[test]
#[ignore = "needs a management API: set WARRENCTL_TEST_URL"]
fn live_exchanges_and_bindings() {
    exchanges_and_bindings(&base_url());
}

#[test]
#[ignore = "needs a management API: set WARRENCTL_TEST_URL"]
fn live_administration() {
    administration(&base_url());
}

#[test]
#[ignore = "needs a management API: set WARRENCTL_TEST_URL"]
fn live_error_exits() {
    error_exits(&base_url());
}

//! Requests and replies against a scripted management API: what warrenctl sends (paths,
//! encoding, bodies, headers) and how each HTTP status maps to an exit code. Also
//! covers Warren's own endpoints (apply, replay, move), which RabbitMQ lacks.

mod common;

use common::{assert_code, assert_error, Ctl, FakeApi};
use serde_json::json;

#[test]
fn http_401_is_exit_77() {
    let api = FakeApi::start(|_| {
        (
            401,
            r#"{"error":"not_authorized","reason":"Login failed"}"#.into(),
        )
    });
    let out = Ctl::new(&api.url).with_user("x", "wrong").run(&["status"]);
    assert_error(&out, 77, "access refused for user 'x' (HTTP 401)");
    assert!(!out.stderr.contains("Login failed"));
}

#[test]
fn http_403_is_exit_77_with_the_reason() {
    let api = FakeApi::start(|_| {
        (
            403,
            r#"{"error":"not_authorised","reason":"Not administrator user"}"#.into(),
        )
    });
    let out = Ctl::new(&api.url).run(&["list", "users"]);
    assert_error(&out, 77, "(HTTP 403): Not administrator user");
}

#[test]
fn missing_queue_is_exit_66_naming_queue_and_vhost() {
    let api = FakeApi::start(|r| {
        if r.target == "/api/vhosts/%2F" {
            (200, r#"{"name":"/"}"#.into())
        } else {
            (
                404,
                r#"{"error":"Object Not Found","reason":"Not Found"}"#.into(),
            )
        }
    });
    let out = Ctl::new(&api.url).run(&["show", "queue", "foo"]);
    assert_error(&out, 66, "queue 'foo' not found in vhost '/'");
}

#[test]
fn missing_vhost_is_named_as_such() {
    let api = FakeApi::start(|_| {
        (
            404,
            r#"{"error":"Object Not Found","reason":"Not Found"}"#.into(),
        )
    });
    let out = Ctl::new(&api.url).run(&["--vhost", "nov", "purge", "queue", "q"]);
    assert_error(&out, 66, "vhost 'nov' not found");
}

#[test]
fn http_400_is_exit_65_with_the_reason_and_5xx_is_70() {
    let api = FakeApi::start(|r| match r.method.as_str() {
        "PUT" => (
            400,
            r#"{"error":"bad_request","reason":"inequivalent arg 'durable'"}"#.into(),
        ),
        _ => (500, r#"{"error":"internal","reason":"boom"}"#.into()),
    });
    let ctl = Ctl::new(&api.url);
    assert_error(
        &ctl.run(&["declare", "queue", "q"]),
        65,
        "inequivalent arg 'durable'",
    );
    assert_error(
        &ctl.run(&["list", "queues"]),
        70,
        "server error (HTTP 500): boom",
    );
}

#[test]
fn names_are_percent_encoded_in_paths() {
    let api = FakeApi::start(|_| (201, String::new()));
    let ctl = Ctl::new(&api.url);
    let out = ctl.run(&[
        "--vhost",
        "a/b",
        "declare",
        "queue",
        "q #1",
        "--type",
        "quorum",
        "--arg",
        "x-max-length=10",
    ]);
    assert_code(&out, 0);
    assert_eq!(out.stdout, "declared queue 'q #1' in vhost 'a/b'\n");
    let req = api.last();
    assert_eq!(
        (req.method.as_str(), req.target.as_str()),
        ("PUT", "/api/queues/a%2Fb/q%20%231")
    );
    assert_eq!(
        req.json(),
        json!({"durable": true, "auto_delete": false,
               "arguments": {"x-max-length": 10, "x-queue-type": "quorum"}})
    );
    assert_code(
        &ctl.run(&["declare", "binding", "--source", "", "--destination", "q"]),
        0,
    );
    assert_eq!(api.last().target, "/api/bindings/%2F/e/amq.default/q/q");
}

#[test]
fn list_passes_sort_filter_and_columns_to_the_server_and_applies_them_too() {
    let api = FakeApi::start(|_| {
        (
            200,
            json!([
                {"name": "b", "vhost": "/", "messages": 5},
                {"name": "a", "vhost": "/", "messages": 50},
                {"name": "x", "vhost": "/", "messages": 7},
            ])
            .to_string(),
        )
    });
    let out = Ctl::new(&api.url).run(&[
        "--vhost",
        "/",
        "list",
        "queues",
        "--columns",
        "name,messages",
        "--sort",
        "messages",
        "--sort-reverse",
        "--filter",
        "^[ab]$",
        "--format",
        "tsv",
    ]);
    assert_code(&out, 0);
    assert_eq!(out.stdout, "name\tmessages\na\t50\nb\t5\n");
    assert_eq!(
        api.last().target,
        "/api/queues/%2F?sort=messages&sort_reverse=true&name=%5E%5Bab%5D%24&use_regex=true&columns=name%2Cmessages%2Cvhost"
    );
}

#[test]
fn publish_not_routed_is_exit_65() {
    let api = FakeApi::start(|_| (200, r#"{"routed":false}"#.into()));
    let out = Ctl::new(&api.url).run(&[
        "publish",
        "--exchange",
        "orders",
        "--routing-key",
        "k",
        "--payload",
        "hi",
        "--property",
        "delivery_mode=2",
        "--header",
        "n=1",
    ]);
    assert_error(&out, 65, "not routed");
    assert_eq!(out.stdout, "routed: false\n");
    let req = api.last();
    assert_eq!(req.target, "/api/exchanges/%2F/orders/publish");
    assert_eq!(
        req.json(),
        json!({"properties": {"delivery_mode": 2, "headers": {"n": 1}},
               "routing_key": "k", "payload": "hi", "payload_encoding": "string"})
    );
}

#[test]
fn close_connection_sends_the_reason_header() {
    let api = FakeApi::start(|_| (204, String::new()));
    let name = "127.0.0.1:5000 -> 127.0.0.1:5672";
    let out = Ctl::new(&api.url).run(&["close", "connection", name, "--reason", "maintenance"]);
    assert_code(&out, 0);
    let req = api.last();
    assert_eq!(req.method, "DELETE");
    assert_eq!(
        req.target,
        "/api/connections/127.0.0.1%3A5000%20-%3E%20127.0.0.1%3A5672"
    );
    assert_eq!(req.header("x-reason"), Some("maintenance"));
}

#[test]
fn apply_sends_the_file_and_prints_the_plan() {
    let api = FakeApi::start(|_| {
        (200, json!({"dry_run": true, "prune": true, "changes": [
            {"change": "+", "kind": "queue", "vhost": "/", "name": "tasks", "detail": "durable"},
            {"change": "~", "kind": "policy", "vhost": "/", "name": "ttl", "detail": "definition changed"},
            {"change": "-", "kind": "queue", "vhost": "/", "name": "old", "detail": ""},
        ]}).to_string())
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("warren.toml");
    std::fs::write(&file, "[[queues]]\nname = \"tasks\"\n").unwrap();
    let out = Ctl::new(&api.url).run(&["apply", file.to_str().unwrap(), "--dry-run", "--prune"]);
    assert_code(&out, 0);
    assert_eq!(
        out.stdout,
        "+ queue / tasks (durable)\n~ policy / ttl (definition changed)\n- queue / old\n\
         1 to add, 1 to change, 1 to remove (dry run: nothing applied)\n"
    );
    let req = api.last();
    assert_eq!(req.target, "/api/warren/apply?dry_run=true&prune=true");
    assert_eq!(req.header("content-type"), Some("application/toml"));
    assert_eq!(req.body, b"[[queues]]\nname = \"tasks\"\n");
}

#[test]
fn apply_against_a_server_without_the_endpoint_says_so() {
    let api = FakeApi::start(|_| {
        (
            404,
            r#"{"error":"Object Not Found","reason":"Not Found"}"#.into(),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("defs.json");
    std::fs::write(&file, "{}").unwrap();
    let out = Ctl::new(&api.url).run(&["apply", file.to_str().unwrap()]);
    assert_error(&out, 66, "no /api/warren/apply endpoint");
    assert_eq!(api.last().header("content-type"), Some("application/json"));
}

#[test]
fn apply_of_a_missing_file_is_exit_66_and_a_rejected_one_65() {
    let api = FakeApi::start(|_| {
        (
            400,
            r#"{"error":"bad_request","reason":"warren.toml:3: unknown key `nme`"}"#.into(),
        )
    });
    let ctl = Ctl::new(&api.url);
    assert_error(
        &ctl.run(&["apply", "/nonexistent/warren.toml"]),
        66,
        "cannot read /nonexistent/warren.toml",
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("warren.toml");
    std::fs::write(&file, "[[queues]]\nnme = 1\n").unwrap();
    assert_error(
        &ctl.run(&["apply", file.to_str().unwrap()]),
        65,
        "unknown key `nme`",
    );
}

#[test]
fn replay_and_move_send_their_bodies_and_summarise() {
    let api = FakeApi::start(|_| {
        (
            200,
            r#"{"moved":5,"dry_run":false,"destinations":{"orders":3,"payments":2},"skipped":1}"#
                .into(),
        )
    });
    let ctl = Ctl::new(&api.url);
    let out = ctl.run(&["replay", "dead", "--limit", "10"]);
    assert_code(&out, 0);
    assert_eq!(
        out.stdout,
        "moved 5 messages (orders: 3, payments: 2); 1 skipped (no x-death, or destination missing)\n"
    );
    let req = api.last();
    assert_eq!(req.target, "/api/warren/queues/%2F/dead/replay");
    assert_eq!(
        req.json(),
        json!({"to": null, "limit": 10, "dry_run": false})
    );

    assert_code(
        &ctl.run(&["move", "--from", "a", "--to", "b", "--dry-run"]),
        0,
    );
    let req = api.last();
    assert_eq!(req.target, "/api/warren/queues/%2F/a/move");
    assert_eq!(
        req.json(),
        json!({"to": "b", "limit": null, "dry_run": true})
    );
}

#[test]
fn get_peeks_by_default() {
    let api = FakeApi::start(|_| (200, "[]".into()));
    let out = Ctl::new(&api.url).run(&["get", "tasks", "--count", "3"]);
    assert_code(&out, 0);
    assert_eq!(out.stdout, "queue 'tasks' in vhost '/' is empty\n");
    assert_eq!(
        api.last().json(),
        json!({"count": 3, "ackmode": "ack_requeue_true", "encoding": "auto", "truncate": 50000})
    );
}

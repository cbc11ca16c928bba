//! warrenctl against a live Warren: declaring, publishing, getting, purging and
//! deleting, and the definitions export/import round trip.
//! Each test starts its own broker (see `live/mod.rs`).

mod common;
mod live;

use common::{assert_code, assert_error};
use live::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declare_publish_get_purge_delete() {
    let (_broker, ctl) = start().await;
    assert_eq!(
        ok(&ctl, &["declare", "exchange", "events", "--type", "topic"]),
        "declared exchange 'events' in vhost '/'\n"
    );
    assert_eq!(
        ok(
            &ctl,
            &["declare", "queue", "tasks", "--arg", "x-message-ttl=60000"]
        ),
        "declared queue 'tasks' in vhost '/'\n"
    );
    ok(
        &ctl,
        &[
            "declare",
            "queue",
            "scratch",
            "--no-durable",
            "--auto-delete",
        ],
    );
    let exchanges = json(&ctl, &["list", "exchanges", "--filter", "^events$"]);
    assert_eq!(exchanges[0]["type"], "topic");
    assert_eq!(exchanges[0]["durable"], true);
    let scratch = queue(&ctl, "scratch");
    assert_eq!(
        (scratch["durable"].clone(), scratch["auto_delete"].clone()),
        (Value::Bool(false), Value::Bool(true))
    );
    assert_eq!(queue(&ctl, "tasks")["arguments"]["x-message-ttl"], 60000);

    let bound = ok(
        &ctl,
        &[
            "declare",
            "binding",
            "--source",
            "events",
            "--destination",
            "tasks",
            "--routing-key",
            "task.#",
        ],
    );
    assert!(
        bound.starts_with("bound queue 'tasks' to exchange 'events' with routing key 'task.#'"),
        "{bound}"
    );
    let bindings = json(&ctl, &["list", "bindings", "--filter", "^events$"]);
    assert_eq!(bindings.as_array().map(Vec::len), Some(1), "{bindings:#}");
    assert_eq!(bindings[0]["destination"], "tasks");
    assert_eq!(bindings[0]["routing_key"], "task.#");

    // Routed: the message lands in the queue.
    assert_eq!(
        ok(
            &ctl,
            &[
                "publish",
                "--exchange",
                "events",
                "--routing-key",
                "task.a",
                "--payload",
                "hello",
                "--property",
                "delivery_mode=2",
                "--header",
                "attempt=1",
            ],
        ),
        "routed: true\n"
    );
    assert_eq!(depth(&ctl, "tasks"), 1);
    // Unroutable: 65, and nothing lands anywhere.
    let lost = run(
        &ctl,
        &[
            "publish",
            "--exchange",
            "events",
            "--routing-key",
            "other",
            "--payload",
            "x",
        ],
    );
    assert_error(&lost, 65, "was not routed to any queue");
    assert_eq!(lost.stdout, "routed: false\n");
    assert_eq!(depth(&ctl, "tasks"), 1);

    // A peek requeues: the message is still there, now redelivered.
    let peek = ok(&ctl, &["get", "tasks"]);
    assert!(peek.starts_with("message 1 of 1\n"), "{peek}");
    assert_eq!(row(&peek, "exchange")[1], "events");
    assert_eq!(row(&peek, "routing_key")[1], "task.a");
    assert_eq!(row(&peek, "redelivered")[1], "false");
    assert_eq!(
        row(&peek, "properties")[1],
        r#"{"delivery_mode":2,"headers":{"attempt":1}}"#
    );
    assert!(peek.ends_with("  payload:\nhello\n"), "{peek}");
    assert_eq!(depth(&ctl, "tasks"), 1, "a peek leaves the message");
    let again = json(&ctl, &["get", "tasks"]);
    assert_eq!(again[0]["payload"], "hello");
    assert_eq!(again[0]["redelivered"], true);
    assert_eq!(depth(&ctl, "tasks"), 1);

    // --ack takes it.
    for body in ["a", "b"] {
        ok(
            &ctl,
            &["publish", "--routing-key", "tasks", "--payload", body],
        );
    }
    let taken = json(&ctl, &["get", "tasks", "--ack", "--count", "2"]);
    let payloads: Vec<&str> = taken
        .as_array()
        .expect("list")
        .iter()
        .map(|m| m["payload"].as_str().expect("payload"))
        .collect();
    assert_eq!(payloads, ["hello", "a"]);
    assert_eq!(taken[1]["message_count"], 1);
    assert_eq!(depth(&ctl, "tasks"), 1);

    // Purge empties it.
    assert_error(
        &run(&ctl, &["delete", "queue", "tasks", "--if-empty"]),
        65,
        "not empty",
    );
    assert_eq!(
        ok(&ctl, &["purge", "queue", "tasks"]),
        "purged queue 'tasks' in vhost '/'\n"
    );
    assert_eq!(depth(&ctl, "tasks"), 0);
    assert_eq!(
        ok(&ctl, &["get", "tasks"]),
        "queue 'tasks' in vhost '/' is empty\n"
    );

    // Delete the binding (found by routing key), then the queue and exchange.
    let unbind = [
        "delete",
        "binding",
        "--source",
        "events",
        "--destination",
        "tasks",
        "--routing-key",
        "task.#",
    ];
    ok(&ctl, &unbind);
    assert_eq!(
        json(&ctl, &["list", "bindings", "--filter", "^events$"]),
        serde_json::json!([])
    );
    assert_error(&run(&ctl, &unbind), 66, "no binding from exchange");
    let rebind = [
        "declare",
        "binding",
        "--source",
        "events",
        "--destination",
        "tasks",
    ];
    ok(&ctl, &rebind);
    let key = json(&ctl, &["list", "bindings", "--filter", "^events$"])[0]["properties_key"]
        .as_str()
        .expect("properties_key")
        .to_string();
    ok(
        &ctl,
        &[
            "delete",
            "binding",
            "--source",
            "events",
            "--destination",
            "tasks",
            "--properties-key",
            &key,
        ],
    );
    assert_eq!(
        json(&ctl, &["list", "bindings", "--filter", "^events$"]),
        serde_json::json!([])
    );

    assert_eq!(
        ok(&ctl, &["delete", "queue", "tasks"]),
        "deleted queue 'tasks' in vhost '/'\n"
    );
    assert_error(
        &run(&ctl, &["show", "queue", "tasks"]),
        66,
        "queue 'tasks' not found in vhost '/'",
    );
    ok(&ctl, &["delete", "exchange", "events"]);
    assert_eq!(
        json(&ctl, &["list", "exchanges", "--filter", "^events$"]),
        serde_json::json!([])
    );
    assert_error(
        &run(&ctl, &["delete", "exchange", "events"]),
        66,
        "exchange 'events' not found in vhost '/'",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn definitions_export_import_round_trip() {
    let (_broker, ctl) = start().await;
    ok(&ctl, &["add", "vhost", "shop"]);
    let shop = |args: &[&str]| {
        let mut full = vec!["--vhost", "shop"];
        full.extend_from_slice(args);
        ok(&ctl, &full)
    };
    shop(&[
        "set",
        "permissions",
        "--user",
        "guest",
        "--configure",
        ".*",
        "--write",
        ".*",
        "--read",
        ".*",
    ]);
    shop(&["declare", "exchange", "orders", "--type", "fanout"]);
    shop(&[
        "declare",
        "queue",
        "orders.audit",
        "--arg",
        "x-max-length=7",
    ]);
    shop(&[
        "declare",
        "binding",
        "--source",
        "orders",
        "--destination",
        "orders.audit",
    ]);
    shop(&[
        "set",
        "policy",
        "cap",
        "--pattern",
        "^orders\\.",
        "--definition",
        r#"{"max-length":10}"#,
        "--apply-to",
        "queues",
    ]);

    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("backup.json");
    let file = file.to_str().expect("path");
    let export = run(&ctl, &["definitions", "export", file]);
    assert_code(&export, 0);
    assert!(
        export.stderr.starts_with("exported ") && export.stderr.contains(file),
        "{}",
        export.stderr
    );
    let defs: Value = serde_json::from_slice(&std::fs::read(file).expect("file")).expect("json");
    assert!(defs["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .any(|q| q["name"] == "orders.audit" && q["vhost"] == "shop"));
    // The same through stdout, for one vhost: no vhost fields.
    let shop_only = json(&ctl, &["--vhost", "shop", "definitions", "export"]);
    assert_eq!(shop_only["policies"][0]["name"], "cap");
    assert_eq!(shop_only["exchanges"][0]["name"], "orders");

    ok(&ctl, &["delete", "vhost", "shop"]);
    assert_error(
        &run(&ctl, &["--vhost", "shop", "list", "queues"]),
        66,
        "vhost 'shop' not found",
    );

    let import = run(&ctl, &["definitions", "import", file]);
    assert_code(&import, 0);
    assert!(import.stdout.starts_with("imported "), "{}", import.stdout);
    let queues = json(&ctl, &["--vhost", "shop", "list", "queues"]);
    assert_eq!(queues[0]["name"], "orders.audit");
    assert_eq!(queues[0]["arguments"]["x-max-length"], 7);
    assert_eq!(queues[0]["policy"], "cap");
    let bindings = json(
        &ctl,
        &[
            "--vhost", "shop", "list", "bindings", "--filter", "^orders$",
        ],
    );
    assert_eq!(bindings[0]["destination"], "orders.audit");
    // Importing what is there changes nothing and succeeds again.
    assert_code(&run(&ctl, &["definitions", "import", file]), 0);
    let bad = write(&dir, "bad.json", "[1, 2]");
    assert_error(&run(&ctl, &["definitions", "import", &bad]), 65, "");
    assert_error(
        &run(&ctl, &["definitions", "import", "/nonexistent/defs.json"]),
        66,
        "cannot read",
    );
}

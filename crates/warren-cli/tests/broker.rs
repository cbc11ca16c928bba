//! warrenctl end to end against Warren: every test starts a broker in-process
//! (`warren_testkit::TestBroker`, with its management API on an ephemeral port), runs
//! the real `warrenctl` binary against it, drives AMQP traffic with lapin where a
//! scenario needs clients, and checks what changed on the broker, not only exit codes.
//!
//! The binary is run with `block_in_place` on a multi-threaded runtime, so the broker's
//! tasks keep running on the other worker while the CLI blocks.

mod common;

use common::{assert_code, assert_error, closed_port, Ctl, Outcome};
use futures_util::StreamExt;
use lapin::options::{BasicQosOptions, BasicRejectOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use serde_json::Value;
use warren_testkit::{basic, closed_with, eventually, watch, TestBroker, WAIT};

/// A broker and a `warrenctl` runner (guest/guest, an administrator) pointed at it.
async fn start() -> (TestBroker, Ctl) {
    let broker = TestBroker::start().await;
    let ctl = Ctl::new(&broker.management_url());
    (broker, ctl)
}

/// Runs warrenctl without stalling the broker's tasks.
fn run(ctl: &Ctl, args: &[&str]) -> Outcome {
    tokio::task::block_in_place(|| ctl.run(args))
}

/// Runs warrenctl, which must succeed, and returns its standard output.
#[track_caller]
fn ok(ctl: &Ctl, args: &[&str]) -> String {
    let out = run(ctl, args);
    assert_code(&out, 0);
    out.stdout
}

/// Runs warrenctl with `--format json`, which must succeed, and parses its output.
#[track_caller]
fn json(ctl: &Ctl, args: &[&str]) -> Value {
    let mut full = args.to_vec();
    full.extend(["--format", "json"]);
    let text = ok(ctl, &full);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The queue `name` of vhost `/` as `list queues --format json` shows it.
#[track_caller]
fn queue(ctl: &Ctl, name: &str) -> Value {
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
fn depth(ctl: &Ctl, name: &str) -> u64 {
    queue(ctl, name)["messages"].as_u64().expect("messages")
}

/// The cells of the table row whose first cell is `first`.
#[track_caller]
fn row(table: &str, first: &str) -> Vec<String> {
    table
        .lines()
        .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
        .find(|cells| cells.first().map(String::as_str) == Some(first))
        .unwrap_or_else(|| panic!("no row '{first}' in:\n{table}"))
}

/// Polls `check` until it holds (the broker applies some effects asynchronously).
async fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let reached = eventually(WAIT, || {
        std::future::ready(tokio::task::block_in_place(&mut check))
    })
    .await;
    assert!(reached, "timed out waiting for: {what}");
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write file");
    path.to_str().expect("utf-8 path").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_error_exits() {
    let (broker, ctl) = start().await;
    ok(&ctl, &["declare", "queue", "status.q"]);

    let status = ok(&ctl, &["status"]);
    assert!(
        row(&status, "product")[1] == "Warren",
        "product is Warren:\n{status}"
    );
    assert_eq!(
        row(&status, "listener.amqp")[1],
        broker.addr.to_string(),
        "{status}"
    );
    assert_eq!(row(&status, "objects.queues")[1], "1", "{status}");
    assert_eq!(row(&status, "alarms")[1], "none", "{status}");
    let overview = json(&ctl, &["overview"]);
    assert_eq!(overview["overview"]["product_name"], "Warren");
    assert_eq!(overview["alarms"]["status"], "ok");
    let tsv = ok(&ctl, &["status", "--format", "tsv"]);
    assert!(tsv.starts_with("field\tvalue\nproduct\tWarren "), "{tsv}");

    // 77: a wrong password.
    let wrong = Ctl::new(&broker.management_url()).with_user("guest", "not-the-password");
    assert_error(
        &run(&wrong, &["status"]),
        77,
        "access refused for user 'guest' (HTTP 401)",
    );
    // 66: unknown queue, exchange, vhost, user.
    for args in [
        &["purge", "queue", "missing"][..],
        &["show", "queue", "missing"],
        &["get", "missing"],
        &["delete", "queue", "missing"],
    ] {
        assert_error(
            &run(&ctl, args),
            66,
            "queue 'missing' not found in vhost '/'",
        );
    }
    assert_error(
        &run(&ctl, &["publish", "--exchange", "nope", "--payload", "x"]),
        66,
        "exchange 'nope' not found in vhost '/'",
    );
    assert_error(
        &run(&ctl, &["--vhost", "nowhere", "list", "queues"]),
        66,
        "vhost 'nowhere' not found",
    );
    assert_error(
        &run(&ctl, &["delete", "user", "nobody"]),
        66,
        "user 'nobody' not found",
    );
    // 65: a server-side 400 with the server's reason.
    assert_error(
        &run(&ctl, &["declare", "queue", "status.q", "--no-durable"]),
        65,
        "inequivalent arg 'durable'",
    );
    // 69: nothing listens.
    let nowhere = Ctl::new(&format!("http://127.0.0.1:{}", closed_port()));
    assert_error(&run(&nowhere, &["status"]), 69, "cannot reach");
    // 64: bad usage.
    assert_error(&run(&ctl, &["status", "--bogus"]), 64, "--bogus");
    assert_error(&run(&ctl, &["declare", "exchange", "x"]), 64, "--type");
    assert_error(
        &run(&ctl, &["list", "queues", "--filter", "("]),
        64,
        "--filter",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_queues_with_traffic_and_closing_a_connection() {
    let (broker, ctl) = start().await;
    ok(
        &ctl,
        &["declare", "queue", "orders", "--arg", "x-max-length=100"],
    );
    ok(&ctl, &["declare", "queue", "audit"]);
    ok(&ctl, &["declare", "queue", "billing"]);

    let (conn, ch) = broker.channel().await;
    for i in 0..5 {
        basic::publish(&ch, "orders", format!("o{i}").as_bytes()).await;
    }
    basic::publish(&ch, "billing", b"b0").await;
    // Prefetch 2, never acked: 2 unacked, 3 ready.
    ch.basic_qos(2, BasicQosOptions::default())
        .await
        .expect("qos");
    let mut consumer = basic::consume(&ch, "orders", "ctag-orders").await;
    for _ in 0..2 {
        tokio::time::timeout(WAIT, consumer.next())
            .await
            .expect("a delivery")
            .expect("consumer open")
            .expect("delivery");
    }
    wait_until("orders has 2 unacked", || {
        queue(&ctl, "orders")["messages_unacknowledged"] == 2
    })
    .await;

    let orders = queue(&ctl, "orders");
    assert_eq!(orders["messages"], 5);
    assert_eq!(orders["messages_ready"], 3);
    assert_eq!(orders["consumers"], 1);
    assert_eq!(orders["arguments"]["x-max-length"], 100);

    // The default table: name type messages ready unacked consumers publish deliver ack state.
    let table = ok(&ctl, &["list", "queues"]);
    assert!(
        table.starts_with("name ") && !table.contains("vhost"),
        "one vhost: no vhost column\n{table}"
    );
    let r = row(&table, "orders");
    assert_eq!(&r[1..6], ["classic", "5", "3", "2", "1"], "{table}");
    assert_eq!(r.last().map(String::as_str), Some("running"), "{table}");
    assert!(r[6].ends_with("/s"), "publish rate: {table}");

    let tsv = ok(
        &ctl,
        &[
            "list",
            "queues",
            "--columns",
            "name,ready,unacked,consumers,arguments.x-max-length",
            "--sort",
            "messages",
            "--sort-reverse",
            "--format",
            "tsv",
        ],
    );
    assert_eq!(
        tsv,
        "name\tready\tunacked\tconsumers\targuments.x-max-length\n\
         orders\t3\t2\t1\t100\n\
         billing\t1\t0\t0\t\n\
         audit\t0\t0\t0\t\n"
    );
    let sorted = ok(
        &ctl,
        &[
            "list",
            "queues",
            "--sort",
            "name",
            "--columns",
            "name",
            "--format",
            "tsv",
        ],
    );
    assert_eq!(sorted, "name\naudit\nbilling\norders\n");
    let filtered = json(
        &ctl,
        &[
            "list",
            "queues",
            "--filter",
            "^(or|bi)",
            "--columns",
            "name,messages",
        ],
    );
    assert_eq!(
        filtered,
        serde_json::json!([{"name": "billing", "messages": 1}, {"name": "orders", "messages": 5}])
    );
    // Bindings, consumers and permissions are filtered by source/destination, queue
    // and user: the filter must not empty them.
    let bindings = ok(
        &ctl,
        &[
            "list", "bindings", "--filter", "^orders$", "--format", "tsv",
        ],
    );
    assert_eq!(
        bindings,
        "vhost\tsource\tdestination\tdestination_type\trouting_key\targuments\tproperties_key\n\
         /\t\torders\tqueue\torders\t{}\torders\n"
    );

    let consumers = ok(
        &ctl,
        &["list", "consumers", "--filter", "orders", "--format", "tsv"],
    );
    let lines: Vec<&str> = consumers.lines().collect();
    assert_eq!(lines.len(), 2, "{consumers}");
    assert!(
        lines[1].starts_with("/\torders\tctag-orders\t"),
        "{consumers}"
    );
    let channels = json(&ctl, &["list", "channels"]);
    assert_eq!(channels[0]["prefetch_count"], 2, "{channels:#}");
    assert_eq!(channels[0]["messages_unacknowledged"], 2, "{channels:#}");

    let show = ok(&ctl, &["show", "queue", "orders"]);
    assert!(show.starts_with("Queue 'orders' in vhost '/'\n"), "{show}");
    assert!(show.contains("\nConsumers (1)\n"), "{show}");
    assert!(show.contains("ctag-orders"), "{show}");
    assert!(show.contains("\nBindings (1)\n"), "{show}");
    assert_eq!(row(&show, "messages_unacknowledged")[1], "2", "{show}");
    assert_eq!(row(&show, "arguments")[1], r#"{"x-max-length":100}"#);

    // Close the client's connection by the name `list connections` gives it.
    let mut watcher = watch(&ch).await;
    let names = ok(
        &ctl,
        &[
            "list",
            "connections",
            "--columns",
            "name",
            "--format",
            "tsv",
        ],
    );
    let names: Vec<&str> = names.lines().skip(1).collect();
    assert_eq!(names.len(), 1, "one connection: {names:?}");
    let closed = ok(
        &ctl,
        &["close", "connection", names[0], "--reason", "maintenance"],
    );
    assert_eq!(closed, format!("closed connection '{}'\n", names[0]));
    assert_eq!(
        closed_with(&mut watcher).await,
        (320, "CONNECTION_FORCED - maintenance".to_string())
    );
    wait_until("the connection is gone", || {
        json(&ctl, &["list", "connections"]) == serde_json::json!([])
    })
    .await;
    assert!(
        !conn.status().connected(),
        "lapin sees the connection closed"
    );
    // Its unacked messages are back.
    wait_until("orders' messages requeued", || {
        queue(&ctl, "orders")["messages_ready"] == 5
    })
    .await;
    assert_error(
        &run(&ctl, &["close", "connection", names[0]]),
        66,
        "not found",
    );
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_definitions_and_toml_with_prune() {
    let (_broker, ctl) = start().await;
    let dir = tempfile::tempdir().expect("dir");
    let defs = write(
        &dir,
        "topology.json",
        r#"{
          "exchanges": [{"name": "jobs", "vhost": "/", "type": "direct", "durable": true,
                          "auto_delete": false, "internal": false, "arguments": {}}],
          "queues": [{"name": "jobs.resize", "vhost": "/", "durable": true,
                       "auto_delete": false, "arguments": {"x-max-priority": 5}}],
          "bindings": [{"source": "jobs", "vhost": "/", "destination": "jobs.resize",
                         "destination_type": "queue", "routing_key": "resize",
                         "arguments": {}}]
        }"#,
    );

    let plan = ok(&ctl, &["apply", &defs, "--dry-run"]);
    assert!(
        plan.contains("+ exchange / jobs")
            && plan.contains("+ queue / jobs.resize")
            && plan.contains("+ binding / jobs -> queue jobs.resize"),
        "{plan}"
    );
    assert!(
        plan.ends_with("3 to add, 0 to change, 0 to remove (dry run: nothing applied)\n"),
        "{plan}"
    );
    assert_eq!(
        json(&ctl, &["list", "queues"]),
        serde_json::json!([]),
        "a dry run applies nothing"
    );

    let applied = ok(&ctl, &["apply", &defs]);
    assert!(
        applied.ends_with("3 added, 0 changed, 0 removed\n"),
        "{applied}"
    );
    assert_eq!(queue(&ctl, "jobs.resize")["arguments"]["x-max-priority"], 5);
    assert_eq!(
        ok(
            &ctl,
            &[
                "publish",
                "--exchange",
                "jobs",
                "--routing-key",
                "resize",
                "--payload",
                "r"
            ]
        ),
        "routed: true\n",
        "the applied binding routes"
    );
    assert_eq!(ok(&ctl, &["apply", &defs]), "no changes\n");
    let reply = json(&ctl, &["apply", &defs, "--dry-run"]);
    assert_eq!(
        reply,
        serde_json::json!({"dry_run": true, "prune": false, "changes": []})
    );

    // The same topology in warren.toml form, plus a queue; without --prune nothing goes.
    ok(&ctl, &["declare", "queue", "stray"]);
    let toml = write(
        &dir,
        "warren.toml",
        r#"
[[exchanges]]
name = "jobs"
type = "direct"

[[queues]]
name = "jobs.resize"
arguments = { "x-max-priority" = 5 }

[[queues]]
name = "tasks"

[[bindings]]
source = "jobs"
destination = "jobs.resize"
routing_key = "resize"
"#,
    );
    let plan = ok(&ctl, &["apply", &toml, "--dry-run"]);
    assert_eq!(
        plan,
        "+ queue / tasks (durable)\n1 to add, 0 to change, 0 to remove (dry run: nothing applied)\n"
    );
    assert_eq!(
        ok(&ctl, &["apply", &toml]),
        "+ queue / tasks (durable)\n1 added, 0 changed, 0 removed\n"
    );
    assert_eq!(queue(&ctl, "tasks")["durable"], true);
    assert_eq!(ok(&ctl, &["apply", &toml]), "no changes\n");

    // --prune removes what the file no longer names: `stray` and `tasks`.
    let smaller = write(
        &dir,
        "smaller.toml",
        &std::fs::read_to_string(&toml)
            .expect("toml")
            .replace("[[queues]]\nname = \"tasks\"\n", ""),
    );
    let plan = ok(&ctl, &["apply", &smaller, "--prune", "--dry-run"]);
    assert!(
        plan.contains("- queue / stray\n") && plan.contains("- queue / tasks\n"),
        "{plan}"
    );
    assert!(
        plan.ends_with("0 to add, 0 to change, 2 to remove (dry run: nothing applied)\n"),
        "{plan}"
    );
    depth(&ctl, "stray");
    let pruned = ok(&ctl, &["apply", &smaller, "--prune"]);
    assert!(
        pruned.ends_with("0 added, 0 changed, 2 removed\n"),
        "{pruned}"
    );
    let left = ok(
        &ctl,
        &["list", "queues", "--columns", "name", "--format", "tsv"],
    );
    assert_eq!(left, "name\njobs.resize\n");
    assert_eq!(ok(&ctl, &["apply", &smaller, "--prune"]), "no changes\n");
    // The caller (guest) and its vhost survive a prune of a file that names no users.
    ok(&ctl, &["status"]);

    // A malformed file is the server's 400: exit 65 with its reason.
    let broken = write(&dir, "broken.toml", "[[queues]]\nname = 5\n");
    assert_error(&run(&ctl, &["apply", &broken]), 65, "");
}

/// Dead-letters `n` messages of `work` into `work.dlq` by rejecting them.
async fn dead_letter(broker: &TestBroker, n: usize) {
    let (_conn, ch) = broker.channel().await;
    basic::publish_numbered(&ch, "work", n).await;
    for _ in 0..n {
        let (_, _, tag, _) = basic::get(&ch, "work", false).await;
        ch.basic_reject(tag, BasicRejectOptions { requeue: false })
            .await
            .expect("reject");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_and_move_dead_letters() {
    let (broker, ctl) = start().await;
    ok(
        &ctl,
        &[
            "declare",
            "queue",
            "work",
            "--arg",
            "x-dead-letter-exchange=",
            "--arg",
            "x-dead-letter-routing-key=work.dlq",
        ],
    );
    ok(&ctl, &["declare", "queue", "work.dlq"]);
    ok(&ctl, &["declare", "queue", "parking"]);
    dead_letter(&broker, 5).await;
    wait_until("5 dead letters", || depth(&ctl, "work.dlq") == 5).await;
    assert_eq!(depth(&ctl, "work"), 0);
    let dead = json(&ctl, &["get", "work.dlq"]);
    assert_eq!(
        dead[0]["properties"]["headers"]["x-death"][0]["queue"],
        "work"
    );

    assert_eq!(
        ok(&ctl, &["replay", "work.dlq", "--dry-run"]),
        "would move 5 messages (work: 5)\n"
    );
    assert_eq!((depth(&ctl, "work"), depth(&ctl, "work.dlq")), (0, 5));

    assert_eq!(
        ok(&ctl, &["replay", "work.dlq", "--limit", "2"]),
        "moved 2 messages (work: 2)\n"
    );
    assert_eq!((depth(&ctl, "work"), depth(&ctl, "work.dlq")), (2, 3));

    assert_eq!(
        ok(
            &ctl,
            &["replay", "work.dlq", "--to", "parking", "--limit", "1"]
        ),
        "moved 1 message (parking: 1)\n"
    );
    let reply = json(&ctl, &["replay", "work.dlq"]);
    assert_eq!(reply["moved"], 2);
    assert_eq!(reply["skipped"], 0);
    assert_eq!(reply["destinations"], serde_json::json!({"work": 2}));
    assert_eq!(
        (
            depth(&ctl, "work"),
            depth(&ctl, "work.dlq"),
            depth(&ctl, "parking")
        ),
        (4, 0, 1)
    );
    // The replayed messages are the dead ones, in order: consume them from `work`.
    let (_conn, ch) = broker.channel().await;
    let bodies = warren_testkit::drain_bodies(&ch, "work").await;
    assert_eq!(bodies, [b"m0", b"m1", b"m3", b"m4"]);

    // A message with no x-death cannot be replayed: skipped, left in place.
    ok(
        &ctl,
        &["publish", "--routing-key", "work.dlq", "--payload", "alive"],
    );
    assert_eq!(
        ok(&ctl, &["replay", "work.dlq"]),
        "moved 0 messages; 1 skipped (no x-death, or destination missing)\n"
    );
    assert_eq!(depth(&ctl, "work.dlq"), 1);

    // move: everything, whatever its history.
    ok(
        &ctl,
        &[
            "publish",
            "--routing-key",
            "work.dlq",
            "--payload",
            "alive2",
        ],
    );
    assert_eq!(
        ok(
            &ctl,
            &["move", "--from", "work.dlq", "--to", "parking", "--dry-run"]
        ),
        "would move 2 messages (parking: 2)\n"
    );
    assert_eq!(
        ok(
            &ctl,
            &["move", "--from", "work.dlq", "--to", "parking", "--limit", "1"]
        ),
        "moved 1 message (parking: 1)\n"
    );
    assert_eq!(
        ok(&ctl, &["move", "--from", "work.dlq", "--to", "parking"]),
        "moved 1 message (parking: 1)\n"
    );
    assert_eq!((depth(&ctl, "work.dlq"), depth(&ctl, "parking")), (0, 3));

    assert_error(
        &run(&ctl, &["replay", "nope"]),
        66,
        "queue 'nope' not found in vhost '/'",
    );
    assert_error(
        &run(&ctl, &["move", "--from", "parking", "--to", "nope"]),
        66,
        "queue 'nope' not found in vhost '/'",
    );
    assert_error(&run(&ctl, &["move", "--from", "parking"]), 64, "--to");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_vhosts_permissions_policies_limits() {
    let (broker, ctl) = start().await;
    assert_eq!(
        ok(
            &ctl,
            &["add", "vhost", "tenant-a", "--description", "Tenant A"]
        ),
        "added vhost 'tenant-a'\n"
    );
    assert_eq!(
        ok(
            &ctl,
            &[
                "add",
                "user",
                "alice",
                "--password",
                "s3cret",
                "--tags",
                "monitoring,management"
            ]
        ),
        "added user 'alice'\n"
    );
    let vhosts = ok(
        &ctl,
        &[
            "list",
            "vhosts",
            "--columns",
            "name,description",
            "--format",
            "tsv",
        ],
    );
    assert_eq!(
        vhosts,
        "name\tdescription\n/\tDefault virtual host\ntenant-a\tTenant A\n"
    );
    let users = ok(&ctl, &["list", "users", "--format", "tsv"]);
    assert_eq!(
        users,
        "name\ttags\nalice\tmonitoring,management\nguest\tadministrator\n"
    );

    // No permissions yet: alice cannot open the vhost.
    assert!(
        broker
            .connect_as("alice", "s3cret", "tenant-a")
            .await
            .is_err(),
        "no permissions, no connection"
    );
    for user in ["alice", "guest"] {
        ok(
            &ctl,
            &[
                "--vhost",
                "tenant-a",
                "set",
                "permissions",
                "--user",
                user,
                "--configure",
                "^alice\\.",
                "--write",
                ".*",
                "--read",
                ".*",
            ],
        );
    }
    let perms = ok(
        &ctl,
        &[
            "list",
            "permissions",
            "--filter",
            "^alice$",
            "--format",
            "tsv",
        ],
    );
    assert_eq!(
        perms, "user\tvhost\tconfigure\twrite\tread\nalice\ttenant-a\t^alice\\\\.\t.*\t.*\n",
        "TSV escapes the backslash"
    );
    let conn = broker
        .connect_as("alice", "s3cret", "tenant-a")
        .await
        .expect("alice connects with permissions");
    let ch = conn.create_channel().await.expect("channel");
    ch.queue_declare(
        "alice.q".into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("configure ^alice\\. allows alice.q");
    conn.close(200, "bye".into()).await.expect("close");

    assert_eq!(
        ok(
            &ctl,
            &[
                "--vhost",
                "tenant-a",
                "set",
                "policy",
                "ttl",
                "--pattern",
                "^alice\\.",
                "--definition",
                r#"{"message-ttl":60000}"#,
                "--apply-to",
                "queues",
                "--priority",
                "1",
            ]
        ),
        "set policy 'ttl' in vhost 'tenant-a'\n"
    );
    let policies = json(&ctl, &["--vhost", "tenant-a", "list", "policies"]);
    assert_eq!(policies[0]["name"], "ttl");
    assert_eq!(policies[0]["definition"]["message-ttl"], 60000);
    assert_eq!(policies[0]["priority"], 1);
    wait_until("the policy applies to alice.q", || {
        let q = json(&ctl, &["--vhost", "tenant-a", "list", "queues"]);
        q[0]["policy"] == "ttl"
    })
    .await;
    let shown = ok(&ctl, &["--vhost", "tenant-a", "show", "queue", "alice.q"]);
    assert_eq!(row(&shown, "policy")[1], "ttl", "{shown}");

    assert_eq!(
        ok(
            &ctl,
            &[
                "--vhost",
                "tenant-a",
                "set",
                "vhost-limits",
                "--max-connections",
                "10",
                "--max-queues",
                "1"
            ]
        ),
        "set max-connections=10, max-queues=1 of vhost 'tenant-a'\n"
    );
    assert_error(
        &run(
            &ctl,
            &["--vhost", "tenant-a", "declare", "queue", "alice.r"],
        ),
        65,
        "queue limit",
    );
    ok(
        &ctl,
        &[
            "set",
            "user-limits",
            "--user",
            "alice",
            "--max-channels",
            "20",
        ],
    );
    let defs = json(&ctl, &["definitions", "export"]);
    let limits = defs["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["component"] == "vhost-limits" && p["vhost"] == "tenant-a")
        .cloned()
        .expect("vhost limits exported");
    assert_eq!(
        limits["value"],
        serde_json::json!({"max-connections": 10, "max-queues": 1})
    );
    let alice = defs["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["name"] == "alice")
        .cloned()
        .expect("alice exported");
    assert_eq!(alice["limits"]["max-channels"], 20, "{alice:#}");

    // A monitoring user is refused administrator endpoints.
    let as_alice = Ctl::new(&broker.management_url()).with_user("alice", "s3cret");
    assert_error(
        &run(&as_alice, &["list", "users"]),
        77,
        "access refused for user 'alice' (HTTP 401)",
    );
    assert_error(&run(&as_alice, &["add", "vhost", "x"]), 77, "alice");

    ok(
        &ctl,
        &["--vhost", "tenant-a", "clear", "vhost-limits", "max-queues"],
    );
    ok(
        &ctl,
        &["--vhost", "tenant-a", "declare", "queue", "alice.r"],
    );
    ok(
        &ctl,
        &["clear", "user-limits", "--user", "alice", "max-channels"],
    );
    ok(&ctl, &["--vhost", "tenant-a", "clear", "policy", "ttl"]);
    assert_eq!(
        json(&ctl, &["--vhost", "tenant-a", "list", "policies"]),
        serde_json::json!([])
    );
    ok(
        &ctl,
        &[
            "--vhost",
            "tenant-a",
            "clear",
            "permissions",
            "--user",
            "alice",
        ],
    );
    assert!(
        broker
            .connect_as("alice", "s3cret", "tenant-a")
            .await
            .is_err(),
        "permissions cleared"
    );
    assert_eq!(
        ok(&ctl, &["delete", "user", "alice"]),
        "deleted user 'alice'\n"
    );
    assert_error(&run(&as_alice, &["status"]), 77, "alice");
    ok(&ctl, &["delete", "vhost", "tenant-a"]);
    assert_error(
        &run(&ctl, &["delete", "vhost", "tenant-a"]),
        66,
        "vhost 'tenant-a' not found",
    );
}

//! warrenctl against a live Warren: `status`, the error exits, and listings that follow
//! real AMQP traffic, including closing a connection.
//! Each test starts its own broker (see `live/mod.rs`).

mod common;
mod live;

use common::{assert_error, closed_port, Ctl};
use futures_util::StreamExt;
use lapin::options::BasicQosOptions;
use live::*;
use warren_testkit::{basic, closed_with, watch, WAIT};

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

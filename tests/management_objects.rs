//! Queues, exchanges and bindings through the management API: declare, show, list with
//! RabbitMQ's pagination, sorting, filters and columns, delete; URL-encoded vhost
//! names; depth, consumers and message rates that follow real AMQP traffic; bad input
//! answered with RabbitMQ's status and reason while the broker keeps serving.

use std::time::Duration;

use lapin::options::{BasicAckOptions, BasicQosOptions};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warren_broker::definitions::{PermissionDef, VHostDef};
use warren_testkit::basic::publish_numbered;
use warren_testkit::http::Api;
use warren_testkit::{eventually, TestBroker, WAIT};

async fn fast_rates() -> TestBroker {
    TestBroker::start_with(|c| c.stats_interval = Duration::from_millis(100)).await
}

fn admin(broker: &TestBroker) -> Api {
    Api::new(&broker.management_url(), "guest", "guest")
}

#[tokio::test]
async fn a_queue_is_declared_shown_and_deleted_with_rabbitmqs_status_codes() {
    let broker = TestBroker::start().await;
    let api = admin(&broker);
    let body = r#"{"durable": true, "auto_delete": false, "arguments": {"x-max-length": 10}}"#;
    assert_eq!(api.put("/api/queues/%2F/orders", body).await.status, 201);
    assert_eq!(api.put("/api/queues/%2F/orders", body).await.status, 204);
    let inequivalent = api
        .put("/api/queues/%2F/orders", r#"{"durable": false}"#)
        .await;
    assert_eq!(inequivalent.status, 400);
    assert_eq!(inequivalent.json()["error"], "bad_request");
    assert!(
        inequivalent.json()["reason"]
            .as_str()
            .unwrap()
            .contains("inequivalent arg 'durable'"),
        "{}",
        inequivalent.body
    );
    let q = api.get("/api/queues/%2F/orders").await.json();
    for (key, want) in [
        ("name", Value::from("orders")),
        ("vhost", Value::from("/")),
        ("type", Value::from("classic")),
        ("durable", Value::from(true)),
        ("exclusive", Value::from(false)),
        ("state", Value::from("running")),
        ("messages", Value::from(0)),
        ("consumers", Value::from(0)),
    ] {
        assert_eq!(q[key], want, "{key}");
    }
    assert_eq!(q["arguments"]["x-max-length"], 10);
    assert_eq!(q["effective_policy_definition"], serde_json::json!({}));
    assert!(q["idle_since"].is_string(), "an unused queue is idle");
    assert!(q["message_stats"]["publish_details"]["rate"].is_number());
    assert_eq!(api.delete("/api/queues/%2F/orders").await.status, 204);
    let gone = api.get("/api/queues/%2F/orders").await;
    assert_eq!(gone.status, 404);
    assert_eq!(
        gone.json(),
        serde_json::json!({"error": "Object Not Found", "reason": "Not Found"})
    );
    assert_eq!(api.delete("/api/queues/%2F/orders").await.status, 404);
    assert_eq!(api.get("/api/queues/no-such-vhost").await.status, 404);
}

#[tokio::test]
async fn depth_consumers_and_rates_follow_amqp_traffic() {
    let broker = fast_rates().await;
    let api = admin(&broker);
    let (_conn, ch) = broker.channel().await;
    warren_testkit::basic::declare(&ch, "tasks").await;
    // A rate needs a sample of the queue before the traffic to compare with.
    tokio::time::sleep(Duration::from_millis(250)).await;
    publish_numbered(&ch, "tasks", 30).await;
    ch.basic_qos(10, BasicQosOptions::default()).await.unwrap();
    let consumer = warren_testkit::basic::consume(&ch, "tasks", "worker-1").await;
    let settled = eventually(WAIT, || async {
        let q = api.get("/api/queues/%2F/tasks").await.json();
        q["messages_unacknowledged"] == 10 && q["messages_ready"] == 20
    })
    .await;
    assert!(settled, "prefetch 10: 10 unacked, 20 ready");
    let q = api.get("/api/queues/%2F/tasks").await.json();
    assert_eq!(q["messages"], 30);
    assert_eq!(q["consumers"], 1);
    assert_eq!(q["message_stats"]["publish"], 30);
    assert_eq!(q["message_stats"]["deliver"], 10);
    assert!(q["message_bytes_unacknowledged"].as_u64().unwrap() > 0);
    let details = q["consumer_details"].as_array().unwrap();
    assert_eq!(details.len(), 1);
    assert_eq!(details[0]["consumer_tag"], "worker-1");
    assert_eq!(details[0]["prefetch_count"], 10);
    assert_eq!(details[0]["ack_required"], true);
    assert!(details[0]["channel_details"]["connection_name"]
        .as_str()
        .unwrap()
        .contains(" -> "));
    assert!(
        q.get("idle_since").is_none(),
        "a consumed queue is not idle"
    );
    // Acknowledge everything; the ack counter and its rate move.
    let mut consumer = consumer;
    for _ in 0..30 {
        let d = warren_testkit::next_delivery(&mut consumer).await;
        d.ack(BasicAckOptions::default()).await.unwrap();
    }
    let rated = eventually(WAIT, || async {
        let q = api.get("/api/queues/%2F/tasks").await.json();
        q["message_stats"]["ack"] == 30
            && q["message_stats"]["ack_details"]["rate"].as_f64().unwrap() > 0.0
    })
    .await;
    let q = api.get("/api/queues/%2F/tasks").await.json();
    assert!(rated, "30 acks counted with a rate: {}", q["message_stats"]);
    let overview = api.get("/api/overview").await.json();
    assert!(overview["message_stats"]["publish"].as_u64().unwrap() >= 30);
    assert_eq!(overview["object_totals"]["consumers"], 1);
    assert_eq!(overview["object_totals"]["connections"], 1);
    assert_eq!(overview["queue_totals"]["messages"], 0);
}

#[tokio::test]
async fn lists_page_sort_filter_and_trim_as_rabbitmq_does() {
    let broker = TestBroker::start().await;
    let api = admin(&broker);
    for name in ["q1", "q2", "q3", "q4", "q5"] {
        assert_eq!(
            api.put(&format!("/api/queues/%2F/{name}"), "{}")
                .await
                .status,
            201
        );
    }
    let (_conn, ch) = broker.channel().await;
    publish_numbered(&ch, "q4", 3).await;
    let page = api.get("/api/queues?page=2&page_size=2").await.json();
    assert_eq!(page["page"], 2);
    assert_eq!(page["page_count"], 3);
    assert_eq!(page["item_count"], 2);
    assert_eq!(page["total_count"], 5);
    assert_eq!(page["filtered_count"], 5);
    assert_eq!(page["items"][0]["name"], "q3");
    let bad = api.get("/api/queues?page=0").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"], "invalid_pagination_parameters");
    let filtered = api
        .get("/api/queues?page=1&name=%5Eq%5B12%5D%24&use_regex=true")
        .await
        .json();
    assert_eq!(filtered["filtered_count"], 2);
    let sorted = api
        .get("/api/queues?sort=messages&sort_reverse=true&columns=name,messages")
        .await
        .json();
    assert_eq!(sorted[0], serde_json::json!({"name": "q4", "messages": 3}));
    assert_eq!(sorted.as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn vhost_names_are_url_encoded() {
    let broker = TestBroker::start().await;
    let api = admin(&broker);
    let vhost = "team a/prod";
    broker
        .broker()
        .create_vhost(&VHostDef {
            name: vhost.into(),
            ..VHostDef::default()
        })
        .unwrap()
        .committed()
        .await
        .unwrap();
    broker
        .broker()
        .set_permissions(&PermissionDef {
            user: "guest".into(),
            vhost: vhost.into(),
            configure: ".*".into(),
            write: ".*".into(),
            read: ".*".into(),
        })
        .unwrap()
        .committed()
        .await
        .unwrap();
    let path = "/api/queues/team%20a%2Fprod/q%2Fwith%20slash";
    assert_eq!(api.put(path, "{}").await.status, 201);
    let q = api.get(path).await.json();
    assert_eq!(q["vhost"], vhost);
    assert_eq!(q["name"], "q/with slash");
    let v = api.get("/api/vhosts/team%20a%2Fprod").await.json();
    assert_eq!(v["name"], vhost);
}

#[tokio::test]
async fn exchanges_and_bindings_round_trip_with_their_properties_key() {
    let broker = TestBroker::start().await;
    let api = admin(&broker);
    assert_eq!(
        api.put(
            "/api/exchanges/%2F/events",
            r#"{"type": "topic", "durable": true}"#
        )
        .await
        .status,
        201
    );
    let no_type = api.put("/api/exchanges/%2F/events2", "{}").await;
    assert_eq!(no_type.status, 201, "RabbitMQ declares a direct exchange");
    assert_eq!(
        api.get("/api/exchanges/%2F/events2").await.json()["type"],
        "direct"
    );
    let long = format!("/api/exchanges/%2F/{}", "x".repeat(256));
    assert_eq!(api.put(&long, "{}").await.status, 400);
    assert_eq!(api.put("/api/queues/%2F/audit", "{}").await.status, 201);
    let created = api
        .post(
            "/api/bindings/%2F/e/events/q/audit",
            r#"{"routing_key": "order.*", "arguments": {"x-match": "all"}}"#,
        )
        .await;
    assert_eq!(created.status, 201);
    let location = created.header("location").unwrap().to_owned();
    assert!(location.starts_with("audit/order.%252A~"), "{location}");
    assert_eq!(
        api.get(&format!("/api/bindings/%2F/e/events/q/{location}"))
            .await
            .status,
        200,
        "Location can be followed"
    );
    let between = api.get("/api/bindings/%2F/e/events/q/audit").await.json();
    let props_key = between[0]["properties_key"].as_str().unwrap().to_owned();
    assert!(
        props_key.starts_with("order.%2A~"),
        "the key percent-encoded as RabbitMQ shows it: {props_key}"
    );
    let source = api
        .get("/api/exchanges/%2F/events/bindings/source")
        .await
        .json();
    assert_eq!(source[0]["destination"], "audit");
    let queue_bindings = api.get("/api/queues/%2F/audit/bindings").await.json();
    assert_eq!(
        queue_bindings.as_array().unwrap().len(),
        2,
        "default + events"
    );
    assert_eq!(queue_bindings[0]["source"], "");
    let listed = api.get("/api/exchanges/%2F").await.json();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"") && names.contains(&"amq.topic") && names.contains(&"events"));
    let encoded = props_key.replace('%', "%25");
    let one = format!("/api/bindings/%2F/e/events/q/audit/{encoded}");
    assert_eq!(api.get(&one).await.status, 200);
    assert_eq!(api.delete(&one).await.status, 204);
    assert_eq!(api.get(&one).await.status, 404);
    assert_eq!(
        api.post("/api/bindings/%2F/e/nope/q/audit", "{}")
            .await
            .status,
        404
    );
    assert_eq!(api.delete("/api/exchanges/%2F/events").await.status, 204);
    assert_eq!(api.get("/api/exchanges/%2F/events").await.status, 404);
}

#[tokio::test]
async fn bad_bodies_get_400_and_the_broker_keeps_serving() {
    let broker = TestBroker::start().await;
    let api = admin(&broker);
    let not_json = api.put("/api/queues/%2F/q", "{durable").await;
    assert_eq!(not_json.status, 400);
    assert_eq!(
        not_json.json(),
        serde_json::json!({"error": "bad_request", "reason": "not_json"})
    );
    let wrong_type = api
        .put("/api/queues/%2F/q", r#"{"durable": "maybe"}"#)
        .await;
    assert_eq!(wrong_type.status, 400);
    let bad_arg = api
        .put(
            "/api/queues/%2F/q",
            r#"{"arguments": {"x-max-length": "ten"}}"#,
        )
        .await;
    assert_eq!(bad_arg.status, 400);
    let bad_ack = api
        .post(
            "/api/queues/%2F/q/get",
            r#"{"count": 1, "ackmode": "maybe"}"#,
        )
        .await;
    assert_eq!(bad_ack.status, 400);
    let unknown_route = api.get("/api/no-such-thing").await;
    assert_eq!(unknown_route.status, 404);
    let wrong_method = api.delete("/api/overview").await;
    assert_eq!(wrong_method.status, 405);
    // Still serving HTTP and AMQP.
    assert_eq!(api.put("/api/queues/%2F/q", "{}").await.status, 201);
    let (_conn, ch) = broker.channel().await;
    publish_numbered(&ch, "q", 1).await;
    warren_testkit::wait_depth(&ch, "q", 1).await;
}

#[tokio::test]
async fn only_stored_messages_count_as_persistent() {
    let broker = TestBroker::start().await;
    let api = admin(&broker);
    assert_eq!(
        api.put("/api/queues/%2F/mixed", r#"{"durable": true}"#)
            .await
            .status,
        201
    );
    for mode in [1, 2] {
        let body = serde_json::json!({
            "properties": {"delivery_mode": mode},
            "routing_key": "mixed",
            "payload": "12345",
            "payload_encoding": "string",
        });
        let published = api
            .post("/api/exchanges/%2F/amq.default/publish", &body.to_string())
            .await;
        assert_eq!(published.status, 200);
    }
    let q = api.get("/api/queues/%2F/mixed").await.json();
    assert_eq!(q["messages"], 2);
    assert_eq!(
        q["messages_persistent"], 1,
        "only delivery_mode 2 is stored"
    );
    assert_eq!(q["message_bytes_persistent"], 5);
    let taken = api
        .post(
            "/api/queues/%2F/mixed/get",
            r#"{"count": 2, "ackmode": "ack_requeue_false", "encoding": "auto"}"#,
        )
        .await;
    assert_eq!(taken.status, 200);
    let q = api.get("/api/queues/%2F/mixed").await.json();
    assert_eq!(
        (q["messages_persistent"].clone(), q["messages"].clone()),
        (0.into(), 0.into())
    );
}

#[tokio::test]
async fn request_bodies_and_connections_are_bounded() {
    let broker = TestBroker::start_with(|c| {
        c.limits.http_max_body_bytes = 1024;
        c.limits.http_max_connections = 1;
        c.limits.http_idle_timeout = Duration::from_millis(300);
    })
    .await;
    let api = admin(&broker);
    let big = format!(r#"{{"arguments": {{"x-note": "{}"}}}}"#, "x".repeat(2048));
    let too_big = api.put("/api/queues/%2F/big", &big).await;
    assert_eq!(too_big.status, 413);
    assert_eq!(
        too_big.json()["error"],
        "payload_too_large",
        "{}",
        too_big.body
    );
    assert_eq!(api.put("/api/queues/%2F/small", "{}").await.status, 201);
    // A client that sends half a request holds the only slot: others wait, until the
    // idle timeout closes it.
    let host = broker
        .management_url()
        .trim_start_matches("http://")
        .to_owned();
    let mut slow = tokio::net::TcpStream::connect(&host).await.unwrap();
    slow.write_all(b"GET /api/overview HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let waiting = tokio::time::timeout(Duration::from_millis(150), api.get("/api/overview")).await;
    assert!(waiting.is_err(), "no slot while the slow client holds it");
    let served = tokio::time::timeout(WAIT, api.get("/api/overview")).await;
    assert_eq!(
        served
            .expect("served once the slow client timed out")
            .status,
        200
    );
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest).await;
    assert!(
        rest.is_empty(),
        "the slow client got no answer, only a close"
    );
}

#[tokio::test]
async fn one_address_cannot_hold_every_connection() {
    let broker = TestBroker::start_with(|c| c.limits.http_max_connections_per_ip = 2).await;
    let host = broker
        .management_url()
        .trim_start_matches("http://")
        .to_owned();
    let _a = tokio::net::TcpStream::connect(&host).await.unwrap();
    let _b = tokio::net::TcpStream::connect(&host).await.unwrap();
    let mut third = tokio::net::TcpStream::connect(&host).await.unwrap();
    let _ = third
        .write_all(b"GET /api/overview HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(WAIT, third.read_to_end(&mut answer)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "the third connection from one address is closed unanswered: {answer:?}"
    );
}

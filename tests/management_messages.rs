//! Messages and clients through the management API: publish (routed or not), get with
//! each ackmode and encoding, purge, dead-letter replay and move, connections, channels
//! and consumers as clients see them, closing a connection with a reason, and the
//! health checks.

use lapin::options::{BasicQosOptions, BasicRejectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use serde_json::{json, Value};
use warren_broker::MemoryWatermark;
use warren_testkit::basic::{consume, declare, publish, publish_numbered};
use warren_testkit::http::Api;
use warren_testkit::raw::RawClient;
use warren_testkit::{depth, eventually, next_delivery, wait_depth, TestBroker, WAIT};

fn admin(broker: &TestBroker) -> Api {
    Api::new(&broker.management_url(), "guest", "guest")
}

fn publish_body(key: &str, payload: &str) -> String {
    json!({
        "properties": {"delivery_mode": 2, "headers": {"h": 1}},
        "routing_key": key,
        "payload": payload,
        "payload_encoding": "string",
    })
    .to_string()
}

fn get_body(count: usize, ackmode: &str, encoding: &str) -> String {
    json!({"count": count, "ackmode": ackmode, "encoding": encoding, "truncate": 50000}).to_string()
}

#[tokio::test]
async fn publish_and_get_behave_as_rabbitmqs() {
    let broker = TestBroker::start().await;
    let api = admin(&broker);
    assert_eq!(api.put("/api/queues/%2F/inbox", "{}").await.status, 201);
    let routed = api
        .post(
            "/api/exchanges/%2F/amq.default/publish",
            &publish_body("inbox", "one"),
        )
        .await;
    assert_eq!(routed.status, 200);
    assert_eq!(routed.json(), json!({"routed": true}));
    let unrouted = api
        .post(
            "/api/exchanges/%2F/amq.direct/publish",
            &publish_body("nowhere", "x"),
        )
        .await;
    assert_eq!(unrouted.json(), json!({"routed": false}));
    let binary = json!({"properties": {}, "routing_key": "inbox", "payload": "/w==", "payload_encoding": "base64"});
    assert_eq!(
        api.post(
            "/api/exchanges/%2F/amq.default/publish",
            &binary.to_string()
        )
        .await
        .json(),
        json!({"routed": true})
    );
    assert_eq!(
        api.post("/api/exchanges/%2F/nope/publish", &publish_body("k", "x"))
            .await
            .status,
        404
    );
    // Peek: both come back, and stay.
    let peek = api
        .post(
            "/api/queues/%2F/inbox/get",
            &get_body(5, "ack_requeue_true", "auto"),
        )
        .await
        .json();
    assert_eq!(peek.as_array().unwrap().len(), 2);
    assert_eq!(peek[0]["payload"], "one");
    assert_eq!(peek[0]["payload_encoding"], "string");
    assert_eq!(peek[0]["payload_bytes"], 3);
    assert_eq!(peek[0]["properties"]["headers"]["h"], 1);
    assert_eq!(peek[0]["properties"]["delivery_mode"], 2);
    assert_eq!(peek[0]["routing_key"], "inbox");
    assert_eq!(peek[0]["message_count"], 1);
    assert_eq!(peek[1]["payload_encoding"], "base64", "not UTF-8: base64");
    assert_eq!(peek[1]["payload"], "/w==");
    let again = api
        .post(
            "/api/queues/%2F/inbox/get",
            &get_body(1, "ack_requeue_true", "base64"),
        )
        .await
        .json();
    assert_eq!(again[0]["redelivered"], true);
    assert_eq!(again[0]["payload"], "b25l", "base64 asked for");
    // Take one for good.
    let taken = api
        .post(
            "/api/queues/%2F/inbox/get",
            &get_body(1, "ack_requeue_false", "auto"),
        )
        .await
        .json();
    assert_eq!(taken[0]["payload"], "one");
    let (_c, ch) = broker.channel().await;
    wait_depth(&ch, "inbox", 1).await;
    assert_eq!(
        api.delete("/api/queues/%2F/inbox/contents").await.status,
        204
    );
    wait_depth(&ch, "inbox", 0).await;
    assert_eq!(
        api.post(
            "/api/queues/%2F/inbox/get",
            &get_body(1, "ack_requeue_true", "auto")
        )
        .await
        .json(),
        json!([])
    );
}

/// `work` dead-letters rejected messages to `work.dlq` through the default exchange.
async fn dead_letter_three(broker: &TestBroker) -> lapin::Channel {
    let (conn, ch) = broker.channel().await;
    std::mem::forget(conn);
    let mut args = FieldTable::default();
    args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString("".into()),
    );
    args.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString("work.dlq".into()),
    );
    declare(&ch, "work.dlq").await;
    ch.queue_declare("work".into(), QueueDeclareOptions::default(), args)
        .await
        .unwrap();
    publish_numbered(&ch, "work", 3).await;
    let mut c = consume(&ch, "work", "rejecter").await;
    for _ in 0..3 {
        let d = next_delivery(&mut c).await;
        d.reject(BasicRejectOptions { requeue: false })
            .await
            .unwrap();
    }
    wait_depth(&ch, "work.dlq", 3).await;
    ch.basic_cancel("rejecter".into(), Default::default())
        .await
        .unwrap();
    ch
}

#[tokio::test]
async fn replay_moves_dead_letters_back_to_the_queue_they_died_in() {
    let broker = TestBroker::start().await;
    let api = admin(&broker);
    let ch = dead_letter_three(&broker).await;
    let dry = api
        .post(
            "/api/warren/queues/%2F/work.dlq/replay",
            r#"{"dry_run": true}"#,
        )
        .await
        .json();
    assert_eq!(
        dry,
        json!({"moved": 3, "skipped": 0, "dry_run": true, "destinations": {"work": 3}})
    );
    assert_eq!(depth(&ch, "work.dlq").await, 3, "a dry run changes nothing");
    let one = api
        .post("/api/warren/queues/%2F/work.dlq/replay", r#"{"limit": 1}"#)
        .await
        .json();
    assert_eq!(one["moved"], 1);
    wait_depth(&ch, "work", 1).await;
    let rest = api
        .post("/api/warren/queues/%2F/work.dlq/replay", "{}")
        .await
        .json();
    assert_eq!(rest["moved"], 2);
    assert_eq!(rest["destinations"], json!({"work": 2}));
    wait_depth(&ch, "work", 3).await;
    wait_depth(&ch, "work.dlq", 0).await;
    // A message that never died stays where it is.
    publish(&ch, "work.dlq", b"never died").await;
    let skipped = api
        .post("/api/warren/queues/%2F/work.dlq/replay", "{}")
        .await
        .json();
    assert_eq!(
        (skipped["moved"].clone(), skipped["skipped"].clone()),
        (json!(0), json!(1))
    );
    wait_depth(&ch, "work.dlq", 1).await;
    assert_eq!(
        api.post("/api/warren/queues/%2F/nope/replay", "{}")
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn move_sends_everything_to_one_queue() {
    let broker = TestBroker::start().await;
    let api = admin(&broker);
    let (_c, ch) = broker.channel().await;
    declare(&ch, "from").await;
    declare(&ch, "to").await;
    publish_numbered(&ch, "from", 5).await;
    let moved = api
        .post(
            "/api/warren/queues/%2F/from/move",
            r#"{"to": "to", "limit": 4}"#,
        )
        .await
        .json();
    assert_eq!(moved["moved"], 4);
    wait_depth(&ch, "to", 4).await;
    wait_depth(&ch, "from", 1).await;
    let bodies = warren_testkit::drain_bodies(&ch, "to").await;
    let want: Vec<Vec<u8>> = (0..4).map(|i| format!("m{i}").into_bytes()).collect();
    assert_eq!(bodies, want, "in order");
    let missing = api
        .post("/api/warren/queues/%2F/from/move", r#"{"to": "nope"}"#)
        .await;
    assert_eq!(missing.status, 404);
    let no_to = api.post("/api/warren/queues/%2F/from/move", "{}").await;
    assert_eq!(no_to.status, 400);
}

#[tokio::test]
async fn connections_channels_and_consumers_are_listed_and_a_connection_can_be_closed() {
    let broker = TestBroker::start().await;
    let api = admin(&broker);
    let (conn, ch) = broker.channel().await;
    declare(&ch, "jobs").await;
    ch.basic_qos(7, BasicQosOptions::default()).await.unwrap();
    let _consumer = consume(&ch, "jobs", "c-1").await;
    let listed = eventually(WAIT, || async {
        api.get("/api/channels").await.json()[0]["consumer_count"] == 1
    })
    .await;
    assert!(listed, "the channel shows its consumer");
    let conns = api.get("/api/connections").await.json();
    assert_eq!(conns.as_array().unwrap().len(), 1);
    let c = &conns[0];
    assert_eq!(c["user"], "guest");
    assert_eq!(c["vhost"], "/");
    assert_eq!(c["protocol"], "AMQP 0-9-1");
    assert_eq!(c["auth_mechanism"], "PLAIN");
    assert_eq!(c["channels"], 1);
    assert_eq!(c["client_properties"]["product"], "lapin");
    assert!(c["recv_oct"].as_u64().unwrap() > 0);
    let name = c["name"].as_str().unwrap().to_owned();
    assert!(name.ends_with(&format!("-> {}", broker.addr)), "{name}");
    let channel = &api.get("/api/channels").await.json()[0];
    assert_eq!(channel["prefetch_count"], 7);
    assert_eq!(channel["number"], 1);
    assert_eq!(channel["connection_details"]["name"], name.as_str());
    let consumers = api.get("/api/consumers/%2F").await.json();
    assert_eq!(consumers[0]["consumer_tag"], "c-1");
    assert_eq!(consumers[0]["queue"], json!({"name": "jobs", "vhost": "/"}));
    let encoded = name.replace(' ', "%20").replace('>', "%3E");
    assert_eq!(
        api.get(&format!("/api/connections/{encoded}")).await.status,
        200
    );
    assert_eq!(
        api.get(&format!("/api/connections/{encoded}/channels"))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Closing: the client gets 320 with the reason given.
    let mut raw = RawClient::open_in(broker.addr, "/").await;
    let raw_name = loop {
        let all = api.get("/api/connections").await.json();
        let other = all
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .find(|n| *n != name);
        if let Some(n) = other {
            break n;
        }
    };
    let path = format!(
        "/api/connections/{}",
        raw_name.replace(' ', "%20").replace('>', "%3E")
    );
    let closed = api
        .request("DELETE", &path, None, &[("X-Reason", "maintenance window")])
        .await;
    assert_eq!(closed.status, 204);
    assert_eq!(
        raw.expect_connection_close().await,
        (320, "CONNECTION_FORCED - maintenance window".into(), 0, 0)
    );
    assert!(conn.status().connected(), "the other connection stays");
    let gone = eventually(WAIT, || async { api.get(&path).await.status == 404 }).await;
    assert!(gone, "the closed connection leaves the list");
    assert_eq!(api.delete(&path).await.status, 404);
}

#[tokio::test]
async fn health_checks_report_alarms_listeners_and_aliveness() {
    let broker =
        TestBroker::start_with(|c| c.limits.memory_high_watermark = MemoryWatermark::Off).await;
    let api = admin(&broker);
    assert_eq!(
        api.get("/api/health/checks/alarms").await.json(),
        json!({"status": "ok"})
    );
    broker.memory_alarm().set(true);
    let alarmed = api.get("/api/health/checks/alarms").await;
    assert_eq!(alarmed.status, 503);
    let body = alarmed.json();
    assert_eq!(body["status"], "failed");
    assert_eq!(body["alarms"][0]["resource"], "memory");
    assert_eq!(api.get("/api/health/checks/local-alarms").await.status, 503);
    broker.memory_alarm().set(false);
    let port = broker.addr.port();
    let ok = api
        .get(&format!("/api/health/checks/port-listener/{port}"))
        .await;
    assert_eq!(ok.json(), json!({"status": "ok", "port": port}));
    let missing = api.get("/api/health/checks/port-listener/1").await;
    assert_eq!(missing.status, 503);
    assert_eq!(missing.json()["missing"], 1);
    assert_eq!(
        api.get("/api/health/checks/virtual-hosts").await.json(),
        json!({"status": "ok"})
    );
    assert_eq!(
        api.get("/api/aliveness-test/%2F").await.json(),
        json!({"status": "ok"})
    );
    assert_eq!(api.get("/api/aliveness-test/nope").await.status, 404);
    let overview: Value = api.get("/api/overview").await.json();
    let listeners = overview["listeners"].as_array().unwrap();
    assert!(listeners
        .iter()
        .any(|l| l["protocol"] == "amqp" && l["port"] == port));
    assert!(listeners.iter().any(|l| l["protocol"] == "http"));
}

#[tokio::test]
async fn http_publish_and_get_keep_amqps_access_rules() {
    use warren_broker::access::User;
    use warren_broker::definitions::{PermissionDef, TopicPermissionDef};
    let broker = TestBroker::start().await;
    let b = broker.broker();
    b.put_user(User::with_password("pub", "pw", vec!["management".into()]))
        .unwrap()
        .committed()
        .await
        .unwrap();
    b.set_permissions(&PermissionDef {
        user: "pub".into(),
        vhost: "/".into(),
        configure: ".*".into(),
        write: ".*".into(),
        read: ".*".into(),
    })
    .unwrap()
    .committed()
    .await
    .unwrap();
    b.set_topic_permissions(&TopicPermissionDef {
        user: "pub".into(),
        vhost: "/".into(),
        exchange: "amq.topic".into(),
        write: "^allowed$".into(),
        read: ".*".into(),
    })
    .unwrap()
    .committed()
    .await
    .unwrap();
    let api = Api::new(&broker.management_url(), "pub", "pw");
    let denied = api
        .post(
            "/api/exchanges/%2F/amq.topic/publish",
            &publish_body("denied", "x"),
        )
        .await;
    assert_eq!(denied.status, 400);
    assert_eq!(
        denied.json()["reason"],
        "403 ACCESS_REFUSED - access to topic 'denied' in exchange 'amq.topic' in vhost '/' refused for user 'pub'"
    );
    let allowed = api
        .post(
            "/api/exchanges/%2F/amq.topic/publish",
            &publish_body("allowed", "x"),
        )
        .await;
    assert_eq!(allowed.status, 200);
    let admin = admin(&broker);
    assert_eq!(
        admin
            .put(
                "/api/exchanges/%2F/hidden",
                r#"{"type": "fanout", "internal": true}"#
            )
            .await
            .status,
        201
    );
    let internal = admin
        .post("/api/exchanges/%2F/hidden/publish", &publish_body("", "x"))
        .await;
    assert_eq!(internal.status, 400);
    assert!(internal.json()["reason"]
        .as_str()
        .unwrap()
        .contains("cannot publish to internal exchange 'hidden'"));
    // Another connection's exclusive queue: not for the API to take from.
    let (_conn, ch) = broker.channel().await;
    ch.queue_declare(
        "mine".into(),
        QueueDeclareOptions {
            exclusive: true,
            ..QueueDeclareOptions::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    publish(&ch, "mine", b"private").await;
    let locked = admin
        .post(
            "/api/queues/%2F/mine/get",
            &get_body(1, "ack_requeue_false", "auto"),
        )
        .await;
    assert_eq!(locked.status, 400);
    assert!(locked.json()["reason"]
        .as_str()
        .unwrap()
        .starts_with("RESOURCE_LOCKED"));
    assert_eq!(
        admin.delete("/api/queues/%2F/mine/contents").await.status,
        400
    );
    wait_depth(&ch, "mine", 1).await;
}

//! Administration through the management API, each change checked where it matters:
//! users and permissions by logging in over AMQP, policies by a queue's effective
//! definition, limits by what they refuse, definitions by a round trip, topology as code
//! (`/api/warren/apply`: plan, apply, idempotence, prune, TOML), and a replay of durable
//! dead letters that survives a restart.

use serde_json::json;
use warren_testkit::basic::declare;
use warren_testkit::http::Api;
use warren_testkit::{reply, wait_depth, TestBroker};

fn admin(broker: &TestBroker) -> Api {
    Api::new(&broker.management_url(), "guest", "guest")
}

#[tokio::test]
async fn users_vhosts_and_permissions_decide_who_connects() {
    let broker = TestBroker::start().await;
    let api = admin(&broker);
    assert_eq!(
        api.put("/api/vhosts/shop", r#"{"description": "the shop"}"#)
            .await
            .status,
        201
    );
    assert_eq!(
        api.put("/api/vhosts/shop", r#"{"description": "the shop"}"#)
            .await
            .status,
        204
    );
    assert_eq!(
        api.get("/api/vhosts/shop").await.json()["description"],
        "the shop"
    );
    let user = r#"{"password": "s3cret", "tags": "management"}"#;
    assert_eq!(api.put("/api/users/ann", user).await.status, 201);
    let shown = api.get("/api/users/ann").await.json();
    assert_eq!(shown["tags"], json!(["management"]));
    assert_eq!(shown["hashing_algorithm"], "rabbit_password_hashing_sha256");
    assert_eq!(
        api.put("/api/users/bad", r#"{"tags": ""}"#).await.status,
        400,
        "a user needs a password or a hash"
    );
    let refused = broker
        .connect_as("ann", "s3cret", "shop")
        .await
        .unwrap_err();
    assert_eq!(
        reply(&refused).map(|r| r.0),
        Some(530),
        "no permissions yet"
    );
    let perms = r#"{"configure": ".*", "write": ".*", "read": ".*"}"#;
    assert_eq!(
        api.put("/api/permissions/shop/ann", perms).await.status,
        201
    );
    assert_eq!(
        api.put("/api/permissions/shop/ann", perms).await.status,
        204
    );
    assert_eq!(
        api.put("/api/permissions/shop/nobody", perms).await.status,
        404
    );
    let conn = broker
        .connect_as("ann", "s3cret", "shop")
        .await
        .expect("ann connects");
    conn.close(200, "bye".into()).await.unwrap();
    let listed = api.get("/api/permissions").await.json();
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["user"] == "ann" && p["vhost"] == "shop"));
    let in_shop = api.get("/api/vhosts/shop/permissions").await.json();
    let users: Vec<&str> = in_shop
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["user"].as_str().unwrap())
        .collect();
    assert_eq!(
        users,
        ["ann", "guest"],
        "the vhost's creator got full permissions too"
    );
    assert_eq!(api.delete("/api/permissions/shop/ann").await.status, 204);
    assert!(broker.connect_as("ann", "s3cret", "shop").await.is_err());
    assert_eq!(api.delete("/api/users/ann").await.status, 204);
    assert_eq!(api.get("/api/users/ann").await.status, 404);
    assert_eq!(api.delete("/api/vhosts/shop").await.status, 204);
    assert_eq!(api.get("/api/vhosts/shop").await.status, 404);
}

#[tokio::test]
async fn policies_apply_to_queues_and_limits_refuse() {
    let broker = TestBroker::start().await;
    let api = admin(&broker);
    assert_eq!(
        api.put("/api/queues/%2F/orders.new", "{}").await.status,
        201
    );
    let policy = r#"{"pattern": "^orders\\.", "definition": {"max-length": 5}, "apply-to": "queues", "priority": 1}"#;
    assert_eq!(api.put("/api/policies/%2F/cap", policy).await.status, 201);
    let q = api.get("/api/queues/%2F/orders.new").await.json();
    assert_eq!(q["policy"], "cap");
    assert_eq!(q["effective_policy_definition"], json!({"max-length": 5}));
    let shown = api.get("/api/policies/%2F/cap").await.json();
    assert_eq!(shown["apply-to"], "queues");
    assert_eq!(shown["priority"], 1);
    let bad = api
        .put(
            "/api/policies/%2F/broken",
            r#"{"pattern": "(", "definition": {}}"#,
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(api.delete("/api/policies/%2F/cap").await.status, 204);
    assert_eq!(
        api.get("/api/queues/%2F/orders.new").await.json()["policy"],
        json!(null)
    );
    assert_eq!(api.delete("/api/policies/%2F/cap").await.status, 404);
    // vhost limit: max-queues 1 (one exists already).
    assert_eq!(
        api.put("/api/vhost-limits/%2F/max-queues", r#"{"value": 1}"#)
            .await
            .status,
        204
    );
    let limits = api.get("/api/vhost-limits").await.json();
    assert_eq!(limits, json!([{"vhost": "/", "value": {"max-queues": 1}}]));
    let over = api.put("/api/queues/%2F/one-too-many", "{}").await;
    assert_eq!(over.status, 400, "{}", over.body);
    assert_eq!(
        api.delete("/api/vhost-limits/%2F/max-queues").await.status,
        204
    );
    assert_eq!(
        api.put("/api/queues/%2F/one-too-many", "{}").await.status,
        201
    );
    assert_eq!(
        api.put("/api/vhost-limits/%2F/max-queues", r#"{"value": "x"}"#)
            .await
            .status,
        400
    );
    // user limit: max-connections 0 refuses guest's next connection.
    assert_eq!(
        api.put("/api/user-limits/guest/max-connections", r#"{"value": 0}"#)
            .await
            .status,
        204
    );
    assert_eq!(
        api.get("/api/user-limits/guest").await.json(),
        json!([{"user": "guest", "value": {"max-connections": 0}}])
    );
    assert!(broker.connect_as("guest", "guest", "/").await.is_err());
    assert_eq!(
        api.delete("/api/user-limits/guest/max-connections")
            .await
            .status,
        204
    );
    broker
        .connect_as("guest", "guest", "/")
        .await
        .expect("guest connects again");
}

#[tokio::test]
async fn definitions_export_and_import_round_trip() {
    let broker = TestBroker::start().await;
    let api = admin(&broker);
    assert_eq!(
        api.put("/api/queues/%2F/keep", r#"{"durable": true}"#)
            .await
            .status,
        201
    );
    assert_eq!(
        api.put("/api/exchanges/%2F/ex", r#"{"type": "fanout"}"#)
            .await
            .status,
        201
    );
    assert_eq!(
        api.post("/api/bindings/%2F/e/ex/q/keep", "{}").await.status,
        201
    );
    let exported = api.get("/api/definitions").await;
    assert_eq!(exported.status, 200);
    let defs = exported.json();
    assert!(defs["queues"]
        .as_array()
        .unwrap()
        .iter()
        .any(|q| q["name"] == "keep"));
    let per_vhost = api.get("/api/definitions/%2F").await.json();
    let mut sections: Vec<&String> = per_vhost.as_object().unwrap().keys().collect();
    sections.sort();
    assert_eq!(
        sections,
        [
            "bindings",
            "exchanges",
            "parameters",
            "policies",
            "queues",
            "rabbit_version"
        ],
        "a vhost's export has RabbitMQ's sections only"
    );
    let keep = &per_vhost["queues"][0];
    assert_eq!(keep["name"], "keep");
    assert!(
        keep.get("vhost").is_none(),
        "no vhost keys in a vhost's export"
    );
    // ...and it imports back into a vhost.
    assert_eq!(api.delete("/api/queues/%2F/keep").await.status, 204);
    assert_eq!(
        api.post("/api/definitions/%2F", &per_vhost.to_string())
            .await
            .status,
        204
    );
    assert_eq!(api.get("/api/queues/%2F/keep").await.status, 200);
    assert_eq!(api.delete("/api/queues/%2F/keep").await.status, 204);
    assert_eq!(api.delete("/api/exchanges/%2F/ex").await.status, 204);
    assert_eq!(
        api.post("/api/definitions", &exported.body).await.status,
        204
    );
    assert_eq!(api.get("/api/queues/%2F/keep").await.status, 200);
    assert_eq!(
        api.get("/api/bindings/%2F/e/ex/q/keep")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(api.post("/api/definitions", "{nope").await.status, 400);
    let wrong = api
        .post("/api/definitions", r#"{"queues": [{"nme": "x"}]}"#)
        .await;
    assert_eq!(wrong.status, 400);
    assert!(
        wrong.json()["reason"].as_str().unwrap().contains("nme"),
        "{}",
        wrong.body
    );
}

fn changes(v: &serde_json::Value) -> Vec<String> {
    v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {} {}",
                c["change"].as_str().unwrap(),
                c["kind"].as_str().unwrap(),
                c["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn apply_plans_applies_and_prunes_topology() {
    let broker = TestBroker::start().await;
    let api = admin(&broker);
    assert_eq!(api.put("/api/queues/%2F/legacy", "{}").await.status, 201);
    let desired = json!({
        "queues": [{"name": "tasks", "vhost": "/", "durable": true, "arguments": {"x-max-length": 100}}],
        "exchanges": [{"name": "jobs", "vhost": "/", "type": "direct"}],
        "bindings": [{"source": "jobs", "vhost": "/", "destination": "tasks", "destination_type": "queue", "routing_key": "run"}],
        "policies": [{"name": "ttl", "vhost": "/", "pattern": "^tasks$", "definition": {"message-ttl": 60000}}]
    })
    .to_string();
    let plan = api
        .post("/api/warren/apply?dry_run=true", &desired)
        .await
        .json();
    assert_eq!(plan["dry_run"], true);
    let mut planned = changes(&plan);
    planned.sort();
    assert_eq!(
        planned,
        vec![
            "+ binding jobs -> queue tasks (run)",
            "+ exchange jobs",
            "+ policy ttl",
            "+ queue tasks"
        ]
    );
    assert_eq!(
        api.get("/api/queues/%2F/tasks").await.status,
        404,
        "a dry run changes nothing"
    );
    let applied = api.post("/api/warren/apply", &desired).await.json();
    assert_eq!(changes(&applied).len(), 4);
    assert_eq!(
        api.get("/api/queues/%2F/tasks").await.json()["policy"],
        "ttl"
    );
    let again = api.post("/api/warren/apply", &desired).await.json();
    assert!(changes(&again).is_empty(), "idempotent: {again}");
    let pruned = api
        .post("/api/warren/apply?prune=true", &desired)
        .await
        .json();
    assert_eq!(changes(&pruned), vec!["- queue legacy"]);
    assert_eq!(api.get("/api/queues/%2F/legacy").await.status, 404);
    // A queue cannot change its arguments in place: refused, nothing applied.
    let changed = desired.replace("\"x-max-length\":100", "\"x-max-length\":5");
    let refused = api.post("/api/warren/apply", &changed).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.json()["reason"]
        .as_str()
        .unwrap()
        .contains("cannot change in place"));
    let plan = api
        .post("/api/warren/apply?dry_run=true", &changed)
        .await
        .json();
    assert_eq!(changes(&plan), vec!["~ queue tasks"]);
}

#[tokio::test]
async fn apply_reads_a_warren_toml_topology() {
    let broker = TestBroker::start().await;
    let api = admin(&broker);
    let toml = r#"
[[queues]]
name = "emails"

[[exchanges]]
name = "notify"
type = "fanout"

[[bindings]]
source = "notify"
destination = "emails"
"#;
    let reply = api
        .request(
            "POST",
            "/api/warren/apply",
            Some(toml),
            &[("Content-Type", "application/toml")],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(changes(&reply.json()).len(), 3);
    assert_eq!(api.get("/api/queues/%2F/emails").await.status, 200);
    let typo = api
        .request(
            "POST",
            "/api/warren/apply",
            Some("[[queues]]\nnmae = \"x\"\n"),
            &[("Content-Type", "application/toml")],
        )
        .await;
    assert_eq!(typo.status, 400);
    assert!(
        typo.json()["reason"]
            .as_str()
            .unwrap()
            .contains("warren.toml:2"),
        "{}",
        typo.body
    );
}

#[tokio::test]
async fn a_durable_replay_survives_a_restart_without_loss_or_duplicates() {
    let mut broker = TestBroker::start().await;
    let api = admin(&broker);
    for q in ["src", "dst"] {
        assert_eq!(
            api.put(&format!("/api/queues/%2F/{q}"), r#"{"durable": true}"#)
                .await
                .status,
            201
        );
    }
    for i in 0..50 {
        let body = json!({
            "properties": {"delivery_mode": 2},
            "routing_key": "src",
            "payload": format!("m{i}"),
            "payload_encoding": "string",
        });
        let published = api
            .post("/api/exchanges/%2F/amq.default/publish", &body.to_string())
            .await;
        assert_eq!(published.json(), json!({"routed": true}));
    }
    let moved = api
        .post("/api/warren/queues/%2F/src/move", r#"{"to": "dst"}"#)
        .await
        .json();
    assert_eq!(moved["moved"], 50);
    broker.restart().await;
    let (_c, ch) = broker.channel().await;
    declare(&ch, "probe").await;
    wait_depth(&ch, "dst", 50).await;
    wait_depth(&ch, "src", 0).await;
    let bodies = warren_testkit::drain_bodies(&ch, "dst").await;
    let want: Vec<Vec<u8>> = (0..50).map(|i| format!("m{i}").into_bytes()).collect();
    assert_eq!(bodies, want, "each message once, in order");
}

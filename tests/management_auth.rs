//! The management API's login and RabbitMQ's tag rules, over HTTP: no credentials, a
//! wrong password, a user without a management tag, `management` (its own vhosts and
//! connections only), `monitoring` (reads everything), `policymaker` and
//! `administrator`, each with RabbitMQ's status and error body.

use warren_broker::access::User;
use warren_broker::definitions::{PermissionDef, VHostDef};
use warren_testkit::http::Api;
use warren_testkit::TestBroker;

async fn add_user(broker: &TestBroker, name: &str, tags: &[&str]) {
    let tags = tags.iter().map(|t| (*t).to_owned()).collect();
    broker
        .broker()
        .put_user(User::with_password(name, "pw", tags))
        .unwrap()
        .committed()
        .await
        .unwrap();
}

async fn allow(broker: &TestBroker, user: &str, vhost: &str) {
    broker
        .broker()
        .set_permissions(&PermissionDef {
            user: user.into(),
            vhost: vhost.into(),
            configure: ".*".into(),
            write: ".*".into(),
            read: ".*".into(),
        })
        .unwrap()
        .committed()
        .await
        .unwrap();
}

async fn with_other_vhost() -> TestBroker {
    let broker = TestBroker::start().await;
    broker
        .broker()
        .create_vhost(&VHostDef {
            name: "other".into(),
            ..VHostDef::default()
        })
        .unwrap()
        .committed()
        .await
        .unwrap();
    let admin = Api::new(&broker.management_url(), "guest", "guest");
    let refused = admin.put("/api/queues/other/in-other", "{}").await;
    assert_eq!(
        refused.status, 401,
        "administrators too need permissions in a vhost to change it"
    );
    allow(&broker, "guest", "other").await;
    assert_eq!(
        admin.put("/api/queues/%2F/in-default", "{}").await.status,
        201
    );
    assert_eq!(
        admin.put("/api/queues/other/in-other", "{}").await.status,
        201
    );
    broker
}

fn names(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn logins_are_refused_with_rabbitmqs_answers() {
    let broker = TestBroker::start().await;
    let url = broker.management_url();
    let none = Api::anonymous(&url).get("/api/overview").await;
    assert_eq!(none.status, 401);
    assert_eq!(
        none.header("www-authenticate"),
        Some("Basic realm=\"RabbitMQ Management\"")
    );
    let wrong = Api::new(&url, "guest", "nope").get("/api/overview").await;
    assert_eq!(wrong.status, 401);
    assert_eq!(
        wrong.json(),
        serde_json::json!({"error": "not_authorized", "reason": "Login failed"})
    );
    let unknown = Api::new(&url, "nobody", "pw").get("/api/overview").await;
    assert_eq!(unknown.status, 401);
    add_user(&broker, "plain", &[]).await;
    let plain = Api::new(&url, "plain", "pw").get("/api/overview").await;
    assert_eq!(plain.status, 401);
    assert_eq!(plain.json()["reason"], "Not management user");
    let me = Api::new(&url, "guest", "guest").get("/api/whoami").await;
    assert_eq!(me.status, 200);
    assert_eq!(
        me.json(),
        serde_json::json!({"name": "guest", "tags": ["administrator"]})
    );
}

#[tokio::test]
async fn a_management_user_sees_only_its_vhosts_and_cannot_administer() {
    let broker = with_other_vhost().await;
    add_user(&broker, "mgmt", &["management"]).await;
    allow(&broker, "mgmt", "/").await;
    let api = Api::new(&broker.management_url(), "mgmt", "pw");
    let queues = api.get("/api/queues").await;
    assert_eq!(queues.status, 200);
    assert_eq!(names(&queues.json()), vec!["in-default"]);
    let other = api.get("/api/queues/other").await;
    assert_eq!(other.status, 401);
    assert_eq!(
        other.json()["reason"],
        "User not authorised to access virtual host"
    );
    let users = api.get("/api/users").await;
    assert_eq!(users.status, 401);
    assert_eq!(users.json()["reason"], "Not administrator user");
    assert_eq!(api.get("/api/nodes").await.status, 401);
    // It may declare in its own vhost (configure permission), not in another.
    assert_eq!(api.put("/api/queues/%2F/mine", "{}").await.status, 201);
    assert_eq!(api.put("/api/queues/other/mine", "{}").await.status, 401);
    assert_eq!(api.put("/api/vhosts/new", "{}").await.status, 401);
    let vhosts = api.get("/api/vhosts").await.json();
    assert_eq!(names(&vhosts), vec!["/"]);
}

#[tokio::test]
async fn permissions_limit_what_a_management_user_may_change() {
    let broker = TestBroker::start().await;
    add_user(&broker, "narrow", &["management"]).await;
    broker
        .broker()
        .set_permissions(&PermissionDef {
            user: "narrow".into(),
            vhost: "/".into(),
            configure: "^narrow\\.".into(),
            write: "".into(),
            read: "".into(),
        })
        .unwrap()
        .committed()
        .await
        .unwrap();
    let api = Api::new(&broker.management_url(), "narrow", "pw");
    assert_eq!(api.put("/api/queues/%2F/narrow.q", "{}").await.status, 201);
    let refused = api.put("/api/queues/%2F/wide.q", "{}").await;
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.json()["reason"],
        "access to queue 'wide.q' in vhost '/' refused for user 'narrow'"
    );
    let purge = api.delete("/api/queues/%2F/narrow.q/contents").await;
    assert_eq!(purge.status, 401, "purging needs read permission");
}

#[tokio::test]
async fn a_monitoring_user_reads_every_vhost_but_changes_nothing() {
    let broker = with_other_vhost().await;
    add_user(&broker, "mon", &["monitoring"]).await;
    let api = Api::new(&broker.management_url(), "mon", "pw");
    let mut seen = names(&api.get("/api/queues").await.json());
    seen.sort();
    assert_eq!(seen, vec!["in-default", "in-other"]);
    assert_eq!(api.get("/api/nodes").await.status, 200);
    assert_eq!(api.get("/api/health/checks/alarms").await.status, 200);
    assert_eq!(
        api.put("/api/queues/other/x", "{}").await.status,
        401,
        "no permissions in the vhost: no declare"
    );
    assert_eq!(api.get("/api/users").await.status, 401);
}

#[tokio::test]
async fn policies_need_policymaker_and_operator_policies_administrator() {
    let broker = TestBroker::start().await;
    let url = broker.management_url();
    for (user, tags) in [("pm", vec!["policymaker"]), ("mgmt", vec!["management"])] {
        add_user(&broker, user, &tags).await;
        allow(&broker, user, "/").await;
    }
    let policy = r#"{"pattern": "^p\\.", "definition": {"message-ttl": 1000}}"#;
    let refused = Api::new(&url, "mgmt", "pw")
        .put("/api/policies/%2F/ttl", policy)
        .await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.json()["reason"], "Not policymaker user");
    let pm = Api::new(&url, "pm", "pw");
    assert_eq!(pm.put("/api/policies/%2F/ttl", policy).await.status, 201);
    assert_eq!(pm.put("/api/policies/%2F/ttl", policy).await.status, 204);
    assert_eq!(
        pm.put("/api/operator-policies/%2F/cap", policy)
            .await
            .status,
        401
    );
    let admin = Api::new(&url, "guest", "guest");
    assert_eq!(
        admin
            .put("/api/operator-policies/%2F/cap", policy)
            .await
            .status,
        201
    );
}

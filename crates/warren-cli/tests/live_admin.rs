//! warrenctl against a live Warren: users, vhosts, permissions, policies and limits.
//! Each test starts its own broker (see `live/mod.rs`).

mod common;
mod live;

use common::{assert_error, Ctl};
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use live::*;

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

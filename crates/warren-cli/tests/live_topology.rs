//! warrenctl against a live Warren: `apply` (definitions and warren.toml, with prune)
//! and dead-letter `replay` and `move`.
//! Each test starts its own broker (see `live/mod.rs`).

mod common;
mod live;

use common::assert_error;
use lapin::options::BasicRejectOptions;
use live::*;
use warren_testkit::{basic, TestBroker};

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

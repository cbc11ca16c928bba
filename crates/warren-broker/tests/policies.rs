//! Policies and operator policies on a live virtual host, on paused time: applied at
//! once to matching queues and exchanges (no redeclare), to those declared later, and
//! lifted when cleared.

mod support;

use std::sync::Arc;

use serde_json::{json, Value};
use support::*;
use warren_broker::definitions::PolicyDef;
use warren_broker::policy::{Policy, PolicyError};
use warren_broker::vhost::QueueDeclare;
use warren_broker::{PublishOutcome, VHost};
use warren_protocol::{BasicProperties, FieldValue};

fn def(name: &str, pattern: &str, apply_to: &str, priority: i64, definition: Value) -> PolicyDef {
    PolicyDef {
        vhost: "/".into(),
        name: name.into(),
        pattern: pattern.into(),
        apply_to: apply_to.into(),
        definition: definition.as_object().expect("an object").clone(),
        priority,
    }
}

/// Sets policy `name` for queues matching `pattern`.
fn set_policy(v: &VHost, name: &str, pattern: &str, priority: i64, definition: Value) {
    let policy = Policy::from_def(&def(name, pattern, "queues", priority, definition), false)
        .expect("valid policy");
    v.set_policy(policy).expect("policy set");
}

/// Sets operator policy `name` for queues matching `pattern`.
fn set_operator_policy(v: &VHost, name: &str, pattern: &str, definition: Value) {
    let policy = Policy::from_def(&def(name, pattern, "queues", 0, definition), true)
        .expect("valid operator policy");
    v.set_operator_policy(policy).expect("operator policy set");
}

fn send_all(v: &VHost, queue: &str, bodies: &[&str]) {
    for b in bodies {
        assert_eq!(
            send(v, queue, BasicProperties::default(), b),
            PublishOutcome::Enqueued
        );
    }
}

fn exists(v: &VHost, name: &str) -> bool {
    v.queue(name, CONN).is_ok()
}

#[tokio::test(start_paused = true)]
async fn a_max_length_policy_drops_the_head_of_a_live_queue_at_once() {
    let v = vhost();
    let dlq = declare(&v, "dlq", &[]);
    let q = declare(&v, "q", &[]);
    send_all(&v, "q", &["1", "2", "3", "4", "5"]);
    set_policy(
        &v,
        "limit",
        "^q$",
        0,
        json!({"max-length": 2, "dead-letter-exchange": "", "dead-letter-routing-key": "dlq"}),
    );
    assert_eq!(q.message_count(), 2, "dropped without a publish");
    assert_eq!(q.policy_name().as_deref(), Some("limit"));
    assert_eq!(dlq.message_count(), 3, "the dropped head was dead-lettered");
    let (first, _) = dlq.get(true).expect("dead-lettered");
    assert_eq!(body(&first), "1");
    assert_eq!(deaths(&first), [("q".to_owned(), "maxlen".to_owned())]);
    assert_eq!(get_all(&q), ["4", "5"]);
    assert!(
        dlq.policy_name().is_none(),
        "the pattern is searched: ^q$ only"
    );
}

#[tokio::test(start_paused = true)]
async fn without_a_dead_letter_exchange_the_head_is_just_dropped() {
    let v = vhost();
    let other = declare(&v, "other", &[]);
    let q = declare(&v, "q", &[]);
    send_all(&v, "q", &["1", "2", "3"]);
    set_policy(&v, "limit", "^q$", 0, json!({"max-length": 1}));
    assert_eq!(get_all(&q), ["3"]);
    assert_eq!(other.message_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_lowered_limit_with_reject_publish_keeps_the_messages_and_refuses_more() {
    let v = vhost();
    let q = declare(
        &v,
        "q",
        &[("x-overflow", FieldValue::string("reject-publish"))],
    );
    send_all(&v, "q", &["1", "2", "3"]);
    set_policy(&v, "limit", "^q$", 0, json!({"max-length": 1}));
    assert_eq!(q.message_count(), 3, "nothing dropped");
    assert_eq!(
        send(&v, "q", BasicProperties::default(), "4"),
        PublishOutcome::Rejected
    );
    assert_eq!(get_all(&q), ["1", "2", "3"]);
}

#[tokio::test(start_paused = true)]
async fn clearing_the_policy_lifts_the_limit() {
    let v = vhost();
    let q = declare(&v, "q", &[]);
    set_policy(&v, "limit", "^q$", 0, json!({"max-length": 2}));
    send_all(&v, "q", &["1", "2", "3"]);
    assert_eq!(q.message_count(), 2);
    assert!(v.clear_policy("limit"));
    assert!(!v.clear_policy("limit"), "already gone");
    assert!(q.policy_name().is_none());
    assert_eq!(q.args().max_length, None, "back to the declared arguments");
    send_all(&v, "q", &["4", "5", "6"]);
    assert_eq!(get_all(&q), ["2", "3", "4", "5", "6"]);
}

#[tokio::test(start_paused = true)]
async fn a_message_ttl_policy_applies_to_messages_enqueued_after_it() {
    let v = vhost();
    let q = declare(&v, "q", &[]);
    send_all(&v, "q", &["before"]);
    set_policy(&v, "ttl", "^q$", 0, json!({"message-ttl": 1000}));
    send_all(&v, "q", &["after"]);
    advance(999).await;
    assert_eq!(q.message_count(), 2);
    advance(2).await;
    // "after" expired; "before" was stamped without a TTL and stays.
    assert_eq!(get_all(&q), ["before"]);

    let fresh = declare(&v, "q2", &[]);
    set_policy(&v, "ttl2", "^q2$", 0, json!({"message-ttl": 500}));
    send_all(&v, "q2", &["x"]);
    advance(501).await;
    assert_eq!(fresh.message_count(), 0, "expired by the timer");
}

#[tokio::test(start_paused = true)]
async fn an_expires_policy_deletes_an_idle_queue_counting_from_the_policy() {
    let v = vhost();
    declare(&v, "q", &[]);
    advance(60_000).await;
    set_policy(&v, "exp", "^q$", 0, json!({"expires": 1000}));
    advance(999).await;
    assert!(
        exists(&v, "q"),
        "the countdown starts when the policy applies"
    );
    advance(2).await;
    assert!(!exists(&v, "q"), "deleted, idle");
}

#[tokio::test(start_paused = true)]
async fn clearing_an_expires_policy_keeps_the_queue() {
    let v = vhost();
    declare(&v, "q", &[]);
    set_policy(&v, "exp", "^q$", 0, json!({"expires": 1000}));
    advance(500).await;
    assert!(v.clear_policy("exp"));
    advance(5_000).await;
    assert!(exists(&v, "q"));
}

#[tokio::test(start_paused = true)]
async fn the_smaller_of_argument_and_policy_limits_wins() {
    let v = vhost();
    let loose = declare(&v, "loose", &[("x-max-length", FieldValue::I32(10))]);
    let tight = declare(&v, "tight", &[("x-max-length", FieldValue::I32(2))]);
    set_policy(&v, "limit", ".", 0, json!({"max-length": 3}));
    assert_eq!(loose.args().max_length, Some(3), "policy stricter");
    assert_eq!(tight.args().max_length, Some(2), "argument stricter");
    send_all(&v, "loose", &["1", "2", "3", "4", "5"]);
    send_all(&v, "tight", &["1", "2", "3", "4", "5"]);
    assert_eq!(get_all(&loose), ["3", "4", "5"]);
    assert_eq!(get_all(&tight), ["4", "5"]);
    assert_eq!(loose.declared_args().max_length, Some(10));
}

#[tokio::test(start_paused = true)]
async fn declared_dead_lettering_and_overflow_win_over_the_policy() {
    let v = vhost();
    let arg_dlq = declare(&v, "arg-dlq", &[]);
    let pol_dlq = declare(&v, "pol-dlq", &[]);
    let q = declare(
        &v,
        "q",
        &[
            ("x-dead-letter-exchange", FieldValue::string("")),
            ("x-dead-letter-routing-key", FieldValue::string("arg-dlq")),
            ("x-overflow", FieldValue::string("reject-publish")),
        ],
    );
    set_policy(
        &v,
        "p",
        "^q$",
        0,
        json!({"max-length": 1, "overflow": "drop-head",
               "dead-letter-exchange": "", "dead-letter-routing-key": "pol-dlq"}),
    );
    send_all(&v, "q", &["1"]);
    assert_eq!(
        send(&v, "q", BasicProperties::default(), "2"),
        PublishOutcome::Rejected,
        "x-overflow=reject-publish stands"
    );
    let mut c = TestConsumer::attach(&q, "c", 0, false);
    let d = c.take();
    c.discard(d);
    assert_eq!(get_all(&arg_dlq), ["1"], "x-dead-letter-* stand");
    assert_eq!(pol_dlq.message_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_dead_letter_exchange_from_a_policy_takes_the_next_dead_letter() {
    let v = vhost();
    let first = declare(&v, "first", &[]);
    let second = declare(&v, "second", &[]);
    let q = declare(&v, "q", &[]);
    let mut c = TestConsumer::attach(&q, "c", 0, false);
    send_all(&v, "q", &["a", "b"]);
    let mut delivered = c.take();
    let b = delivered.split_off(1);
    set_policy(
        &v,
        "dlx",
        "^q$",
        0,
        json!({"dead-letter-exchange": "", "dead-letter-routing-key": "first"}),
    );
    c.discard(delivered);
    set_policy(
        &v,
        "dlx",
        "^q$",
        0,
        json!({"dead-letter-exchange": "", "dead-letter-routing-key": "second"}),
    );
    c.discard(b);
    assert_eq!(get_all(&first), ["a"]);
    assert_eq!(get_all(&second), ["b"]);
}

#[tokio::test(start_paused = true)]
async fn an_operator_policy_makes_limits_stricter_only() {
    let v = vhost();
    let q = declare(&v, "q", &[]);
    set_policy(
        &v,
        "p",
        "^q$",
        0,
        json!({"max-length": 5, "message-ttl": 1000}),
    );
    set_operator_policy(
        &v,
        "op",
        "^q",
        json!({"max-length": 2, "message-ttl": 60000}),
    );
    assert_eq!(q.args().max_length, Some(2), "operator stricter");
    assert_eq!(q.args().message_ttl_ms, Some(1000), "policy stricter");
    assert_eq!(q.operator_policy_name().as_deref(), Some("op"));
    assert_eq!(
        Value::Object(q.effective_policy_definition()),
        json!({"max-length": 2, "message-ttl": 1000})
    );
    send_all(&v, "q", &["1", "2", "3"]);
    assert_eq!(q.message_count(), 2);
    assert!(v.clear_operator_policy("op"));
    assert_eq!(q.args().max_length, Some(5));
    assert!(q.operator_policy_name().is_none());
    assert_eq!(v.policies().len(), 1);
    assert!(v.operator_policies().is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_operator_policy_alone_applies_and_refuses_other_keys() {
    let v = vhost();
    let q = declare(&v, "q", &[("x-max-length", FieldValue::I32(10))]);
    set_operator_policy(&v, "op", ".*", json!({"max-length": 4}));
    assert_eq!(q.args().max_length, Some(4));
    let refused = Policy::from_def(
        &def(
            "op2",
            ".*",
            "queues",
            0,
            json!({"dead-letter-exchange": "x"}),
        ),
        true,
    )
    .unwrap_err();
    assert!(
        matches!(refused, PolicyError::Unrecognised { .. }),
        "{refused}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_highest_priority_policy_applies_and_changes_take_over_live() {
    let v = vhost();
    let q = declare(&v, "orders", &[]);
    set_policy(&v, "low", "ord", 1, json!({"max-length": 100}));
    set_policy(&v, "high", "^orders$", 5, json!({"max-length": 50}));
    assert_eq!(q.policy_name().as_deref(), Some("high"));
    assert_eq!(q.args().max_length, Some(50));
    set_policy(&v, "low", "ord", 9, json!({"max-length": 100}));
    assert_eq!(q.policy_name().as_deref(), Some("low"));
    assert_eq!(q.args().max_length, Some(100), "only one policy applies");
}

#[tokio::test(start_paused = true)]
async fn a_queue_declared_after_the_policy_gets_it() {
    let v = vhost();
    set_policy(&v, "limit", "^limited\\.", 0, json!({"max-length": 1}));
    let q = declare(&v, "limited.1", &[]);
    let other = declare(&v, "other", &[]);
    assert_eq!(q.policy_name().as_deref(), Some("limit"));
    send_all(&v, "limited.1", &["1", "2", "3"]);
    send_all(&v, "other", &["1", "2", "3"]);
    assert_eq!(get_all(&q), ["3"]);
    assert_eq!(other.message_count(), 3);
    // A redeclaration is compared with the declared arguments, not the effective ones.
    declare(&v, "limited.1", &[]);
}

#[tokio::test(start_paused = true)]
async fn exclusive_queues_get_policies_too() {
    let v = vhost();
    let d = QueueDeclare {
        name: "excl".into(),
        exclusive: true,
        ..QueueDeclare::default()
    };
    let q = applied(v.declare_queue(&d, CONN).expect("declared")).queue;
    set_policy(&v, "limit", "excl", 0, json!({"max-length": 1}));
    assert_eq!(q.args().max_length, Some(1));
}

#[tokio::test(start_paused = true)]
async fn direct_reply_to_queues_get_no_policy() {
    let v = vhost();
    set_policy(&v, "all", ".*", 0, json!({"max-length": 1}));
    let before = v.declare_reply_to_queue(CONN);
    set_policy(&v, "all", ".*", 0, json!({"max-length": 2}));
    let after = v.declare_reply_to_queue(CONN);
    for q in [before, after] {
        assert!(q.policy_name().is_none(), "{}", q.name());
        assert_eq!(q.args().max_length, None);
    }
}

fn unroutable_setup(v: &VHost) -> Arc<warren_broker::Queue> {
    declare_exchange(v, "x", "direct", &[]);
    declare_exchange(v, "ae", "fanout", &[]);
    let unrouted = declare(v, "unrouted", &[]);
    bind(v, "unrouted", "ae", "");
    unrouted
}

fn set_exchange_policy(v: &VHost, name: &str, pattern: &str, definition: Value) {
    let policy = Policy::from_def(&def(name, pattern, "exchanges", 0, definition), false)
        .expect("valid policy");
    v.set_policy(policy).expect("policy set");
}

#[tokio::test(start_paused = true)]
async fn an_alternate_exchange_policy_routes_unroutable_messages_until_cleared() {
    let v = vhost();
    let unrouted = unroutable_setup(&v);
    let props = BasicProperties::default;
    assert!(publish(&v, "x", "nowhere", props(), "0").is_empty());
    set_exchange_policy(&v, "ae", "^x$", json!({"alternate-exchange": "ae"}));
    assert_eq!(
        v.exchange("x").unwrap().policy_name().as_deref(),
        Some("ae")
    );
    assert_eq!(publish(&v, "x", "nowhere", props(), "1").len(), 1);
    assert_eq!(get_all(&unrouted), ["1"]);
    assert!(v.clear_policy("ae"));
    assert!(publish(&v, "x", "nowhere", props(), "2").is_empty());
    assert_eq!(unrouted.message_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn an_alternate_exchange_argument_wins_over_the_policy() {
    let v = vhost();
    let unrouted = unroutable_setup(&v);
    declare_exchange(&v, "ae2", "fanout", &[]);
    let other = declare(&v, "other", &[]);
    bind(&v, "other", "ae2", "");
    declare_exchange(
        &v,
        "y",
        "direct",
        &[("alternate-exchange", FieldValue::string("ae2"))],
    );
    set_exchange_policy(&v, "ae", ".*", json!({"alternate-exchange": "ae"}));
    publish(&v, "y", "nowhere", BasicProperties::default(), "1");
    assert_eq!(get_all(&other), ["1"]);
    assert_eq!(unrouted.message_count(), 0);
    // A standard exchange declared with the vhost gets the policy too.
    publish(&v, "amq.direct", "nowhere", BasicProperties::default(), "2");
    assert_eq!(get_all(&unrouted), ["2"]);
}

#[tokio::test(start_paused = true)]
async fn an_exchange_declared_after_the_policy_gets_it() {
    let v = vhost();
    set_exchange_policy(&v, "ae", "^x$", json!({"alternate-exchange": "ae"}));
    let unrouted = unroutable_setup(&v);
    publish(&v, "x", "nowhere", BasicProperties::default(), "1");
    assert_eq!(get_all(&unrouted), ["1"]);
}

#[tokio::test(start_paused = true)]
async fn a_refused_policy_changes_nothing() {
    let v = vhost();
    let q = declare(&v, "q", &[]);
    set_policy(&v, "p", ".*", 0, json!({"max-length": 5}));
    let bad = Policy::from_def(
        &def("p", ".*", "queues", 0, json!({"max-priority": 5})),
        false,
    );
    assert!(bad.is_err());
    let mut other_vhost = def("p", ".*", "queues", 0, json!({"max-length": 1}));
    other_vhost.vhost = "other".into();
    let e = v
        .set_policy(Policy::from_def(&other_vhost, false).unwrap())
        .unwrap_err();
    assert!(matches!(e, PolicyError::WrongVHost { .. }), "{e}");
    let operator = Policy::from_def(&def("p", ".*", "queues", 0, json!({"max-length": 1})), true);
    let e = v.set_policy(operator.unwrap()).unwrap_err();
    assert!(matches!(e, PolicyError::WrongKind { .. }), "{e}");
    assert_eq!(q.args().max_length, Some(5));
    assert_eq!(v.policy("p").unwrap().definition().max_length, Some(5));
}

#[tokio::test(start_paused = true)]
async fn queue_mode_is_accepted_and_ignored() {
    let v = vhost();
    let q = declare(&v, "q", &[]);
    set_policy(&v, "lazy", ".*", 0, json!({"queue-mode": "lazy"}));
    assert_eq!(q.policy_name().as_deref(), Some("lazy"));
    send_all(&v, "q", &["1"]);
    assert_eq!(get_all(&q), ["1"]);
}

#[tokio::test(start_paused = true)]
async fn a_delivery_limit_policy_dead_letters_past_the_limit() {
    let v = vhost();
    let dlq = declare(&v, "dlq", &[]);
    let q = declare(&v, "q", &[]);
    set_policy(
        &v,
        "limit",
        "^q$",
        0,
        json!({"delivery-limit": 1, "dead-letter-exchange": "", "dead-letter-routing-key": "dlq"}),
    );
    send_all(&v, "q", &["m"]);
    let mut c = TestConsumer::attach(&q, "c", 0, false);
    for _ in 0..2 {
        let d = c.take();
        assert_eq!(d.len(), 1);
        c.requeue(d);
    }
    assert_eq!(get_all(&dlq), ["m"]);
    assert_eq!(q.message_count(), 0);
}

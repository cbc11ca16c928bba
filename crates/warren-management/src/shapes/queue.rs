//! Queue objects (`/api/queues`) and their consumers (`/api/consumers`).

use serde_json::{json, Map, Value};
use warren_broker::queue::{ConsumerSnapshot, QueueSnapshot, QueueType};
use warren_broker::Queue;

use super::{arguments, details, iso_time, stats_object};
use crate::rates::{RateKey, Rates, QUEUE_STATS};

/// Bytes a queue costs beyond its message bodies: a fixed part and one per message
/// (the estimate shown as `memory`).
const QUEUE_OVERHEAD_BYTES: u64 = 2048;
const MESSAGE_OVERHEAD_BYTES: u64 = 160;

/// The queue's type as RabbitMQ names it.
pub fn type_name(q: &Queue) -> &'static str {
    match q.args().queue_type {
        QueueType::Classic => "classic",
        QueueType::Quorum => "quorum",
        QueueType::Stream => "stream",
    }
}

/// How much of the time consumers could take messages at once, as a fraction: 1 when
/// they keep the queue empty, otherwise how much of the publish rate they take.
fn consumer_utilisation(s: &QueueSnapshot, publish_rate: f64, deliver_rate: f64) -> f64 {
    if s.consumers.is_empty() {
        0.0
    } else if s.messages_ready == 0 {
        1.0
    } else if publish_rate > 0.0 {
        (deliver_rate / publish_rate).min(1.0)
    } else {
        0.0
    }
}

/// A queue as `GET /api/queues` lists it.
pub fn queue(q: &Queue, vhost: &str, node: &str, rates: &Rates) -> Value {
    let s = q.snapshot();
    queue_from(q, &s, vhost, node, rates)
}

/// A queue from an already taken snapshot.
pub fn queue_from(q: &Queue, s: &QueueSnapshot, vhost: &str, node: &str, rates: &Rates) -> Value {
    let key_vhost: std::sync::Arc<str> = vhost.into();
    let counter_rates = rates.get(&RateKey::Queue(key_vhost.clone(), q.name().clone()));
    let depth_rates = rates.get(&RateKey::Depth(key_vhost, q.name().clone()));
    let rate_of = |i: usize| {
        counter_rates
            .as_ref()
            .and_then(|r| r.get(i))
            .copied()
            .unwrap_or(0.0)
    };
    let depth_rate = |i: usize| {
        depth_rates
            .as_ref()
            .and_then(|r| r.get(i))
            .copied()
            .unwrap_or(0.0)
    };
    let config = q.config();
    let sac_tag = q
        .declared_args()
        .single_active_consumer
        .then(|| s.consumers.first().map(|c| c.consumer.tag().to_owned()))
        .flatten();
    let exclusive_tag = s
        .consumers
        .iter()
        .find(|c| c.consumer.spec.exclusive)
        .map(|c| c.consumer.tag().to_owned());
    let in_ram_ready = s.messages_ready - s.messages_paged_out;
    let bytes_ram = s.message_bytes() - s.message_bytes_paged_out;
    let memory = QUEUE_OVERHEAD_BYTES
        + (in_ram_ready + s.messages_unacknowledged) * MESSAGE_OVERHEAD_BYTES
        + bytes_ram;
    let stats = stats_object(
        &QUEUE_STATS,
        &crate::rates::queue_values(&s.counters),
        counter_rates.as_deref(),
    );
    let utilisation = consumer_utilisation(s, rate_of(0), rate_of(8));
    let mut out = json!({
        "name": q.name().as_ref(),
        "vhost": vhost,
        "node": node,
        "type": type_name(q),
        "durable": config.durable,
        "auto_delete": config.auto_delete,
        "exclusive": config.exclusive_owner.is_some(),
        "arguments": arguments(&config.arguments),
        "policy": q.policy_name().map(|p| p.to_string()),
        "operator_policy": q.operator_policy_name().map(|p| p.to_string()),
        "effective_policy_definition": Value::Object(q.effective_policy_definition()),
        "state": "running",
        "messages": s.messages(),
        "messages_details": details(depth_rate(0)),
        "messages_ready": s.messages_ready,
        "messages_ready_details": details(depth_rate(1)),
        "messages_unacknowledged": s.messages_unacknowledged,
        "messages_unacknowledged_details": details(depth_rate(2)),
        "messages_ram": in_ram_ready + s.messages_unacknowledged,
        "messages_ready_ram": in_ram_ready,
        "messages_unacknowledged_ram": s.messages_unacknowledged,
        "messages_persistent": s.messages_persistent,
        "messages_paged_out": s.messages_paged_out,
        "message_bytes": s.message_bytes(),
        "message_bytes_ready": s.message_bytes_ready,
        "message_bytes_unacknowledged": s.message_bytes_unacknowledged,
        "message_bytes_ram": bytes_ram,
        "message_bytes_persistent": s.message_bytes_persistent,
        "message_bytes_paged_out": s.message_bytes_paged_out,
        "consumers": s.consumers.len(),
        "consumer_utilisation": utilisation,
        "consumer_capacity": utilisation,
        "memory": memory,
        "head_message_timestamp": s.head_message_timestamp,
        "exclusive_consumer_tag": exclusive_tag,
        "single_active_consumer_tag": sac_tag,
        "recoverable_slaves": null,
        "message_stats": Value::Object(stats),
    });
    if let Some(idle) = s.idle_since_ms {
        out["idle_since"] = iso_time(idle).into();
    }
    out
}

/// A queue with its consumers, as `GET /api/queues/{vhost}/{name}` shows it.
pub fn queue_detail(q: &Queue, vhost: &str, node: &str, rates: &Rates, conns: &ConnNames) -> Value {
    let s = q.snapshot();
    let mut out = queue_from(q, &s, vhost, node, rates);
    let consumers: Vec<Value> = s
        .consumers
        .iter()
        .map(|c| consumer(c, q, vhost, conns, node))
        .collect();
    out["consumer_details"] = Value::Array(consumers);
    out["deliveries"] = json!([]);
    out["incoming"] = json!([]);
    out
}

/// Names and peers of open connections by id, for consumers' `channel_details`.
pub type ConnNames = std::collections::HashMap<u64, ConnName>;

/// What a consumer's `channel_details` says of its connection.
#[derive(Debug, Clone)]
pub struct ConnName {
    /// The connection's name.
    pub name: String,
    /// The client's address.
    pub peer: std::net::SocketAddr,
    /// Its user.
    pub user: String,
}

/// A consumer as `GET /api/consumers` lists it.
pub fn consumer(
    c: &ConsumerSnapshot,
    q: &Queue,
    vhost: &str,
    conns: &ConnNames,
    node: &str,
) -> Value {
    let spec = &c.consumer.spec;
    let mut args = Map::new();
    if spec.priority != 0 {
        args.insert("x-priority".into(), spec.priority.into());
    }
    let channel = match conns.get(&spec.connection) {
        Some(conn) => json!({
            "connection_name": conn.name,
            "name": format!("{} ({})", conn.name, spec.channel_id),
            "node": node,
            "number": spec.channel_id,
            "peer_host": conn.peer.ip().to_string(),
            "peer_port": conn.peer.port(),
            "user": conn.user,
        }),
        None => json!({}),
    };
    json!({
        "consumer_tag": spec.tag.as_ref(),
        "exclusive": spec.exclusive,
        "ack_required": !spec.no_ack,
        "prefetch_count": spec.prefetch,
        "active": c.active,
        "activity_status": if c.active { "up" } else { "waiting" },
        "arguments": Value::Object(args),
        "channel_details": channel,
        "queue": { "name": q.name().as_ref(), "vhost": vhost },
    })
}

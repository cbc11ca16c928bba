//! `/api/overview`, `/api/nodes`, `/api/whoami`, `/api/cluster-name`, `/api/extensions`.

use axum::extract::{Path, Query, State};
use axum::Json;
use serde_json::{json, Value};

use super::{one, Params};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::rates::{message_values, RateKey, DEPTH_STATS, MESSAGE_STATS};
use crate::shapes::{details, stats_object};
use crate::Management;

/// The management API version Warren speaks, reported where RabbitMQ reports its own.
pub const API_VERSION: &str = "3.10.8";

fn exchange_types() -> Value {
    let t = |name: &str, description: &str| json!({"name": name, "description": description, "enabled": true});
    json!([
        t(
            "direct",
            "AMQP direct exchange, as per the AMQP specification"
        ),
        t(
            "fanout",
            "AMQP fanout exchange, as per the AMQP specification"
        ),
        t(
            "headers",
            "AMQP headers exchange, as per the AMQP specification"
        ),
        t(
            "topic",
            "AMQP topic exchange, as per the AMQP specification"
        ),
        t("x-consistent-hash", "Consistent Hashing Exchange"),
        t(
            "x-delayed-message",
            "Delayed message exchange (Warren built-in)"
        ),
        t(
            "x-super-stream",
            "Super stream: partition streams by consistent hash (Warren built-in)"
        ),
    ])
}

fn listeners(state: &Management) -> Vec<Value> {
    let node = state.node_name();
    state
        .node
        .listeners()
        .iter()
        .map(|l| {
            json!({
                "node": node,
                "protocol": l.protocol,
                "ip_address": l.addr.ip().to_string(),
                "port": l.addr.port(),
                "socket_opts": {},
            })
        })
        .collect()
}

fn contexts(state: &Management) -> Vec<Value> {
    let node = state.node_name();
    state
        .node
        .listeners()
        .iter()
        .filter(|l| l.protocol == "http")
        .map(|l| {
            json!({
                "node": node,
                "description": "Warren Management",
                "path": "/",
                "ip": l.addr.ip().to_string(),
                "port": l.addr.port().to_string(),
                "ssl_opts": [],
            })
        })
        .collect()
}

/// GET /api/overview: totals over the vhosts the caller sees.
pub(crate) async fn overview(
    State(state): State<std::sync::Arc<Management>>,
    caller: Caller,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    let broker = &state.broker;
    let (mut queues, mut exchanges, mut consumers) = (0u64, 0u64, 0u64);
    let mut depth = [0u64; 3];
    for vhost in broker.vhosts() {
        if !caller.sees_vhost(vhost.name()) {
            continue;
        }
        exchanges += vhost.exchanges().len() as u64 + 1;
        for q in vhost.queues() {
            queues += 1;
            let s = q.snapshot();
            consumers += s.consumers.len() as u64;
            depth[0] += s.messages();
            depth[1] += s.messages_ready;
            depth[2] += s.messages_unacknowledged;
        }
    }
    let (mut connections, mut channels) = (0u64, 0u64);
    for c in broker.connections().list() {
        if caller.sees_connection_of(&c.info.user) && caller.sees_vhost(&c.info.vhost) {
            connections += 1;
            channels += c.stats.channel_count() as u64;
        }
    }
    let depth_rates = state.rates.get(&RateKey::QueueTotals).unwrap_or_default();
    let mut queue_totals = serde_json::Map::new();
    for (i, name) in DEPTH_STATS.iter().enumerate() {
        queue_totals.insert((*name).to_owned(), depth[i].into());
        queue_totals.insert(
            format!("{name}_details"),
            details(depth_rates.get(i).copied().unwrap_or(0.0)),
        );
    }
    let totals = broker.connections().message_totals();
    let mut message_stats = stats_object(
        &MESSAGE_STATS,
        &message_values(&totals),
        state.rates.get(&RateKey::Broker).as_deref(),
    );
    // RabbitMQ's message store reads and writes; Warren's store is no message store
    // with that split, so these stay 0.
    for key in ["disk_reads", "disk_writes"] {
        message_stats.insert(key.into(), 0.into());
        message_stats.insert(format!("{key}_details"), details(0.0));
    }
    let node = state.node_name();
    let body = json!({
        "management_version": API_VERSION,
        "rates_mode": "basic",
        "sample_retention_policies": {"global": [600], "basic": [600], "detailed": [600]},
        "exchange_types": exchange_types(),
        "product_version": env!("CARGO_PKG_VERSION"),
        "product_name": "Warren",
        "rabbitmq_version": API_VERSION,
        "cluster_name": node,
        "erlang_version": "",
        "erlang_full_version": "",
        "release_series_support_status": "supported",
        "disable_stats": false,
        "enable_queue_totals": false,
        "message_stats": Value::Object(message_stats),
        "churn_rates": churn(&state),
        "queue_totals": Value::Object(queue_totals),
        "object_totals": {
            "channels": channels,
            "connections": connections,
            "consumers": consumers,
            "exchanges": exchanges,
            "queues": queues,
        },
        "statistics_db_event_queue": 0,
        "node": node,
        "listeners": listeners(&state),
        "contexts": contexts(&state),
    });
    one(&params, body)
}

fn churn(state: &Management) -> Value {
    use warren_broker::stats::BrokerTotals;
    let t = state.broker.totals();
    let c = |v: &std::sync::atomic::AtomicU64| BrokerTotals::read(v);
    json!({
        "connection_created": c(&t.connections_opened),
        "connection_created_details": details(0.0),
        "connection_closed": c(&t.connections_closed),
        "connection_closed_details": details(0.0),
        "channel_created": c(&t.channels_opened),
        "channel_created_details": details(0.0),
        "channel_closed": c(&t.channels_closed),
        "channel_closed_details": details(0.0),
        "queue_declared": c(&t.queues_declared),
        "queue_declared_details": details(0.0),
        "queue_created": c(&t.queues_created),
        "queue_created_details": details(0.0),
        "queue_deleted": c(&t.queues_deleted),
        "queue_deleted_details": details(0.0),
    })
}

fn node_object(state: &Management) -> Value {
    let r = state.node.resources();
    let alarms = state.node.alarms();
    let processors = std::thread::available_parallelism().map_or(1, |n| n.get());
    json!({
        "name": state.node_name(),
        "type": "disc",
        "running": true,
        "os_pid": std::process::id().to_string(),
        "mem_used": r.memory_used,
        "mem_used_details": details(0.0),
        "mem_limit": r.memory_limit,
        "mem_alarm": alarms.memory,
        "mem_calculation_strategy": "rss",
        "disk_free": r.disk_free,
        "disk_free_details": details(0.0),
        "disk_free_limit": r.disk_free_limit,
        "disk_free_alarm": alarms.disk,
        "fd_used": r.fds_used,
        "fd_total": r.fds_total,
        "sockets_used": state.broker.connections().list().len(),
        "sockets_total": r.connections_limit,
        "proc_used": 0,
        "proc_total": 0,
        "processors": processors,
        "run_queue": 0,
        "uptime": state.uptime_ms(),
        "rates_mode": "basic",
        "exchange_types": exchange_types(),
        "auth_mechanisms": [
            {"name": "PLAIN", "description": "SASL PLAIN authentication mechanism", "enabled": true},
            {"name": "AMQPLAIN", "description": "QPid AMQPLAIN mechanism", "enabled": true},
        ],
        "applications": [],
        "contexts": contexts(state),
        "listeners": listeners(state),
        "partitions": [],
        "cluster_links": [],
        "enabled_plugins": ["rabbitmq_management", "rabbitmq_prometheus"],
        "being_drained": false,
    })
}

/// GET /api/nodes (monitoring).
pub(crate) async fn nodes(
    State(state): State<std::sync::Arc<Management>>,
    caller: Caller,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    caller.require_monitor()?;
    super::list(&params, vec![node_object(&state)])
}

/// GET /api/nodes/{node}.
pub(crate) async fn node(
    State(state): State<std::sync::Arc<Management>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    caller.require_monitor()?;
    if name != state.node_name() {
        return Err(ApiError::not_found());
    }
    one(&params, node_object(&state))
}

/// GET /api/whoami.
pub(crate) async fn whoami(caller: Caller) -> Json<Value> {
    Json(json!({"name": caller.user.name, "tags": caller.user.tags}))
}

/// GET /api/cluster-name.
pub(crate) async fn cluster_name(
    State(state): State<std::sync::Arc<Management>>,
    _caller: Caller,
) -> Json<Value> {
    Json(json!({"name": state.node_name()}))
}

/// GET /api/extensions: no UI extensions.
pub(crate) async fn extensions(_caller: Caller) -> Json<Value> {
    Json(json!([]))
}

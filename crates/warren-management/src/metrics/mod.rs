//! Prometheus metrics named and labelled as RabbitMQ's `rabbitmq_prometheus` plugin
//! names them, so its dashboards (RabbitMQ-Overview, grafana.com 10991) and alert rules
//! work unchanged:
//!
//! - `GET /metrics`: aggregated; queue metrics are one sum without labels, so the
//!   answer stays small with 10,000 queues;
//! - `GET /metrics/per-object`: the same, with `{vhost, queue}` per queue (no alarms,
//!   as in RabbitMQ);
//! - `GET /metrics/detailed?family=queue_coarse_metrics&family=queue_consumer_count&vhost=V`:
//!   only the families asked for, prefixed `rabbitmq_detailed_`.
//!
//! No authentication, as in RabbitMQ (bind the listener to a trusted interface).

pub mod exposition;

use std::sync::Arc;

use axum::extract::{Query, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use warren_broker::dead_letter::DeathReason;
use warren_broker::stats::BrokerTotals;

use crate::Management;
use exposition::{Exposition, Kind, CONTENT_TYPE};

/// The metrics routes.
pub(crate) fn router(state: Arc<Management>) -> Router {
    Router::new()
        .route("/metrics", get(aggregated))
        .route("/metrics/per-object", get(per_object))
        .route("/metrics/detailed", get(detailed))
        .with_state(state)
}

fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response()
}

/// The queue types RabbitMQ labels per-queue-type counters with (zeros for the two
/// Warren does not have).
const QUEUE_TYPES: [&str; 3] = [
    "rabbit_classic_queue",
    "rabbit_quorum_queue",
    "rabbit_stream_queue",
];
const PROTOCOL: (&str, &str) = ("protocol", "amqp091");

/// One queue's numbers.
struct QueueRow {
    vhost: String,
    name: String,
    ready: u64,
    unacked: u64,
    consumers: u64,
    published: u64,
}

fn queue_rows(state: &Management, only_vhost: Option<&str>) -> Vec<QueueRow> {
    let mut rows = Vec::new();
    for v in state.broker.vhosts() {
        if only_vhost.is_some_and(|o| o != v.name().as_ref()) {
            continue;
        }
        for q in v.queues() {
            let s = q.snapshot();
            rows.push(QueueRow {
                vhost: v.name().to_string(),
                name: q.name().to_string(),
                ready: s.messages_ready,
                unacked: s.messages_unacknowledged,
                consumers: s.consumers.len() as u64,
                published: s.counters.publish,
            });
        }
    }
    rows.sort_by(|a, b| (&a.vhost, &a.name).cmp(&(&b.vhost, &b.name)));
    rows
}

fn info(e: &mut Exposition, state: &Management) {
    let node = state.node_name();
    e.family(
        "rabbitmq_build_info",
        Kind::Untyped,
        "RabbitMQ & Erlang/OTP version info",
    )
    .sample(
        "rabbitmq_build_info",
        &[
            ("rabbitmq_version", crate::api::overview::API_VERSION),
            ("prometheus_plugin_version", env!("CARGO_PKG_VERSION")),
            ("prometheus_client_version", env!("CARGO_PKG_VERSION")),
            ("erlang_version", "none (Warren)"),
        ],
        1,
    );
    e.family(
        "rabbitmq_identity_info",
        Kind::Untyped,
        "RabbitMQ node & cluster identity info",
    )
    .sample(
        "rabbitmq_identity_info",
        &[
            ("rabbitmq_node", &node),
            ("rabbitmq_cluster", &node),
            ("rabbitmq_cluster_permanent_id", &format!("warren-{node}")),
        ],
        1,
    );
}

/// The node-wide families: objects, resources, churn, global message counters.
fn node_families(e: &mut Exposition, state: &Management) {
    let broker = &state.broker;
    let conns = broker.connections().list();
    let channels: usize = conns.iter().map(|c| c.stats.channel_count()).sum();
    let channel_consumers: u64 = conns
        .iter()
        .flat_map(|c| c.stats.channels())
        .map(|(_, ch)| u64::from(ch.consumers.load(std::sync::atomic::Ordering::Relaxed)))
        .sum();
    let (mut queues, mut consumers) = (0u64, 0u64);
    for v in broker.vhosts() {
        for q in v.queues() {
            queues += 1;
            consumers += u64::from(q.consumer_count());
        }
    }
    let r = state.node.resources();
    e.single(
        "rabbitmq_connections",
        Kind::Gauge,
        "Connections currently open",
        conns.len() as u64,
    );
    e.single(
        "rabbitmq_channels",
        Kind::Gauge,
        "Channels currently open",
        channels as u64,
    );
    e.single(
        "rabbitmq_consumers",
        Kind::Gauge,
        "Consumers currently connected",
        consumers,
    );
    e.single(
        "rabbitmq_channel_consumers",
        Kind::Gauge,
        "Consumers on a channel",
        channel_consumers,
    );
    e.single("rabbitmq_queues", Kind::Gauge, "Queues available", queues);
    e.single(
        "rabbitmq_process_resident_memory_bytes",
        Kind::Gauge,
        "Memory used in bytes",
        r.memory_used,
    );
    e.single(
        "rabbitmq_resident_memory_limit_bytes",
        Kind::Gauge,
        "Memory high watermark in bytes",
        r.memory_limit,
    );
    e.single(
        "rabbitmq_disk_space_available_bytes",
        Kind::Gauge,
        "Disk space available in bytes",
        r.disk_free,
    );
    e.single(
        "rabbitmq_disk_space_available_limit_bytes",
        Kind::Gauge,
        "Free disk space low watermark in bytes",
        r.disk_free_limit,
    );
    e.single(
        "rabbitmq_process_open_fds",
        Kind::Gauge,
        "Open file descriptors",
        r.fds_used,
    );
    e.single(
        "rabbitmq_process_max_fds",
        Kind::Gauge,
        "Open file descriptors limit",
        r.fds_total,
    );
    e.single(
        "rabbitmq_process_open_tcp_sockets",
        Kind::Gauge,
        "Open TCP sockets",
        conns.len() as u64,
    );
    e.single(
        "rabbitmq_process_max_tcp_sockets",
        Kind::Gauge,
        "Open TCP sockets limit",
        r.connections_limit,
    );
    let t = broker.totals();
    let read = BrokerTotals::read;
    e.single(
        "rabbitmq_connections_opened_total",
        Kind::Counter,
        "Total number of connections opened",
        read(&t.connections_opened),
    );
    e.single(
        "rabbitmq_connections_closed_total",
        Kind::Counter,
        "Total number of connections closed or terminated",
        read(&t.connections_closed),
    );
    e.single(
        "rabbitmq_channels_opened_total",
        Kind::Counter,
        "Total number of channels opened",
        read(&t.channels_opened),
    );
    e.single(
        "rabbitmq_channels_closed_total",
        Kind::Counter,
        "Total number of channels closed",
        read(&t.channels_closed),
    );
    e.single(
        "rabbitmq_queues_declared_total",
        Kind::Counter,
        "Total number of queues declared",
        read(&t.queues_declared),
    );
    e.single(
        "rabbitmq_queues_created_total",
        Kind::Counter,
        "Total number of queues created",
        read(&t.queues_created),
    );
    e.single(
        "rabbitmq_queues_deleted_total",
        Kind::Counter,
        "Total number of queues deleted",
        read(&t.queues_deleted),
    );
    global_counters(e, state);
}

fn global_counters(e: &mut Exposition, state: &Management) {
    let m = state.broker.connections().message_totals();
    let publish_side: [(&str, &str, u64); 6] = [
        ("rabbitmq_global_messages_received_total", "Total number of messages received from publishers", m.publish),
        ("rabbitmq_global_messages_received_confirm_total", "Total number of messages received from publishers expecting confirmations", m.publish_confirm),
        ("rabbitmq_global_messages_routed_total", "Total number of messages routed to queues or streams", m.routed),
        ("rabbitmq_global_messages_unroutable_dropped_total", "Total number of messages published as non-mandatory into an exchange and dropped as unroutable", m.drop_unroutable),
        ("rabbitmq_global_messages_unroutable_returned_total", "Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable", m.return_unroutable),
        ("rabbitmq_global_messages_confirmed_total", "Total number of messages confirmed to publishers", m.confirm),
    ];
    for (name, help, value) in publish_side {
        e.family(name, Kind::Counter, help)
            .sample(name, &[PROTOCOL], value);
    }
    let per_queue_type: [(&str, &str, u64); 8] = [
        ("rabbitmq_global_messages_delivered_total", "Total number of messages delivered to consumers", m.deliver_get()),
        ("rabbitmq_global_messages_delivered_consume_manual_ack_total", "Total number of messages delivered to consumers using basic.consume with manual acknowledgment", m.deliver),
        ("rabbitmq_global_messages_delivered_consume_auto_ack_total", "Total number of messages delivered to consumers using basic.consume with automatic acknowledgment", m.deliver_no_ack),
        ("rabbitmq_global_messages_delivered_get_manual_ack_total", "Total number of messages delivered to consumers using basic.get with manual acknowledgment", m.get),
        ("rabbitmq_global_messages_delivered_get_auto_ack_total", "Total number of messages delivered to consumers using basic.get with automatic acknowledgment", m.get_no_ack),
        ("rabbitmq_global_messages_get_empty_total", "Total number of times basic.get operations fetched no message", m.get_empty),
        ("rabbitmq_global_messages_redelivered_total", "Total number of messages redelivered to consumers", m.redeliver),
        ("rabbitmq_global_messages_acknowledged_total", "Total number of messages acknowledged by consumers", m.ack),
    ];
    for (name, help, value) in per_queue_type {
        e.family(name, Kind::Counter, help);
        for (i, qt) in QUEUE_TYPES.iter().enumerate() {
            e.sample(
                name,
                &[PROTOCOL, ("queue_type", qt)],
                if i == 0 { value } else { 0 },
            );
        }
    }
    let dead = &state.broker.totals().dead_lettered;
    let reasons: [(&str, &str, DeathReason); 4] = [
        ("rabbitmq_global_messages_dead_lettered_expired_total", "Total number of messages dead-lettered due to message TTL exceeded", DeathReason::Expired),
        ("rabbitmq_global_messages_dead_lettered_rejected_total", "Total number of messages dead-lettered due to basic.reject or basic.nack", DeathReason::Rejected),
        ("rabbitmq_global_messages_dead_lettered_maxlen_total", "Total number of messages dead-lettered due to overflow drop-head or reject-publish-dlx", DeathReason::Maxlen),
        ("rabbitmq_global_messages_dead_lettered_delivery_limit_total", "Total number of messages dead-lettered due to delivery-limit exceeded", DeathReason::DeliveryLimit),
    ];
    for (name, help, reason) in reasons {
        e.family(name, Kind::Counter, help);
        for (strategy, to_exchange) in [("at_most_once", true), ("disabled", false)] {
            e.sample(
                name,
                &[
                    ("queue_type", QUEUE_TYPES[0]),
                    ("dead_letter_strategy", strategy),
                ],
                dead.get(reason, to_exchange),
            );
        }
    }
}

fn alarms(e: &mut Exposition, state: &Management) {
    let a = state.node.alarms();
    e.single(
        "rabbitmq_alarms_file_descriptor_limit",
        Kind::Untyped,
        "is 1 if file descriptor limit alarm is in effect",
        0,
    );
    e.single(
        "rabbitmq_alarms_free_disk_space_watermark",
        Kind::Untyped,
        "is 1 if free disk space watermark alarm is in effect",
        u64::from(a.disk),
    );
    e.single(
        "rabbitmq_alarms_memory_used_watermark",
        Kind::Untyped,
        "is 1 if VM memory watermark alarm is in effect",
        u64::from(a.memory),
    );
}

const QUEUE_FAMILIES: [(&str, &str); 4] = [
    (
        "rabbitmq_queue_messages_ready",
        "Messages ready to be delivered to consumers",
    ),
    (
        "rabbitmq_queue_messages_unacked",
        "Messages delivered to consumers but not yet acknowledged",
    ),
    (
        "rabbitmq_queue_messages",
        "Sum of ready and unacknowledged messages - total queue depth",
    ),
    ("rabbitmq_queue_consumers", "Consumers on a queue"),
];

fn row_values(r: &QueueRow) -> [u64; 4] {
    [r.ready, r.unacked, r.ready + r.unacked, r.consumers]
}

fn queue_families(e: &mut Exposition, rows: &[QueueRow], per_object: bool) {
    for (i, (name, help)) in QUEUE_FAMILIES.iter().enumerate() {
        e.family(name, Kind::Gauge, help);
        if per_object {
            for r in rows {
                e.sample(
                    name,
                    &[("vhost", &r.vhost), ("queue", &r.name)],
                    row_values(r)[i],
                );
            }
        } else {
            e.sample(name, &[], rows.iter().map(|r| row_values(r)[i]).sum());
        }
    }
    let name = "rabbitmq_queue_messages_published_total";
    e.family(
        name,
        Kind::Counter,
        "Total number of messages published to queues",
    );
    if per_object {
        for r in rows {
            e.sample(
                name,
                &[("vhost", &r.vhost), ("queue", &r.name)],
                r.published,
            );
        }
    } else {
        e.sample(name, &[], rows.iter().map(|r| r.published).sum());
    }
}

async fn scrape(state: Arc<Management>, per_object: bool) -> Response {
    let body = tokio::task::spawn_blocking(move || {
        let mut e = Exposition::default();
        if !per_object {
            alarms(&mut e, &state);
        }
        info(&mut e, &state);
        node_families(&mut e, &state);
        queue_families(&mut e, &queue_rows(&state, None), per_object);
        e.finish()
    })
    .await
    .unwrap_or_default();
    text(body)
}

/// GET /metrics.
async fn aggregated(State(state): State<Arc<Management>>) -> Response {
    scrape(state, false).await
}

/// GET /metrics/per-object.
async fn per_object(State(state): State<Arc<Management>>) -> Response {
    scrape(state, true).await
}

/// GET /metrics/detailed?family=...&vhost=...
async fn detailed(State(state): State<Arc<Management>>, RawQuery(query): RawQuery) -> Response {
    let pairs: Vec<(String, String)> = query
        .as_deref()
        .map(|q| {
            Query::<Vec<(String, String)>>::try_from_uri(
                &format!("/?{q}").parse().unwrap_or_default(),
            )
            .map(|Query(p)| p)
            .unwrap_or_default()
        })
        .unwrap_or_default();
    let families: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "family")
        .map(|(_, v)| v.clone())
        .collect();
    let vhosts: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "vhost")
        .map(|(_, v)| v.clone())
        .collect();
    let body = tokio::task::spawn_blocking(move || {
        let mut e = Exposition::default();
        info(&mut e, &state);
        let mut rows = queue_rows(&state, None);
        if !vhosts.is_empty() {
            rows.retain(|r| vhosts.contains(&r.vhost));
        }
        let detailed =
            |e: &mut Exposition, name: &str, help: &str, value: &dyn Fn(&QueueRow) -> u64| {
                let full = format!("rabbitmq_detailed_{name}");
                e.family(&full, Kind::Gauge, help);
                for r in &rows {
                    e.sample(&full, &[("vhost", &r.vhost), ("queue", &r.name)], value(r));
                }
            };
        if families.iter().any(|f| f == "queue_coarse_metrics") {
            detailed(&mut e, "queue_messages_ready", QUEUE_FAMILIES[0].1, &|r| {
                r.ready
            });
            detailed(
                &mut e,
                "queue_messages_unacked",
                QUEUE_FAMILIES[1].1,
                &|r| r.unacked,
            );
            detailed(&mut e, "queue_messages", QUEUE_FAMILIES[2].1, &|r| {
                r.ready + r.unacked
            });
        }
        if families.iter().any(|f| f == "queue_consumer_count") {
            detailed(&mut e, "queue_consumers", QUEUE_FAMILIES[3].1, &|r| {
                r.consumers
            });
        }
        e.finish()
    })
    .await
    .unwrap_or_default();
    text(body)
}

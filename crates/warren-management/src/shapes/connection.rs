//! Connection and channel objects (`/api/connections`, `/api/channels`).

use std::sync::atomic::Ordering;

use serde_json::{json, Value};
use warren_broker::connections::ConnectionEntry;
use warren_broker::stats::ChannelStats;

use super::{arguments, details, stats_object};
use crate::rates::{message_values, RateKey, Rates, MESSAGE_STATS};

/// A connection as `GET /api/connections` lists it.
pub fn connection(c: &ConnectionEntry, node: &str, rates: &Rates) -> Value {
    let info = &c.info;
    let d = &info.details;
    let stats = &c.stats;
    let octets = rates.get(&RateKey::Octets(info.id)).unwrap_or_default();
    let local = d.local;
    json!({
        "name": d.name,
        "node": node,
        "type": "network",
        "protocol": "AMQP 0-9-1",
        "state": "running",
        "user": info.user,
        "user_who_performed_action": info.user,
        "vhost": info.vhost,
        "auth_mechanism": d.auth_mechanism,
        "client_properties": arguments(&d.client_properties),
        "user_provided_name": d.user_provided_name(),
        "connected_at": info.connected_at_ms,
        "channel_max": d.channel_max,
        "frame_max": d.frame_max,
        "timeout": d.heartbeat_secs,
        "channels": stats.channel_count(),
        "host": local.map(|a| a.ip().to_string()),
        "port": local.map(|a| a.port()),
        "peer_host": info.peer.ip().to_string(),
        "peer_port": info.peer.port(),
        "ssl": d.tls.is_some(),
        "peer_cert_issuer": d.tls.as_ref().and_then(|t| t.peer_cert_issuer.clone()),
        "peer_cert_subject": d.tls.as_ref().and_then(|t| t.peer_cert_subject.clone()),
        "peer_cert_validity": null,
        "ssl_cipher": d.tls.as_ref().map(|t| t.cipher.clone()),
        "ssl_hash": null,
        "ssl_key_exchange": null,
        "ssl_protocol": d.tls.as_ref().map(|t| t.protocol.clone()),
        "recv_oct": stats.recv_oct.get(),
        "recv_oct_details": details(octets.first().copied().unwrap_or(0.0)),
        "recv_cnt": stats.recv_cnt.get(),
        "send_oct": stats.send_oct.get(),
        "send_oct_details": details(octets.get(1).copied().unwrap_or(0.0)),
        "send_cnt": stats.send_cnt.get(),
        "send_pend": 0,
    })
}

/// A channel as `GET /api/channels` lists it.
pub fn channel(
    conn: &ConnectionEntry,
    number: u16,
    ch: &ChannelStats,
    node: &str,
    rates: &Rates,
) -> Value {
    let info = &conn.info;
    let name = &info.details.name;
    let counters = ch.counters.totals();
    let channel_rates = rates.get(&RateKey::Channel(info.id, number));
    let transactional = ch.transactional.load(Ordering::Relaxed);
    json!({
        "name": format!("{name} ({number})"),
        "node": node,
        "number": number,
        "user": info.user,
        "user_who_performed_action": info.user,
        "vhost": info.vhost,
        "state": "running",
        "confirm": ch.confirm.load(Ordering::Relaxed),
        "transactional": transactional,
        "prefetch_count": ch.prefetch_count.load(Ordering::Relaxed),
        "global_prefetch_count": ch.global_prefetch_count.load(Ordering::Relaxed),
        "consumer_count": ch.consumers.load(Ordering::Relaxed),
        "messages_unacknowledged": ChannelStats::read(&ch.unacknowledged),
        "messages_unconfirmed": ChannelStats::read(&ch.unconfirmed),
        "messages_uncommitted": 0,
        "acks_uncommitted": 0,
        "pending_raft_commands": 0,
        "connection_details": {
            "name": name,
            "peer_host": info.peer.ip().to_string(),
            "peer_port": info.peer.port(),
        },
        "message_stats": Value::Object(stats_object(
            &MESSAGE_STATS,
            &message_values(&counters),
            channel_rates.as_deref(),
        )),
    })
}

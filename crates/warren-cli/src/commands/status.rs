//! `status` / `overview`: what the broker is and how it is doing, from
//! `GET /api/overview` and `GET /api/health/checks/alarms`.

use serde_json::{json, Value};

use super::Ctx;
use crate::client::Subject;
use crate::encode;
use crate::error::Result;
use crate::format::cell::{lookup, plain};
use crate::format::{human, table, tsv, Format};
use crate::output;

/// Runs `status`.
pub fn run(ctx: &Ctx) -> Result<()> {
    let overview_path = encode::api_path(&["overview"]);
    let overview = ctx
        .client
        .get_json(&overview_path, &Subject::api(&overview_path))?;
    let alarms_path = encode::api_path(&["health", "checks", "alarms"]);
    // 503 is the check failing: its body lists the alarms in effect.
    let (_, alarms) =
        ctx.client
            .get_json_allowing(&alarms_path, 503, &Subject::api(&alarms_path))?;
    match ctx.format {
        Format::Json => output::print_json(&json!({"overview": overview, "alarms": alarms})),
        Format::Tsv => {
            let rows: Vec<Vec<String>> = summary(&overview, &alarms)
                .into_iter()
                .map(|(k, v)| vec![k, v])
                .collect();
            output::print(&tsv::render(&["field".into(), "value".into()], &rows))
        }
        Format::Table => output::print(&table::render_pairs(&summary(&overview, &alarms))),
    }
}

/// The overview as (field, value) pairs in display order.
pub fn summary(overview: &Value, alarms: &Value) -> Vec<(String, String)> {
    let text = |path: &str| lookup(overview, path).map(plain).unwrap_or_default();
    let num = |path: &str| {
        lookup(overview, path)
            .and_then(Value::as_f64)
            .map(human::count)
            .unwrap_or_else(|| "-".into())
    };
    let rate = |name: &str| {
        lookup(overview, &format!("message_stats.{name}_details.rate"))
            .and_then(Value::as_f64)
            .map(human::rate)
            .unwrap_or_else(|| "-".into())
    };
    let product = match lookup(overview, "product_name") {
        Some(p) => format!("{} {}", plain(p), text("product_version")),
        None => format!("RabbitMQ {}", text("rabbitmq_version")),
    };
    let mut out = vec![
        ("product".to_string(), product.trim().to_string()),
        ("management".into(), text("management_version")),
        ("node".into(), text("node")),
        ("cluster".into(), text("cluster_name")),
    ];
    for l in lookup(overview, "listeners")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let ip = lookup(l, "ip_address").map(plain).unwrap_or_default();
        let host = if ip.contains(':') {
            format!("[{ip}]")
        } else {
            ip
        };
        out.push((
            format!(
                "listener.{}",
                lookup(l, "protocol").map(plain).unwrap_or_default()
            ),
            format!(
                "{host}:{}",
                lookup(l, "port").map(plain).unwrap_or_default()
            ),
        ));
    }
    for key in [
        "connections",
        "channels",
        "exchanges",
        "queues",
        "consumers",
    ] {
        out.push((
            format!("objects.{key}"),
            num(&format!("object_totals.{key}")),
        ));
    }
    out.push(("messages.total".into(), num("queue_totals.messages")));
    out.push(("messages.ready".into(), num("queue_totals.messages_ready")));
    out.push((
        "messages.unacked".into(),
        num("queue_totals.messages_unacknowledged"),
    ));
    for (label, stat) in [
        ("publish", "publish"),
        ("confirm", "confirm"),
        ("deliver", "deliver_get"),
        ("redeliver", "redeliver"),
        ("ack", "ack"),
        ("unroutable", "return_unroutable"),
    ] {
        out.push((format!("rates.{label}"), rate(stat)));
    }
    out.push(("alarms".into(), describe_alarms(alarms)));
    out
}

/// `none`, or each alarm as `memory on rabbit@host`.
pub fn describe_alarms(alarms: &Value) -> String {
    if lookup(alarms, "status").map(plain).as_deref() == Some("ok") {
        return "none".into();
    }
    let list: Vec<String> = lookup(alarms, "alarms")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|a| {
            let resource = lookup(a, "resource").map(plain).unwrap_or_default();
            match lookup(a, "node").map(plain) {
                Some(node) => format!("{resource} on {node}"),
                None => resource,
            }
        })
        .collect();
    if list.is_empty() {
        lookup(alarms, "reason")
            .map(plain)
            .unwrap_or_else(|| "unknown".into())
    } else {
        list.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overview_summary_reads_the_rabbitmq_shape() {
        let overview = json!({
            "product_name": "RabbitMQ", "product_version": "3.10.8",
            "management_version": "3.10.8", "node": "rabbit@h", "cluster_name": "c",
            "listeners": [
                {"protocol": "amqp", "ip_address": "127.0.0.1", "port": 5673},
                {"protocol": "clustering", "ip_address": "::", "port": 25673}
            ],
            "object_totals": {"queues": 13, "connections": 1, "channels": 2, "exchanges": 53, "consumers": 1},
            "queue_totals": {"messages": 70, "messages_ready": 60, "messages_unacknowledged": 10},
            "message_stats": {"publish_details": {"rate": 1.8}}
        });
        let s = summary(&overview, &json!({"status": "ok"}));
        let get = |k: &str| s.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("product"), Some("RabbitMQ 3.10.8"));
        assert_eq!(get("listener.amqp"), Some("127.0.0.1:5673"));
        assert_eq!(get("listener.clustering"), Some("[::]:25673"));
        assert_eq!(get("objects.queues"), Some("13"));
        assert_eq!(get("messages.unacked"), Some("10"));
        assert_eq!(get("rates.publish"), Some("1.8/s"));
        assert_eq!(get("rates.ack"), Some("-"));
        assert_eq!(get("alarms"), Some("none"));
    }

    #[test]
    fn alarms_name_resource_and_node() {
        let failed = json!({"status": "failed", "reason": "resource alarm(s) in effect",
            "alarms": [{"node": "rabbit@h", "resource": "disk"}]});
        assert_eq!(describe_alarms(&failed), "disk on rabbit@h");
        assert_eq!(
            describe_alarms(&json!({"status": "failed", "reason": "r"})),
            "r"
        );
    }
}

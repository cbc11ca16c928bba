//! Prometheus metrics as `rabbitmq_prometheus` serves them: the text exposition parses,
//! every metric the committed Grafana dashboard uses is there, values move with AMQP
//! traffic, per-queue series carry `{vhost, queue}` only under `/metrics/per-object`,
//! `/metrics/detailed` serves the families asked for, and a separate Prometheus
//! listener serves the same.

use std::collections::HashMap;

use lapin::options::{BasicAckOptions, ConfirmSelectOptions};
use lapin::BasicProperties;
use warren_testkit::basic::{consume, declare};
use warren_testkit::http::Api;
use warren_testkit::{next_delivery, publish_confirmed, TestBroker};

/// Every metric the community RabbitMQ-Overview dashboard (grafana.com 10991, as of
/// RabbitMQ 3.10.8) queries; see docs/rabbitmqadmin-compat.md.
const COMMUNITY_DASHBOARD: &[&str] = &[
    "rabbitmq_build_info",
    "rabbitmq_channel_consumers",
    "rabbitmq_channels",
    "rabbitmq_channels_closed_total",
    "rabbitmq_channels_opened_total",
    "rabbitmq_connections",
    "rabbitmq_connections_closed_total",
    "rabbitmq_connections_opened_total",
    "rabbitmq_consumers",
    "rabbitmq_disk_space_available_bytes",
    "rabbitmq_global_messages_acknowledged_total",
    "rabbitmq_global_messages_confirmed_total",
    "rabbitmq_global_messages_delivered_consume_auto_ack_total",
    "rabbitmq_global_messages_delivered_consume_manual_ack_total",
    "rabbitmq_global_messages_delivered_get_auto_ack_total",
    "rabbitmq_global_messages_delivered_get_manual_ack_total",
    "rabbitmq_global_messages_get_empty_total",
    "rabbitmq_global_messages_received_confirm_total",
    "rabbitmq_global_messages_received_total",
    "rabbitmq_global_messages_redelivered_total",
    "rabbitmq_global_messages_routed_total",
    "rabbitmq_global_messages_unroutable_dropped_total",
    "rabbitmq_global_messages_unroutable_returned_total",
    "rabbitmq_identity_info",
    "rabbitmq_process_max_fds",
    "rabbitmq_process_max_tcp_sockets",
    "rabbitmq_process_open_fds",
    "rabbitmq_process_open_tcp_sockets",
    "rabbitmq_process_resident_memory_bytes",
    "rabbitmq_queue_messages_ready",
    "rabbitmq_queue_messages_unacked",
    "rabbitmq_queues",
    "rabbitmq_queues_created_total",
    "rabbitmq_queues_declared_total",
    "rabbitmq_queues_deleted_total",
    "rabbitmq_resident_memory_limit_bytes",
];

/// Samples by series (`name{labels}`), with the `# TYPE` of each family.
struct Exposition {
    samples: HashMap<String, u64>,
    types: HashMap<String, String>,
}

fn parse(text: &str) -> Exposition {
    let mut samples = HashMap::new();
    let mut types = HashMap::new();
    let mut last_type: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            types.insert(name.to_owned(), kind.to_owned());
            last_type = Some(name.to_owned());
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap();
            assert_eq!(
                last_type.as_deref(),
                Some(name),
                "TYPE comes before HELP: {line}"
            );
        } else if !line.is_empty() {
            let (series, value) = line.rsplit_once(' ').expect("series value");
            let value: u64 = value
                .parse()
                .unwrap_or_else(|_| panic!("integral value: {line}"));
            let name = series.split('{').next().unwrap();
            assert!(
                types.contains_key(name),
                "a sample of a declared family: {line}"
            );
            samples.insert(series.to_owned(), value);
        }
    }
    Exposition { samples, types }
}

impl Exposition {
    fn get(&self, series: &str) -> u64 {
        *self
            .samples
            .get(series)
            .unwrap_or_else(|| panic!("no series {series}"))
    }
}

async fn scrape(api: &Api, path: &str) -> Exposition {
    let reply = api.get(path).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4")
    );
    parse(&reply.body)
}

#[tokio::test]
async fn metrics_carry_the_dashboards_names_and_move_with_traffic() {
    let broker = TestBroker::start().await;
    let api = Api::anonymous(&broker.management_url());
    let before = scrape(&api, "/metrics").await;
    let dashboard = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/grafana/metric-names.txt"
    ))
    .unwrap();
    for name in dashboard
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        assert!(
            before.types.contains_key(name),
            "the dashboard's {name} is served"
        );
    }
    for name in COMMUNITY_DASHBOARD {
        assert!(
            before.types.contains_key(*name),
            "RabbitMQ-Overview (10991) uses {name}"
        );
    }
    assert_eq!(
        before.types["rabbitmq_alarms_memory_used_watermark"],
        "untyped"
    );
    assert_eq!(
        before.types["rabbitmq_global_messages_received_total"],
        "counter"
    );
    let received = r#"rabbitmq_global_messages_received_total{protocol="amqp091"}"#;
    let confirmed = r#"rabbitmq_global_messages_confirmed_total{protocol="amqp091"}"#;
    let delivered = r#"rabbitmq_global_messages_delivered_total{protocol="amqp091",queue_type="rabbit_classic_queue"}"#;
    let acked = r#"rabbitmq_global_messages_acknowledged_total{protocol="amqp091",queue_type="rabbit_classic_queue"}"#;
    let (_conn, ch) = broker.channel().await;
    declare(&ch, "work").await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    for _ in 0..20 {
        publish_confirmed(&ch, "", "work", BasicProperties::default())
            .await
            .unwrap();
    }
    let mid = scrape(&api, "/metrics").await;
    assert_eq!(mid.get(received) - before.get(received), 20);
    assert_eq!(mid.get(confirmed) - before.get(confirmed), 20);
    assert_eq!(mid.get("rabbitmq_queue_messages_ready"), 20);
    assert_eq!(mid.get("rabbitmq_connections"), 1);
    assert_eq!(mid.get("rabbitmq_channels"), 1);
    assert_eq!(mid.get("rabbitmq_queues"), 1);
    let mut consumer = consume(&ch, "work", "c").await;
    for _ in 0..20 {
        next_delivery(&mut consumer)
            .await
            .ack(BasicAckOptions::default())
            .await
            .unwrap();
    }
    let after = loop {
        let m = scrape(&api, "/metrics").await;
        if m.get(acked) >= 20 {
            break m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert_eq!(after.get(delivered), 20);
    assert_eq!(after.get(acked), 20);
    assert_eq!(after.get("rabbitmq_queue_messages"), 0);
    assert_eq!(after.get("rabbitmq_consumers"), 1);
    assert!(
        !after
            .samples
            .keys()
            .any(|s| s.starts_with("rabbitmq_queue_messages_ready{")),
        "aggregated: no per-queue series in /metrics"
    );
}

#[tokio::test]
async fn per_object_and_detailed_metrics_label_each_queue() {
    let broker = TestBroker::start_with(|c| {
        c.prometheus_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let api = Api::anonymous(&broker.management_url());
    let (_conn, ch) = broker.channel().await;
    for q in ["a", "b"] {
        declare(&ch, q).await;
    }
    publish_confirmed(&ch, "", "a", BasicProperties::default())
        .await
        .unwrap();
    let per = scrape(&api, "/metrics/per-object").await;
    assert_eq!(
        per.get(r#"rabbitmq_queue_messages_ready{vhost="/",queue="a"}"#),
        1
    );
    assert_eq!(
        per.get(r#"rabbitmq_queue_messages_ready{vhost="/",queue="b"}"#),
        0
    );
    assert!(!per
        .types
        .contains_key("rabbitmq_alarms_memory_used_watermark"));
    let detailed = scrape(
        &api,
        "/metrics/detailed?family=queue_coarse_metrics&vhost=%2F",
    )
    .await;
    assert_eq!(
        detailed.get(r#"rabbitmq_detailed_queue_messages{vhost="/",queue="a"}"#),
        1
    );
    assert!(!detailed
        .types
        .contains_key("rabbitmq_detailed_queue_consumers"));
    assert!(detailed.types.contains_key("rabbitmq_identity_info"));
    let prometheus = Api::anonymous(&broker.prometheus_url().expect("prometheus listener"));
    let separate = scrape(&prometheus, "/metrics").await;
    assert_eq!(separate.get("rabbitmq_queues"), 2);
    assert_eq!(
        prometheus.get("/api/overview").await.status,
        404,
        "the Prometheus listener serves metrics only"
    );
}

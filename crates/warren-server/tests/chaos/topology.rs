//! The chaos test's topology: the exchanges, queues and bindings it declares, and the
//! check after every restart that the durable ones came back intact.

use super::*;

pub(super) async fn connect(addr: SocketAddr) -> lapin::Result<Connection> {
    Connection::connect(
        &format!("amqp://guest:guest@{addr}/%2f"),
        ConnectionProperties::default(),
    )
    .await
}

pub(super) fn table(entries: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in entries {
        t.insert((*k).into(), v.clone());
    }
    t
}

pub(super) fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(s.into())
}

/// The queues' declare arguments.
pub(super) fn queue_args(queue: &str) -> FieldTable {
    match queue {
        WORK => table(&[("x-dead-letter-exchange", text(DLX))]),
        WAIT => table(&[
            ("x-message-ttl", AMQPValue::LongInt(WAIT_TTL_MS as i32)),
            ("x-dead-letter-exchange", text(IN)),
            ("x-dead-letter-routing-key", text("work")),
        ]),
        PRIO => table(&[("x-max-priority", AMQPValue::LongInt(5))]),
        _ => FieldTable::default(),
    }
}

/// (exchange, kind, arguments) of the chaos exchanges.
pub(super) fn exchanges() -> Vec<(&'static str, ExchangeKind, FieldTable)> {
    vec![
        (IN, ExchangeKind::Direct, FieldTable::default()),
        (DLX, ExchangeKind::Fanout, FieldTable::default()),
        (
            DELAYED,
            ExchangeKind::Custom("x-delayed-message".into()),
            table(&[("x-delayed-type", text("direct"))]),
        ),
    ]
}

/// (source, queue, routing key) of every binding.
pub(super) const BINDINGS: [(&str, &str, &str); 6] = [
    (IN, WORK, "work"),
    (IN, WAIT, "wait"),
    (IN, PRIO, "prio"),
    (IN, FIFO, "fifo"),
    (DLX, DEAD, ""),
    (DELAYED, WORK, "work"),
];

pub(super) async fn declare_topology(addr: SocketAddr) {
    let conn = connect(addr).await.expect("connect");
    let ch = conn.create_channel().await.expect("channel");
    let durable_x = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    for (name, kind, args) in exchanges() {
        ch.exchange_declare(name.into(), kind, durable_x, args)
            .await
            .expect("exchange.declare");
    }
    let durable_q = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    for q in QUEUES {
        ch.queue_declare(q.into(), durable_q, queue_args(q))
            .await
            .expect("queue.declare");
    }
    for (x, q, key) in BINDINGS {
        ch.queue_bind(
            q.into(),
            x.into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("queue.bind");
    }
    let _ = conn.close(200, "declared".into()).await;
}

/// Checks the durable topology through the restarted broker: passive declares with the
/// original arguments (an inequivalent declare would fail with 406), and the exchanges,
/// queues and bindings as the management API lists them.
pub(super) async fn check_topology(broker: &Broker) -> Vec<String> {
    let mut bad = Vec::new();
    let conn = connect(broker.amqp).await.expect("connect");
    for (name, kind, args) in exchanges() {
        let ch = conn.create_channel().await.expect("channel");
        let opts = ExchangeDeclareOptions {
            passive: true,
            ..Default::default()
        };
        if let Err(e) = ch.exchange_declare(name.into(), kind, opts, args).await {
            bad.push(format!("exchange {name}: {e}"));
        }
    }
    for q in QUEUES {
        let ch = conn.create_channel().await.expect("channel");
        let opts = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        if let Err(e) = ch
            .queue_declare(q.into(), opts, FieldTable::default())
            .await
        {
            bad.push(format!("queue {q}: {e}"));
        }
    }
    let _ = conn.close(200, "checked".into()).await;

    let api = broker.api();
    let queues = api.get("/api/queues/%2F").await.json();
    for q in QUEUES {
        let found = queues
            .as_array()
            .and_then(|a| a.iter().find(|v| v["name"] == q));
        match found {
            None => bad.push(format!("queue {q} missing from /api/queues")),
            Some(v) => {
                if v["durable"] != Value::Bool(true) {
                    bad.push(format!("queue {q} not durable: {v}"));
                }
                let want: BTreeMap<String, Value> = match q {
                    WORK => [("x-dead-letter-exchange", Value::from(DLX))].into(),
                    WAIT => [
                        ("x-message-ttl", Value::from(WAIT_TTL_MS)),
                        ("x-dead-letter-exchange", Value::from(IN)),
                        ("x-dead-letter-routing-key", Value::from("work")),
                    ]
                    .into(),
                    PRIO => [("x-max-priority", Value::from(5))].into(),
                    _ => BTreeMap::<&str, Value>::new(),
                }
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
                let got: BTreeMap<String, Value> = v["arguments"]
                    .as_object()
                    .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default();
                if got != want {
                    bad.push(format!("queue {q} arguments {got:?}, declared {want:?}"));
                }
            }
        }
    }
    let exchanges = api.get("/api/exchanges/%2F").await.json();
    for (name, kind) in [
        (IN, "direct"),
        (DLX, "fanout"),
        (DELAYED, "x-delayed-message"),
    ] {
        let found = exchanges
            .as_array()
            .and_then(|a| a.iter().find(|v| v["name"] == name));
        match found {
            Some(v) if v["type"] == kind && v["durable"] == Value::Bool(true) => {
                if name == DELAYED && v["arguments"]["x-delayed-type"] != "direct" {
                    bad.push(format!("exchange {name} lost x-delayed-type: {v}"));
                }
            }
            other => bad.push(format!(
                "exchange {name} ({kind}, durable): found {other:?}"
            )),
        }
    }
    let bindings = api.get("/api/bindings/%2F").await.json();
    let have: HashSet<(String, String, String)> = bindings
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|b| b["destination_type"] == "queue")
                .map(|b| {
                    let s = |k: &str| b[k].as_str().unwrap_or_default().to_owned();
                    (s("source"), s("destination"), s("routing_key"))
                })
                .collect()
        })
        .unwrap_or_default();
    for (x, q, key) in BINDINGS {
        if !have.contains(&(x.to_owned(), q.to_owned(), key.to_owned())) {
            bad.push(format!("binding {x} -> {q} ({key:?}) missing"));
        }
    }
    bad
}

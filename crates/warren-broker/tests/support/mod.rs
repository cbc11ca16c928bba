//! Helpers for driving the queue core in-process on paused tokio time: a virtual host,
//! publishing as the channel does, consumers that collect their deliveries, and
//! advancing the clock without sleeping.
#![allow(dead_code)] // each test binary uses its own part of the helpers

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use warren_broker::vhost::{ExchangeDeclare, QueueDeclare};
use warren_broker::{
    Applied, Broker, ChannelCredit, Consumer, ConsumerSpec, Delivery, Message, Outbound,
    PublishOutcome, Queue, QueuedMessage, VHost,
};
use warren_protocol::{BasicProperties, FieldTable, FieldValue};

/// The connection id the tests act as.
pub const CONN: u64 = 1;

/// A fresh broker's default virtual host.
pub fn vhost() -> Arc<VHost> {
    Broker::new().vhost("/").expect("the default vhost exists")
}

/// The value of an applied change (these tests run without a store, so there is no
/// commit to wait for).
pub fn applied<T>(change: Applied<T>) -> T {
    let (value, commit) = change.into_parts();
    assert!(commit.is_none(), "no store: nothing to commit");
    value
}

/// A field table from pairs.
pub fn table(pairs: &[(&str, FieldValue)]) -> FieldTable {
    let mut t = FieldTable::new();
    for (k, v) in pairs {
        t.insert(*k, v.clone());
    }
    t
}

/// Declares a queue with these arguments.
pub fn declare(vhost: &VHost, name: &str, args: &[(&str, FieldValue)]) -> Arc<Queue> {
    let declare = QueueDeclare {
        name: name.to_owned(),
        arguments: table(args),
        ..QueueDeclare::default()
    };
    applied(vhost.declare_queue(&declare, CONN).expect("queue declared")).queue
}

/// Declares an exchange of type `kind` with these arguments.
pub fn declare_exchange(vhost: &VHost, name: &str, kind: &str, args: &[(&str, FieldValue)]) {
    let declare = ExchangeDeclare {
        name: name.to_owned(),
        kind: kind.to_owned(),
        arguments: table(args),
        ..ExchangeDeclare::default()
    };
    applied(vhost.declare_exchange(&declare).expect("exchange declared"));
}

/// Binds queue `queue` to `exchange` with `key`.
pub fn bind(vhost: &VHost, queue: &str, exchange: &str, key: &str) {
    applied(
        vhost
            .bind_queue(queue, exchange, key, &FieldTable::new(), CONN)
            .expect("bound"),
    );
}

/// Properties with just a priority.
pub fn priority(p: u8) -> BasicProperties {
    BasicProperties {
        priority: Some(p),
        ..BasicProperties::default()
    }
}

/// Properties with just an `expiration` (per-message TTL, ms).
pub fn expiration(ms: u64) -> BasicProperties {
    BasicProperties {
        expiration: Some(ms.to_string()),
        ..BasicProperties::default()
    }
}

/// Properties with just these headers.
pub fn headers(pairs: &[(&str, FieldValue)]) -> BasicProperties {
    BasicProperties {
        headers: Some(table(pairs)),
        ..BasicProperties::default()
    }
}

/// A message as the channel builds it (properties kept in their encoded form).
pub fn message(exchange: &str, key: &str, props: &BasicProperties, body: &str) -> Arc<Message> {
    let mut raw = BytesMut::new();
    props.encode(&mut raw);
    Arc::new(Message::new(
        Arc::from(exchange),
        key,
        props,
        raw.freeze(),
        Bytes::copy_from_slice(body.as_bytes()),
    ))
}

/// Publishes as the channel does: a delayed exchange holds a message with `x-delay`,
/// anything else is routed and enqueued at once. Returns each queue's outcome (empty
/// when unroutable or held).
pub fn publish(
    vhost: &VHost,
    exchange: &str,
    key: &str,
    props: BasicProperties,
    body: &str,
) -> Vec<PublishOutcome> {
    let m = message(exchange, key, &props, body);
    if !exchange.is_empty() {
        let ex = vhost.exchange(exchange).expect("exchange exists");
        if let Some(delay) = ex.delay_for(props.headers.as_ref()) {
            vhost
                .hold_delayed(&ex, props.headers.clone(), m, delay)
                .expect("held");
            return Vec::new();
        }
    }
    let mut queues = Vec::new();
    vhost
        .route(exchange, key, props.headers.as_ref(), &mut queues)
        .expect("routable exchange");
    queues.iter().map(|q| q.publish(m.clone())).collect()
}

/// Publishes `body` with `props` straight to queue `name` (the default exchange).
pub fn send(vhost: &VHost, name: &str, props: BasicProperties, body: &str) -> PublishOutcome {
    let outcomes = publish(vhost, "", name, props, body);
    assert_eq!(outcomes.len(), 1, "queue '{name}' exists");
    outcomes[0]
}

/// A message's body as text.
pub fn body(m: &QueuedMessage) -> String {
    String::from_utf8_lossy(&m.message.body).into_owned()
}

/// Drains the queue with no-ack `basic.get`s: the bodies, in order.
pub fn get_all(queue: &Queue) -> Vec<String> {
    std::iter::from_fn(|| queue.get(true).map(|(m, _)| body(&m))).collect()
}

/// A header of a message, if present.
pub fn header(m: &QueuedMessage, name: &str) -> Option<FieldValue> {
    m.message.properties().headers?.get(name).cloned()
}

/// The `(queue, reason)` of each `x-death` entry, most recent first.
pub fn deaths(m: &QueuedMessage) -> Vec<(String, String)> {
    let Some(FieldValue::Array(entries)) = header(m, "x-death") else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|e| match e {
            FieldValue::Table(t) => Some((
                t.get("queue")?.as_str()?.to_owned(),
                t.get("reason")?.as_str()?.to_owned(),
            )),
            _ => None,
        })
        .collect()
}

/// A consumer attached to a queue, with the connection end of its deliveries.
pub struct TestConsumer {
    /// The broker's consumer.
    pub consumer: Arc<Consumer>,
    rx: UnboundedReceiver<Outbound>,
}

impl TestConsumer {
    /// Attaches a consumer with per-consumer `prefetch` (0 = unlimited).
    pub fn attach(queue: &Arc<Queue>, tag: &str, prefetch: u32, no_ack: bool) -> Self {
        Self::attach_spec(
            queue,
            ConsumerSpec {
                connection: 0,
                tag: Arc::from(tag),
                channel_id: 1,
                no_ack,
                exclusive: false,
                prefetch,
                priority: 0,
                unsent_window: warren_broker::Limits::default().consumer_unsent_window,
            },
        )
    }

    /// Attaches a consumer as `spec` asks.
    pub fn attach_spec(queue: &Arc<Queue>, spec: ConsumerSpec) -> Self {
        let (tx, rx) = unbounded_channel();
        let consumer = Arc::new(Consumer::new(
            spec,
            queue,
            Arc::new(ChannelCredit::default()),
            tx,
        ));
        queue
            .add_consumer(consumer.clone())
            .expect("consumer attached");
        TestConsumer { consumer, rx }
    }

    /// Attaches a consumer of stream `queue` with these `basic.consume` arguments
    /// (`x-stream-offset`, `x-stream-consumer-name`).
    pub fn attach_stream(
        queue: &Arc<Queue>,
        spec: ConsumerSpec,
        arguments: &[(&str, FieldValue)],
    ) -> Self {
        let (tx, rx) = unbounded_channel();
        let consumer = Arc::new(Consumer::new(
            spec,
            queue,
            Arc::new(ChannelCredit::default()),
            tx,
        ));
        queue
            .add_consumer_with(consumer.clone(), &table(arguments))
            .expect("stream consumer attached");
        TestConsumer { consumer, rx }
    }

    /// The deliveries received so far (written to the "socket" at once).
    pub fn take(&mut self) -> Vec<Delivery> {
        let mut out = Vec::new();
        while let Ok(event) = self.rx.try_recv() {
            if let Outbound::Deliver(d) = event {
                out.push(d);
            }
        }
        self.consumer.written(out.len() as u32);
        out
    }

    /// The bodies of the deliveries received so far.
    pub fn bodies(&mut self) -> Vec<String> {
        self.take().iter().map(|d| body(&d.message)).collect()
    }

    /// Whether the queue told this consumer it was cancelled.
    pub fn was_cancelled(&mut self) -> bool {
        std::iter::from_fn(|| self.rx.try_recv().ok()).any(|e| matches!(e, Outbound::Cancelled(_)))
    }

    /// Settles deliveries as the channel does: credit back, then the queue acts.
    fn settle(&self, deliveries: Vec<Delivery>, act: impl FnOnce(&Queue, Vec<QueuedMessage>)) {
        self.consumer.settled(deliveries.len() as u32);
        let queue = self.consumer.queue().expect("queue alive");
        act(&queue, deliveries.into_iter().map(|d| d.message).collect());
        self.consumer.wake_if_blocked();
    }

    /// `basic.ack` of these deliveries.
    pub fn ack(&self, deliveries: Vec<Delivery>) {
        self.settle(deliveries, |q, m| q.ack(&m));
    }

    /// `basic.reject` with `requeue=true`.
    pub fn requeue(&self, deliveries: Vec<Delivery>) {
        self.settle(deliveries, |q, m| q.requeue(m));
    }

    /// `basic.reject` with `requeue=false` (dead-letters them).
    pub fn discard(&self, deliveries: Vec<Delivery>) {
        self.settle(deliveries, |q, m| q.discard(m));
    }
}

/// Moves paused tokio time on by `ms` and lets the scheduler task fire what is due.
pub async fn advance(ms: u64) {
    tokio::time::advance(Duration::from_millis(ms)).await;
    for _ in 0..8 {
        tokio::task::yield_now().await;
    }
}

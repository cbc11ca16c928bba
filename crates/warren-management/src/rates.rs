//! Message rates: a timer samples every counter (queues, channels, connections, the
//! broker's totals) and keeps, per object, the rate over the last interval. Counting
//! costs the message path nothing beyond the counters themselves; all the arithmetic
//! happens here, once per interval, off that path.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;
use warren_broker::queue::QueueCounters;
use warren_broker::stats::MessageTotals;
use warren_broker::Broker;

/// RabbitMQ's collection interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// The `message_stats` keys of a queue, in the order of [`queue_values`].
pub const QUEUE_STATS: [&str; 9] = [
    "publish",
    "deliver",
    "deliver_no_ack",
    "get",
    "get_no_ack",
    "get_empty",
    "ack",
    "redeliver",
    "deliver_get",
];

/// A queue's counters in the order of [`QUEUE_STATS`].
pub fn queue_values(c: &QueueCounters) -> Vec<u64> {
    vec![
        c.publish,
        c.deliver,
        c.deliver_no_ack,
        c.get,
        c.get_no_ack,
        c.get_empty,
        c.ack,
        c.redeliver,
        c.deliver_get(),
    ]
}

/// The `message_stats` keys of a channel, vhost or the whole broker, in the order of
/// [`message_values`].
pub const MESSAGE_STATS: [&str; 12] = [
    "publish",
    "confirm",
    "return_unroutable",
    "drop_unroutable",
    "deliver",
    "deliver_no_ack",
    "get",
    "get_no_ack",
    "get_empty",
    "ack",
    "redeliver",
    "deliver_get",
];

/// Message totals in the order of [`MESSAGE_STATS`].
pub fn message_values(t: &MessageTotals) -> Vec<u64> {
    vec![
        t.publish,
        t.confirm,
        t.return_unroutable,
        t.drop_unroutable,
        t.deliver,
        t.deliver_no_ack,
        t.get,
        t.get_no_ack,
        t.get_empty,
        t.ack,
        t.redeliver,
        t.deliver_get(),
    ]
}

/// Queue depth gauges sampled for `messages_details` and friends:
/// messages, messages_ready, messages_unacknowledged.
pub const DEPTH_STATS: [&str; 3] = ["messages", "messages_ready", "messages_unacknowledged"];

/// What a rate belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RateKey {
    /// A queue's counters ([`QUEUE_STATS`]).
    Queue(Arc<str>, Arc<str>),
    /// A queue's depth ([`DEPTH_STATS`]).
    Depth(Arc<str>, Arc<str>),
    /// A channel's counters ([`MESSAGE_STATS`]): connection id and channel number.
    Channel(u64, u16),
    /// A connection's bytes received and sent.
    Octets(u64),
    /// The broker's message totals ([`MESSAGE_STATS`]).
    Broker,
    /// The sums of all queues' depths ([`DEPTH_STATS`]).
    QueueTotals,
}

#[derive(Debug, Default)]
struct Samples {
    previous: HashMap<RateKey, (Instant, Vec<u64>)>,
    rates: HashMap<RateKey, Vec<f64>>,
}

/// The latest rate of every sampled value.
#[derive(Debug)]
pub struct Rates {
    interval: Duration,
    samples: Mutex<Samples>,
}

impl Rates {
    /// Rates sampled every `interval`.
    pub fn new(interval: Duration) -> Self {
        Rates {
            interval,
            samples: Mutex::new(Samples::default()),
        }
    }

    /// The sampling interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The per-second rates of `key`'s values over the last interval (zeros until two
    /// samples exist).
    pub fn get(&self, key: &RateKey) -> Option<Vec<f64>> {
        self.samples.lock().rates.get(key).cloned()
    }

    /// Takes one sample of everything at `now`.
    pub fn sample(&self, broker: &Broker, now: Instant) {
        let mut current: Vec<(RateKey, Vec<u64>)> = Vec::new();
        let mut totals = [0u64; 3];
        for vhost in broker.vhosts() {
            for q in vhost.queues() {
                let s = q.snapshot();
                let depth = [s.messages(), s.messages_ready, s.messages_unacknowledged];
                for (t, d) in totals.iter_mut().zip(depth) {
                    *t += d;
                }
                current.push((
                    RateKey::Queue(vhost.name().clone(), q.name().clone()),
                    queue_values(&s.counters),
                ));
                current.push((
                    RateKey::Depth(vhost.name().clone(), q.name().clone()),
                    depth.to_vec(),
                ));
            }
        }
        current.push((RateKey::QueueTotals, totals.to_vec()));
        let mut all = broker.totals().retired();
        for conn in broker.connections().list() {
            let stats = &conn.stats;
            current.push((
                RateKey::Octets(conn.info.id),
                vec![stats.recv_oct.get(), stats.send_oct.get()],
            ));
            for (number, ch) in stats.channels() {
                let t = ch.counters.totals();
                all.add(&t);
                current.push((RateKey::Channel(conn.info.id, number), message_values(&t)));
            }
        }
        current.push((RateKey::Broker, message_values(&all)));
        self.record(now, current);
    }

    fn record(&self, now: Instant, current: Vec<(RateKey, Vec<u64>)>) {
        let mut s = self.samples.lock();
        let mut previous = HashMap::with_capacity(current.len());
        let mut rates = HashMap::with_capacity(current.len());
        for (key, values) in current {
            let rate = match s.previous.get(&key) {
                Some((then, old)) if now > *then => {
                    let secs = now.duration_since(*then).as_secs_f64();
                    values
                        .iter()
                        .zip(old)
                        .map(|(v, o)| (*v as f64 - *o as f64) / secs)
                        .collect()
                }
                _ => vec![0.0; values.len()],
            };
            rates.insert(key.clone(), rate);
            previous.insert(key, (now, values));
        }
        s.previous = previous;
        s.rates = rates;
    }
}

/// Samples `rates` every interval until the broker is dropped.
pub fn spawn_sampler(rates: Arc<Rates>, broker: std::sync::Weak<Broker>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(rates.interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(broker) = broker.upgrade() else {
                return;
            };
            rates.sample(&broker, Instant::now());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_rate_is_the_change_over_the_interval_per_second() {
        let rates = Rates::new(Duration::from_secs(5));
        let key = RateKey::Octets(1);
        let t0 = Instant::now();
        rates.record(t0, vec![(key.clone(), vec![100, 0])]);
        assert_eq!(rates.get(&key), Some(vec![0.0, 0.0]));
        tokio::time::advance(Duration::from_secs(5)).await;
        rates.record(Instant::now(), vec![(key.clone(), vec![600, 50])]);
        assert_eq!(rates.get(&key), Some(vec![100.0, 10.0]));
        // A key missing from a sample (a deleted queue) is forgotten.
        rates.record(Instant::now(), vec![]);
        assert_eq!(rates.get(&key), None);
    }

    #[tokio::test(start_paused = true)]
    async fn sampling_a_broker_rates_its_queues_publishes() {
        let broker = Broker::new();
        let vhost = broker.vhost("/").unwrap();
        let declare = warren_broker::QueueDeclare {
            name: "q".into(),
            durable: false,
            ..Default::default()
        };
        let _ = vhost.declare_queue(&declare, 0).unwrap();
        let rates = Rates::new(Duration::from_secs(1));
        rates.sample(&broker, Instant::now());
        for _ in 0..10 {
            let props = warren_protocol::BasicProperties::default();
            let published = vhost.publish_message("", "q", &props, bytes::Bytes::from_static(b"x"));
            assert!(published.await.unwrap());
        }
        tokio::time::advance(Duration::from_secs(2)).await;
        rates.sample(&broker, Instant::now());
        let q = rates.get(&RateKey::Queue("/".into(), "q".into())).unwrap();
        assert_eq!(q[0], 5.0, "10 publishes over 2 s");
        let depth = rates.get(&RateKey::Depth("/".into(), "q".into())).unwrap();
        assert_eq!(depth[1], 5.0, "ready grew by 10 over 2 s");
    }
}

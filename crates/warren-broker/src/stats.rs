//! Counters the management API and metrics read: per channel and per connection, and
//! broker-wide totals that never go backwards (closed channels are folded into them).
//!
//! A channel's counters are written only by the task that owns its connection, so a
//! [`Counter`] increment is a relaxed load and store (no locked instruction): counting
//! costs the publish and delivery paths nothing measurable. Readers (a scrape, an API
//! call) see each counter's latest value; rates are derived by whoever samples them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::dead_letter::DeathReason;

/// A monotonic counter with a single writer and any number of readers.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`. Only one task may call this for a given counter (its owner); it is
    /// not an atomic read-modify-write.
    pub fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// Adds one.
    pub fn bump(&self) {
        self.add(1);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Plain message totals: a channel's, a vhost's, or the whole broker's
/// (RabbitMQ's `message_stats` fields).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageTotals {
    /// Messages published (received from clients).
    pub publish: u64,
    /// Messages published on channels in confirm mode.
    pub publish_confirm: u64,
    /// Published messages routed to at least one queue.
    pub routed: u64,
    /// Publisher confirms sent (acks).
    pub confirm: u64,
    /// Unroutable mandatory messages returned.
    pub return_unroutable: u64,
    /// Unroutable messages dropped.
    pub drop_unroutable: u64,
    /// Deliveries that expect an acknowledgement.
    pub deliver: u64,
    /// Deliveries to no-ack consumers.
    pub deliver_no_ack: u64,
    /// `basic.get` that expects an acknowledgement.
    pub get: u64,
    /// `basic.get` with `no_ack`.
    pub get_no_ack: u64,
    /// `basic.get` on an empty queue.
    pub get_empty: u64,
    /// Acknowledgements received.
    pub ack: u64,
    /// Redeliveries.
    pub redeliver: u64,
}

impl MessageTotals {
    /// Everything delivered or fetched (RabbitMQ's `deliver_get`).
    pub fn deliver_get(&self) -> u64 {
        self.deliver + self.deliver_no_ack + self.get + self.get_no_ack
    }

    /// Adds `other` field by field.
    pub fn add(&mut self, other: &MessageTotals) {
        self.publish += other.publish;
        self.publish_confirm += other.publish_confirm;
        self.routed += other.routed;
        self.confirm += other.confirm;
        self.return_unroutable += other.return_unroutable;
        self.drop_unroutable += other.drop_unroutable;
        self.deliver += other.deliver;
        self.deliver_no_ack += other.deliver_no_ack;
        self.get += other.get;
        self.get_no_ack += other.get_no_ack;
        self.get_empty += other.get_empty;
        self.ack += other.ack;
        self.redeliver += other.redeliver;
    }
}

/// A channel's message counters, one [`Counter`] per [`MessageTotals`] field.
#[derive(Debug, Default)]
pub struct ChannelCounters {
    /// See [`MessageTotals::publish`].
    pub publish: Counter,
    /// See [`MessageTotals::publish_confirm`].
    pub publish_confirm: Counter,
    /// See [`MessageTotals::routed`].
    pub routed: Counter,
    /// See [`MessageTotals::confirm`].
    pub confirm: Counter,
    /// See [`MessageTotals::return_unroutable`].
    pub return_unroutable: Counter,
    /// See [`MessageTotals::drop_unroutable`].
    pub drop_unroutable: Counter,
    /// See [`MessageTotals::deliver`].
    pub deliver: Counter,
    /// See [`MessageTotals::deliver_no_ack`].
    pub deliver_no_ack: Counter,
    /// See [`MessageTotals::get`].
    pub get: Counter,
    /// See [`MessageTotals::get_no_ack`].
    pub get_no_ack: Counter,
    /// See [`MessageTotals::get_empty`].
    pub get_empty: Counter,
    /// See [`MessageTotals::ack`].
    pub ack: Counter,
    /// See [`MessageTotals::redeliver`].
    pub redeliver: Counter,
}

impl ChannelCounters {
    /// The current values.
    pub fn totals(&self) -> MessageTotals {
        MessageTotals {
            publish: self.publish.get(),
            publish_confirm: self.publish_confirm.get(),
            routed: self.routed.get(),
            confirm: self.confirm.get(),
            return_unroutable: self.return_unroutable.get(),
            drop_unroutable: self.drop_unroutable.get(),
            deliver: self.deliver.get(),
            deliver_no_ack: self.deliver_no_ack.get(),
            get: self.get.get(),
            get_no_ack: self.get_no_ack.get(),
            get_empty: self.get_empty.get(),
            ack: self.ack.get(),
            redeliver: self.redeliver.get(),
        }
    }
}

/// One open channel, as the management API shows it.
#[derive(Debug, Default)]
pub struct ChannelStats {
    /// Message counters.
    pub counters: ChannelCounters,
    /// Per-consumer prefetch (`basic.qos`, `global=false`).
    pub prefetch_count: AtomicU32,
    /// Channel-wide prefetch (`basic.qos`, `global=true`).
    pub global_prefetch_count: AtomicU32,
    /// In publisher-confirm mode.
    pub confirm: AtomicBool,
    /// In transaction mode.
    pub transactional: AtomicBool,
    /// Deliveries awaiting acknowledgement.
    pub unacknowledged: AtomicU64,
    /// Publishes not yet confirmed.
    pub unconfirmed: AtomicU64,
    /// Consumers on the channel.
    pub consumers: AtomicU32,
}

impl ChannelStats {
    /// Sets a gauge (written by the channel's owner only).
    pub fn set(gauge: &AtomicU64, value: u64) {
        gauge.store(value, Ordering::Relaxed);
    }

    /// Reads a gauge.
    pub fn read(gauge: &AtomicU64) -> u64 {
        gauge.load(Ordering::Relaxed)
    }
}

/// A connection's traffic and its channels.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    /// Bytes received.
    pub recv_oct: Counter,
    /// Socket reads.
    pub recv_cnt: Counter,
    /// Bytes sent.
    pub send_oct: Counter,
    /// Socket writes.
    pub send_cnt: Counter,
    channels: Mutex<BTreeMap<u16, Arc<ChannelStats>>>,
}

impl ConnectionStats {
    /// The open channels by number.
    pub fn channels(&self) -> Vec<(u16, Arc<ChannelStats>)> {
        self.channels
            .lock()
            .iter()
            .map(|(n, c)| (*n, c.clone()))
            .collect()
    }

    /// How many channels are open.
    pub fn channel_count(&self) -> usize {
        self.channels.lock().len()
    }

    pub(crate) fn add_channel(&self, number: u16) -> Arc<ChannelStats> {
        let stats = Arc::new(ChannelStats::default());
        self.channels.lock().insert(number, stats.clone());
        stats
    }

    pub(crate) fn remove_channel(&self, number: u16) -> Option<Arc<ChannelStats>> {
        self.channels.lock().remove(&number)
    }
}

/// Dead-lettering totals by reason, split by whether a dead-letter exchange took the
/// messages (`at_most_once`) or there was none (`disabled`: they were dropped).
#[derive(Debug, Default)]
pub struct DeadLetterTotals {
    counts: [[AtomicU64; 4]; 2],
}

impl DeadLetterTotals {
    fn index(reason: DeathReason) -> usize {
        match reason {
            DeathReason::Expired => 0,
            DeathReason::Rejected => 1,
            DeathReason::Maxlen => 2,
            DeathReason::DeliveryLimit => 3,
        }
    }

    /// Counts one message leaving a queue for `reason`.
    pub fn note(&self, reason: DeathReason, to_exchange: bool) {
        self.counts[usize::from(to_exchange)][Self::index(reason)].fetch_add(1, Ordering::Relaxed);
    }

    /// Messages that left for `reason`, with or without a dead-letter exchange.
    pub fn get(&self, reason: DeathReason, to_exchange: bool) -> u64 {
        self.counts[usize::from(to_exchange)][Self::index(reason)].load(Ordering::Relaxed)
    }
}

/// Broker-wide totals: what closed channels counted, dead-lettering, and churn.
#[derive(Debug, Default)]
pub struct BrokerTotals {
    retired: Mutex<MessageTotals>,
    /// Messages dead-lettered or dropped, by reason.
    pub dead_lettered: DeadLetterTotals,
    /// Connections opened since start.
    pub connections_opened: AtomicU64,
    /// Connections closed since start.
    pub connections_closed: AtomicU64,
    /// Channels opened since start.
    pub channels_opened: AtomicU64,
    /// Channels closed since start.
    pub channels_closed: AtomicU64,
    /// `queue.declare` calls (and their admin equivalents) since start.
    pub queues_declared: AtomicU64,
    /// Queues created since start.
    pub queues_created: AtomicU64,
    /// Queues deleted since start.
    pub queues_deleted: AtomicU64,
}

impl BrokerTotals {
    /// Folds a closing channel's counters into the totals.
    pub(crate) fn retire(&self, channel: &ChannelStats) {
        self.retired.lock().add(&channel.counters.totals());
        self.channels_closed.fetch_add(1, Ordering::Relaxed);
    }

    /// What channels closed so far counted.
    pub fn retired(&self) -> MessageTotals {
        *self.retired.lock()
    }

    /// Reads a churn counter.
    pub fn read(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_and_totals_fold_in_retired_channels() {
        let totals = BrokerTotals::default();
        let ch = ChannelStats::default();
        ch.counters.publish.add(3);
        ch.counters.ack.bump();
        assert_eq!(ch.counters.totals().publish, 3);
        totals.retire(&ch);
        let retired = totals.retired();
        assert_eq!((retired.publish, retired.ack), (3, 1));
        assert_eq!(BrokerTotals::read(&totals.channels_closed), 1);
    }

    #[test]
    fn dead_letters_are_counted_by_reason_and_strategy() {
        let d = DeadLetterTotals::default();
        d.note(DeathReason::Expired, true);
        d.note(DeathReason::Expired, false);
        d.note(DeathReason::Expired, true);
        assert_eq!(d.get(DeathReason::Expired, true), 2);
        assert_eq!(d.get(DeathReason::Expired, false), 1);
        assert_eq!(d.get(DeathReason::Rejected, true), 0);
    }
}

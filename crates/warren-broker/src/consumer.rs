//! Consumers and the credit that bounds how much a queue may push to each of them.
//!
//! A queue hands a message to a consumer only after [`Consumer::try_reserve`] succeeds.
//! Two windows bound that:
//! - *unacked*: deliveries not yet acknowledged, limited by the consumer's prefetch and by
//!   the channel-wide prefetch (`basic.qos` with `global=true`);
//! - *unsent*: deliveries handed to the connection but not yet written to its socket,
//!   limited by [`ConsumerSpec::unsent_window`] (from
//!   [`Limits::consumer_unsent_window`](crate::Limits)). This bounds what a slow or no-ack consumer can
//!   hold in the broker's memory, like RabbitMQ's credit flow.
//!
//! A queue that finds a consumer without credit marks it blocked; whoever later frees
//! credit calls [`Consumer::wake_if_blocked`], which runs the queue's dispatch again.
//!
//! A queue holds its consumers strongly; a consumer holds its queue weakly, so the two
//! never keep each other alive. The channel that created a consumer keeps the queue
//! beside it (the delivery path then clones that, with no upgrade per message); the
//! consumer upgrades its weak handle only off that path: on a wake-up or a cancel.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Weak};

use tokio::sync::mpsc::UnboundedSender;

use crate::message::QueuedMessage;
use crate::queue::Queue;

/// Events a queue sends to the connection that owns a consumer.
#[derive(Debug)]
pub enum Outbound {
    /// Write `basic.deliver` for this message.
    Deliver(Delivery),
    /// The queue went away: forget the consumer and, if the client asked for it, send
    /// `basic.cancel`.
    Cancelled(Arc<Consumer>),
}

/// A message on its way to a consumer.
#[derive(Debug)]
pub struct Delivery {
    /// The consumer it is for.
    pub consumer: Arc<Consumer>,
    /// The message and its queue position.
    pub message: QueuedMessage,
}

/// Per-channel state shared by the channel's consumers: the channel-wide prefetch and
/// `channel.flow`.
#[derive(Debug)]
pub struct ChannelCredit {
    prefetch: AtomicU32,
    unacked: AtomicU32,
    active: AtomicBool,
}

impl Default for ChannelCredit {
    fn default() -> Self {
        ChannelCredit {
            prefetch: AtomicU32::new(0),
            unacked: AtomicU32::new(0),
            active: AtomicBool::new(true),
        }
    }
}

impl ChannelCredit {
    /// Sets the channel-wide prefetch count (0 = unlimited).
    pub fn set_prefetch(&self, count: u32) {
        self.prefetch.store(count, Ordering::Relaxed);
    }

    /// Turns deliveries on this channel on or off (`channel.flow`).
    pub fn set_active(&self, active: bool) {
        self.active.store(active, Ordering::Relaxed);
    }

    /// Whether deliveries are on.
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    fn try_reserve(&self) -> bool {
        let limit = self.prefetch.load(Ordering::Relaxed);
        self.unacked
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (limit == 0 || n < limit).then_some(n + 1)
            })
            .is_ok()
    }

    fn has_credit(&self) -> bool {
        let limit = self.prefetch.load(Ordering::Relaxed);
        limit == 0 || self.unacked.load(Ordering::Acquire) < limit
    }

    fn release(&self, n: u32) {
        let _ = self
            .unacked
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                Some(v.saturating_sub(n))
            });
    }
}

/// What a client asked for in `basic.consume`.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// The consumer tag.
    pub tag: Arc<str>,
    /// Channel the consumer lives on.
    pub channel_id: u16,
    /// Connection the channel belongs to (0: none, e.g. a benchmark's consumer).
    pub connection: crate::queue::ConnectionId,
    /// Deliveries count as acknowledged when sent.
    pub no_ack: bool,
    /// Only consumer of its queue.
    pub exclusive: bool,
    /// Per-consumer prefetch in force when it was created (0 = unlimited).
    pub prefetch: u32,
    /// Consumer priority (`x-priority`); higher goes first.
    pub priority: i32,
    /// Most deliveries it may have handed to its connection but not yet written
    /// ([`Limits::consumer_unsent_window`](crate::Limits)).
    pub unsent_window: u32,
}

/// A consumer attached to one queue.
#[derive(Debug)]
pub struct Consumer {
    /// What the client asked for.
    pub spec: ConsumerSpec,
    /// The queue it consumes from (weak: the queue holds the consumer).
    queue: Weak<Queue>,
    channel: Arc<ChannelCredit>,
    outbound: UnboundedSender<Outbound>,
    unacked: AtomicU32,
    unsent: AtomicU32,
    blocked: AtomicBool,
}

impl Consumer {
    /// A consumer of `queue` whose deliveries go to `outbound`.
    pub fn new(
        spec: ConsumerSpec,
        queue: &Arc<Queue>,
        channel: Arc<ChannelCredit>,
        outbound: UnboundedSender<Outbound>,
    ) -> Self {
        Consumer {
            spec,
            queue: Arc::downgrade(queue),
            channel,
            outbound,
            unacked: AtomicU32::new(0),
            unsent: AtomicU32::new(0),
            blocked: AtomicBool::new(false),
        }
    }

    /// The queue it consumes from, unless that queue is gone.
    pub fn queue(&self) -> Option<Arc<Queue>> {
        self.queue.upgrade()
    }

    /// The consumer tag.
    pub fn tag(&self) -> &str {
        &self.spec.tag
    }

    /// Takes credit for one delivery, or marks the consumer blocked and returns false.
    ///
    /// Called by the consumer's queue (under its lock), so per-consumer counters only
    /// race with releases; the channel-wide counter is shared and updated atomically.
    pub(crate) fn try_reserve(&self) -> bool {
        // Mark blocked first: a release racing with this check then always sees the
        // flag and wakes the queue, so no wake-up is lost.
        self.blocked.store(true, Ordering::Release);
        if !self.channel.is_active()
            || self.unsent.load(Ordering::Acquire) >= self.spec.unsent_window
        {
            return false;
        }
        if !self.spec.no_ack {
            let prefetch = self.spec.prefetch;
            if prefetch != 0 && self.unacked.load(Ordering::Acquire) >= prefetch {
                return false;
            }
            if !self.channel.try_reserve() {
                return false;
            }
            self.unacked.fetch_add(1, Ordering::AcqRel);
        }
        self.unsent.fetch_add(1, Ordering::AcqRel);
        self.blocked.store(false, Ordering::Release);
        true
    }

    /// Whether a parked consumer may rejoin the rotation: true if it has credit now;
    /// otherwise it stays marked blocked, so the release that gives it credit wakes
    /// the queue.
    pub(crate) fn ready_to_unpark(&self) -> bool {
        self.blocked.store(true, Ordering::Release);
        if self.has_credit() {
            self.blocked.store(false, Ordering::Release);
            true
        } else {
            false
        }
    }

    /// Whether [`Consumer::try_reserve`] would succeed now (without taking credit).
    fn has_credit(&self) -> bool {
        if !self.channel.is_active()
            || self.unsent.load(Ordering::Acquire) >= self.spec.unsent_window
        {
            return false;
        }
        if self.spec.no_ack {
            return true;
        }
        let prefetch = self.spec.prefetch;
        (prefetch == 0 || self.unacked.load(Ordering::Acquire) < prefetch)
            && self.channel.has_credit()
    }

    /// Gives back credit taken by [`Consumer::try_reserve`] for a delivery that could not
    /// be handed over.
    pub(crate) fn unreserve(&self) {
        self.unsent.fetch_sub(1, Ordering::AcqRel);
        if !self.spec.no_ack {
            self.unacked.fetch_sub(1, Ordering::AcqRel);
            self.channel.release(1);
        }
    }

    /// Hands a delivery to the owning connection. Returns it if the connection is gone.
    pub(crate) fn send(&self, delivery: Delivery) -> Result<(), Delivery> {
        self.outbound
            .send(Outbound::Deliver(delivery))
            .map_err(|e| match e.0 {
                Outbound::Deliver(d) => d,
                Outbound::Cancelled(_) => unreachable!("only deliveries are sent here"),
            })
    }

    /// Tells the owning connection that the queue cancelled this consumer.
    pub(crate) fn notify_cancelled(self: &Arc<Self>) {
        let _ = self.outbound.send(Outbound::Cancelled(self.clone()));
    }

    /// Records that `n` deliveries were written to the socket.
    pub fn written(&self, n: u32) {
        let _ = self
            .unsent
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                Some(v.saturating_sub(n))
            });
    }

    /// Records that `n` deliveries were acknowledged, rejected or requeued.
    pub fn settled(&self, n: u32) {
        if self.spec.no_ack {
            return;
        }
        let _ = self
            .unacked
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                Some(v.saturating_sub(n))
            });
        self.channel.release(n);
    }

    /// Like [`Consumer::wake_if_blocked`], for a caller that already holds the queues
    /// its consumers may belong to (the ack path): the consumer's queue is found among
    /// `queues` by address, so an ack costs no upgrade of the weak handle.
    pub fn wake_if_blocked_among(&self, queues: &[Arc<Queue>]) {
        if self.blocked.swap(false, Ordering::AcqRel) {
            let mine = self.queue.as_ptr();
            match queues.iter().find(|q| std::ptr::eq(Arc::as_ptr(q), mine)) {
                Some(queue) => queue.dispatch(),
                None => {
                    if let Some(queue) = self.queue.upgrade() {
                        queue.dispatch();
                    }
                }
            }
        }
    }

    /// Runs the queue's dispatch again if it had found this consumer without credit.
    pub fn wake_if_blocked(&self) {
        if self.blocked.swap(false, Ordering::AcqRel) {
            if let Some(queue) = self.queue.upgrade() {
                queue.dispatch();
            }
        }
    }

    /// Deliveries awaiting acknowledgement.
    pub fn unacked(&self) -> u32 {
        self.unacked.load(Ordering::Relaxed)
    }
}

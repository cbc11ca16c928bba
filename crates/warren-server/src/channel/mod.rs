//! A channel's state machine: it takes one method (or content frame) at a time, acts on
//! the broker and stages replies in the connection's output.
//!
//! Handlers return `Err(AmqpError)` for protocol exceptions; the connection turns those
//! into `channel.close` or `connection.close` according to the error's scope.

mod authorize;
mod basic;
pub(crate) mod confirms;
pub(crate) mod context;
mod expiration;
mod publish;
mod publish_mode;
mod reply_to;
mod topology;
mod unacked;

use std::collections::HashMap;
use std::sync::Arc;

use warren_broker::stats::ChannelStats;
use warren_broker::{AmqpError, AmqpResult, ChannelCredit, Consumer, Delivery, Queue};
use warren_protocol::method::channel as ch;
use warren_protocol::Method;

pub(crate) use context::{ClientCapabilities, ConnCtx};
use publish::ContentState;
use publish_mode::PublishMode;
use unacked::{Unacked, UnackedMap};

/// A consumer of this channel and the queue it consumes from. The consumer holds its
/// queue only weakly (the queue holds the consumer); the channel keeps the queue here,
/// so each delivery's unacked entry clones it without an upgrade per message.
#[derive(Debug)]
struct ChannelConsumer {
    consumer: Arc<Consumer>,
    queue: Arc<Queue>,
}

/// One open channel.
#[derive(Debug)]
pub(crate) struct Channel {
    id: u16,
    credit: Arc<ChannelCredit>,
    consumers: HashMap<Arc<str>, ChannelConsumer>,
    unacked: UnackedMap,
    next_delivery_tag: u64,
    consumer_prefetch: u32,
    content: ContentState,
    mode: PublishMode,
    /// The queue most recently declared on this channel: RabbitMQ lets an empty queue
    /// name in later methods stand for it.
    last_queue: Option<String>,
    /// The hidden queue behind this channel's direct reply-to consumer, if any.
    reply_queue: Option<Arc<warren_broker::Queue>>,
    /// Counters and gauges the management API reads.
    stats: Arc<ChannelStats>,
    /// Deliveries acknowledged (outside a transaction) by the frames of the current
    /// input batch, settled together by [`Channel::settle_acks`]: one queue call (and
    /// one store removal) per queue and batch instead of one per `basic.ack`.
    pending_acks: Vec<Unacked>,
}

impl Channel {
    /// A freshly opened channel, counting into `stats`.
    pub fn new(id: u16, stats: Arc<ChannelStats>) -> Self {
        Channel {
            id,
            credit: Arc::new(ChannelCredit::default()),
            consumers: HashMap::new(),
            unacked: UnackedMap::default(),
            next_delivery_tag: 1,
            consumer_prefetch: 0,
            content: ContentState::default(),
            mode: PublishMode::default(),
            last_queue: None,
            reply_queue: None,
            stats,
            pending_acks: Vec::new(),
        }
    }

    /// Whether the channel is between a content method and the end of its body.
    pub fn expects_content(&self) -> bool {
        !matches!(self.content, ContentState::Idle)
    }

    /// Settles the acknowledgements buffered since the last call. The connection calls
    /// this at the end of each input batch and before any method other than
    /// `basic.ack` (so every other method sees the queues as if each ack
    /// had been settled on arrival); [`Channel::release`] calls it first.
    pub fn settle_acks(&mut self) {
        if !self.pending_acks.is_empty() {
            basic::settle(self.pending_acks.drain(..), basic::Settle::Ack);
        }
    }

    /// Handles one method frame addressed to this channel.
    pub fn handle_method(&mut self, cx: &mut ConnCtx, method: Method) -> AmqpResult<()> {
        if self.expects_content() {
            return Err(AmqpError::unexpected_frame(format!(
                "expected content header for class 60, got non content header frame instead ({})",
                method.name()
            )));
        }
        let settles = matches!(
            method,
            Method::BasicAck(_)
                | Method::BasicReject(_)
                | Method::BasicNack(_)
                | Method::BasicRecover(_)
                | Method::BasicRecoverAsync(_)
                | Method::BasicGet(_)
                | Method::TxCommit(_)
        );
        let result = self.handle(cx, method);
        if settles {
            self.note_unacked();
        }
        result
    }

    /// Mirrors the consumer count into the stats.
    fn note_consumers(&self) {
        self.stats.consumers.store(
            self.consumers.len() as u32,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Mirrors the count of unsettled deliveries into the stats.
    fn note_unacked(&self) {
        ChannelStats::set(&self.stats.unacknowledged, self.unacked.len() as u64);
    }

    fn handle(&mut self, cx: &mut ConnCtx, method: Method) -> AmqpResult<()> {
        match method {
            Method::ChannelFlow(m) => {
                self.credit.set_active(m.active);
                if m.active {
                    self.wake_consumers();
                }
                cx.send(self.id, ch::FlowOk { active: m.active });
                Ok(())
            }
            Method::ChannelFlowOk(_) => Ok(()),
            Method::ChannelOpen(_) => Err(AmqpError::channel_error(format!(
                "second 'channel.open' seen on channel {}",
                self.id
            ))),
            Method::ExchangeDeclare(m) => self.exchange_declare(cx, m),
            Method::ExchangeDelete(m) => self.exchange_delete(cx, m),
            Method::ExchangeBind(m) => self.exchange_bind(cx, m),
            Method::ExchangeUnbind(m) => self.exchange_unbind(cx, m),
            Method::QueueDeclare(m) => self.queue_declare(cx, m),
            Method::QueueBind(m) => self.queue_bind(cx, m),
            Method::QueueUnbind(m) => self.queue_unbind(cx, m),
            Method::QueuePurge(m) => self.queue_purge(cx, m),
            Method::QueueDelete(m) => self.queue_delete(cx, m),
            Method::BasicQos(m) => self.qos(cx, m),
            Method::BasicConsume(m) => self.consume(cx, m),
            Method::BasicCancel(m) => self.cancel(cx, m),
            Method::BasicPublish(m) => self.start_publish(cx, m),
            Method::BasicGet(m) => self.get(cx, m),
            Method::BasicAck(m) => self.ack(m.delivery_tag, m.multiple),
            Method::BasicReject(m) => self.reject(cx, m.delivery_tag, false, m.requeue),
            Method::BasicNack(m) => self.reject(cx, m.delivery_tag, m.multiple, m.requeue),
            Method::BasicRecover(m) => self.recover(cx, m.requeue, true),
            Method::BasicRecoverAsync(m) => self.recover(cx, m.requeue, false),
            Method::ConfirmSelect(m) => self.confirm_select(cx, m),
            Method::TxSelect(_) => self.tx_select(cx),
            Method::TxCommit(_) => self.tx_commit(cx),
            Method::TxRollback(_) => self.tx_rollback(cx),
            other => Err(AmqpError::command_invalid(format!(
                "unexpected method {} on channel {}",
                other.name(),
                self.id
            ))),
        }
    }

    /// Stages a delivery from one of this channel's consumers. Returns it if the consumer
    /// is no longer registered here (cancelled, or the channel number was reused).
    pub fn deliver(&mut self, cx: &mut ConnCtx, d: Delivery) -> Result<(), Delivery> {
        let queue = match self.consumers.get(d.consumer.tag()) {
            Some(c) if Arc::ptr_eq(&c.consumer, &d.consumer) => &c.queue,
            _ => return Err(d),
        };
        let tag = self.next_delivery_tag;
        self.next_delivery_tag += 1;
        let msg = &d.message.message;
        warren_protocol::frame::write_deliver(
            cx.out.staging(),
            self.id,
            d.consumer.tag(),
            tag,
            d.message.redelivered,
            &msg.exchange,
            &msg.routing_key,
        );
        cx.send_content(self.id, msg);
        cx.note_unsent(&d.consumer);
        let counters = &self.stats.counters;
        counters.redeliver.add(u64::from(d.message.redelivered));
        if d.consumer.spec.no_ack {
            counters.deliver_no_ack.bump();
        } else {
            counters.deliver.bump();
            self.unacked.insert(
                tag,
                Unacked {
                    tag,
                    queue: queue.clone(),
                    message: d.message,
                    consumer: Some(d.consumer),
                    delivered_at: tokio::time::Instant::now(),
                },
            );
            self.note_unacked();
        }
        Ok(())
    }

    /// The consumer acknowledgement timeout: an error if a delivery on this channel has
    /// waited for its ack longer than allowed (RabbitMQ closes the channel with 406).
    pub fn check_ack_timeout(
        &self,
        now: tokio::time::Instant,
        default: std::time::Duration,
    ) -> AmqpResult<()> {
        match self.unacked.timed_out(now, default) {
            None => Ok(()),
            Some(timeout) => Err(AmqpError::precondition_failed(format!(
                "delivery acknowledgement on channel {} timed out. Timeout value used: {} ms. \
                 This timeout value can be configured, see consumers doc guide to learn more",
                self.id,
                timeout.as_millis()
            ))),
        }
    }

    /// A consumer of this channel was cancelled by its queue (the queue was deleted).
    /// Returns true if the client should be sent `basic.cancel`.
    pub fn consumer_cancelled(&mut self, consumer: &Arc<Consumer>) -> bool {
        match self.consumers.get(consumer.tag()) {
            Some(c) if Arc::ptr_eq(&c.consumer, consumer) => {
                self.consumers.remove(consumer.tag());
                self.note_consumers();
                true
            }
            _ => false,
        }
    }

    /// Releases everything the channel holds: cancels its consumers and requeues its
    /// unacknowledged messages, including those acked or rejected in a transaction that
    /// was never committed. Called when the channel or its connection closes.
    pub fn release(&mut self, cx: &ConnCtx) {
        // Acked before the close: those leave the queues; the rest go back.
        self.settle_acks();
        for (_, c) in self.consumers.drain() {
            cx.vhost.consumer_removed(&c.consumer);
        }
        self.restore_uncommitted_settles();
        basic::settle(self.unacked.take_all(), basic::Settle::Requeue);
    }

    fn wake_consumers(&self) {
        for c in self.consumers.values() {
            c.consumer.wake_if_blocked();
        }
    }
}

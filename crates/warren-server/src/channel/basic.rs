//! `basic.*` methods other than publishing: qos, consume, cancel, get, ack, nack,
//! reject and recover.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use warren_broker::names::generated_consumer_tag;
use warren_broker::queue::args::type_name;
use warren_broker::{AmqpError, AmqpResult, Consumer, ConsumerSpec, Queue, QueuedMessage};
use warren_protocol::method::basic;
use warren_protocol::{FieldTable, FieldValue};

use super::unacked::Unacked;
use super::{Channel, ConnCtx};

/// What to do with settled deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settle {
    /// Acknowledged: done with.
    Ack,
    /// Put back in the queue, marked redelivered.
    Requeue,
    /// Rejected without requeue: dropped.
    Discard,
}

/// Settles deliveries: one queue call per run of entries from the same queue, then
/// gives the consumers their credit back.
pub(crate) fn settle(entries: impl IntoIterator<Item = Unacked>, how: Settle) {
    let mut consumers: Vec<Arc<Consumer>> = Vec::new();
    let mut run: Vec<QueuedMessage> = Vec::new();
    // The queues settled, kept (moved from the entries, not cloned) so the consumers can
    // be woken without upgrading their weak handles.
    let mut queues: Vec<Arc<Queue>> = Vec::new();
    let flush = |queue: &Arc<Queue>, run: &mut Vec<QueuedMessage>| match how {
        Settle::Ack => {
            queue.ack(run);
            run.clear();
        }
        Settle::Discard => queue.discard(std::mem::take(run)),
        Settle::Requeue => queue.requeue(std::mem::take(run)),
    };
    for e in entries {
        if let Some(c) = e.consumer {
            c.settled(1);
            if how == Settle::Ack && e.queue.is_stream() {
                // A named stream consumer's offset is tracked on its acks.
                e.queue.stream_acked(&c, e.message.seq);
            }
            if !consumers.iter().any(|x| Arc::ptr_eq(x, &c)) {
                consumers.push(c);
            }
        }
        match queues.last() {
            Some(q) if Arc::ptr_eq(q, &e.queue) => {}
            _ => {
                if let Some(q) = queues.last() {
                    flush(q, &mut run);
                }
                queues.push(e.queue);
            }
        }
        run.push(e.message);
    }
    if let Some(q) = queues.last() {
        flush(q, &mut run);
    }
    for c in consumers {
        c.wake_if_blocked_among(&queues);
    }
}

/// Validates `basic.consume` arguments as RabbitMQ does (`x-priority` must be an
/// integer, `x-cancel-on-ha-failover` a boolean) and returns the consumer priority.
fn consume_priority(args: &FieldTable, queue: &str, vhost: &str) -> AmqpResult<i32> {
    let invalid = |key: &str, detail: String| {
        AmqpError::precondition_failed(format!(
            "invalid arg '{key}' for queue '{queue}' in vhost '{vhost}': {detail}"
        ))
    };
    if let Some(v) = args.get("x-cancel-on-ha-failover") {
        if v.as_bool().is_none() {
            let detail = format!("{{unacceptable_type,{}}}", type_name(v));
            return Err(invalid("x-cancel-on-ha-failover", detail));
        }
    }
    let Some(v) = args.get("x-priority") else {
        return Ok(0);
    };
    let priority = match v {
        // RabbitMQ reads `L` as a signed 64-bit integer.
        FieldValue::U64(n) => *n as i64,
        v => v.as_i64().ok_or_else(|| {
            invalid(
                "x-priority",
                format!("\"expected integer, got {}\"", type_name(v)),
            )
        })?,
    };
    Ok(priority.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
}

impl Channel {
    pub(super) fn qos(&mut self, cx: &mut ConnCtx, m: basic::Qos) -> AmqpResult<()> {
        if m.prefetch_size != 0 {
            return Err(AmqpError::not_implemented(format!(
                "prefetch_size!=0 ({})",
                m.prefetch_size
            )));
        }
        if m.global {
            self.credit.set_prefetch(u32::from(m.prefetch_count));
            self.stats
                .global_prefetch_count
                .store(u32::from(m.prefetch_count), Ordering::Relaxed);
            self.wake_consumers();
        } else {
            self.consumer_prefetch = u32::from(m.prefetch_count);
            self.stats
                .prefetch_count
                .store(u32::from(m.prefetch_count), Ordering::Relaxed);
        }
        cx.send(self.id, basic::QosOk {});
        Ok(())
    }

    pub(super) fn consume(&mut self, cx: &mut ConnCtx, m: basic::Consume) -> AmqpResult<()> {
        // RabbitMQ checks the tag before it looks at the queue: a reused tag is a 530
        // even when the queue does not exist.
        if self.consumers.contains_key(m.consumer_tag.as_str()) {
            return Err(AmqpError::not_allowed(format!(
                "attempt to reuse consumer tag '{}'",
                m.consumer_tag
            )));
        }
        let name = self.queue_name(m.queue)?;
        let queue = if name == super::reply_to::PSEUDO_QUEUE {
            self.reply_to_queue(cx, m.no_ack)?
        } else {
            super::authorize::queue_read(cx, &name)?;
            cx.vhost.queue(&name, cx.id)?
        };
        let tag: Arc<str> = if m.consumer_tag.is_empty() {
            Arc::from(generated_consumer_tag())
        } else {
            Arc::from(m.consumer_tag.as_str())
        };
        let priority = consume_priority(&m.arguments, &name, cx.vhost.name())?;
        let consumer = Arc::new(Consumer::new(
            ConsumerSpec {
                tag: tag.clone(),
                channel_id: self.id,
                connection: cx.id,
                no_ack: m.no_ack,
                exclusive: m.exclusive,
                prefetch: self.consumer_prefetch,
                priority,
                unsent_window: cx.limits.consumer_unsent_window,
            },
            &queue,
            self.credit.clone(),
            cx.outbound.clone(),
        ));
        // A refused consumer (exclusivity, a stream's refusals) gets no consume-ok, only
        // the error.
        queue.add_consumer_with(consumer.clone(), &m.arguments)?;
        self.consumers
            .insert(tag.clone(), super::ChannelConsumer { consumer, queue });
        self.note_consumers();
        // consume-ok still goes out before any delivery: deliveries reach the connection
        // through its outbound channel, which it reads only after this handler returns.
        if !m.no_wait {
            cx.send(
                self.id,
                basic::ConsumeOk {
                    consumer_tag: tag.to_string(),
                },
            );
        }
        Ok(())
    }

    pub(super) fn cancel(&mut self, cx: &mut ConnCtx, m: basic::Cancel) -> AmqpResult<()> {
        if let Some(c) = self.consumers.remove(m.consumer_tag.as_str()) {
            cx.vhost.consumer_removed(&c.consumer);
            self.note_consumers();
        }
        if !m.no_wait {
            cx.send(
                self.id,
                basic::CancelOk {
                    consumer_tag: m.consumer_tag,
                },
            );
        }
        Ok(())
    }

    pub(super) fn get(&mut self, cx: &mut ConnCtx, m: basic::Get) -> AmqpResult<()> {
        let name = self.queue_name(m.queue)?;
        super::authorize::queue_read(cx, &name)?;
        let queue = cx.vhost.queue(&name, cx.id)?;
        queue.refuse_on_stream("basic.get")?;
        let Some((message, remaining)) = queue.get(m.no_ack) else {
            self.stats.counters.get_empty.bump();
            cx.send(self.id, basic::GetEmpty::default());
            return Ok(());
        };
        let counters = &self.stats.counters;
        counters.redeliver.add(u64::from(message.redelivered));
        if m.no_ack {
            counters.get_no_ack.bump();
        } else {
            counters.get.bump();
        }
        let tag = self.next_delivery_tag;
        self.next_delivery_tag += 1;
        let msg = message.message.clone();
        cx.send(
            self.id,
            basic::GetOk {
                delivery_tag: tag,
                redelivered: message.redelivered,
                exchange: msg.exchange.to_string(),
                routing_key: msg.routing_key.to_string(),
                message_count: remaining,
            },
        );
        cx.send_content(self.id, &msg);
        if !m.no_ack {
            self.unacked.insert(
                tag,
                Unacked {
                    tag,
                    queue,
                    message,
                    consumer: None,
                    delivered_at: tokio::time::Instant::now(),
                },
            );
        }
        Ok(())
    }

    pub(super) fn ack(&mut self, tag: u64, multiple: bool) -> AmqpResult<()> {
        let entries = self.unacked.take(tag, multiple)?;
        self.stats.counters.ack.add(entries.len() as u64);
        if self.mode.buffers_acks() {
            // Validated now so an unknown tag fails at once; settled at commit.
            self.mode.buffer_settle(entries, Settle::Ack);
            return Ok(());
        }
        // Settled at the end of the input batch (or before the next other method).
        if self.pending_acks.is_empty() {
            self.pending_acks = entries;
        } else {
            self.pending_acks.extend(entries);
        }
        Ok(())
    }

    pub(super) fn reject(
        &mut self,
        _cx: &mut ConnCtx,
        tag: u64,
        multiple: bool,
        requeue: bool,
    ) -> AmqpResult<()> {
        let entries = self.unacked.take(tag, multiple)?;
        if let Some(stream) = entries.iter().find(|e| e.queue.is_stream()) {
            let refused = stream.queue.refuse_on_stream("basic.nack and basic.reject");
            // The connection closes; the consumers get their credit back meanwhile.
            settle(entries, Settle::Requeue);
            return refused;
        }
        let how = if requeue {
            Settle::Requeue
        } else {
            Settle::Discard
        };
        if self.mode.buffers_acks() {
            self.mode.buffer_settle(entries, how);
            return Ok(());
        }
        settle(entries, how);
        Ok(())
    }

    pub(super) fn recover(
        &mut self,
        cx: &mut ConnCtx,
        requeue: bool,
        reply: bool,
    ) -> AmqpResult<()> {
        // RabbitMQ only implements requeue=true (for basic.recover and recover-async
        // alike); redelivery to the original recipient is a 540 connection exception.
        if !requeue {
            return Err(AmqpError::not_implemented("requeue=false"));
        }
        settle(self.unacked.take_all(), Settle::Requeue);
        if reply {
            cx.send(self.id, basic::RecoverOk {});
        }
        Ok(())
    }
}

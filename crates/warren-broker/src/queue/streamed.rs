//! A queue that is a stream (`x-queue-type: stream`): the [`StreamQueue`] beside it does
//! the work, and the queue's operations hand over to it (publish, consumers, acks,
//! depth, the retention timer). Classic-only operations are refused with RabbitMQ's
//! texts (`basic.get`, `queue.purge`, nack/reject).

use warren_protocol::FieldTable;

use super::*;
use crate::stream::{attach, StreamQueue, RETENTION_TICK_MS};

impl Queue {
    /// Makes this queue a stream over `stream` (once, right after it is created).
    pub fn attach_stream(&self, stream: Arc<StreamQueue>) {
        if self.stream.set(stream).is_ok() {
            let mut st = self.state.lock();
            let due = now_ms() + RETENTION_TICK_MS;
            self.arm_timer(&mut st, due);
        }
    }

    /// The stream behind this queue, if it is one.
    pub fn stream(&self) -> Option<&Arc<StreamQueue>> {
        self.stream.get()
    }

    /// Whether this queue is a stream.
    pub fn is_stream(&self) -> bool {
        self.stream.get().is_some()
    }

    /// RabbitMQ's 540 for an operation streams do not support (`what`: "basic.get",
    /// "queue.purge", "basic.nack and basic.reject"); Ok for other queues.
    pub fn refuse_on_stream(&self, what: &str) -> AmqpResult<()> {
        if !self.is_stream() {
            return Ok(());
        }
        Err(AmqpError::not_implemented(format!(
            "{what} not supported by stream queues queue '{}' in vhost '{}'",
            self.config.name, self.vhost_name
        )))
    }

    /// Attaches a consumer with its `basic.consume` arguments (a stream reads
    /// `x-stream-offset` and `x-stream-consumer-name` from them), then delivers.
    pub fn add_consumer_with(
        &self,
        consumer: Arc<Consumer>,
        arguments: &FieldTable,
    ) -> AmqpResult<()> {
        let Some(stream) = self.stream.get() else {
            return self.add_consumer(consumer);
        };
        attach::check_consumer(&consumer, &self.config.name, &self.vhost_name)?;
        // Parsed before anything is attached, so a refusal leaves nothing behind.
        crate::stream::StreamConsume::parse(arguments, &self.config.name, &self.vhost_name)?;
        self.add_consumer(consumer.clone())?;
        stream.attach(consumer, arguments)
    }

    /// A publish to a stream: appended, never refused for length (retention trims
    /// instead). A failed append is a refusal (the publisher gets a nack).
    pub(super) fn publish_to_stream(
        &self,
        stream: &StreamQueue,
        message: &Message,
    ) -> PublishOutcome {
        match stream.publish(message) {
            Ok(rolled) => {
                if rolled {
                    self.apply_stream_retention(stream, now_ms());
                }
                PublishOutcome::Enqueued
            }
            Err(_) if self.is_deleted() => PublishOutcome::QueueGone,
            Err(e) => {
                tracing::error!(queue = %self.config.name, error = %e, "stream append failed");
                PublishOutcome::Rejected
            }
        }
    }

    /// Applies the retention in effect (declared `x-max-age`, and `x-max-length-bytes`
    /// as declared or set by a policy).
    fn apply_stream_retention(&self, stream: &StreamQueue, now: u64) {
        let args = self.args();
        let max_age = args.stream.and_then(|s| s.max_age_ms);
        stream.apply_retention(now, max_age, args.max_length_bytes);
    }

    /// The retention tick: applies retention and re-arms.
    pub(super) fn stream_tick(&self, stream: &StreamQueue, now: u64) {
        self.apply_stream_retention(stream, now);
        let mut st = self.state.lock();
        st.timer_due_ms = None;
        self.arm_timer(&mut st, now + RETENTION_TICK_MS);
    }

    /// `consumer` acknowledged the delivery of `offset` from this stream (its credit was
    /// given back by the channel): a named consumer's offset is tracked.
    pub fn stream_acked(&self, consumer: &Arc<Consumer>, offset: u64) {
        if let Some(stream) = self.stream.get() {
            stream.acked(consumer, offset);
        }
    }
}

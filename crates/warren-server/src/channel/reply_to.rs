//! Direct reply-to: consuming from the pseudo-queue `amq.rabbitmq.reply-to` and
//! publishing requests whose `reply_to` names it, so an RPC client needs no reply queue
//! of its own.
//!
//! Behind the pseudo-queue each channel gets a hidden exclusive queue with an
//! unguessable name; a request's `reply_to` is rewritten to that name, and the replier
//! publishes to it through the default exchange like to any queue.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use warren_broker::{AmqpError, AmqpResult, Queue};
use warren_protocol::method::queue;
use warren_protocol::BasicProperties;

use super::{Channel, ConnCtx};

/// The pseudo-queue RPC clients consume from and name in `reply_to`.
pub(crate) const PSEUDO_QUEUE: &str = "amq.rabbitmq.reply-to";

impl Channel {
    /// The hidden queue a `basic.consume` on [`PSEUDO_QUEUE`] attaches to.
    pub(super) fn reply_to_queue(
        &mut self,
        cx: &mut ConnCtx,
        no_ack: bool,
    ) -> AmqpResult<Arc<Queue>> {
        if !no_ack {
            return Err(AmqpError::precondition_failed(
                "reply consumer cannot acknowledge",
            ));
        }
        if let Some(q) = self.reply_queue.as_ref().filter(|q| !q.is_deleted()) {
            return Ok(q.clone());
        }
        let q = cx.vhost.declare_reply_to_queue(cx.id);
        self.reply_queue = Some(q.clone());
        Ok(q)
    }

    /// `queue.declare` of the pseudo-queue, which RabbitMQ answers as if it existed,
    /// counting this channel's reply consumer.
    pub(super) fn declare_reply_to_pseudo_queue(
        &mut self,
        cx: &mut ConnCtx,
        no_wait: bool,
    ) -> AmqpResult<()> {
        let consumer_count = self
            .reply_queue
            .as_ref()
            .filter(|q| !q.is_deleted())
            .map_or(0, |q| q.consumer_count());
        if !no_wait {
            cx.send(
                self.id,
                queue::DeclareOk {
                    queue: PSEUDO_QUEUE.to_owned(),
                    message_count: 0,
                    consumer_count,
                },
            );
        }
        Ok(())
    }

    /// Rewrites `reply_to: amq.rabbitmq.reply-to` to this channel's hidden reply queue;
    /// other properties pass through untouched.
    pub(super) fn rewrite_reply_to(
        &self,
        props: &BasicProperties,
        raw: Bytes,
    ) -> AmqpResult<Bytes> {
        if props.reply_to.as_deref() != Some(PSEUDO_QUEUE) {
            return Ok(raw);
        }
        let Some(q) = self
            .reply_queue
            .as_ref()
            .filter(|q| !q.is_deleted() && q.consumer_count() > 0)
        else {
            return Err(AmqpError::precondition_failed(
                "fast reply consumer does not exist",
            ));
        };
        let mut rewritten = props.clone();
        rewritten.reply_to = Some(q.name().to_string());
        let mut buf = BytesMut::new();
        rewritten.encode(&mut buf);
        Ok(buf.freeze())
    }
}

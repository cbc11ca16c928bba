//! Publishing: assembling content from header and body frames, routing, mandatory
//! returns, publisher confirms and transactions.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use warren_broker::routing::MessageFields;
use warren_broker::{AmqpError, AmqpResult, Message, PublishOutcome, Queue};
use warren_protocol::method::basic;
use warren_protocol::properties::BASIC_CLASS_ID;
use warren_protocol::{ContentHeader, ReplyCode};

use super::expiration::check_expiration;
use super::publish_mode::PublishMode;
use super::{Channel, ConnCtx};

/// Bodies smaller than this are copied out of the socket read buffer into their own
/// allocation, so a long-lived small message does not pin a whole read buffer; larger
/// bodies are kept as slices of it, without a copy.
const COPY_BODY_BELOW: usize = 512;

/// Where the channel is in receiving a published message.
#[derive(Debug, Default)]
pub(super) enum ContentState {
    /// No content expected.
    #[default]
    Idle,
    /// `basic.publish` seen; its content header must come next.
    AwaitingHeader(basic::Publish),
    /// Header announced a body over the size limit: its bytes are counted but not kept,
    /// and the publish fails (as in RabbitMQ) once the last one has arrived.
    Discarding {
        publish: basic::Publish,
        size: u64,
        received: u64,
    },
    /// Header seen; body frames until `size` bytes have arrived.
    AwaitingBody {
        publish: basic::Publish,
        header: Box<ContentHeader>,
        raw_properties: Bytes,
        size: usize,
        body: BodyParts,
    },
}

/// Body bytes received so far.
#[derive(Debug, Default)]
pub(super) enum BodyParts {
    /// Nothing yet.
    #[default]
    Empty,
    /// Exactly one frame's payload, kept without copying.
    One(Bytes),
    /// Several frames, concatenated.
    Many(BytesMut),
}

impl BodyParts {
    fn len(&self) -> usize {
        match self {
            BodyParts::Empty => 0,
            BodyParts::One(b) => b.len(),
            BodyParts::Many(b) => b.len(),
        }
    }

    fn push(&mut self, payload: Bytes) {
        *self = match std::mem::take(self) {
            BodyParts::Empty => BodyParts::One(payload),
            BodyParts::One(first) => {
                let mut all = BytesMut::with_capacity(first.len() + payload.len());
                all.extend_from_slice(&first);
                all.extend_from_slice(&payload);
                BodyParts::Many(all)
            }
            BodyParts::Many(mut all) => {
                all.extend_from_slice(&payload);
                BodyParts::Many(all)
            }
        };
    }

    fn into_bytes(self) -> Bytes {
        match self {
            BodyParts::Empty => Bytes::new(),
            BodyParts::One(b) if b.len() < COPY_BODY_BELOW => Bytes::copy_from_slice(&b),
            BodyParts::One(b) => b,
            BodyParts::Many(b) => b.freeze(),
        }
    }
}

/// The default exchange's name, shared rather than allocated per message.
fn default_exchange_name() -> Arc<str> {
    static NAME: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();
    NAME.get_or_init(|| Arc::from("")).clone()
}

/// A message buffered in a transaction, delivered at `tx.commit`. As in RabbitMQ it is
/// routed when published; the commit delivers it to those of its queues that still exist.
#[derive(Debug)]
pub(super) struct PendingPublish {
    pub(super) publish: basic::Publish,
    pub(super) message: Arc<Message>,
    pub(super) queues: Vec<Arc<Queue>>,
}

impl Channel {
    pub(super) fn start_publish(&mut self, _cx: &mut ConnCtx, m: basic::Publish) -> AmqpResult<()> {
        self.content = ContentState::AwaitingHeader(m);
        Ok(())
    }

    /// Handles a content header frame.
    pub(crate) fn handle_header(
        &mut self,
        cx: &mut ConnCtx,
        header: Box<ContentHeader>,
        raw: Bytes,
    ) -> AmqpResult<()> {
        let ContentState::AwaitingHeader(publish) = std::mem::take(&mut self.content) else {
            return Err(AmqpError::unexpected_frame(format!(
                "expected method frame, got content header frame on channel {}",
                self.id
            )));
        };
        if header.class_id != BASIC_CLASS_ID {
            return Err(AmqpError::unexpected_frame(format!(
                "expected content header for class {BASIC_CLASS_ID}, got content header for class {}",
                header.class_id
            )));
        }
        if header.body_size > cx.limits.max_message_bytes {
            // RabbitMQ checks the size once the whole body is in; keep none of it.
            self.content = ContentState::Discarding {
                publish,
                size: header.body_size,
                received: 0,
            };
            return Ok(());
        }
        let size = header.body_size as usize;
        // Properties are small: copy them so the message does not pin the read buffer.
        let raw_properties = Bytes::copy_from_slice(&raw);
        if size == 0 {
            return self.finish_publish(cx, publish, &header, raw_properties, Bytes::new());
        }
        self.content = ContentState::AwaitingBody {
            publish,
            header,
            raw_properties,
            size,
            body: BodyParts::Empty,
        };
        Ok(())
    }

    /// Handles a content body frame.
    pub(crate) fn handle_body(&mut self, cx: &mut ConnCtx, payload: Bytes) -> AmqpResult<()> {
        if let ContentState::Discarding { size, received, .. } = &mut self.content {
            *received = received.saturating_add(payload.len() as u64);
            if *received > *size {
                return Err(body_too_long(*received, *size));
            }
            if *received < *size {
                return Ok(());
            }
            let size = *size;
            let ContentState::Discarding { publish, .. } = std::mem::take(&mut self.content) else {
                unreachable!("state checked above");
            };
            check_immediate(&publish)?;
            return Err(too_large(size, cx.limits.max_message_bytes));
        }
        let ContentState::AwaitingBody { size, body, .. } = &mut self.content else {
            return Err(AmqpError::unexpected_frame(format!(
                "expected method frame, got content body frame on channel {}",
                self.id
            )));
        };
        if body.len() + payload.len() > *size {
            return Err(body_too_long(
                (body.len() + payload.len()) as u64,
                *size as u64,
            ));
        }
        body.push(payload);
        if body.len() < *size {
            return Ok(());
        }
        let ContentState::AwaitingBody {
            publish,
            header,
            raw_properties,
            body,
            ..
        } = std::mem::take(&mut self.content)
        else {
            unreachable!("state checked above");
        };
        self.finish_publish(cx, publish, &header, raw_properties, body.into_bytes())
    }

    /// Checks a complete message in RabbitMQ's order (immediate, exchange, internal
    /// exchange, user_id, expiration), routes it, and delivers it now or, in a
    /// transaction, at commit.
    fn finish_publish(
        &mut self,
        cx: &mut ConnCtx,
        publish: basic::Publish,
        header: &ContentHeader,
        raw_properties: Bytes,
        body: Bytes,
    ) -> AmqpResult<()> {
        check_immediate(&publish)?;
        self.stats.counters.publish.bump();
        super::authorize::publish(cx, &publish.exchange)?;
        let target = if publish.exchange.is_empty() {
            None
        } else {
            let exchange = cx.vhost.exchange(&publish.exchange)?;
            if exchange.config().internal {
                return Err(AmqpError::access_refused(format!(
                    "cannot publish to internal exchange '{}' in vhost '{}'",
                    publish.exchange,
                    cx.vhost.name()
                )));
            }
            super::authorize::publish_topic(cx, &exchange, &publish.routing_key)?;
            Some(exchange)
        };
        let exchange = target
            .as_ref()
            .map_or_else(default_exchange_name, |e| e.name().clone());
        let props = &header.properties;
        if let Some(user_id) = &props.user_id {
            if *user_id != cx.user && !cx.access.is_impersonator() {
                return Err(AmqpError::precondition_failed(format!(
                    "user_id property set to '{user_id}' but authenticated user was '{}'",
                    cx.user
                )));
            }
        }
        if let Some(expiration) = &props.expiration {
            check_expiration(expiration)?;
        }
        let raw_properties = self.rewrite_reply_to(props, raw_properties)?;
        let message = Arc::new(Message::new(
            exchange,
            &publish.routing_key,
            props,
            raw_properties,
            body,
        ));
        if let Some(ex) = &target {
            if ex.is_duplicate(&message) {
                // Dropped by the exchange's deduplication; the publish still succeeded.
                if let PublishMode::Confirm { last_seq, .. } = &mut self.mode {
                    *last_seq += 1;
                }
                return Ok(());
            }
            if let Some(delay) = ex.delay_for(props.headers.as_ref()) {
                // Held by a delayed-message exchange: accepted (and confirmed) now,
                // routed when due; once stored if it is persistent and the exchange
                // durable, a store failure nacks it.
                let held = cx
                    .vhost
                    .hold_delayed(ex, props.headers.clone(), message, delay);
                if let Err(e) = &held {
                    tracing::error!(error = %e, "store: holding a delayed message failed");
                }
                if let PublishMode::Confirm {
                    last_seq, durable, ..
                } = &mut self.mode
                {
                    *last_seq += 1;
                    match held {
                        Ok(true) => durable.stored(*last_seq),
                        Ok(false) => {}
                        Err(_) => durable.nack(*last_seq),
                    }
                }
                return Ok(());
            }
        }
        let mut queues: Vec<Arc<Queue>> = Vec::new();
        cx.vhost.route_message(
            &publish.exchange,
            &publish.routing_key,
            &MessageFields::of(props),
            &mut queues,
        )?;
        if let PublishMode::Tx { publishes, .. } = &mut self.mode {
            publishes.push(PendingPublish {
                publish,
                message,
                queues,
            });
            return Ok(());
        }
        let stored_before = message.store_id.get().is_some();
        let routed = self.deliver_routed(cx, &publish, message.clone(), &queues);
        if let PublishMode::Confirm {
            last_seq, durable, ..
        } = &mut self.mode
        {
            self.stats.counters.publish_confirm.bump();
            *last_seq += 1;
            if routed.rejected {
                durable.nack(*last_seq);
            } else if routed.logged || (!stored_before && message.store_id.get().is_some()) {
                durable.stored(*last_seq);
            }
        }
        Ok(())
    }

    /// Enqueues a routed message, or returns it to a mandatory publisher if no queue
    /// took it. Says whether a queue refused it (`x-overflow=reject-publish`) and
    /// whether a stream appended it (then it is durable only after a group commit).
    pub(super) fn deliver_routed(
        &mut self,
        cx: &mut ConnCtx,
        publish: &basic::Publish,
        message: Arc<Message>,
        queues: &[Arc<Queue>],
    ) -> Routed {
        let mut delivered = false;
        let mut rejected = false;
        let mut logged = false;
        for q in queues.iter().filter(|q| !q.is_deleted()) {
            let outcome = q.publish(message.clone());
            rejected |= outcome == PublishOutcome::Rejected;
            logged |= outcome == PublishOutcome::Enqueued && q.is_stream();
            cx.flow.note(q);
            delivered = true;
        }
        let counters = &self.stats.counters;
        if delivered {
            counters.routed.bump();
        } else if publish.mandatory {
            counters.return_unroutable.bump();
        } else {
            counters.drop_unroutable.bump();
        }
        if !delivered && publish.mandatory {
            // Acks for earlier publishes must not overtake this return.
            self.flush_confirms(cx);
            cx.send(
                self.id,
                basic::Return {
                    reply_code: ReplyCode::NoRoute.code(),
                    reply_text: ReplyCode::NoRoute.name().into(),
                    exchange: publish.exchange.clone(),
                    routing_key: publish.routing_key.clone(),
                },
            );
            cx.send_content(self.id, &message);
        }
        Routed { rejected, logged }
    }
}

/// What became of a routed publish.
#[derive(Debug, Clone, Copy)]
pub(super) struct Routed {
    /// A queue refused it: the publisher gets a nack.
    pub rejected: bool,
    /// A stream appended it: a confirm waits for the group commit.
    pub logged: bool,
}

/// 540 for `immediate=true`, which RabbitMQ does not implement.
fn check_immediate(publish: &basic::Publish) -> AmqpResult<()> {
    if publish.immediate {
        return Err(AmqpError::not_implemented("immediate=true"));
    }
    Ok(())
}

/// RabbitMQ's 406 for a body over the configured limit.
fn too_large(size: u64, max: u64) -> AmqpError {
    AmqpError::precondition_failed(format!(
        "message size {size} is larger than configured max size {max}"
    ))
}

/// More body bytes than the content header announced.
fn body_too_long(received: u64, size: u64) -> AmqpError {
    AmqpError::frame_error(format!(
        "content body of {received} bytes exceeds the {size} announced in the header"
    ))
}

//! Publishing: assembling content from header and body frames, routing, mandatory
//! returns, publisher confirms and transactions.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use warren_broker::{AmqpError, AmqpResult, Message, PublishOutcome, Queue};
use warren_protocol::method::{basic, confirm, tx};
use warren_protocol::properties::BASIC_CLASS_ID;
use warren_protocol::{ContentHeader, ReplyCode};

use super::basic::{settle, Settle};
use super::confirms::{next_batch, DurableConfirms, SyncDone, Synced};
use super::expiration::check_expiration;
use super::unacked::Unacked;
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
    publish: basic::Publish,
    message: Arc<Message>,
    queues: Vec<Arc<Queue>>,
}

/// Confirm or transaction mode of a channel.
#[derive(Debug, Default)]
pub(super) enum PublishMode {
    /// Plain publishing.
    #[default]
    Normal,
    /// `confirm.select` seen: every publish gets a sequence number and an ack.
    Confirm {
        /// Sequence number of the last publish.
        last_seq: u64,
        /// Highest sequence number already acknowledged to the client.
        acked_up_to: u64,
        /// Publishes waiting for the disk, and nacks waiting for their turn.
        durable: DurableConfirms,
    },
    /// `tx.select` seen: publishes and settlements wait for `tx.commit`.
    Tx {
        publishes: Vec<PendingPublish>,
        settles: Vec<(Vec<Unacked>, Settle)>,
        /// Commits whose `commit-ok` waits for the disk (batch ids).
        commits: Vec<u64>,
    },
}

impl PublishMode {
    /// Whether acks and rejects wait for a commit.
    pub(super) fn buffers_acks(&self) -> bool {
        matches!(self, PublishMode::Tx { .. })
    }

    /// Buffers settled deliveries until commit.
    pub(super) fn buffer_settle(&mut self, entries: Vec<Unacked>, how: Settle) {
        if let PublishMode::Tx { settles, .. } = self {
            settles.push((entries, how));
        }
    }
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
            Some(exchange)
        };
        let exchange = target
            .as_ref()
            .map_or_else(default_exchange_name, |e| e.name().clone());
        let props = &header.properties;
        if let Some(user_id) = &props.user_id {
            if *user_id != cx.user {
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
        cx.vhost.route(
            &publish.exchange,
            &publish.routing_key,
            props.headers.as_ref(),
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
        let rejected = self.deliver_routed(cx, &publish, message.clone(), &queues);
        if let PublishMode::Confirm {
            last_seq, durable, ..
        } = &mut self.mode
        {
            *last_seq += 1;
            if rejected {
                durable.nack(*last_seq);
            } else if !stored_before && message.store_id.get().is_some() {
                durable.stored(*last_seq);
            }
        }
        Ok(())
    }

    /// Enqueues a routed message, or returns it to a mandatory publisher if no queue
    /// took it. Returns whether a queue refused it (`x-overflow=reject-publish`).
    fn deliver_routed(
        &mut self,
        cx: &mut ConnCtx,
        publish: &basic::Publish,
        message: Arc<Message>,
        queues: &[Arc<Queue>],
    ) -> bool {
        let mut delivered = false;
        let mut rejected = false;
        for q in queues.iter().filter(|q| !q.is_deleted()) {
            rejected |= q.publish(message.clone()) == PublishOutcome::Rejected;
            cx.flow.note(q);
            delivered = true;
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
        rejected
    }

    /// Sends the confirms that are due: one `basic.ack` covering every publish
    /// confirmed since the last flush (`multiple=true` when it covers more than one),
    /// with nacks in order. Publishes that stored a message wait for a group commit:
    /// this takes one ticket for all of them. The connection calls this after each batch
    /// of frames read from the socket and when a commit completes.
    pub(crate) fn flush_confirms(&mut self, cx: &mut ConnCtx) {
        if let PublishMode::Confirm {
            last_seq,
            acked_up_to,
            durable,
        } = &mut self.mode
        {
            if let Some(batch) = durable.take_batch(*last_seq) {
                cx.await_sync(self.id, batch, Synced::Confirms);
            }
            durable.flush(cx, self.id, *last_seq, acked_up_to);
        }
    }

    /// A group commit this channel waited for completed: sends the confirms (or the
    /// `tx.commit-ok`) it held back. A failed commit of a transaction is an error.
    pub(crate) fn sync_done(&mut self, cx: &mut ConnCtx, done: SyncDone) -> AmqpResult<()> {
        match (&mut self.mode, done.what) {
            (PublishMode::Confirm { durable, .. }, Synced::Confirms) => {
                if let Err(e) = &done.result {
                    tracing::error!(error = %e, "store sync failed: nacking publishes");
                }
                durable.resolved(done.batch, done.result.is_ok());
                self.flush_confirms(cx);
            }
            (PublishMode::Tx { commits, .. }, Synced::Commit) => {
                let Some(at) = commits.iter().position(|b| *b == done.batch) else {
                    return Ok(());
                };
                commits.remove(at);
                done.result.map_err(|e| AmqpError::store_failed(&e))?;
                cx.send(self.id, tx::CommitOk {});
            }
            _ => {}
        }
        Ok(())
    }

    pub(super) fn confirm_select(
        &mut self,
        cx: &mut ConnCtx,
        m: confirm::Select,
    ) -> AmqpResult<()> {
        match self.mode {
            PublishMode::Tx { .. } => {
                return Err(AmqpError::precondition_failed(
                    "cannot switch from tx to confirm mode",
                ))
            }
            PublishMode::Normal => {
                self.mode = PublishMode::Confirm {
                    last_seq: 0,
                    acked_up_to: 0,
                    durable: DurableConfirms::default(),
                }
            }
            PublishMode::Confirm { .. } => {}
        }
        if !m.nowait {
            cx.send(self.id, confirm::SelectOk {});
        }
        Ok(())
    }

    pub(super) fn tx_select(&mut self, cx: &mut ConnCtx) -> AmqpResult<()> {
        match self.mode {
            PublishMode::Confirm { .. } => {
                return Err(AmqpError::precondition_failed(
                    "cannot switch from confirm to tx mode",
                ))
            }
            PublishMode::Normal => {
                self.mode = PublishMode::Tx {
                    publishes: Vec::new(),
                    settles: Vec::new(),
                    commits: Vec::new(),
                }
            }
            PublishMode::Tx { .. } => {}
        }
        cx.send(self.id, tx::SelectOk {});
        Ok(())
    }

    pub(super) fn tx_commit(&mut self, cx: &mut ConnCtx) -> AmqpResult<()> {
        let PublishMode::Tx {
            publishes, settles, ..
        } = &mut self.mode
        else {
            return Err(AmqpError::precondition_failed(
                "channel is not transactional",
            ));
        };
        let publishes = std::mem::take(publishes);
        let settles = std::mem::take(settles);
        let mut stored = false;
        for p in publishes {
            // Transactions carry no confirms, so a reject-publish refusal has no nack.
            let message = p.message.clone();
            self.deliver_routed(cx, &p.publish, p.message, &p.queues);
            stored |= message.store_id.get().is_some();
        }
        for (entries, how) in settles {
            settle(entries, how);
        }
        if let PublishMode::Tx { commits, .. } = &mut self.mode {
            // Durable once on disk; a commit-ok never overtakes an earlier pending one.
            if stored || !commits.is_empty() {
                let batch = next_batch();
                commits.push(batch);
                cx.await_sync(self.id, batch, Synced::Commit);
                return Ok(());
            }
        }
        cx.send(self.id, tx::CommitOk {});
        Ok(())
    }

    pub(super) fn tx_rollback(&mut self, cx: &mut ConnCtx) -> AmqpResult<()> {
        let PublishMode::Tx { publishes, .. } = &mut self.mode else {
            return Err(AmqpError::precondition_failed(
                "channel is not transactional",
            ));
        };
        publishes.clear();
        self.restore_uncommitted_settles();
        cx.send(self.id, tx::RollbackOk {});
        Ok(())
    }

    /// Puts the deliveries that uncommitted acks and rejects took back among the
    /// unacknowledged ones: a rollback, or a channel closing mid-transaction, leaves them
    /// unsettled, as in RabbitMQ.
    pub(super) fn restore_uncommitted_settles(&mut self) {
        if let PublishMode::Tx { settles, .. } = &mut self.mode {
            for (entries, _) in std::mem::take(settles) {
                for e in entries {
                    self.unacked.insert(e.tag, e);
                }
            }
        }
    }
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

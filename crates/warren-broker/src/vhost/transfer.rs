//! Messages moved by the admin interface rather than by a client's channel: a publish
//! from the management API, a get that peeks (requeues) or takes, and moving messages
//! from one queue to others (dead-letter replay).
//!
//! Each waits for its store commit before it reports success, the way a publisher
//! confirm would: a move acknowledges a message in its source queue only once the copy
//! in its destination is durable, so an interruption can repeat a message but never lose
//! one.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use warren_protocol::{BasicProperties, FieldValue};

use super::VHost;
use crate::applied::store_failed;
use crate::error::{AmqpError, AmqpResult};
use crate::message::{Message, QueuedMessage};
use crate::queue::{PublishOutcome, Queue};
use crate::routing::MessageFields;

/// Moves at most this many messages per store commit.
const MOVE_BATCH: usize = 256;

/// What becomes of the messages a get took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetSettle {
    /// Put back where they were, marked redelivered (`ack_requeue_true`).
    Requeue,
    /// Acknowledged: they leave the queue (`ack_requeue_false`).
    Ack,
    /// Rejected without requeue: dead-lettered if the queue says so
    /// (`reject_requeue_false`).
    Reject,
}

/// One message a get returned.
#[derive(Debug, Clone)]
pub struct GotMessage {
    /// The message.
    pub message: Arc<Message>,
    /// Whether it had been delivered before.
    pub redelivered: bool,
    /// Ready messages left in the queue after it was taken.
    pub remaining: u32,
}

/// Where a move sends each message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveTo {
    /// Every message to this queue.
    Queue(String),
    /// Each message back to the queue named in its first `x-death` entry (the queue it
    /// was last dead-lettered from).
    FirstDeath,
}

/// What a move did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MoveReport {
    /// Messages moved.
    pub moved: u64,
    /// Messages left in place: no `x-death` entry, or a destination that does not exist.
    pub skipped: u64,
    /// Messages moved per destination queue.
    pub destinations: BTreeMap<String, u64>,
}

fn not_found(what: &str, name: &str, vhost: &str) -> AmqpError {
    AmqpError::not_found(format!("no {what} '{name}' in vhost '{vhost}'"))
}

/// The queue a dead-lettered message came from: `queue` of its first `x-death` entry.
pub fn first_death_queue(message: &Message) -> Option<String> {
    let props = message.properties();
    let FieldValue::Array(deaths) = props.headers.as_ref()?.get("x-death")? else {
        return None;
    };
    let FieldValue::Table(first) = deaths.first()? else {
        return None;
    };
    first
        .get("queue")
        .and_then(FieldValue::as_str)
        .map(str::to_owned)
}

impl VHost {
    /// Publishes a message as a client's `basic.publish` would (exchange `""` is the
    /// default exchange), and waits until a persistent message is durable. Returns
    /// whether any queue took it.
    pub async fn publish_message(
        &self,
        exchange: &str,
        routing_key: &str,
        properties: &BasicProperties,
        body: Bytes,
    ) -> AmqpResult<bool> {
        let exchange_name: Arc<str> = if exchange.is_empty() {
            Arc::from("")
        } else {
            self.exchange(exchange)?.name().clone()
        };
        let mut raw = BytesMut::new();
        properties.encode(&mut raw);
        let message = Arc::new(Message::new(
            exchange_name,
            routing_key,
            properties,
            raw.freeze(),
            body,
        ));
        let mut queues = Vec::new();
        self.route_message(
            exchange,
            routing_key,
            &MessageFields::of(properties),
            &mut queues,
        )?;
        let mut routed = false;
        for q in queues.iter().filter(|q| !q.is_deleted()) {
            routed |= matches!(
                q.publish(message.clone()),
                PublishOutcome::Enqueued | PublishOutcome::Duplicate
            );
        }
        if message.store_id.get().is_some() {
            self.sync().await.map_err(store_failed)?;
        }
        Ok(routed)
    }

    /// Takes up to `count` messages from the head of `queue` and settles them as
    /// `settle` says, after all were taken (so a requeueing get of N shows the first N).
    pub async fn get_messages(
        &self,
        queue: &str,
        count: usize,
        settle: GetSettle,
    ) -> AmqpResult<Vec<GotMessage>> {
        let q = self.queue_for_admin(queue)?;
        let mut taken: Vec<QueuedMessage> = Vec::new();
        let mut got = Vec::new();
        while taken.len() < count {
            let Some((m, remaining)) = q.get(false) else {
                break;
            };
            got.push(GotMessage {
                message: m.message.clone(),
                redelivered: m.redelivered,
                remaining,
            });
            taken.push(m);
        }
        match settle {
            GetSettle::Requeue => q.requeue(taken),
            GetSettle::Ack => q.ack(&taken),
            GetSettle::Reject => q.discard(taken),
        }
        if settle != GetSettle::Requeue && q.persistence().is_some() {
            self.sync().await.map_err(store_failed)?;
        }
        Ok(got)
    }

    /// Moves up to `limit` messages from the head of `from` to `to`, committing each
    /// batch to its destinations before acknowledging it in `from`. A dry run only
    /// counts, from the ready messages held in memory, and changes nothing.
    pub async fn move_messages(
        &self,
        from: &str,
        to: &MoveTo,
        limit: Option<u64>,
        dry_run: bool,
    ) -> AmqpResult<MoveReport> {
        let source = self.queue_for_admin(from)?;
        if let MoveTo::Queue(dest) = to {
            if dest == from {
                return Err(AmqpError::precondition_failed(format!(
                    "cannot move messages from queue '{from}' to itself"
                )));
            }
            self.queue_for_admin(dest)?;
        }
        let limit = limit.unwrap_or(u64::MAX);
        if dry_run {
            return Ok(self.plan_move(&source, to, limit));
        }
        let mut report = MoveReport::default();
        let mut skipped: Vec<QueuedMessage> = Vec::new();
        while report.moved < limit {
            let want = (limit - report.moved).min(MOVE_BATCH as u64) as usize;
            let mut batch: Vec<QueuedMessage> = Vec::with_capacity(want);
            while batch.len() < want {
                let Some((m, _)) = source.get(false) else {
                    break;
                };
                match self.destination(to, &m.message) {
                    Some(dest) => {
                        dest.publish(Arc::new(m.message.copy_for_republish()));
                        *report
                            .destinations
                            .entry(dest.name().to_string())
                            .or_default() += 1;
                        batch.push(m);
                    }
                    None => skipped.push(m),
                }
            }
            if batch.is_empty() {
                break;
            }
            // The copies are durable before the originals go.
            self.sync().await.map_err(store_failed)?;
            report.moved += batch.len() as u64;
            source.ack(&batch);
        }
        report.skipped = skipped.len() as u64;
        source.requeue(skipped);
        self.sync().await.map_err(store_failed)?;
        Ok(report)
    }

    fn plan_move(&self, source: &Queue, to: &MoveTo, limit: u64) -> MoveReport {
        let mut report = MoveReport::default();
        for m in source.peek_ready(usize::try_from(limit).unwrap_or(usize::MAX)) {
            match self.destination(to, &m) {
                Some(dest) => {
                    report.moved += 1;
                    *report
                        .destinations
                        .entry(dest.name().to_string())
                        .or_default() += 1;
                }
                None => report.skipped += 1,
            }
        }
        report
    }

    fn destination(&self, to: &MoveTo, message: &Message) -> Option<Arc<Queue>> {
        let name = match to {
            MoveTo::Queue(name) => name.clone(),
            MoveTo::FirstDeath => first_death_queue(message)?,
        };
        self.queues
            .get(name.as_str())
            .map(|q| q.clone())
            .filter(|q| !q.is_deleted())
    }

    /// A queue by name for an admin operation (exclusive queues included: the admin
    /// interface is not a connection).
    fn queue_for_admin(&self, name: &str) -> AmqpResult<Arc<Queue>> {
        self.queues
            .get(name)
            .map(|q| q.clone())
            .ok_or_else(|| not_found("queue", name, &self.name))
    }
}

//! Dead-lettering: republishing rejected, expired, overflowed or over-delivered
//! messages to a queue's dead-letter exchange, with RabbitMQ's `x-death` bookkeeping.

use std::sync::Arc;

use bytes::Bytes;
use warren_protocol::{FieldTable, FieldValue};

use crate::clock::now_ms;
use crate::message::Message;
use crate::queue::Queue;
use crate::vhost::VHost;

/// Why a message was dead-lettered (the `reason` of its `x-death` entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeathReason {
    /// Rejected or nacked with `requeue=false`.
    Rejected,
    /// Its TTL passed.
    Expired,
    /// Dropped by a length limit.
    Maxlen,
    /// Delivered more often than `x-delivery-limit` allows.
    DeliveryLimit,
}

impl DeathReason {
    /// The reason as RabbitMQ writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            DeathReason::Rejected => "rejected",
            DeathReason::Expired => "expired",
            DeathReason::Maxlen => "maxlen",
            DeathReason::DeliveryLimit => "delivery_limit",
        }
    }
}

/// A message leaving a queue for its dead-letter exchange.
#[derive(Debug)]
pub struct DeadLetter {
    /// The message as it was in the queue.
    pub message: Arc<Message>,
    /// Why it left.
    pub reason: DeathReason,
}

fn text(s: &str) -> FieldValue {
    FieldValue::LongString(Bytes::copy_from_slice(s.as_bytes()))
}

fn entry_is(entry: &FieldValue, queue: &str, reason: &str) -> bool {
    let FieldValue::Table(t) = entry else {
        return false;
    };
    t.get("queue").and_then(FieldValue::as_str) == Some(queue)
        && t.get("reason").and_then(FieldValue::as_str) == Some(reason)
}

/// Adds this death to the `x-death` array (most recent first; a repeat of the same
/// queue and reason increments its count and moves it to the front) and sets the
/// `x-first-death-*` (once) and `x-last-death-*` headers.
pub fn record_death(
    headers: &mut FieldTable,
    queue: &str,
    reason: DeathReason,
    message: &Message,
    original_expiration: Option<&str>,
) {
    let reason_text = reason.as_str();
    let mut deaths = match headers.remove("x-death") {
        Some(FieldValue::Array(a)) => a,
        _ => Vec::new(),
    };
    let existing = deaths.iter().position(|e| entry_is(e, queue, reason_text));
    let entry = match existing {
        Some(i) => {
            let mut e = deaths.remove(i);
            if let FieldValue::Table(t) = &mut e {
                let count = t.get("count").and_then(FieldValue::as_i64).unwrap_or(0);
                t.insert("count", FieldValue::I64(count + 1));
                t.insert("time", FieldValue::Timestamp(now_ms() / 1000));
            }
            e
        }
        None => {
            let mut t = FieldTable::new();
            t.insert("count", FieldValue::I64(1));
            t.insert("reason", text(reason_text));
            t.insert("queue", text(queue));
            t.insert("time", FieldValue::Timestamp(now_ms() / 1000));
            t.insert("exchange", text(&message.exchange));
            t.insert(
                "routing-keys",
                FieldValue::Array(vec![text(&message.routing_key)]),
            );
            if let Some(exp) = original_expiration {
                t.insert("original-expiration", text(exp));
            }
            FieldValue::Table(t)
        }
    };
    deaths.insert(0, entry);
    headers.insert("x-death", FieldValue::Array(deaths));
    if headers.get("x-first-death-reason").is_none() {
        headers.insert("x-first-death-reason", text(reason_text));
        headers.insert("x-first-death-queue", text(queue));
        headers.insert("x-first-death-exchange", text(&message.exchange));
    }
    headers.insert("x-last-death-reason", text(reason_text));
    headers.insert("x-last-death-queue", text(queue));
    headers.insert("x-last-death-exchange", text(&message.exchange));
}

/// Whether delivering to `target` would close a dead-letter cycle with no rejection in
/// it: RabbitMQ drops the message for that queue instead of looping forever.
fn is_cycle(headers: &FieldTable, target: &str) -> bool {
    let Some(FieldValue::Array(deaths)) = headers.get("x-death") else {
        return false;
    };
    let visited = deaths.iter().any(|e| match e {
        FieldValue::Table(t) => t.get("queue").and_then(FieldValue::as_str) == Some(target),
        _ => false,
    });
    let any_rejection = deaths.iter().any(|e| match e {
        FieldValue::Table(t) => t.get("reason").and_then(FieldValue::as_str) == Some("rejected"),
        _ => false,
    });
    visited && !any_rejection
}

/// Republishes `letters` from queue `from` to its dead-letter exchange. A missing
/// exchange drops them silently, as in RabbitMQ.
pub fn dead_letter(vhost: &VHost, from: &Queue, letters: Vec<DeadLetter>) {
    let args = from.args();
    let Some(dlx) = args.dead_letter_exchange.clone() else {
        return;
    };
    let mut targets: Vec<Arc<Queue>> = Vec::new();
    for letter in letters {
        let mut props = letter.message.properties();
        let original_expiration = props.expiration.take();
        let mut headers = props.headers.take().unwrap_or_default();
        // The count of redeliveries belongs to the queue it left (RabbitMQ writes it at
        // delivery and does not carry it over).
        headers.remove("x-delivery-count");
        record_death(
            &mut headers,
            from.name(),
            letter.reason,
            &letter.message,
            original_expiration.as_deref(),
        );
        let routing_key = args
            .dead_letter_routing_key
            .as_deref()
            .unwrap_or(&letter.message.routing_key)
            .to_owned();
        targets.clear();
        if vhost
            .route(&dlx, &routing_key, Some(&headers), &mut targets)
            .is_err()
        {
            continue;
        }
        targets.retain(|q| !is_cycle(&headers, q.name()));
        if targets.is_empty() {
            continue;
        }
        props.headers = Some(headers);
        let mut message = letter.message.with_properties(&props);
        message.exchange = dlx.clone();
        message.routing_key = routing_key.into_boxed_str();
        let message = Arc::new(message);
        for q in &targets {
            q.publish(message.clone());
        }
    }
}

//! Dead-lettering: republishing rejected, expired, overflowed or over-delivered
//! messages to a queue's dead-letter exchange, with RabbitMQ's `x-death` bookkeeping.

use std::sync::Arc;

use bytes::Bytes;
use warren_protocol::{FieldTable, FieldValue};

use crate::clock::now_ms;
use crate::message::Message;
use crate::route_back::RouteBack;
use crate::routing::MessageFields;

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

/// Where a queue's dead letters go: its `x-dead-letter-exchange` and, if set, its
/// `x-dead-letter-routing-key`.
#[derive(Debug, Clone, Copy)]
pub struct DeadLetterTo<'a> {
    /// The queue they leave (recorded in `x-death`).
    pub queue: &'a str,
    /// The dead-letter exchange.
    pub exchange: &'a Arc<str>,
    /// Replaces the message's routing key if set.
    pub routing_key: Option<&'a str>,
}

/// Republishes `letters` to their dead-letter exchange through `route` (the virtual
/// host, seen through its narrow handle). A missing exchange drops them silently, and a
/// queue that would close a cycle with no rejection in it is skipped, as in RabbitMQ.
pub fn dead_letter<R: RouteBack + ?Sized>(
    route: &R,
    to: DeadLetterTo<'_>,
    letters: Vec<DeadLetter>,
) {
    for letter in letters {
        let mut props = letter.message.properties();
        let original_expiration = props.expiration.take();
        let mut headers = props.headers.take().unwrap_or_default();
        // The count of redeliveries belongs to the queue it left (RabbitMQ writes it at
        // delivery and does not carry it over).
        headers.remove("x-delivery-count");
        record_death(
            &mut headers,
            to.queue,
            letter.reason,
            &letter.message,
            original_expiration.as_deref(),
        );
        let routing_key = to.routing_key.unwrap_or(&letter.message.routing_key);
        props.headers = Some(headers);
        let mut message = letter.message.with_properties(&props);
        message.exchange = to.exchange.clone();
        message.routing_key = routing_key.into();
        let headers = props.headers.as_ref();
        let accept = |target: &str| !headers.is_some_and(|h| is_cycle(h, target));
        let message = Arc::new(message);
        let fields = MessageFields::of(&props);
        route.route_back(to.exchange, routing_key, &fields, &accept, message);
    }
}

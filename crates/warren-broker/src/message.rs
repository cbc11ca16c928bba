//! Messages as the broker holds them: shared, immutable, cheap to clone.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use warren_protocol::wire::Reader;
use warren_protocol::BasicProperties;

use crate::error::AmqpError;

/// Milliseconds since the Unix epoch, the clock of TTLs and delays (wall-clock, so it
/// survives restarts).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Parses an `expiration` property: a non-negative integer number of milliseconds,
/// with RabbitMQ's reply texts for anything else.
pub fn parse_expiration(text: &str) -> Result<u64, AmqpError> {
    let invalid = |detail: String| {
        AmqpError::precondition_failed(format!("invalid expiration '{text}': {detail}"))
    };
    let digits_start = usize::from(text.starts_with(['-', '+']));
    let digits_len = text[digits_start..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    if digits_len == 0 {
        return Err(invalid("no_integer".into()));
    }
    let number = &text[..digits_start + digits_len];
    let rest = &text[digits_start + digits_len..];
    if !rest.is_empty() {
        return Err(invalid(format!("{{leftover_string,\"{rest}\"}}")));
    }
    if text.starts_with('-') && number[1..].bytes().any(|b| b != b'0') {
        return Err(invalid(format!("{{value_negative,{number}}}")));
    }
    number
        .trim_start_matches(['-', '+'])
        .parse::<u64>()
        .map_err(|_| invalid(format!("{{value_too_large,{number}}}")))
}

/// A published message. One `Arc<Message>` is shared by every queue it was routed to.
///
/// Properties are kept in their encoded form (usually a few bytes) and delivered as they
/// were published; the few properties the broker acts on are decoded once, here.
#[derive(Debug)]
pub struct Message {
    /// Exchange the message was published to.
    pub exchange: Arc<str>,
    /// Routing key it was published with.
    pub routing_key: Box<str>,
    /// Encoded property flags and properties.
    pub raw_properties: Bytes,
    /// Message body.
    pub body: Bytes,
    /// `priority` property (0 if absent).
    pub priority: u8,
    /// Whether `delivery_mode` is 2.
    pub persistent: bool,
    /// The `expiration` property, parsed (milliseconds).
    pub expiration_ms: Option<u64>,
    /// When it was published, in milliseconds since the Unix epoch.
    pub published_at_ms: u64,
}

impl Message {
    /// A message from its publish parameters and content.
    pub fn new(
        exchange: Arc<str>,
        routing_key: &str,
        properties: &BasicProperties,
        raw_properties: Bytes,
        body: Bytes,
    ) -> Self {
        Message {
            exchange,
            routing_key: routing_key.into(),
            raw_properties,
            body,
            priority: properties.priority.unwrap_or(0),
            persistent: properties.is_persistent(),
            expiration_ms: properties
                .expiration
                .as_deref()
                .and_then(|e| parse_expiration(e).ok()),
            published_at_ms: now_ms(),
        }
    }

    /// The message's properties, decoded from their wire form (off the hot path: used
    /// for dead-lettering, deduplication and header changes).
    pub fn properties(&self) -> BasicProperties {
        BasicProperties::decode(&mut Reader::new(&self.raw_properties, "message properties"))
            .unwrap_or_default()
    }

    /// A copy of this message with other properties (and the same body).
    pub fn with_properties(&self, properties: &BasicProperties) -> Message {
        let mut raw = BytesMut::new();
        properties.encode(&mut raw);
        Message {
            exchange: self.exchange.clone(),
            routing_key: self.routing_key.clone(),
            raw_properties: raw.freeze(),
            body: self.body.clone(),
            priority: properties.priority.unwrap_or(0),
            persistent: properties.is_persistent(),
            expiration_ms: properties
                .expiration
                .as_deref()
                .and_then(|e| parse_expiration(e).ok()),
            published_at_ms: self.published_at_ms,
        }
    }

    /// Body size in bytes.
    pub fn body_len(&self) -> usize {
        self.body.len()
    }
}

/// A message's place in one queue.
#[derive(Debug, Clone)]
pub struct QueuedMessage {
    /// Position in the queue's publish order; requeued messages go back by this.
    pub seq: u64,
    /// The shared message.
    pub message: Arc<Message>,
    /// Whether it was delivered before (set when requeued).
    pub redelivered: bool,
    /// When it expires in this queue (ms since the epoch), from the queue's and the
    /// message's TTL.
    pub expires_at_ms: Option<u64>,
    /// How many times it was delivered and came back (for `x-delivery-limit`).
    pub delivery_count: u32,
}

impl QueuedMessage {
    /// Body bytes, for `x-max-length-bytes`.
    pub fn body_len(&self) -> usize {
        self.message.body.len()
    }
}

#[cfg(test)]
mod tests {
    use super::parse_expiration;

    #[test]
    fn expiration_texts_match_rabbitmq() {
        let text = |e: &str| parse_expiration(e).unwrap_err().text;
        assert_eq!(text("abc"), "invalid expiration 'abc': no_integer");
        assert_eq!(text(""), "invalid expiration '': no_integer");
        assert_eq!(text("-1"), "invalid expiration '-1': {value_negative,-1}");
        assert_eq!(
            text("1.5"),
            "invalid expiration '1.5': {leftover_string,\".5\"}"
        );
        assert_eq!(
            text("99999999999999999999"),
            "invalid expiration '99999999999999999999': {value_too_large,99999999999999999999}"
        );
        assert_eq!(parse_expiration("4294967296").unwrap(), 4_294_967_296);
        assert_eq!(parse_expiration("0").unwrap(), 0);
    }
}

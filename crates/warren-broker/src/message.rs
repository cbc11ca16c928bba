//! Messages as the broker holds them: shared, immutable, cheap to clone.

use std::sync::{Arc, OnceLock};

use bytes::{Bytes, BytesMut};
use warren_protocol::wire::Reader;
use warren_protocol::BasicProperties;

use crate::clock::now_ms;

/// The TTL an `expiration` property asks for. The channel has already refused invalid
/// values with RabbitMQ's texts, so anything unparsable here means "no TTL".
fn expiration_ms(text: &str) -> Option<u64> {
    text.trim_start_matches('+').parse().ok()
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
    /// When it was published, in milliseconds since the Unix epoch (on the
    /// [`clock`](crate::clock)).
    pub published_at_ms: u64,
    /// Its id in the store, once a durable queue stored it (a persistent message is
    /// stored once, however many durable queues hold it).
    pub store_id: OnceLock<u64>,
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
            expiration_ms: properties.expiration.as_deref().and_then(expiration_ms),
            published_at_ms: now_ms(),
            store_id: OnceLock::new(),
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
            expiration_ms: properties.expiration.as_deref().and_then(expiration_ms),
            published_at_ms: self.published_at_ms,
            store_id: OnceLock::new(),
        }
    }

    /// Body size in bytes.
    pub fn body_len(&self) -> usize {
        self.body.len()
    }

    /// The same message (properties and body shared, not copied) as a new publish:
    /// not yet stored anywhere, so the queue it moves to stores its own copy.
    pub fn copy_for_republish(&self) -> Message {
        Message {
            exchange: self.exchange.clone(),
            routing_key: self.routing_key.clone(),
            raw_properties: self.raw_properties.clone(),
            body: self.body.clone(),
            priority: self.priority,
            persistent: self.persistent,
            expiration_ms: self.expiration_ms,
            published_at_ms: self.published_at_ms,
            store_id: OnceLock::new(),
        }
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
    /// Whether this queue's store holds an entry for it (removed when it leaves).
    pub stored: bool,
}

impl QueuedMessage {
    /// Body bytes, for `x-max-length-bytes`.
    pub fn body_len(&self) -> usize {
        self.message.body.len()
    }
}

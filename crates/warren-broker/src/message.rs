//! Messages as the broker holds them: shared, immutable, cheap to clone.

use std::sync::Arc;

use bytes::Bytes;
use warren_protocol::BasicProperties;

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
}

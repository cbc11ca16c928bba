//! What routing may read of a message besides its routing key.

use warren_protocol::{BasicProperties, FieldTable};

/// The message parts exchanges route on: the headers (headers exchanges, and
/// `x-consistent-hash` with `hash-header`) and the properties a consistent-hash exchange
/// may hash with `hash-property`. Borrowed, so building one costs nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct MessageFields<'a> {
    /// Application headers.
    pub headers: Option<&'a FieldTable>,
    /// The `message_id` property.
    pub message_id: Option<&'a str>,
    /// The `correlation_id` property.
    pub correlation_id: Option<&'a str>,
    /// The `timestamp` property.
    pub timestamp: Option<u64>,
}

impl<'a> MessageFields<'a> {
    /// Only headers (a caller that has no properties, or routes on headers alone).
    pub fn headers(headers: Option<&'a FieldTable>) -> Self {
        MessageFields {
            headers,
            ..MessageFields::default()
        }
    }

    /// The fields of a message with `properties`.
    pub fn of(properties: &'a BasicProperties) -> Self {
        MessageFields {
            headers: properties.headers.as_ref(),
            message_id: properties.message_id.as_deref(),
            correlation_id: properties.correlation_id.as_deref(),
            timestamp: properties.timestamp,
        }
    }
}

//! How a message is kept in a stream record (after the log's own offset and time):
//! `exchange (u8 length + bytes) | routing key (u8 length + bytes) | properties (u32 LE
//! length + encoded properties) | body`. The properties are stored with the
//! `x-stream-offset` header already set, so a delivery sends them as read: no decoding
//! or re-encoding per delivery.

use std::sync::{Arc, OnceLock};

use bytes::{Bytes, BytesMut};
use warren_protocol::{BasicProperties, FieldValue};

use crate::message::Message;

/// The header every delivery from a stream carries: the message's offset.
pub const OFFSET_HEADER: &str = "x-stream-offset";

/// A message as a stream delivers it: its properties with `x-stream-offset` set, the
/// same body (shared, not copied).
pub fn with_offset(message: &Message, offset: u64) -> Message {
    let mut props = message.properties();
    let mut headers = props.headers.take().unwrap_or_default();
    headers.insert(OFFSET_HEADER, FieldValue::I64(offset as i64));
    props.headers = Some(headers);
    let mut raw = BytesMut::new();
    props.encode(&mut raw);
    Message {
        exchange: message.exchange.clone(),
        routing_key: message.routing_key.clone(),
        raw_properties: raw.freeze(),
        body: message.body.clone(),
        priority: message.priority,
        persistent: message.persistent,
        expiration_ms: message.expiration_ms,
        published_at_ms: message.published_at_ms,
        store_id: OnceLock::new(),
    }
}

/// The record's head (everything before the body): the body follows as its own part,
/// so appending copies nothing of it here.
pub fn encode_head(message: &Message) -> BytesMut {
    let exchange = short(message.exchange.as_bytes());
    let routing_key = short(message.routing_key.as_bytes());
    let mut head = BytesMut::with_capacity(
        2 + exchange.len() + routing_key.len() + 4 + message.raw_properties.len(),
    );
    head.extend_from_slice(&[exchange.len() as u8]);
    head.extend_from_slice(exchange);
    head.extend_from_slice(&[routing_key.len() as u8]);
    head.extend_from_slice(routing_key);
    head.extend_from_slice(&(message.raw_properties.len() as u32).to_le_bytes());
    head.extend_from_slice(&message.raw_properties);
    head
}

/// AMQP short strings are at most 255 bytes (the channel refused longer ones).
fn short(b: &[u8]) -> &[u8] {
    &b[..b.len().min(255)]
}

/// Decodes a record back into a message published at `published_at_ms`; None if the
/// record is malformed. The properties and body share the record's buffer.
pub fn decode(payload: &Bytes, published_at_ms: u64) -> Option<Message> {
    let mut at = 0usize;
    let mut take = |n: usize| {
        let slice = payload.get(at..at + n)?;
        at += n;
        Some(slice)
    };
    let ex_len = take(1)?[0] as usize;
    let exchange = std::str::from_utf8(take(ex_len)?).ok()?;
    let exchange: Arc<str> = Arc::from(exchange);
    let rk_len = take(1)?[0] as usize;
    let routing_key: Box<str> = std::str::from_utf8(take(rk_len)?).ok()?.into();
    let props_len = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
    let props_at = take(0)?.as_ptr() as usize - payload.as_ptr() as usize;
    take(props_len)?;
    let raw_properties = payload.slice(props_at..props_at + props_len);
    let body = payload.slice(props_at + props_len..);
    let props = BasicProperties::decode(&mut warren_protocol::wire::Reader::new(
        &raw_properties,
        "stream record",
    ))
    .ok()?;
    Some(Message {
        exchange,
        routing_key,
        priority: props.priority.unwrap_or(0),
        persistent: props.is_persistent(),
        expiration_ms: None,
        raw_properties,
        body,
        published_at_ms,
        store_id: OnceLock::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_with_its_offset_header() {
        let props = BasicProperties {
            content_type: Some("text/plain".into()),
            ..Default::default()
        };
        let mut raw = BytesMut::new();
        props.encode(&mut raw);
        let m = Message::new(
            "ex".into(),
            "rk",
            &props,
            raw.freeze(),
            Bytes::from_static(b"hello"),
        );
        let delivered = with_offset(&m, 42);
        let mut payload = encode_head(&delivered);
        payload.extend_from_slice(&delivered.body);
        let back = decode(&payload.freeze(), 7).expect("decodes");
        assert_eq!(&*back.exchange, "ex");
        assert_eq!(&*back.routing_key, "rk");
        assert_eq!(&back.body[..], b"hello");
        assert_eq!(back.published_at_ms, 7);
        let p = back.properties();
        assert_eq!(p.content_type.as_deref(), Some("text/plain"));
        assert_eq!(
            p.headers.unwrap().get(OFFSET_HEADER),
            Some(&FieldValue::I64(42))
        );
        assert!(decode(&Bytes::from_static(b"\x05ab"), 0).is_none());
    }
}

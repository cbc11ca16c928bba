//! AMQP frames and the functions that write them.
//!
//! A frame is `type:u8 channel:u16 size:u32 payload[size] 0xCE`. Writing goes straight
//! into a [`BytesMut`] so a connection can batch many frames into one socket write.

use bytes::{BufMut, Bytes, BytesMut};

use crate::constants::{
    FRAME_BODY, FRAME_END, FRAME_HEADER, FRAME_HEARTBEAT, FRAME_METHOD, FRAME_OVERHEAD,
};
use crate::method::Method;
use crate::properties::{BasicProperties, ContentHeader, BASIC_CLASS_ID};

/// One decoded frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A method frame.
    Method {
        /// Channel the method is for (0 for the connection class).
        channel: u16,
        /// The decoded method.
        method: Method,
    },
    /// A content header frame, following a content-carrying method.
    Header {
        /// Channel of the content.
        channel: u16,
        /// The decoded header (boxed: it is much larger than the other variants).
        header: Box<ContentHeader>,
        /// The encoded property flags and properties, exactly as received, so a message
        /// can be delivered with its properties without re-encoding them.
        raw_properties: Bytes,
    },
    /// A content body frame; the payload shares the read buffer (no copy).
    Body {
        /// Channel of the content.
        channel: u16,
        /// Body bytes carried by this frame.
        payload: Bytes,
    },
    /// A heartbeat (always on channel 0).
    Heartbeat,
}

impl Frame {
    /// The channel this frame belongs to.
    pub fn channel(&self) -> u16 {
        match self {
            Frame::Method { channel, .. }
            | Frame::Header { channel, .. }
            | Frame::Body { channel, .. } => *channel,
            Frame::Heartbeat => 0,
        }
    }

    /// Appends this frame, whole, to `dst`. Body frames are not split: use
    /// [`write_content`] to respect a `frame_max`. A header frame is encoded from its
    /// decoded `header` (`raw_properties` is not used); [`write_header_raw`] passes the
    /// received property bytes through unchanged instead.
    pub fn encode(&self, dst: &mut BytesMut) {
        match self {
            Frame::Method { channel, method } => write_method(dst, *channel, method),
            Frame::Header {
                channel, header, ..
            } => {
                let at = begin_frame(dst, FRAME_HEADER, *channel);
                header.encode(dst);
                end_frame(dst, at);
            }
            Frame::Body { channel, payload } => write_body_frame(dst, *channel, payload),
            Frame::Heartbeat => write_heartbeat(dst),
        }
    }
}

/// Starts a frame: type, channel and a size placeholder. Returns where the size goes.
fn begin_frame(dst: &mut BytesMut, frame_type: u8, channel: u16) -> usize {
    dst.put_u8(frame_type);
    dst.put_u16(channel);
    let at = dst.len();
    dst.put_u32(0);
    at
}

/// Patches the size written by [`begin_frame`] and appends the frame-end octet.
fn end_frame(dst: &mut BytesMut, size_at: usize) {
    let size = (dst.len() - size_at - 4) as u32;
    dst[size_at..size_at + 4].copy_from_slice(&size.to_be_bytes());
    dst.put_u8(FRAME_END);
}

/// Appends a method frame.
pub fn write_method(dst: &mut BytesMut, channel: u16, method: &Method) {
    let at = begin_frame(dst, FRAME_METHOD, channel);
    method.encode(dst);
    end_frame(dst, at);
}

/// Appends a `basic` content header frame.
pub fn write_header(dst: &mut BytesMut, channel: u16, body_size: u64, props: &BasicProperties) {
    let at = begin_frame(dst, FRAME_HEADER, channel);
    dst.put_u16(BASIC_CLASS_ID);
    dst.put_u16(0);
    dst.put_u64(body_size);
    props.encode(dst);
    end_frame(dst, at);
}

/// Appends a content header frame whose property payload (flag word and properties) is
/// already encoded, as when a message is delivered with the properties it was published
/// with.
pub fn write_header_raw(dst: &mut BytesMut, channel: u16, body_size: u64, raw_props: &[u8]) {
    dst.put_u8(FRAME_HEADER);
    dst.put_u16(channel);
    dst.put_u32(12 + raw_props.len() as u32);
    dst.put_u16(BASIC_CLASS_ID);
    dst.put_u16(0);
    dst.put_u64(body_size);
    dst.put_slice(raw_props);
    dst.put_u8(FRAME_END);
}

/// Appends one body frame holding all of `payload`.
pub fn write_body_frame(dst: &mut BytesMut, channel: u16, payload: &[u8]) {
    dst.put_u8(FRAME_BODY);
    dst.put_u16(channel);
    dst.put_u32(payload.len() as u32);
    dst.put_slice(payload);
    dst.put_u8(FRAME_END);
}

/// Appends a heartbeat frame.
pub fn write_heartbeat(dst: &mut BytesMut) {
    dst.put_slice(&[FRAME_HEARTBEAT, 0, 0, 0, 0, 0, 0, FRAME_END]);
}

/// Largest body payload one frame may carry under `frame_max` (0 means no limit).
pub fn max_body_payload(frame_max: u32) -> usize {
    if frame_max == 0 {
        usize::MAX
    } else {
        frame_max.saturating_sub(FRAME_OVERHEAD) as usize
    }
}

/// Appends a content-carrying method, its header and its body split into frames of at
/// most `frame_max` bytes (an empty body sends no body frame, as the spec requires).
pub fn write_content(
    dst: &mut BytesMut,
    channel: u16,
    method: &Method,
    props: &BasicProperties,
    body: &[u8],
    frame_max: u32,
) {
    write_method(dst, channel, method);
    write_header(dst, channel, body.len() as u64, props);
    write_body(dst, channel, body, frame_max);
}

/// Appends `body` as body frames of at most `frame_max` bytes each.
pub fn write_body(dst: &mut BytesMut, channel: u16, body: &[u8], frame_max: u32) {
    let chunk = max_body_payload(frame_max).max(1);
    dst.reserve(body.len() + (body.len() / chunk + 1) * FRAME_OVERHEAD as usize);
    for part in body.chunks(chunk) {
        write_body_frame(dst, channel, part);
    }
}

/// Appends a `basic.deliver` method frame without building a [`Method`] value, for the
/// delivery hot path. Produces the same bytes as [`write_method`] with
/// `Method::BasicDeliver`.
pub fn write_deliver(
    dst: &mut BytesMut,
    channel: u16,
    consumer_tag: &str,
    delivery_tag: u64,
    redelivered: bool,
    exchange: &str,
    routing_key: &str,
) {
    let at = begin_frame(dst, FRAME_METHOD, channel);
    dst.put_u16(crate::method::basic::Deliver::CLASS_ID);
    dst.put_u16(crate::method::basic::Deliver::METHOD_ID);
    crate::wire::put_shortstr(dst, consumer_tag);
    dst.put_u64(delivery_tag);
    dst.put_u8(u8::from(redelivered));
    crate::wire::put_shortstr(dst, exchange);
    crate::wire::put_shortstr(dst, routing_key);
    end_frame(dst, at);
}

/// Appends the 7-byte header of a body frame carrying `len` bytes; the caller appends
/// the payload (possibly as a separate buffer) and then [`FRAME_END`].
pub fn write_body_frame_header(dst: &mut BytesMut, channel: u16, len: u32) {
    dst.put_u8(FRAME_BODY);
    dst.put_u16(channel);
    dst.put_u32(len);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::method::basic;

    #[test]
    fn write_deliver_matches_generic_encoding() {
        let m = basic::Deliver {
            consumer_tag: "ctag".into(),
            delivery_tag: 0x0102_0304_0506_0708,
            redelivered: true,
            exchange: "ex".into(),
            routing_key: "rk".into(),
        };
        let mut generic = BytesMut::new();
        write_method(&mut generic, 7, &Method::BasicDeliver(m.clone()));
        let mut fast = BytesMut::new();
        write_deliver(&mut fast, 7, "ctag", m.delivery_tag, true, "ex", "rk");
        assert_eq!(generic, fast);
    }

    #[test]
    fn write_header_raw_matches_decoded_header() {
        let props = BasicProperties {
            content_type: Some("text/plain".into()),
            priority: Some(3),
            ..Default::default()
        };
        let mut raw = BytesMut::new();
        props.encode(&mut raw);
        let mut a = BytesMut::new();
        write_header(&mut a, 2, 99, &props);
        let mut b = BytesMut::new();
        write_header_raw(&mut b, 2, 99, &raw);
        assert_eq!(a, b);
    }

    #[test]
    fn body_is_split_at_frame_max() {
        let mut dst = BytesMut::new();
        write_body(&mut dst, 1, &[7u8; 10_000], 4096);
        // 10_000 bytes in chunks of 4088: three frames of 8 bytes overhead each.
        assert_eq!(dst.len(), 10_000 + 3 * 8);
    }
}

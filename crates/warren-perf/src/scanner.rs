//! Reading a consumer's incoming frames without allocating: `basic.deliver` yields its
//! delivery tag, a content header the `x-stream-offset` header of a stream delivery,
//! the first body frame of a message its send timestamp, and anything else is decoded
//! as a [`Method`] (rare: cancels, closes, blocked notifications).
//!
//! Decoding deliveries through [`warren_protocol::FrameCodec`] would build three
//! `String`s per message (consumer tag, exchange, routing key) and box a content
//! header; at a million messages a second that is a measurable part of a core that the
//! broker under test should have instead. Everything that is not a delivery still
//! goes through warren-protocol's decoder.

use warren_protocol::constants::{
    FRAME_BODY, FRAME_END, FRAME_HEADER, FRAME_HEADER_SIZE, FRAME_HEARTBEAT, FRAME_METHOD,
    FRAME_OVERHEAD,
};
use warren_protocol::method::basic;
use warren_protocol::{Method, ProtocolError};

/// What one frame meant.
#[derive(Debug, PartialEq)]
pub enum Event {
    /// A `basic.deliver` with this delivery tag.
    Deliver(u64),
    /// A `basic.publish` (only a broker sees these: the null broker of the self-test).
    Publish,
    /// The `x-stream-offset` header of a delivery from a stream.
    StreamOffset(i64),
    /// The send timestamp (nanoseconds, see [`crate::stats::now_nanos`]) from the start
    /// of a message body.
    Stamp(u64),
    /// Any other method.
    Control(u16, Method),
    /// A frame with nothing to act on (heartbeat, content header without a stream
    /// offset, later body frame).
    Nothing,
}

/// Scans frames; remembers whether the next body frame starts a timestamped body.
#[derive(Debug)]
pub struct Scanner {
    frame_max: u32,
    stamped_body_next: bool,
}

impl Scanner {
    /// A scanner enforcing `frame_max`.
    pub fn new(frame_max: u32) -> Self {
        Scanner {
            frame_max,
            stamped_body_next: false,
        }
    }

    /// Interprets the frame at the start of `buf`: `None` if it is not all there yet,
    /// otherwise its length and meaning.
    pub fn next(&mut self, buf: &[u8]) -> Result<Option<(usize, Event)>, ProtocolError> {
        if buf.len() < FRAME_HEADER_SIZE {
            return Ok(None);
        }
        let kind = buf[0];
        let channel = u16::from_be_bytes([buf[1], buf[2]]);
        let size = u32::from_be_bytes([buf[3], buf[4], buf[5], buf[6]]);
        let total = u64::from(size) + u64::from(FRAME_OVERHEAD);
        if total > u64::from(self.frame_max) {
            return Err(ProtocolError::FrameTooLarge {
                size: total,
                frame_max: self.frame_max,
            });
        }
        let total = total as usize;
        if buf.len() < total {
            return Ok(None);
        }
        if buf[total - 1] != FRAME_END {
            return Err(ProtocolError::BadFrameEnd(buf[total - 1]));
        }
        let payload = &buf[FRAME_HEADER_SIZE..total - 1];
        let event = match kind {
            FRAME_METHOD => method_event(channel, payload)?,
            FRAME_HEADER => {
                let body_size = payload
                    .get(4..12)
                    .map(|b| u64::from_be_bytes(b.try_into().unwrap_or_default()))
                    .ok_or(ProtocolError::Truncated {
                        what: "content header",
                    })?;
                self.stamped_body_next = body_size >= 8;
                match stream_offset(payload) {
                    Some(offset) => Event::StreamOffset(offset),
                    None => Event::Nothing,
                }
            }
            FRAME_BODY if self.stamped_body_next && payload.len() >= 8 => {
                self.stamped_body_next = false;
                let mut stamp = [0u8; 8];
                stamp.copy_from_slice(&payload[..8]);
                Event::Stamp(u64::from_be_bytes(stamp))
            }
            FRAME_BODY => {
                self.stamped_body_next = false;
                Event::Nothing
            }
            FRAME_HEARTBEAT => Event::Nothing,
            other => return Err(ProtocolError::UnknownFrameType(other)),
        };
        Ok(Some((total, event)))
    }
}

/// Property flag bits (AMQP 0-9-1 basic class) of the properties before `headers`.
const FLAG_CONTENT_TYPE: u16 = 1 << 15;
const FLAG_CONTENT_ENCODING: u16 = 1 << 14;
const FLAG_HEADERS: u16 = 1 << 13;

/// The `x-stream-offset` entry of a content header's `headers` table, read in place
/// (class id, weight, body size, flags, then content-type and content-encoding if
/// present, then the table). `None` when there is no such entry, it is not an integer,
/// or the header is malformed (the frame is still well delimited, so the run goes on).
fn stream_offset(payload: &[u8]) -> Option<i64> {
    let flags = u16::from_be_bytes(payload.get(12..14)?.try_into().ok()?);
    if flags & FLAG_HEADERS == 0 {
        return None;
    }
    let mut at = 14;
    for bit in [FLAG_CONTENT_TYPE, FLAG_CONTENT_ENCODING] {
        if flags & bit != 0 {
            at += 1 + usize::from(*payload.get(at)?);
        }
    }
    let len = u32::from_be_bytes(payload.get(at..at + 4)?.try_into().ok()?) as usize;
    let table = payload.get(at + 4..at + 4 + len)?;
    let mut i = 0;
    while i < table.len() {
        let key_len = usize::from(table[i]);
        let key = table.get(i + 1..i + 1 + key_len)?;
        let kind = *table.get(i + 1 + key_len)?;
        let value = i + 2 + key_len;
        if key == b"x-stream-offset" {
            let int = |n: usize| table.get(value..value + n);
            return match kind {
                b'l' | b'L' | b'T' => Some(i64::from_be_bytes(int(8)?.try_into().ok()?)),
                b'I' => Some(i64::from(i32::from_be_bytes(int(4)?.try_into().ok()?))),
                b'i' => Some(i64::from(u32::from_be_bytes(int(4)?.try_into().ok()?))),
                _ => None,
            };
        }
        i = value + field_value_len(kind, table.get(value..)?)?;
    }
    None
}

/// The encoded length of a field value of type `kind` at the start of `v`.
fn field_value_len(kind: u8, v: &[u8]) -> Option<usize> {
    let long = || Some(4 + u32::from_be_bytes(v.get(..4)?.try_into().ok()?) as usize);
    match kind {
        b't' | b'b' | b'B' => Some(1),
        b's' | b'u' | b'U' => Some(2),
        b'I' | b'i' | b'f' => Some(4),
        b'l' | b'L' | b'd' | b'T' => Some(8),
        b'D' => Some(5),
        b'V' => Some(0),
        b'S' | b'F' | b'A' | b'x' => long(),
        _ => None,
    }
}

/// A `basic.deliver` read in place (class, method, consumer tag, then the delivery
/// tag), a `basic.publish` recognised by its ids; any other method decoded in full.
fn method_event(channel: u16, payload: &[u8]) -> Result<Event, ProtocolError> {
    let ids = payload.get(..4).map(|p| {
        (
            u16::from_be_bytes([p[0], p[1]]),
            u16::from_be_bytes([p[2], p[3]]),
        )
    });
    if ids == Some((basic::Publish::CLASS_ID, basic::Publish::METHOD_ID)) {
        return Ok(Event::Publish);
    }
    let is_deliver =
        payload.len() >= 5 && ids == Some((basic::Deliver::CLASS_ID, basic::Deliver::METHOD_ID));
    if is_deliver {
        let tag_at = 5 + usize::from(payload[4]);
        if let Some(tag) = payload.get(tag_at..tag_at + 8) {
            let mut b = [0u8; 8];
            b.copy_from_slice(tag);
            return Ok(Event::Deliver(u64::from_be_bytes(b)));
        }
    }
    Ok(Event::Control(channel, Method::decode(payload)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use warren_protocol::frame::{
        write_body, write_deliver, write_header, write_heartbeat, write_method,
    };
    use warren_protocol::{BasicProperties, FieldTable, FieldValue};

    fn scan_all(buf: &[u8], frame_max: u32) -> (Vec<Event>, usize) {
        let mut s = Scanner::new(frame_max);
        let mut at = 0;
        let mut events = Vec::new();
        while let Some((len, e)) = s.next(&buf[at..]).unwrap() {
            at += len;
            events.push(e);
        }
        (events, at)
    }

    #[test]
    fn deliveries_stamps_and_controls() {
        let mut buf = BytesMut::new();
        let mut body = vec![0u8; 5000];
        body[..8].copy_from_slice(&42u64.to_be_bytes());
        write_deliver(&mut buf, 1, "amq.ctag-x", 7, false, "", "q");
        write_header(&mut buf, 1, body.len() as u64, &BasicProperties::default());
        write_body(&mut buf, 1, &body, 4096);
        write_heartbeat(&mut buf);
        write_deliver(&mut buf, 1, "amq.ctag-x", 8, true, "ex", "rk");
        write_header(&mut buf, 1, 4, &BasicProperties::default());
        write_body(&mut buf, 1, b"tiny", 4096);
        write_method(
            &mut buf,
            1,
            &basic::Cancel {
                consumer_tag: "amq.ctag-x".into(),
                no_wait: true,
            }
            .into(),
        );
        let (events, used) = scan_all(&buf, 4096);
        assert_eq!(used, buf.len());
        assert_eq!(events[0], Event::Deliver(7));
        assert_eq!(events[1], Event::Nothing);
        assert_eq!(events[2], Event::Stamp(42));
        assert_eq!(
            events[3],
            Event::Nothing,
            "second body frame of the same message"
        );
        assert_eq!(events[4], Event::Nothing, "heartbeat");
        assert_eq!(events[5], Event::Deliver(8));
        assert_eq!(events[7], Event::Nothing, "a 4-byte body carries no stamp");
        assert!(
            matches!(&events[8], Event::Control(1, Method::BasicCancel(c)) if c.consumer_tag == "amq.ctag-x")
        );
    }

    #[test]
    fn stream_offsets_are_read_from_the_headers() {
        let mut headers = FieldTable::new();
        headers.insert("a-string", FieldValue::string("x"));
        headers.insert("a-table", FieldValue::Table(FieldTable::new()));
        headers.insert("x-stream-offset", FieldValue::I64(1 << 40));
        let props = BasicProperties {
            content_type: Some("text/plain".into()),
            headers: Some(headers),
            ..Default::default()
        };
        let mut buf = BytesMut::new();
        write_header(&mut buf, 1, 4, &props);
        write_header(&mut buf, 1, 4, &BasicProperties::default());
        let mut other = FieldTable::new();
        other.insert("x-stream-offset", FieldValue::string("not a number"));
        let props = BasicProperties {
            headers: Some(other),
            ..Default::default()
        };
        write_header(&mut buf, 1, 4, &props);
        let (events, used) = scan_all(&buf, 4096);
        assert_eq!(used, buf.len());
        assert_eq!(
            events,
            vec![Event::StreamOffset(1 << 40), Event::Nothing, Event::Nothing]
        );
    }

    #[test]
    fn partial_frames_wait_and_bad_frames_fail() {
        let mut buf = BytesMut::new();
        write_deliver(&mut buf, 1, "t", 1, false, "", "q");
        let mut s = Scanner::new(4096);
        assert!(s.next(&buf[..buf.len() - 1]).unwrap().is_none());
        let mut bad = buf.clone();
        let last = bad.len() - 1;
        bad[last] = 0;
        assert!(matches!(s.next(&bad), Err(ProtocolError::BadFrameEnd(0))));
        let mut huge = BytesMut::new();
        write_body(&mut huge, 1, &[0u8; 5000], 0);
        assert!(matches!(
            s.next(&huge),
            Err(ProtocolError::FrameTooLarge { .. })
        ));
    }
}

//! The on-disk byte layout of every record: explicit, little code, no serializer whose
//! format could change under us. Lengths are LEB128 varints, fixed-width integers are
//! big-endian (so numeric keys sort in order). Any change here bumps `FORMAT_VERSION`.
//!
//! One idea (the record codec) with its unit tests below it, which are most of the
//! file's length beyond ~400 lines; kept together so the cases sit next to the rules.

use bytes::Bytes;

use crate::records::{
    BindingRecord, DelayedRecord, EntryRecord, ExchangeRecord, MessageRecord, QueueRecord,
};
use crate::segment::Position;

/// Why stored bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

/// Appends fields to a buffer.
#[derive(Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    /// An empty writer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Writer {
        Writer(Vec::with_capacity(capacity))
    }

    /// One byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }

    /// A big-endian u32.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// A big-endian u64.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// A LEB128 varint.
    pub fn varint(&mut self, mut v: u64) -> &mut Self {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
        self
    }

    /// Length-prefixed bytes.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }

    /// A bool as one byte.
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(u8::from(v))
    }

    /// Bytes with no prefix (the last field of a record).
    pub fn rest(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }
}

/// Reads fields back, failing (never panicking) on short or malformed input.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(DecodeError(format!(
                "{what}: needs {n} bytes at offset {}, record has {}",
                self.pos,
                self.buf.len()
            ))),
        }
    }

    /// One byte.
    pub fn u8(&mut self, what: &str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    /// A big-endian u32.
    pub fn u32(&mut self, what: &str) -> Result<u32, DecodeError> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4, what)?);
        Ok(u32::from_be_bytes(b))
    }

    /// A big-endian u64.
    pub fn u64(&mut self, what: &str) -> Result<u64, DecodeError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8, what)?);
        Ok(u64::from_be_bytes(b))
    }

    /// A LEB128 varint.
    pub fn varint(&mut self, what: &str) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8(what)?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError(format!("{what}: varint longer than 10 bytes")))
    }

    /// Length-prefixed bytes.
    pub fn bytes(&mut self, what: &str) -> Result<&'a [u8], DecodeError> {
        let len = self.varint(what)?;
        let len = usize::try_from(len).map_err(|_| DecodeError(format!("{what}: length")))?;
        self.take(len, what)
    }

    /// Length-prefixed UTF-8.
    pub fn string(&mut self, what: &str) -> Result<String, DecodeError> {
        let b = self.bytes(what)?;
        String::from_utf8(b.to_vec()).map_err(|_| DecodeError(format!("{what}: not UTF-8")))
    }

    /// A bool byte (0 or 1).
    pub fn bool(&mut self, what: &str) -> Result<bool, DecodeError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(DecodeError(format!("{what}: bool byte {other}"))),
        }
    }

    /// Where the next field starts.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Fails unless every byte was read.
    pub fn finish(&self, what: &str) -> Result<(), DecodeError> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(DecodeError(format!(
                "{what}: {} trailing bytes",
                self.buf.len() - self.pos
            )))
        }
    }
}

/// Encodes an optional u64 as a presence byte and the value.
fn opt_u64(w: &mut Writer, v: Option<u64>) {
    match v {
        Some(v) => w.u8(1).u64(v),
        None => w.u8(0),
    };
}

fn read_opt_u64(r: &mut Reader<'_>, what: &str) -> Result<Option<u64>, DecodeError> {
    match r.bool(what)? {
        true => Ok(Some(r.u64(what)?)),
        false => Ok(None),
    }
}

/// `ExchangeRecord` layout: vhost, name, kind, durable, auto_delete, internal, arguments.
pub fn encode_exchange(x: &ExchangeRecord) -> Vec<u8> {
    let mut w = Writer::with_capacity(64 + x.arguments.len());
    w.bytes(x.vhost.as_bytes())
        .bytes(x.name.as_bytes())
        .bytes(x.kind.as_bytes())
        .bool(x.durable)
        .bool(x.auto_delete)
        .bool(x.internal)
        .bytes(&x.arguments);
    w.0
}

/// Decodes an `ExchangeRecord`.
pub fn decode_exchange(buf: &[u8]) -> Result<ExchangeRecord, DecodeError> {
    let mut r = Reader::new(buf);
    let x = ExchangeRecord {
        vhost: r.string("exchange vhost")?,
        name: r.string("exchange name")?,
        kind: r.string("exchange type")?,
        durable: r.bool("exchange durable")?,
        auto_delete: r.bool("exchange auto_delete")?,
        internal: r.bool("exchange internal")?,
        arguments: Bytes::copy_from_slice(r.bytes("exchange arguments")?),
    };
    r.finish("exchange record")?;
    Ok(x)
}

/// `QueueRecord` layout: id, vhost, name, auto_delete, arguments.
pub fn encode_queue(id: u64, q: &QueueRecord) -> Vec<u8> {
    let mut w = Writer::with_capacity(64 + q.arguments.len());
    w.u64(id)
        .bytes(q.vhost.as_bytes())
        .bytes(q.name.as_bytes())
        .bool(q.auto_delete)
        .bytes(&q.arguments);
    w.0
}

/// Decodes a queue record and its id.
pub fn decode_queue(buf: &[u8]) -> Result<(u64, QueueRecord), DecodeError> {
    let mut r = Reader::new(buf);
    let id = r.u64("queue id")?;
    let q = QueueRecord {
        vhost: r.string("queue vhost")?,
        name: r.string("queue name")?,
        auto_delete: r.bool("queue auto_delete")?,
        arguments: Bytes::copy_from_slice(r.bytes("queue arguments")?),
    };
    r.finish("queue record")?;
    Ok((id, q))
}

/// `BindingRecord` layout: vhost, source, destination kind, destination, routing key,
/// arguments. The same bytes are the binding's key (its identity).
pub fn encode_binding(b: &BindingRecord) -> Vec<u8> {
    let mut w = Writer::with_capacity(64 + b.arguments.len());
    w.bytes(b.vhost.as_bytes())
        .bytes(b.source.as_bytes())
        .bool(b.destination_is_exchange)
        .bytes(b.destination.as_bytes())
        .bytes(b.routing_key.as_bytes())
        .bytes(&b.arguments);
    w.0
}

/// Decodes a `BindingRecord`.
pub fn decode_binding(buf: &[u8]) -> Result<BindingRecord, DecodeError> {
    let mut r = Reader::new(buf);
    let vhost = r.string("binding vhost")?;
    let source = r.string("binding source")?;
    let destination_is_exchange = r.bool("binding destination kind")?;
    let b = BindingRecord {
        vhost,
        source,
        destination_is_exchange,
        destination: r.string("binding destination")?,
        routing_key: r.string("binding routing key")?,
        arguments: Bytes::copy_from_slice(r.bytes("binding arguments")?),
    };
    r.finish("binding record")?;
    Ok(b)
}

/// `MessageRecord` layout: exchange, routing key, properties, published_at, expiration,
/// then the body to the end.
pub fn encode_message(w: &mut Writer, m: &MessageRecord) {
    encode_message_head(w, m);
    w.rest(&m.body);
}

/// Everything [`encode_message`] writes before the body (the body follows to the end,
/// so a segment record can take it as a separate part, uncopied).
pub fn encode_message_head(w: &mut Writer, m: &MessageRecord) {
    w.bytes(m.exchange.as_bytes())
        .bytes(m.routing_key.as_bytes())
        .bytes(&m.raw_properties)
        .u64(m.published_at_ms);
    opt_u64(w, m.expiration_ms);
}

/// How many bytes [`encode_message`] writes for `m`.
#[cfg(test)]
pub fn message_len(m: &MessageRecord) -> usize {
    fn prefixed(n: usize) -> usize {
        let mut len = 1;
        let mut v = n as u64;
        while v >= 0x80 {
            len += 1;
            v >>= 7;
        }
        len + n
    }
    prefixed(m.exchange.len())
        + prefixed(m.routing_key.len())
        + prefixed(m.raw_properties.len())
        + 8
        + if m.expiration_ms.is_some() { 9 } else { 1 }
        + m.body.len()
}

/// How many bytes [`encode_entry`] writes for `e`.
pub fn entry_len(e: &EntryRecord) -> usize {
    if e.expires_at_ms.is_some() {
        34
    } else {
        26
    }
}

/// Encodes a message on its own.
#[cfg(test)]
pub fn message_bytes(m: &MessageRecord) -> Vec<u8> {
    let mut w = Writer::with_capacity(
        32 + m.exchange.len() + m.routing_key.len() + m.raw_properties.len() + m.body.len(),
    );
    encode_message(&mut w, m);
    w.0
}

/// Decodes a message from `buf[start..]`. `buf` is shared, not copied: the body and
/// properties are slices of it.
pub fn decode_message(buf: &Bytes, start: usize) -> Result<MessageRecord, DecodeError> {
    let mut r = Reader::new(buf.get(start..).unwrap_or_default());
    let exchange = r.string("message exchange")?;
    let routing_key = r.string("message routing key")?;
    let props = r.bytes("message properties")?;
    let props_start = start + r.position() - props.len();
    let raw_properties = buf.slice(props_start..props_start + props.len());
    let published_at_ms = r.u64("message published_at")?;
    let expiration_ms = read_opt_u64(&mut r, "message expiration")?;
    let body = buf.slice(start + r.position()..);
    Ok(MessageRecord {
        exchange,
        routing_key,
        raw_properties,
        body,
        published_at_ms,
        expiration_ms,
    })
}

const ENTRY_DELIVERED: u8 = 1;
const ENTRY_EXPIRES: u8 = 2;

/// Queue entry value layout: message id, flags (delivered, has expiry), expiry,
/// priority, body length, then where the message's record is in the segment log
/// (segment, offset, length). 26 bytes, 34 with an expiry.
pub fn encode_entry(e: &EntryRecord, delivered: bool, at: Position) -> Vec<u8> {
    let mut w = Writer::with_capacity(34);
    let mut flags = 0;
    if delivered {
        flags |= ENTRY_DELIVERED;
    }
    if e.expires_at_ms.is_some() {
        flags |= ENTRY_EXPIRES;
    }
    w.u64(e.message_id).u8(flags);
    if let Some(at) = e.expires_at_ms {
        w.u64(at);
    }
    w.u8(e.priority).u32(e.body_len);
    w.0.extend_from_slice(&encode_position(at));
    w.0
}

/// A record position as stored: segment, offset, length (big-endian u32s).
pub fn encode_position(at: Position) -> [u8; 12] {
    let mut b = [0u8; 12];
    b[..4].copy_from_slice(&at.segment.to_be_bytes());
    b[4..8].copy_from_slice(&at.offset.to_be_bytes());
    b[8..].copy_from_slice(&at.len.to_be_bytes());
    b
}

/// Reads a position written by [`encode_position`].
pub fn read_position(r: &mut Reader<'_>) -> Result<Position, DecodeError> {
    Ok(Position {
        segment: r.u32("position segment")?,
        offset: r.u32("position offset")?,
        len: r.u32("position length")?,
    })
}

/// Decodes a position value (the `messages` tree's values).
pub fn decode_position(buf: &[u8]) -> Result<Position, DecodeError> {
    let mut r = Reader::new(buf);
    let at = read_position(&mut r)?;
    r.finish("position")?;
    Ok(at)
}

/// Decodes an entry value (the seq comes from its key): the entry, its delivered flag
/// and its message's position.
pub fn decode_entry(seq: u64, buf: &[u8]) -> Result<(EntryRecord, bool, Position), DecodeError> {
    let mut r = Reader::new(buf);
    let message_id = r.u64("entry message id")?;
    let flags = r.u8("entry flags")?;
    if flags & !(ENTRY_DELIVERED | ENTRY_EXPIRES) != 0 {
        return Err(DecodeError(format!("entry flags {flags:#x}")));
    }
    let expires_at_ms = if flags & ENTRY_EXPIRES != 0 {
        Some(r.u64("entry expiry")?)
    } else {
        None
    };
    let e = EntryRecord {
        seq,
        message_id,
        expires_at_ms,
        priority: r.u8("entry priority")?,
        body_len: r.u32("entry body length")?,
    };
    let at = read_position(&mut r)?;
    r.finish("entry")?;
    Ok((e, flags & ENTRY_DELIVERED != 0, at))
}

/// Sets the delivered flag of an encoded entry (`None` if it is malformed).
pub fn entry_with_delivered(buf: &[u8]) -> Option<Vec<u8>> {
    let mut v = buf.to_vec();
    let flags = v.get_mut(8)?;
    *flags |= ENTRY_DELIVERED;
    Some(v)
}

/// Just the message id of an encoded entry.
pub fn entry_message_id(buf: &[u8]) -> Result<u64, DecodeError> {
    Reader::new(buf).u64("entry message id")
}

/// Delayed message layout: vhost, exchange, then the message.
pub fn encode_delayed(d: &DelayedRecord) -> Vec<u8> {
    let mut w = Writer::with_capacity(64 + d.message.body.len());
    w.bytes(d.vhost.as_bytes()).bytes(d.exchange.as_bytes());
    encode_message(&mut w, &d.message);
    w.0
}

/// Decodes a delayed message (body shared with `buf`).
pub fn decode_delayed(buf: &Bytes) -> Result<DelayedRecord, DecodeError> {
    let mut r = Reader::new(buf);
    let vhost = r.string("delayed vhost")?;
    let exchange = r.string("delayed exchange")?;
    let message = decode_message(buf, r.position())?;
    Ok(DelayedRecord {
        vhost,
        exchange,
        message,
    })
}

#[cfg(test)]
const AT: Position = Position {
    segment: 3,
    offset: 4096,
    len: 1100,
};

#[cfg(test)]
mod length_tests {
    use super::*;

    #[test]
    fn computed_lengths_match_the_encodings() {
        for (exchange, props, body, expiration) in [
            ("", 3usize, 0usize, None),
            ("amq.direct", 200, 1024, Some(5u64)),
            ("x", 127, 70_000, None),
            ("y", 128, 1, Some(u64::MAX)),
        ] {
            let m = MessageRecord {
                exchange: exchange.into(),
                routing_key: "k".repeat(props / 2),
                raw_properties: Bytes::from(vec![1u8; props]),
                body: Bytes::from(vec![2u8; body]),
                published_at_ms: 1,
                expiration_ms: expiration,
            };
            assert_eq!(message_len(&m), message_bytes(&m).len());
            let e = EntryRecord {
                seq: 1,
                message_id: 2,
                expires_at_ms: expiration,
                priority: 3,
                body_len: 4,
            };
            assert_eq!(entry_len(&e), encode_entry(&e, true, AT).len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> MessageRecord {
        MessageRecord {
            exchange: "ex".into(),
            routing_key: "rk.é".into(),
            raw_properties: Bytes::from_static(&[0x80, 0, 1, 2]),
            body: Bytes::from(vec![7u8; 300]),
            published_at_ms: 1_700_000_000_123,
            expiration_ms: Some(60_000),
        }
    }

    #[test]
    fn varints_round_trip_at_the_edges() {
        for v in [0, 1, 127, 128, 16_383, 16_384, u32::MAX as u64, u64::MAX] {
            let mut w = Writer::default();
            w.varint(v);
            let mut r = Reader::new(&w.0);
            assert_eq!(r.varint("v").unwrap(), v);
            r.finish("v").unwrap();
        }
    }

    #[test]
    fn message_round_trips_and_truncation_is_an_error() {
        let m = message();
        let bytes = Bytes::from(message_bytes(&m));
        assert_eq!(decode_message(&bytes, 0).unwrap(), m);
        let no_expiry = MessageRecord {
            expiration_ms: None,
            body: Bytes::new(),
            ..m
        };
        let bytes = Bytes::from(message_bytes(&no_expiry));
        assert_eq!(decode_message(&bytes, 0).unwrap(), no_expiry);
        let cut = bytes.slice(..5);
        assert!(decode_message(&cut, 0).is_err());
    }

    #[test]
    fn entries_round_trip_and_delivered_flag_sets() {
        let e = EntryRecord {
            seq: 9,
            message_id: 42,
            expires_at_ms: Some(5),
            priority: 3,
            body_len: 1024,
        };
        let bytes = encode_entry(&e, false, AT);
        assert_eq!(bytes.len(), 34);
        assert_eq!(decode_entry(9, &bytes).unwrap(), (e, false, AT));
        let delivered = entry_with_delivered(&bytes).unwrap();
        assert_eq!(decode_entry(9, &delivered).unwrap(), (e, true, AT));
        assert_eq!(entry_message_id(&delivered).unwrap(), 42);
        let plain = EntryRecord {
            expires_at_ms: None,
            ..e
        };
        assert_eq!(encode_entry(&plain, true, AT).len(), 26);
        assert!(decode_entry(9, &bytes[..33]).is_err());
        assert_eq!(decode_position(&encode_position(AT)).unwrap(), AT);
        assert!(decode_position(&encode_position(AT)[..11]).is_err());
    }

    #[test]
    fn topology_records_round_trip() {
        let x = ExchangeRecord {
            vhost: "/".into(),
            name: "logs".into(),
            kind: "topic".into(),
            durable: true,
            auto_delete: false,
            internal: true,
            arguments: Bytes::from_static(b"\0\0\0\0"),
        };
        assert_eq!(decode_exchange(&encode_exchange(&x)).unwrap(), x);
        let q = QueueRecord {
            vhost: "v".into(),
            name: "q".into(),
            auto_delete: true,
            arguments: Bytes::new(),
        };
        assert_eq!(decode_queue(&encode_queue(7, &q)).unwrap(), (7, q));
        let b = BindingRecord {
            vhost: "v".into(),
            source: "logs".into(),
            destination: "q".into(),
            destination_is_exchange: false,
            routing_key: "a.#".into(),
            arguments: Bytes::new(),
        };
        assert_eq!(decode_binding(&encode_binding(&b)).unwrap(), b);
        let d = DelayedRecord {
            vhost: "v".into(),
            exchange: "delayed".into(),
            message: message(),
        };
        let bytes = Bytes::from(encode_delayed(&d));
        assert_eq!(decode_delayed(&bytes).unwrap(), d);
    }
}

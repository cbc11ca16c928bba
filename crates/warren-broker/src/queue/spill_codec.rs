//! A spilled batch's record: a count, then per message a fixed header, the exchange and
//! routing key, the encoded properties and the body. Written as parts (the headers in
//! one buffer, properties and bodies as they are) so nothing is concatenated before the
//! log's write; read back as one buffer, from which each message's properties and body
//! (adjacent in the record) are copied into one allocation of their own: a message held
//! unacknowledged for long must not keep its whole batch (up to `page_bytes`) alive.
//!
//! ```text
//! u32 count
//! per message (little-endian):
//!   u64 seq | u64 expires_at_ms (MAX: none) | u64 published_at_ms
//!   | u64 expiration_ms (MAX: none) | u32 delivery_count | u32 properties_len
//!   | u32 body_len | u8 flags (1 redelivered, 2 stored, 4 persistent) | u8 priority
//!   | u16 exchange_len | u16 routing_key_len | exchange | routing key
//!   | properties | body
//! ```

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use super::spill::{SpillBatch, SpillError, SpillPos, SpillStore};
use crate::message::{Message, QueuedMessage};

const NONE: u64 = u64::MAX;
const REDELIVERED: u8 = 1;
const STORED: u8 = 2;
const PERSISTENT: u8 = 4;
/// Bytes of a message's fixed header.
const HEADER: usize = 8 * 4 + 4 * 3 + 2 + 2 * 2;

/// The first `u16::MAX` bytes of a name (exchange names and routing keys are short
/// strings, at most 255 bytes, so this never cuts one).
fn short(s: &str) -> &[u8] {
    &s.as_bytes()[..s.len().min(usize::from(u16::MAX))]
}

/// Writes `messages` (in order) as one record: one write. Returns the batch's place and
/// counts.
pub(crate) fn write_batch<'a>(
    store: &dyn SpillStore,
    messages: impl ExactSizeIterator<Item = &'a QueuedMessage> + Clone,
) -> Result<SpillBatch, SpillError> {
    let n = messages.len();
    let mut heads = Vec::with_capacity(4 + n * (HEADER + 32));
    heads.extend_from_slice(&(n as u32).to_le_bytes());
    let mut ends = Vec::with_capacity(n + 1);
    ends.push(heads.len());
    let mut batch = SpillBatch {
        pos: SpillPos {
            segment: 0,
            offset: 0,
            len: 0,
        },
        count: n as u32,
        stored: 0,
        bytes: 0,
        stored_bytes: 0,
    };
    for q in messages.clone() {
        let m = &q.message;
        let (exchange, key) = (short(&m.exchange), short(&m.routing_key));
        let flags = (u8::from(q.redelivered) * REDELIVERED)
            | (u8::from(q.stored) * STORED)
            | (u8::from(m.persistent) * PERSISTENT);
        heads.extend_from_slice(&q.seq.to_le_bytes());
        heads.extend_from_slice(&q.expires_at_ms.unwrap_or(NONE).to_le_bytes());
        heads.extend_from_slice(&m.published_at_ms.to_le_bytes());
        heads.extend_from_slice(&m.expiration_ms.unwrap_or(NONE).to_le_bytes());
        heads.extend_from_slice(&q.delivery_count.to_le_bytes());
        heads.extend_from_slice(&(m.raw_properties.len() as u32).to_le_bytes());
        heads.extend_from_slice(&(m.body.len() as u32).to_le_bytes());
        heads.extend_from_slice(&[flags, m.priority]);
        heads.extend_from_slice(&(exchange.len() as u16).to_le_bytes());
        heads.extend_from_slice(&(key.len() as u16).to_le_bytes());
        heads.extend_from_slice(exchange);
        heads.extend_from_slice(key);
        ends.push(heads.len());
        batch.bytes += m.body.len() as u64;
        if q.stored {
            batch.stored += 1;
            batch.stored_bytes += m.body.len() as u64;
        }
    }
    let mut parts: Vec<&[u8]> = Vec::with_capacity(1 + 3 * n);
    parts.push(&heads[..ends[0]]);
    for (i, q) in messages.enumerate() {
        parts.push(&heads[ends[i]..ends[i + 1]]);
        if !q.message.raw_properties.is_empty() {
            parts.push(&q.message.raw_properties);
        }
        if !q.message.body.is_empty() {
            parts.push(&q.message.body);
        }
    }
    batch.pos = store.write(&parts)?;
    Ok(batch)
}

/// A cursor over a record.
struct Cursor<'a> {
    buf: &'a Bytes,
    at: usize,
    pos: SpillPos,
}

impl Cursor<'_> {
    fn fail(&self, detail: &'static str) -> SpillError {
        SpillError::Undecodable {
            segment: self.pos.segment,
            offset: self.pos.offset,
            detail,
        }
    }

    fn take(&mut self, n: usize) -> Result<std::ops::Range<usize>, SpillError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.fail("truncated"))?;
        let r = self.at..end;
        self.at = end;
        Ok(r)
    }

    fn u64(&mut self) -> Result<u64, SpillError> {
        let r = self.take(8)?;
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.buf[r]);
        Ok(u64::from_le_bytes(b))
    }

    fn u32(&mut self) -> Result<u32, SpillError> {
        let r = self.take(4)?;
        let mut b = [0u8; 4];
        b.copy_from_slice(&self.buf[r]);
        Ok(u32::from_le_bytes(b))
    }

    fn u16(&mut self) -> Result<u16, SpillError> {
        let r = self.take(2)?;
        Ok(u16::from_le_bytes([
            self.buf[r.start],
            self.buf[r.start + 1],
        ]))
    }

    fn u8(&mut self) -> Result<u8, SpillError> {
        let r = self.take(1)?;
        Ok(self.buf[r.start])
    }

    fn str(&mut self, n: usize) -> Result<&str, SpillError> {
        let r = self.take(n)?;
        std::str::from_utf8(&self.buf[r]).map_err(|_| self.fail("a name is not UTF-8"))
    }
}

fn optional(v: u64) -> Option<u64> {
    (v != NONE).then_some(v)
}

/// Decodes the record `buf` read from `pos` into `out` (appended in order). Each
/// message's properties and body are copied out of `buf` together (one allocation per
/// message). On error `out` is left as it was.
pub(crate) fn read_batch(
    pos: SpillPos,
    buf: &Bytes,
    out: &mut VecDeque<QueuedMessage>,
) -> Result<(), SpillError> {
    let mut c = Cursor { buf, at: 0, pos };
    let n = c.u32()? as usize;
    if n > buf.len() / HEADER {
        return Err(c.fail("more messages than bytes"));
    }
    let mut messages = Vec::with_capacity(n);
    let mut exchange: Option<Arc<str>> = None;
    for _ in 0..n {
        let seq = c.u64()?;
        let expires_at_ms = optional(c.u64()?);
        let published_at_ms = c.u64()?;
        let expiration_ms = optional(c.u64()?);
        let delivery_count = c.u32()?;
        let props_len = c.u32()? as usize;
        let body_len = c.u32()? as usize;
        let flags = c.u8()?;
        let priority = c.u8()?;
        let exchange_len = usize::from(c.u16()?);
        let key_len = usize::from(c.u16()?);
        let name = c.str(exchange_len)?;
        // Consecutive messages usually share their exchange: share its name too.
        let ex = match &exchange {
            Some(e) if &**e == name => e.clone(),
            _ => {
                let e: Arc<str> = Arc::from(name);
                exchange = Some(e.clone());
                e
            }
        };
        let routing_key: Box<str> = c.str(key_len)?.into();
        let props = c.take(props_len)?;
        let body = c.take(body_len)?;
        let content = Bytes::copy_from_slice(&buf[props.start..body.end]);
        messages.push(QueuedMessage {
            seq,
            message: Arc::new(Message {
                exchange: ex,
                routing_key,
                raw_properties: content.slice(..props_len),
                body: content.slice(props_len..),
                priority,
                persistent: flags & PERSISTENT != 0,
                expiration_ms,
                published_at_ms,
                store_id: OnceLock::new(),
            }),
            redelivered: flags & REDELIVERED != 0,
            expires_at_ms,
            delivery_count,
            stored: flags & STORED != 0,
        });
    }
    if c.at != buf.len() {
        return Err(c.fail("trailing bytes"));
    }
    out.extend(messages);
    Ok(())
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use warren_protocol::BasicProperties;

    use super::*;
    use crate::queue::spill::MemorySpill;

    fn queued(seq: u64, body: &str, exchange: &str) -> QueuedMessage {
        let props = BasicProperties {
            priority: Some(3),
            delivery_mode: Some(2),
            expiration: Some("5000".into()),
            content_type: Some("text/plain".into()),
            ..Default::default()
        };
        let mut raw = BytesMut::new();
        props.encode(&mut raw);
        QueuedMessage {
            seq,
            message: Arc::new(Message::new(
                Arc::from(exchange),
                "rk",
                &props,
                raw.freeze(),
                Bytes::copy_from_slice(body.as_bytes()),
            )),
            redelivered: seq.is_multiple_of(2),
            expires_at_ms: seq.is_multiple_of(3).then_some(seq * 10),
            delivery_count: seq as u32,
            stored: seq == 4,
        }
    }

    #[test]
    fn a_batch_round_trips_every_field() {
        let store = MemorySpill::new();
        let messages: VecDeque<_> = (1..=5)
            .map(|i| queued(i, &format!("body-{i}"), if i < 3 { "" } else { "ex" }))
            .collect();
        let batch = write_batch(store.as_ref(), messages.iter()).unwrap();
        assert_eq!((batch.count, batch.stored), (5, 1));
        assert_eq!(batch.bytes, 30);
        assert_eq!(batch.stored_bytes, 6);
        let buf = store.read(batch.pos).unwrap();
        let mut out = VecDeque::new();
        read_batch(batch.pos, &buf, &mut out).unwrap();
        assert_eq!(out.len(), 5);
        for (a, b) in messages.iter().zip(&out) {
            assert_eq!(
                (
                    a.seq,
                    a.redelivered,
                    a.expires_at_ms,
                    a.delivery_count,
                    a.stored
                ),
                (
                    b.seq,
                    b.redelivered,
                    b.expires_at_ms,
                    b.delivery_count,
                    b.stored
                )
            );
            let (a, b) = (&a.message, &b.message);
            assert_eq!((&a.exchange, &a.routing_key), (&b.exchange, &b.routing_key));
            assert_eq!((&a.raw_properties, &a.body), (&b.raw_properties, &b.body));
            assert_eq!((a.priority, a.persistent), (b.priority, b.persistent));
            assert_eq!(a.expiration_ms, b.expiration_ms);
            assert_eq!(a.published_at_ms, b.published_at_ms);
        }
        assert!(Arc::ptr_eq(
            &out[2].message.exchange,
            &out[3].message.exchange
        ));
    }

    #[test]
    fn damaged_records_are_errors_not_panics() {
        let store = MemorySpill::new();
        let messages: VecDeque<_> = (1..=3).map(|i| queued(i, "xyz", "e")).collect();
        let batch = write_batch(store.as_ref(), messages.iter()).unwrap();
        let good = store.read(batch.pos).unwrap();
        for cut in 0..good.len() {
            let mut out = VecDeque::new();
            assert!(read_batch(batch.pos, &good.slice(..cut), &mut out).is_err());
            assert!(out.is_empty());
        }
        let mut huge = good.to_vec();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(read_batch(batch.pos, &Bytes::from(huge), &mut VecDeque::new()).is_err());
        let mut longer = good.to_vec();
        longer.push(0);
        assert!(read_batch(batch.pos, &Bytes::from(longer), &mut VecDeque::new()).is_err());
    }
}

//! Where a stream's records live: the segment files of a
//! [`SegmentLog`](crate::segment::SegmentLog) for a stored stream, or memory for a
//! broker without a store (and for the queue-core tests).
//!
//! Both speak the segment log's terms: records are appended back to back in numbered
//! segments, each record an 8-byte header (length, checksum) then its payload, found
//! again by its [`Position`].

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;

use crate::error::{StoreError, StoreResult};

use crate::segment::{Position, SegmentLog};

/// Bytes of a record's header in a segment (length and checksum).
pub const RECORD_HEADER: u32 = crate::segment::RECORD_HEADER_LEN as u32;

/// What a stream needs of its segments (the segment log's contract, narrowed).
pub trait SegmentBackend: Send + Sync {
    /// Appends one record made of `parts` (back to back); rolls to a new segment first
    /// when the active one is full.
    fn append(&self, parts: &[&[u8]]) -> StoreResult<Position>;
    /// Reads one record's payload back.
    fn read(&self, pos: Position) -> StoreResult<Bytes>;
    /// Every record of a segment, oldest first (used to rebuild the index at open).
    fn scan_all(&self, segment: u32) -> StoreResult<Vec<(Position, Bytes)>>;
    /// Segment numbers present, oldest first.
    fn segments(&self) -> Vec<u32>;
    /// Deletes a whole segment (never the active one).
    fn delete_segment(&self, segment: u32) -> StoreResult<()>;
    /// Size of a segment.
    fn segment_bytes(&self, segment: u32) -> u64;
    /// Writes what was appended (no-op in memory).
    fn write_pending(&self) -> StoreResult<()>;
    /// Makes written records durable (no-op in memory).
    fn sync(&self) -> StoreResult<()>;
}

/// Segments in memory, rolled at the same size as files would be.
#[derive(Debug)]
pub struct MemorySegments {
    segment_bytes: u64,
    state: Mutex<Vec<MemorySegment>>,
}

#[derive(Debug)]
struct MemorySegment {
    number: u32,
    bytes: u64,
    records: Vec<(u32, Bytes)>,
}

impl MemorySegments {
    /// Empty, rolling to a new segment past `segment_bytes`.
    pub fn new(segment_bytes: u64) -> MemorySegments {
        MemorySegments {
            segment_bytes: segment_bytes.max(1),
            state: Mutex::new(vec![MemorySegment {
                number: 0,
                bytes: 0,
                records: Vec::new(),
            }]),
        }
    }
}

fn gone(segment: u32) -> StoreError {
    StoreError::Corrupt {
        path: format!("memory segment {segment}").into(),
        detail: "segment deleted".into(),
    }
}

impl SegmentBackend for MemorySegments {
    fn append(&self, parts: &[&[u8]]) -> StoreResult<Position> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let mut buf = BytesMut::with_capacity(len);
        for p in parts {
            buf.extend_from_slice(p);
        }
        let mut st = self.state.lock();
        let full = st.last().is_some_and(|s| {
            s.bytes > 0 && s.bytes + u64::from(RECORD_HEADER) + len as u64 > self.segment_bytes
        });
        if full {
            let number = st.last().map_or(0, |s| s.number + 1);
            st.push(MemorySegment {
                number,
                bytes: 0,
                records: Vec::new(),
            });
        }
        let seg = st.last_mut().expect("one segment at least");
        let pos = Position {
            segment: seg.number,
            offset: seg.bytes as u32,
            len: len as u32,
        };
        seg.bytes += u64::from(RECORD_HEADER) + len as u64;
        seg.records.push((pos.offset, buf.freeze()));
        Ok(pos)
    }

    fn read(&self, pos: Position) -> StoreResult<Bytes> {
        let st = self.state.lock();
        let seg = st
            .iter()
            .find(|s| s.number == pos.segment)
            .ok_or_else(|| gone(pos.segment))?;
        let i = seg
            .records
            .binary_search_by_key(&pos.offset, |r| r.0)
            .map_err(|_| gone(pos.segment))?;
        Ok(seg.records[i].1.clone())
    }

    fn scan_all(&self, segment: u32) -> StoreResult<Vec<(Position, Bytes)>> {
        let st = self.state.lock();
        let seg = st
            .iter()
            .find(|s| s.number == segment)
            .ok_or_else(|| gone(segment))?;
        Ok(seg
            .records
            .iter()
            .map(|(offset, b)| {
                (
                    Position {
                        segment,
                        offset: *offset,
                        len: b.len() as u32,
                    },
                    b.clone(),
                )
            })
            .collect())
    }

    fn segments(&self) -> Vec<u32> {
        self.state.lock().iter().map(|s| s.number).collect()
    }

    fn delete_segment(&self, segment: u32) -> StoreResult<()> {
        let mut st = self.state.lock();
        if st.last().is_some_and(|s| s.number == segment) {
            return Ok(());
        }
        st.retain(|s| s.number != segment);
        Ok(())
    }

    fn segment_bytes(&self, segment: u32) -> u64 {
        let st = self.state.lock();
        st.iter()
            .find(|s| s.number == segment)
            .map_or(0, |s| s.bytes)
    }

    fn write_pending(&self) -> StoreResult<()> {
        Ok(())
    }

    fn sync(&self) -> StoreResult<()> {
        Ok(())
    }
}

impl SegmentBackend for SegmentLog {
    fn append(&self, parts: &[&[u8]]) -> StoreResult<Position> {
        SegmentLog::append(self, parts)
    }

    fn read(&self, pos: Position) -> StoreResult<Bytes> {
        SegmentLog::read(self, pos)
    }

    fn scan_all(&self, segment: u32) -> StoreResult<Vec<(Position, Bytes)>> {
        self.scan(segment)?.collect()
    }

    fn segments(&self) -> Vec<u32> {
        SegmentLog::segments(self)
    }

    fn delete_segment(&self, segment: u32) -> StoreResult<()> {
        SegmentLog::delete_segment(self, segment)
    }

    fn segment_bytes(&self, segment: u32) -> u64 {
        SegmentLog::segment_bytes(self, segment)
    }

    fn write_pending(&self) -> StoreResult<()> {
        SegmentLog::write_pending(self)
    }

    fn sync(&self) -> StoreResult<()> {
        SegmentLog::sync(self)
    }
}

//! A stream's in-memory index: for each segment, the stream offset of its first record
//! and, per record, where it starts in the file and its publish time (seconds, as AMQP
//! timestamps are). 8 bytes per retained record; rebuilt at open by scanning.
//!
//! Records sit back to back in a segment, so a record's length is the distance to the
//! next one (the segment's end for the last): positions are exact, no scan needed to
//! read any offset.

use super::backend::RECORD_HEADER;
use crate::segment::Position;

/// One segment's records.
#[derive(Debug, Clone)]
pub(crate) struct SegmentIndex {
    pub segment: u32,
    /// Stream offset of the first record.
    pub first_offset: u64,
    /// Byte offset of each record's header, in order.
    starts: Vec<u32>,
    /// Publish time of each record, seconds since the epoch.
    times: Vec<u32>,
    /// Byte offset just past the last record.
    end: u32,
    /// Newest publish time in the segment, milliseconds.
    pub newest_ms: u64,
}

impl SegmentIndex {
    pub fn new(segment: u32, first_offset: u64) -> SegmentIndex {
        SegmentIndex {
            segment,
            first_offset,
            starts: Vec::new(),
            times: Vec::new(),
            end: 0,
            newest_ms: 0,
        }
    }

    /// Records in the segment.
    pub fn len(&self) -> u64 {
        self.starts.len() as u64
    }

    /// Offset after the last record.
    pub fn end_offset(&self) -> u64 {
        self.first_offset + self.len()
    }

    /// Notes an appended record.
    pub fn push(&mut self, pos: Position, timestamp_ms: u64) {
        self.starts.push(pos.offset);
        self.times
            .push((timestamp_ms / 1000).min(u64::from(u32::MAX)) as u32);
        self.end = pos.offset + RECORD_HEADER + pos.len;
        self.newest_ms = self.newest_ms.max(timestamp_ms);
    }

    /// Where stream offset `offset` (inside this segment) is.
    pub fn position(&self, offset: u64) -> Option<Position> {
        let i = usize::try_from(offset.checked_sub(self.first_offset)?).ok()?;
        let start = *self.starts.get(i)?;
        let next = self.starts.get(i + 1).copied().unwrap_or(self.end);
        Some(Position {
            segment: self.segment,
            offset: start,
            len: next - start - RECORD_HEADER,
        })
    }

    /// The first offset in this segment published at or after `seconds`, if any.
    pub fn first_at_or_after(&self, seconds: u32) -> Option<u64> {
        // Times are not strictly monotonic (clock steps): take the first one that is.
        self.times
            .iter()
            .position(|t| *t >= seconds)
            .map(|i| self.first_offset + i as u64)
    }
}

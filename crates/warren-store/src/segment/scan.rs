//! [`SegmentScan`]: a segment's records in order, read from the file in large chunks
//! (not one syscall per record) and then from the unwritten runs still in memory.

use std::sync::Arc;

use bytes::Bytes;

use crate::error::StoreResult;

use super::file::{corrupt, SegmentFile};
use super::log::{Chunk, SegmentLog};
use super::record::{self, FILE_HEADER_LEN, RECORD_HEADER_LEN};
use super::Position;

/// Bytes read from the file per `pread` while scanning (more for a larger record).
const WINDOW: u64 = 1 << 20;

/// Iterator over a segment's records: `(Position, payload)`, oldest first. Made by
/// [`SegmentLog::scan`]; sees the segment as it was when the scan started.
#[derive(Debug)]
pub struct SegmentScan<'a> {
    _log: &'a SegmentLog,
    segment: u32,
    file: Arc<SegmentFile>,
    /// File bytes below this hold written records.
    written: u64,
    /// End of the segment's records when the scan started.
    end: u64,
    /// Unwritten runs covering `written..end`.
    memory: Vec<Chunk>,
    cursor: u64,
    window: Vec<u8>,
    window_start: u64,
    done: bool,
}

impl<'a> SegmentScan<'a> {
    pub(crate) fn new(
        log: &'a SegmentLog,
        segment: u32,
        file: Arc<SegmentFile>,
        written: u64,
        end: u64,
        memory: Vec<Chunk>,
    ) -> SegmentScan<'a> {
        SegmentScan {
            _log: log,
            segment,
            file,
            written,
            end,
            memory,
            cursor: FILE_HEADER_LEN,
            window: Vec::new(),
            window_start: 0,
            done: false,
        }
    }

    /// Starts at `offset` instead of the first record.
    pub(crate) fn starting_at(mut self, offset: u64) -> SegmentScan<'a> {
        self.cursor = offset;
        self
    }

    /// `len` bytes at `offset` of the segment, from the file window or memory; `None`
    /// when they are not all there (the segment ends first).
    fn bytes(&mut self, offset: u64, len: u64) -> StoreResult<Option<&[u8]>> {
        let end = offset + len;
        if offset < self.written {
            if end > self.written {
                return Ok(None);
            }
            let window_end = self.window_start + self.window.len() as u64;
            if offset < self.window_start || end > window_end {
                let size = (self.written - offset).min(WINDOW.max(len));
                self.window.resize(size as usize, 0);
                self.file.read_at(&mut self.window, offset)?;
                self.window_start = offset;
            }
            let at = (offset - self.window_start) as usize;
            return Ok(Some(&self.window[at..at + len as usize]));
        }
        Ok(self
            .memory
            .iter()
            .find(|c| c.start <= offset && end <= c.start + c.buf.len() as u64)
            .map(|c| {
                let at = (offset - c.start) as usize;
                &c.buf[at..at + len as usize]
            }))
    }

    fn next_record(&mut self) -> StoreResult<(Position, Bytes)> {
        let offset = self.cursor;
        let path = self.file.path.clone();
        let cut_short = |what: &str| {
            corrupt(
                &path,
                format!("{what} at offset {offset} runs past the end of the segment's records"),
            )
        };
        let header = match self.bytes(offset, RECORD_HEADER_LEN)? {
            Some(h) => h,
            None => return Err(cut_short("record header")),
        };
        let (len, _) = record::parse_record_header(header);
        let rec_len = RECORD_HEADER_LEN + u64::from(len);
        if offset + rec_len > self.end {
            return Err(cut_short("record"));
        }
        let segment = self.segment;
        let record = match self.bytes(offset, rec_len)? {
            Some(r) => r,
            None => {
                return Err(corrupt(
                    &path,
                    format!("record at offset {offset} runs past the written part of the file"),
                ))
            }
        };
        record::verify(record, len).map_err(|detail| {
            corrupt(
                &path,
                format!("record at offset {offset} of segment {segment}: {detail}"),
            )
        })?;
        let payload = Bytes::copy_from_slice(&record[RECORD_HEADER_LEN as usize..]);
        self.cursor = offset + rec_len;
        let pos = Position {
            segment,
            offset: offset as u32,
            len,
        };
        Ok((pos, payload))
    }
}

impl Iterator for SegmentScan<'_> {
    type Item = StoreResult<(Position, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.cursor >= self.end {
            return None;
        }
        let item = self.next_record();
        if item.is_err() {
            self.done = true;
        }
        Some(item)
    }
}

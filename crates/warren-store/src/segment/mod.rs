//! The segment log: append-only segment files of checksummed, length-prefixed records.
//! One primitive with several users: the persistent message store (bodies), each stream
//! queue (its own directory), and the transient spill log (no fdatasync, wiped at open).
//!
//! On disk, a directory of `{segment:010}.seg` files (numbered from 1), each an 8-byte
//! header (`b"WSEG"`, format version `u32` LE) and then records
//! `u32 payload_len (LE) | u32 crc32c(payload_len LE ‖ payload) (LE) | payload`, back to
//! back. A record is
//! named by its [`Position`]. Appends go to a memory buffer (readable at once);
//! [`SegmentLog::write_pending`] writes it with one positional write per segment touched
//! and [`SegmentLog::sync`] makes it durable (fdatasync), so a group commit costs two
//! syscalls however many records it holds. The crate README ("Segment log") has the
//! crash cases and the tests that cover them.

mod file;
mod log;
mod open;
mod record;
mod scan;

use std::path::PathBuf;

pub use log::SegmentLog;
pub use record::{FILE_HEADER_LEN, RECORD_HEADER_LEN, SEGMENT_FORMAT_VERSION};
pub use scan::SegmentScan;

/// Default size at which a segment is sealed and the next one started: 64 MiB.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 << 20;

/// How a [`SegmentLog`] is laid out and synced.
#[derive(Debug, Clone)]
pub struct SegmentConfig {
    /// The directory of segment files (created if missing); one log per directory.
    pub dir: PathBuf,
    /// Roll to a new file when a record would take the active one past this size
    /// (default 64 MiB; clamped to 4 KiB ..= 4 GiB - 1 since offsets are `u32`).
    pub segment_bytes: u64,
    /// fdatasync on `sync` (false for the transient spill log: `sync` is then a no-op).
    pub fdatasync: bool,
}

impl SegmentConfig {
    /// A durable log in `dir` with 64 MiB segments.
    pub fn new(dir: impl Into<PathBuf>) -> SegmentConfig {
        SegmentConfig {
            dir: dir.into(),
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            fdatasync: true,
        }
    }
}

/// Where a record is: segment number, byte offset of the record header in that file,
/// payload length. Copy, 12 bytes. Stable for the record's lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    /// Segment number (file `{segment:010}.seg`).
    pub segment: u32,
    /// Byte offset of the record header in the file.
    pub offset: u32,
    /// Payload length in bytes.
    pub len: u32,
}

/// What [`SegmentLog::open`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRecovery {
    /// Segment files present after open (a new log counts its first, empty segment).
    pub segments: usize,
    /// Whole, checksummed records in the last segment (the only one read at open).
    pub tail_records: u64,
    /// The last segment's tail was torn or corrupt and has been cut off.
    pub truncated: Option<TailTruncation>,
}

/// A torn or corrupt tail cut off the last segment at open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailTruncation {
    /// The segment truncated.
    pub segment: u32,
    /// Its new length: the end of its last whole record.
    pub offset: u64,
    /// Bytes dropped.
    pub dropped_bytes: u64,
    /// What was wrong at `offset`.
    pub reason: String,
}

#[cfg(test)]
mod tests;

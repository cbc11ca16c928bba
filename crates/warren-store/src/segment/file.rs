//! One segment file: its name, its (lazily opened) handle, positional reads, and the
//! record-by-record check of the last segment's tail at open.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::error::{StoreError, StoreResult};

use super::record::{self, FileHeader, FILE_HEADER_LEN, RECORD_HEADER_LEN};

/// How far ahead of the writes a durable segment is preallocated (at most the segment
/// size): bounds the zeros a log holds beyond its records to 8 MiB.
pub(crate) const PREALLOCATE_STEP: u64 = 8 << 20;

/// `{segment:010}.seg`.
pub(crate) fn file_name(segment: u32) -> String {
    format!("{segment:010}.seg")
}

/// The segment number of a file name, if it is a segment file's name.
pub(crate) fn parse_file_name(name: &str) -> Option<u32> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Segment numbers in `dir`, ascending.
pub(crate) fn list(dir: &Path) -> StoreResult<Vec<u32>> {
    let entries = std::fs::read_dir(dir).map_err(|e| io_err(dir, e))?;
    let mut ids = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        if let Some(id) = entry.file_name().to_str().and_then(parse_file_name) {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// `StoreError::Io` naming `path`.
pub(crate) fn io_err(path: &Path, source: io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `StoreError::Corrupt` naming `path`.
pub(crate) fn corrupt(path: &Path, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// A segment file. The handle is opened on first use (a directory of many sealed
/// segments holds no descriptors until they are read); shared by readers through `Arc`,
/// so a deleted segment's in-flight reads still complete.
#[derive(Debug)]
pub(crate) struct SegmentFile {
    pub(crate) path: PathBuf,
    file: OnceLock<File>,
    /// Length the file is known to have (written or preallocated), for preallocation.
    allocated: AtomicU64,
}

impl SegmentFile {
    /// A segment file not opened yet (it may not exist yet either).
    pub(crate) fn new(path: PathBuf) -> SegmentFile {
        SegmentFile {
            path,
            file: OnceLock::new(),
            allocated: AtomicU64::new(0),
        }
    }

    /// A segment file with its handle already open.
    /// A segment file with its handle already open, `len` bytes long.
    pub(crate) fn with_file(path: PathBuf, file: File, len: u64) -> SegmentFile {
        let cell = OnceLock::new();
        let _ = cell.set(file);
        SegmentFile {
            path,
            file: cell,
            allocated: AtomicU64::new(len),
        }
    }

    /// Before a write ending at `end`: extends the file with zeros (`posix_fallocate`) up
    /// to `PREALLOCATE_STEP` past `end` (not past `limit`, the segment size) when `end`
    /// passes what is allocated. Then the fdatasync of most group commits need not
    /// journal a size change (measured on this VM's disk: 0.7 ms instead of 2.7 ms).
    /// Best effort: a file system without it, or a full disk, just makes the write
    /// below extend the file (and fail with the real error if the disk is full).
    pub(crate) fn preallocate(&self, end: u64, limit: u64) {
        if end <= self.allocated.load(Ordering::Relaxed) {
            return;
        }
        let target = end.max((end + PREALLOCATE_STEP).min(limit));
        let Some(handle) = self.file.get() else {
            return;
        };
        match fs2::FileExt::allocate(handle, target) {
            Ok(()) => self.allocated.store(target, Ordering::Relaxed),
            Err(e) => tracing::debug!(file = %self.path.display(), error = %e,
                "segment log: preallocation failed; the write extends the file"),
        }
    }

    /// Sets the file's length (cutting a partial write or a preallocated tail).
    pub(crate) fn set_len(&self, len: u64) -> StoreResult<()> {
        self.handle(false)?
            .set_len(len)
            .map_err(|e| io_err(&self.path, e))?;
        self.allocated.store(len, Ordering::Relaxed);
        Ok(())
    }

    /// Whether the file may extend past `len` (preallocated zeros).
    pub(crate) fn allocated_past(&self, len: u64) -> bool {
        self.allocated.load(Ordering::Relaxed) > len
    }

    /// The handle, opening (and with `create`, creating) the file on first use.
    pub(crate) fn handle(&self, create: bool) -> StoreResult<&File> {
        if let Some(f) = self.file.get() {
            return Ok(f);
        }
        let opened = OpenOptions::new()
            .read(true)
            .write(create)
            .create(create)
            .open(&self.path)
            .map_err(|e| io_err(&self.path, e))?;
        // Two racing openers: one handle wins, the other is closed.
        let _ = self.file.set(opened);
        Ok(self.file.get().expect("set above"))
    }

    /// Whether the handle is open for writing (created by this process).
    pub(crate) fn is_open(&self) -> bool {
        self.file.get().is_some()
    }

    /// Reads exactly `buf.len()` bytes at `offset`; a file too short is corruption.
    pub(crate) fn read_at(&self, buf: &mut [u8], offset: u64) -> StoreResult<()> {
        self.handle(false)?
            .read_exact_at(buf, offset)
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => corrupt(
                    &self.path,
                    format!(
                        "file ends before byte {} (reading {} bytes at offset {offset})",
                        offset + buf.len() as u64,
                        buf.len()
                    ),
                ),
                _ => io_err(&self.path, e),
            })
    }
}

/// What the check of the last segment found.
#[derive(Debug)]
pub(crate) struct TailCheck {
    /// Length of the valid prefix (file header + whole, checksummed records).
    pub(crate) valid_len: u64,
    /// Records in the valid prefix.
    pub(crate) records: u64,
    /// Length of the file before any truncation.
    pub(crate) file_len: u64,
    /// Why the file is cut at `valid_len` (None: it ends cleanly there).
    pub(crate) damage: Option<String>,
    /// The header was blank or cut short: the file must be rewritten from its header.
    pub(crate) blank_header: bool,
}

/// Reads `file` from the start record by record (buffered, sequential), stopping at the
/// first record that is cut short or fails its checksum.
pub(crate) fn check_tail(path: &Path, file: &File) -> StoreResult<TailCheck> {
    let file_len = file.metadata().map_err(|e| io_err(path, e))?.len();
    let mut reader = io::BufReader::with_capacity(1 << 20, file);
    let mut header = [0u8; FILE_HEADER_LEN as usize];
    let got = read_full(&mut reader, &mut header).map_err(|e| io_err(path, e))?;
    if got < header.len() {
        return Ok(TailCheck {
            valid_len: 0,
            records: 0,
            file_len,
            damage: Some(format!("file header cut short ({got} of 8 bytes)")),
            blank_header: true,
        });
    }
    match record::check_file_header(&header) {
        FileHeader::Valid => {}
        FileHeader::Blank => {
            return Ok(TailCheck {
                valid_len: 0,
                records: 0,
                file_len,
                damage: Some("file header never written (zero bytes)".into()),
                blank_header: true,
            })
        }
        FileHeader::OtherVersion(v) => {
            return Err(corrupt(
                path,
                format!(
                    "segment format version {v}, this Warren reads version {}",
                    record::SEGMENT_FORMAT_VERSION
                ),
            ))
        }
        FileHeader::Foreign => return Err(corrupt(path, "not a Warren segment file (bad magic)")),
    }
    let mut valid_len = FILE_HEADER_LEN;
    let mut records = 0;
    let mut payload = Vec::new();
    let damage = loop {
        let mut rh = [0u8; RECORD_HEADER_LEN as usize];
        let got = read_full(&mut reader, &mut rh).map_err(|e| io_err(path, e))?;
        if got == 0 {
            break None;
        }
        if rh[..got].iter().all(|b| *b == 0) {
            // Preallocated zeros: the end of the records, if nothing follows but zeros.
            break first_non_zero(&mut reader)
                .map_err(|e| io_err(path, e))?
                .map(|at| {
                    format!(
                        "zero bytes at offset {valid_len}, then data again at offset {} \
                         (a torn write)",
                        valid_len + got as u64 + at
                    )
                });
        }
        if got < rh.len() {
            break Some(format!("record header cut short at offset {valid_len}"));
        }
        let (len, crc) = record::parse_record_header(&rh);
        let end = valid_len + RECORD_HEADER_LEN + u64::from(len);
        if end > file_len {
            break Some(format!(
                "record at offset {valid_len} claims {len} bytes, past the end of the file ({file_len})"
            ));
        }
        payload.resize(len as usize, 0);
        reader
            .read_exact(&mut payload)
            .map_err(|e| io_err(path, e))?;
        let actual = record::checksum(len, &[&payload]);
        if actual != crc {
            break Some(format!(
                "record at offset {valid_len} fails its checksum (stored {crc:#010x}, computed {actual:#010x})"
            ));
        }
        valid_len = end;
        records += 1;
    };
    Ok(TailCheck {
        valid_len,
        records,
        file_len,
        damage,
        blank_header: false,
    })
}

/// Offset (from the reader's position) of the first non-zero byte left, if any.
fn first_non_zero(reader: &mut impl Read) -> io::Result<Option<u64>> {
    let mut buf = vec![0u8; 64 << 10];
    let mut offset = 0u64;
    loop {
        let got = read_full(reader, &mut buf)?;
        if let Some(i) = buf[..got].iter().position(|b| *b != 0) {
            return Ok(Some(offset + i as u64));
        }
        if got < buf.len() {
            return Ok(None);
        }
        offset += got as u64;
    }
}

/// Reads until `buf` is full or the reader ends; returns the bytes read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// fsync of a directory (makes file creations and deletions in it durable).
pub(crate) fn sync_dir(dir: &Path) -> StoreResult<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip_and_others_are_ignored() {
        assert_eq!(file_name(7), "0000000007.seg");
        assert_eq!(parse_file_name("0000000007.seg"), Some(7));
        assert_eq!(parse_file_name(&file_name(u32::MAX)), Some(u32::MAX));
        for other in [
            "7.seg",
            "000000007a.seg",
            "0000000007.tmp",
            "9999999999.seg",
            "",
        ] {
            assert_eq!(parse_file_name(other), None, "{other}");
        }
    }
}

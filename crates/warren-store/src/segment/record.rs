//! The on-disk format of a segment: an 8-byte file header, then records
//! `u32 payload_len (LE) | u32 crc (LE) | payload`, back to back, where `crc` is the
//! CRC-32C of the four length bytes followed by the payload. Covering the length means a
//! damaged length field fails the check directly, and a run of zero bytes (a file
//! extended but never written, e.g. after a crash) is not a valid empty record: the
//! CRC-32C of an empty payload alone would be 0.

/// File header: `b"WSEG"`, then the format version as a little-endian `u32`.
pub(crate) const MAGIC: [u8; 4] = *b"WSEG";
/// Version of the record format written by this code (in the file header).
pub const SEGMENT_FORMAT_VERSION: u32 = 1;
/// Bytes of the file header.
pub const FILE_HEADER_LEN: u64 = 8;
/// Bytes of a record header (`payload_len`, `crc32c`).
pub const RECORD_HEADER_LEN: u64 = 8;

/// The 8 bytes every segment file starts with.
pub(crate) fn file_header() -> [u8; FILE_HEADER_LEN as usize] {
    let mut h = [0u8; FILE_HEADER_LEN as usize];
    h[..4].copy_from_slice(&MAGIC);
    h[4..].copy_from_slice(&SEGMENT_FORMAT_VERSION.to_le_bytes());
    h
}

/// What a file header says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FileHeader {
    /// Ours, this version.
    Valid,
    /// All zero bytes (a file created, extended, but its header never reached the disk).
    Blank,
    /// Our magic, another version.
    OtherVersion(u32),
    /// Not a segment file.
    Foreign,
}

/// Classifies the first 8 bytes of a segment file.
pub(crate) fn check_file_header(bytes: &[u8; FILE_HEADER_LEN as usize]) -> FileHeader {
    if bytes.iter().all(|b| *b == 0) {
        return FileHeader::Blank;
    }
    if bytes[..4] != MAGIC {
        return FileHeader::Foreign;
    }
    let version = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    if version == SEGMENT_FORMAT_VERSION {
        FileHeader::Valid
    } else {
        FileHeader::OtherVersion(version)
    }
}

/// The record checksum: CRC-32C of `len` (4 bytes LE) then the payload, given in parts
/// (the same as of their concatenation).
#[inline]
pub(crate) fn checksum(len: u32, parts: &[&[u8]]) -> u32 {
    parts
        .iter()
        .fold(crc32c::crc32c(&len.to_le_bytes()), |crc, part| {
            crc32c::crc32c_append(crc, part)
        })
}

/// The record header for a payload of `len` bytes with checksum `crc`.
#[inline]
pub(crate) fn record_header(len: u32, crc: u32) -> [u8; RECORD_HEADER_LEN as usize] {
    let mut h = [0u8; RECORD_HEADER_LEN as usize];
    h[..4].copy_from_slice(&len.to_le_bytes());
    h[4..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Splits a record header into (`payload_len`, `crc32c`).
#[inline]
pub(crate) fn parse_record_header(h: &[u8]) -> (u32, u32) {
    (
        u32::from_le_bytes([h[0], h[1], h[2], h[3]]),
        u32::from_le_bytes([h[4], h[5], h[6], h[7]]),
    )
}

/// Checks a whole record (header + payload): `Err` says what is wrong.
pub(crate) fn verify(record: &[u8], expected_len: u32) -> Result<(), String> {
    if record.len() < RECORD_HEADER_LEN as usize {
        return Err(format!("record header cut short ({} bytes)", record.len()));
    }
    let (len, crc) = parse_record_header(&record[..RECORD_HEADER_LEN as usize]);
    if len != expected_len {
        return Err(format!(
            "record length field says {len} bytes, expected {expected_len}"
        ));
    }
    let payload = &record[RECORD_HEADER_LEN as usize..];
    if payload.len() != len as usize {
        return Err(format!(
            "record payload cut short ({} of {len} bytes)",
            payload.len()
        ));
    }
    let actual = checksum(len, &[payload]);
    if actual != crc {
        return Err(format!(
            "record checksum mismatch (stored {crc:#010x}, computed {actual:#010x})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_covers_length_then_parts() {
        let whole = crc32c::crc32c(b"\x0c\0\0\0hello, world");
        assert_eq!(checksum(12, &[b"hello", b", ", b"world"]), whole);
        assert_eq!(checksum(12, &[b"", b"hello, world", b""]), whole);
        // The known CRC-32C check value (the crate computes the Castagnoli polynomial).
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
        // Zero bytes are never a valid record header.
        assert_ne!(checksum(0, &[]), 0);
        assert!(verify(&[0u8; 8], 0).is_err());
    }

    #[test]
    fn verify_rejects_each_kind_of_damage() {
        let payload = b"payload";
        let mut rec = record_header(7, checksum(7, &[payload])).to_vec();
        rec.extend_from_slice(payload);
        assert_eq!(verify(&rec, 7), Ok(()));
        assert!(verify(&rec, 8).unwrap_err().contains("length field"));
        assert!(verify(&rec[..10], 7).unwrap_err().contains("cut short"));
        assert!(verify(&rec[..5], 7)
            .unwrap_err()
            .contains("header cut short"));
        let mut flipped = rec.clone();
        flipped[9] ^= 1;
        assert!(verify(&flipped, 7).unwrap_err().contains("checksum"));
        // A damaged length that still matches the caller's is caught by the checksum.
        let mut short = record_header(6, checksum(7, &[payload])).to_vec();
        short.extend_from_slice(&payload[..6]);
        assert!(verify(&short, 6).unwrap_err().contains("checksum"));
    }

    #[test]
    fn file_headers_are_classified() {
        assert_eq!(check_file_header(&file_header()), FileHeader::Valid);
        assert_eq!(check_file_header(&[0; 8]), FileHeader::Blank);
        assert_eq!(check_file_header(b"NOTASEGM"), FileHeader::Foreign);
        let mut other = file_header();
        other[4] = 9;
        assert_eq!(check_file_header(&other), FileHeader::OtherVersion(9));
    }
}

//! Primitive AMQP wire types: a bounds-checked reader over a complete payload, and
//! writers that append to a [`BytesMut`].
//!
//! The reader never trusts a length it reads: every length is checked against the bytes
//! that are actually there before anything is allocated, so a hostile peer cannot make
//! the decoder reserve memory it did not send.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{ProtocolError, Result};
use crate::table::{self, FieldTable};

/// Longest short string the protocol allows.
pub const SHORTSTR_MAX: usize = 255;

/// A cursor over one complete frame payload.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// Reads `buf`; `what` names the structure being decoded, for error messages.
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, what }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Errors unless every byte has been consumed.
    pub fn finish(&self) -> Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(ProtocolError::TrailingBytes {
                what: self.what,
                extra: self.buf.len(),
            })
        }
    }

    /// Consumes and returns the next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.buf.len() {
            return Err(ProtocolError::Truncated { what: self.what });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// An unsigned octet.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }
    /// A signed octet.
    pub fn i8(&mut self) -> Result<i8> {
        Ok(i8::from_be_bytes(self.array()?))
    }
    /// A big-endian unsigned 16-bit integer.
    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    /// A big-endian signed 16-bit integer.
    pub fn i16(&mut self) -> Result<i16> {
        Ok(i16::from_be_bytes(self.array()?))
    }
    /// A big-endian unsigned 32-bit integer.
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    /// A big-endian signed 32-bit integer.
    pub fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(self.array()?))
    }
    /// A big-endian unsigned 64-bit integer.
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    /// A big-endian signed 64-bit integer.
    pub fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_be_bytes(self.array()?))
    }
    /// A big-endian IEEE-754 single.
    pub fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_be_bytes(self.array()?))
    }
    /// A big-endian IEEE-754 double.
    pub fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_be_bytes(self.array()?))
    }

    /// A short string: one length octet, then that many UTF-8 bytes.
    pub fn shortstr(&mut self) -> Result<String> {
        let len = usize::from(self.u8()?);
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| ProtocolError::InvalidUtf8 { what: self.what })
    }

    /// A long string: a 32-bit length, then that many bytes (any content).
    pub fn longstr(&mut self) -> Result<Bytes> {
        let len = self.u32()? as usize;
        Ok(Bytes::copy_from_slice(self.take(len)?))
    }

    /// A field table (see [`FieldTable`]).
    pub fn table(&mut self) -> Result<FieldTable> {
        table::read_table(self, 0)
    }

    /// The name given to this reader, for error messages.
    pub fn what(&self) -> &'static str {
        self.what
    }
}

/// Appends a short string. Strings longer than 255 bytes are cut at the last UTF-8
/// character boundary that fits: values decoded from the wire never are, and reply texts
/// that quote long names are better shortened than refused.
pub fn put_shortstr(dst: &mut BytesMut, s: &str) {
    let mut len = s.len().min(SHORTSTR_MAX);
    while !s.is_char_boundary(len) {
        len -= 1;
    }
    dst.put_u8(len as u8);
    dst.put_slice(&s.as_bytes()[..len]);
}

/// Appends a long string.
pub fn put_longstr(dst: &mut BytesMut, s: &[u8]) {
    dst.put_u32(s.len() as u32);
    dst.put_slice(s);
}

/// Appends a field table.
pub fn put_table(dst: &mut BytesMut, t: &FieldTable) {
    table::write_table(dst, t);
}

/// Packs up to eight booleans into one octet, the first in the lowest bit, as the spec
/// packs consecutive `bit` fields.
pub fn pack_bits(bits: &[bool]) -> u8 {
    debug_assert!(bits.len() <= 8, "at most eight bits share an octet");
    bits.iter()
        .enumerate()
        .fold(0u8, |acc, (i, &b)| acc | (u8::from(b) << i))
}

/// Reads bit `index` (0 = lowest) of a packed octet.
pub fn bit(octet: u8, index: u32) -> bool {
    octet & (1 << index) != 0
}

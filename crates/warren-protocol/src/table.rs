//! Field tables and field values with RabbitMQ's type codes.
//!
//! | code | type | code | type |
//! |---|---|---|---|
//! | `t` | boolean | `l` | signed 64-bit |
//! | `b` | signed 8-bit | `L` | unsigned 64-bit |
//! | `B` | unsigned 8-bit | `f` | float |
//! | `s` | signed 16-bit | `d` | double |
//! | `u` | unsigned 16-bit | `D` | decimal |
//! | `I` | signed 32-bit | `S` | long string |
//! | `i` | unsigned 32-bit | `x` | byte array |
//! | `T` | timestamp | `F` | nested table |
//! | `A` | array | `V` | void |
//!
//! A table keeps its entries in wire order so that what a client sent re-encodes byte
//! for byte; [`FieldTable::equivalent`] compares two tables as maps.

use bytes::{BufMut, Bytes, BytesMut};

use crate::constants::limits::MAX_TABLE_DEPTH;
use crate::error::{ProtocolError, Result};
use crate::wire::{put_longstr, put_shortstr, Reader};

/// A decimal value: `value / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decimal {
    /// Number of decimal digits after the point.
    pub scale: u8,
    /// The unscaled value.
    pub value: u32,
}

/// One typed value inside a field table or array.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// `t`: boolean.
    Bool(bool),
    /// `b`: signed 8-bit.
    I8(i8),
    /// `B`: unsigned 8-bit.
    U8(u8),
    /// `s`: signed 16-bit.
    I16(i16),
    /// `u`: unsigned 16-bit.
    U16(u16),
    /// `I`: signed 32-bit.
    I32(i32),
    /// `i`: unsigned 32-bit.
    U32(u32),
    /// `l`: signed 64-bit.
    I64(i64),
    /// `L`: unsigned 64-bit.
    U64(u64),
    /// `f`: IEEE-754 single.
    F32(f32),
    /// `d`: IEEE-754 double.
    F64(f64),
    /// `D`: decimal.
    Decimal(Decimal),
    /// `S`: long string (bytes, usually UTF-8).
    LongString(Bytes),
    /// `x`: byte array.
    Bytes(Bytes),
    /// `T`: timestamp, seconds since the Unix epoch.
    Timestamp(u64),
    /// `F`: nested table.
    Table(FieldTable),
    /// `A`: array of values.
    Array(Vec<FieldValue>),
    /// `V`: no value.
    Void,
}

impl FieldValue {
    /// The one-letter type code this value is written with.
    pub fn type_code(&self) -> u8 {
        match self {
            FieldValue::Bool(_) => b't',
            FieldValue::I8(_) => b'b',
            FieldValue::U8(_) => b'B',
            FieldValue::I16(_) => b's',
            FieldValue::U16(_) => b'u',
            FieldValue::I32(_) => b'I',
            FieldValue::U32(_) => b'i',
            FieldValue::I64(_) => b'l',
            FieldValue::U64(_) => b'L',
            FieldValue::F32(_) => b'f',
            FieldValue::F64(_) => b'd',
            FieldValue::Decimal(_) => b'D',
            FieldValue::LongString(_) => b'S',
            FieldValue::Bytes(_) => b'x',
            FieldValue::Timestamp(_) => b'T',
            FieldValue::Table(_) => b'F',
            FieldValue::Array(_) => b'A',
            FieldValue::Void => b'V',
        }
    }

    /// The value as a signed integer, if it is any integer type that fits in `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            FieldValue::I8(v) => Some(v.into()),
            FieldValue::U8(v) => Some(v.into()),
            FieldValue::I16(v) => Some(v.into()),
            FieldValue::U16(v) => Some(v.into()),
            FieldValue::I32(v) => Some(v.into()),
            FieldValue::U32(v) => Some(v.into()),
            FieldValue::I64(v) => Some(v),
            FieldValue::U64(v) => i64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a string slice, if it is a long string holding UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            FieldValue::LongString(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// The value as a boolean, if it is one.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            FieldValue::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// A long-string value from text.
    pub fn string(s: impl Into<String>) -> Self {
        FieldValue::LongString(Bytes::from(s.into()))
    }
}

/// An AMQP field table: short-string keys to typed values, in wire order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldTable {
    entries: Vec<(String, FieldValue)>,
}

impl FieldTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value under `key` (the first, should a peer have sent duplicates).
    pub fn get(&self, key: &str) -> Option<&FieldValue> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets `key` to `value`, replacing an existing entry in place or appending.
    pub fn insert(&mut self, key: impl Into<String>, value: FieldValue) {
        let key = key.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    /// Removes and returns the value under `key`.
    pub fn remove(&mut self, key: &str) -> Option<FieldValue> {
        let pos = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(pos).1)
    }

    /// Entries in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &FieldValue)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Whether both tables hold the same keys with equal values, in any order.
    pub fn equivalent(&self, other: &FieldTable) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl<K: Into<String>> FromIterator<(K, FieldValue)> for FieldTable {
    fn from_iter<I: IntoIterator<Item = (K, FieldValue)>>(iter: I) -> Self {
        let mut t = FieldTable::new();
        for (k, v) in iter {
            t.insert(k, v);
        }
        t
    }
}

pub(crate) fn read_table(r: &mut Reader<'_>, depth: usize) -> Result<FieldTable> {
    if depth >= MAX_TABLE_DEPTH {
        return Err(ProtocolError::TableTooDeep(MAX_TABLE_DEPTH));
    }
    let len = r.u32()? as usize;
    let mut inner = Reader::new(r.take(len)?, r.what());
    let mut entries = Vec::new();
    while inner.remaining() > 0 {
        let key = inner.shortstr()?;
        let value = read_value(&mut inner, depth)?;
        entries.push((key, value));
    }
    Ok(FieldTable { entries })
}

fn read_array(r: &mut Reader<'_>, depth: usize) -> Result<Vec<FieldValue>> {
    if depth >= MAX_TABLE_DEPTH {
        return Err(ProtocolError::TableTooDeep(MAX_TABLE_DEPTH));
    }
    let len = r.u32()? as usize;
    let mut inner = Reader::new(r.take(len)?, r.what());
    let mut values = Vec::new();
    while inner.remaining() > 0 {
        values.push(read_value(&mut inner, depth)?);
    }
    Ok(values)
}

fn read_value(r: &mut Reader<'_>, depth: usize) -> Result<FieldValue> {
    let code = r.u8()?;
    Ok(match code {
        b't' => FieldValue::Bool(r.u8()? != 0),
        b'b' => FieldValue::I8(r.i8()?),
        b'B' => FieldValue::U8(r.u8()?),
        b's' => FieldValue::I16(r.i16()?),
        b'u' => FieldValue::U16(r.u16()?),
        b'I' => FieldValue::I32(r.i32()?),
        b'i' => FieldValue::U32(r.u32()?),
        b'l' => FieldValue::I64(r.i64()?),
        b'L' => FieldValue::U64(r.u64()?),
        b'f' => FieldValue::F32(r.f32()?),
        b'd' => FieldValue::F64(r.f64()?),
        b'D' => FieldValue::Decimal(Decimal {
            scale: r.u8()?,
            value: r.u32()?,
        }),
        b'S' => FieldValue::LongString(r.longstr()?),
        b'x' => FieldValue::Bytes(r.longstr()?),
        b'T' => FieldValue::Timestamp(r.u64()?),
        b'F' => FieldValue::Table(read_table(r, depth + 1)?),
        b'A' => FieldValue::Array(read_array(r, depth + 1)?),
        b'V' => FieldValue::Void,
        other => return Err(ProtocolError::UnknownFieldType(char::from(other))),
    })
}

/// Reserves a 32-bit length slot and returns its position, to be patched by [`end_sized`].
fn begin_sized(dst: &mut BytesMut) -> usize {
    let at = dst.len();
    dst.put_u32(0);
    at
}

fn end_sized(dst: &mut BytesMut, at: usize) {
    let len = (dst.len() - at - 4) as u32;
    dst[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

pub(crate) fn write_table(dst: &mut BytesMut, t: &FieldTable) {
    let at = begin_sized(dst);
    for (k, v) in &t.entries {
        put_shortstr(dst, k);
        write_value(dst, v);
    }
    end_sized(dst, at);
}

fn write_value(dst: &mut BytesMut, v: &FieldValue) {
    dst.put_u8(v.type_code());
    match v {
        FieldValue::Bool(b) => dst.put_u8(u8::from(*b)),
        FieldValue::I8(x) => dst.put_i8(*x),
        FieldValue::U8(x) => dst.put_u8(*x),
        FieldValue::I16(x) => dst.put_i16(*x),
        FieldValue::U16(x) => dst.put_u16(*x),
        FieldValue::I32(x) => dst.put_i32(*x),
        FieldValue::U32(x) => dst.put_u32(*x),
        FieldValue::I64(x) => dst.put_i64(*x),
        FieldValue::U64(x) => dst.put_u64(*x),
        FieldValue::F32(x) => dst.put_f32(*x),
        FieldValue::F64(x) => dst.put_f64(*x),
        FieldValue::Decimal(d) => {
            dst.put_u8(d.scale);
            dst.put_u32(d.value);
        }
        FieldValue::LongString(b) | FieldValue::Bytes(b) => put_longstr(dst, b),
        FieldValue::Timestamp(t) => dst.put_u64(*t),
        FieldValue::Table(t) => write_table(dst, t),
        FieldValue::Array(values) => {
            let at = begin_sized(dst);
            for v in values {
                write_value(dst, v);
            }
            end_sized(dst, at);
        }
        FieldValue::Void => {}
    }
}

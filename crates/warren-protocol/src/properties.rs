//! The content header of class `basic`: body size and the 14 message properties.

use bytes::{BufMut, BytesMut};

use crate::error::{ProtocolError, Result};
use crate::table::FieldTable;
use crate::wire::{put_shortstr, put_table, Reader};

/// Class id of `basic`, the only class with content in 0-9-1.
pub const BASIC_CLASS_ID: u16 = 60;

const CONTENT_TYPE: u16 = 1 << 15;
const CONTENT_ENCODING: u16 = 1 << 14;
const HEADERS: u16 = 1 << 13;
const DELIVERY_MODE: u16 = 1 << 12;
const PRIORITY: u16 = 1 << 11;
const CORRELATION_ID: u16 = 1 << 10;
const REPLY_TO: u16 = 1 << 9;
const EXPIRATION: u16 = 1 << 8;
const MESSAGE_ID: u16 = 1 << 7;
const TIMESTAMP: u16 = 1 << 6;
const TYPE: u16 = 1 << 5;
const USER_ID: u16 = 1 << 4;
const APP_ID: u16 = 1 << 3;
const CLUSTER_ID: u16 = 1 << 2;

/// The 14 properties of a `basic` message. `None` means the flag bit is clear.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BasicProperties {
    /// MIME content type.
    pub content_type: Option<String>,
    /// MIME content encoding.
    pub content_encoding: Option<String>,
    /// Application headers.
    pub headers: Option<FieldTable>,
    /// 1 = transient, 2 = persistent.
    pub delivery_mode: Option<u8>,
    /// Message priority, 0 to 9 by convention (RabbitMQ allows up to 255).
    pub priority: Option<u8>,
    /// Application correlation identifier.
    pub correlation_id: Option<String>,
    /// Address to reply to.
    pub reply_to: Option<String>,
    /// Per-message TTL in milliseconds, as a decimal string.
    pub expiration: Option<String>,
    /// Application message identifier.
    pub message_id: Option<String>,
    /// Message timestamp, seconds since the epoch.
    pub timestamp: Option<u64>,
    /// Message type name.
    pub kind: Option<String>,
    /// Creating user id (validated by RabbitMQ against the connection's user).
    pub user_id: Option<String>,
    /// Creating application id.
    pub app_id: Option<String>,
    /// Deprecated cluster id.
    pub cluster_id: Option<String>,
}

impl BasicProperties {
    /// Whether `delivery_mode` is 2 (persistent).
    pub fn is_persistent(&self) -> bool {
        self.delivery_mode == Some(2)
    }

    /// The property flag word for the properties that are present.
    pub fn flags(&self) -> u16 {
        let mut f = 0;
        let mut set = |present: bool, bit: u16| {
            if present {
                f |= bit;
            }
        };
        set(self.content_type.is_some(), CONTENT_TYPE);
        set(self.content_encoding.is_some(), CONTENT_ENCODING);
        set(self.headers.is_some(), HEADERS);
        set(self.delivery_mode.is_some(), DELIVERY_MODE);
        set(self.priority.is_some(), PRIORITY);
        set(self.correlation_id.is_some(), CORRELATION_ID);
        set(self.reply_to.is_some(), REPLY_TO);
        set(self.expiration.is_some(), EXPIRATION);
        set(self.message_id.is_some(), MESSAGE_ID);
        set(self.timestamp.is_some(), TIMESTAMP);
        set(self.kind.is_some(), TYPE);
        set(self.user_id.is_some(), USER_ID);
        set(self.app_id.is_some(), APP_ID);
        set(self.cluster_id.is_some(), CLUSTER_ID);
        f
    }

    /// Appends the flag word and the present properties.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.put_u16(self.flags());
        let strs = |dst: &mut BytesMut, v: &Option<String>| {
            if let Some(s) = v {
                put_shortstr(dst, s);
            }
        };
        strs(dst, &self.content_type);
        strs(dst, &self.content_encoding);
        if let Some(h) = &self.headers {
            put_table(dst, h);
        }
        if let Some(m) = self.delivery_mode {
            dst.put_u8(m);
        }
        if let Some(p) = self.priority {
            dst.put_u8(p);
        }
        strs(dst, &self.correlation_id);
        strs(dst, &self.reply_to);
        strs(dst, &self.expiration);
        strs(dst, &self.message_id);
        if let Some(t) = self.timestamp {
            dst.put_u64(t);
        }
        strs(dst, &self.kind);
        strs(dst, &self.user_id);
        strs(dst, &self.app_id);
        strs(dst, &self.cluster_id);
    }

    /// Reads the flag word and the properties it announces.
    ///
    /// Bits 1 and 0 of the flag word (bit 0 is the spec's continuation flag) name no
    /// `basic` property; like RabbitMQ 3.10, which was measured to accept such headers,
    /// the decoder ignores them rather than refusing the message.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let flags = r.u16()?;
        let has = |bit: u16| flags & bit != 0;
        let mut p = BasicProperties::default();
        if has(CONTENT_TYPE) {
            p.content_type = Some(r.shortstr()?);
        }
        if has(CONTENT_ENCODING) {
            p.content_encoding = Some(r.shortstr()?);
        }
        if has(HEADERS) {
            p.headers = Some(r.table()?);
        }
        if has(DELIVERY_MODE) {
            p.delivery_mode = Some(r.u8()?);
        }
        if has(PRIORITY) {
            p.priority = Some(r.u8()?);
        }
        if has(CORRELATION_ID) {
            p.correlation_id = Some(r.shortstr()?);
        }
        if has(REPLY_TO) {
            p.reply_to = Some(r.shortstr()?);
        }
        if has(EXPIRATION) {
            p.expiration = Some(r.shortstr()?);
        }
        if has(MESSAGE_ID) {
            p.message_id = Some(r.shortstr()?);
        }
        if has(TIMESTAMP) {
            p.timestamp = Some(r.u64()?);
        }
        if has(TYPE) {
            p.kind = Some(r.shortstr()?);
        }
        if has(USER_ID) {
            p.user_id = Some(r.shortstr()?);
        }
        if has(APP_ID) {
            p.app_id = Some(r.shortstr()?);
        }
        if has(CLUSTER_ID) {
            p.cluster_id = Some(r.shortstr()?);
        }
        Ok(p)
    }
}

/// Bytes of a content header payload before the property flags: class id (2), weight (2)
/// and body size (8).
pub const CONTENT_HEADER_FIXED_SIZE: usize = 12;

/// A decoded content header frame payload.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContentHeader {
    /// Class of the method this content belongs to (60 for `basic`).
    pub class_id: u16,
    /// Total body size in bytes, across all body frames.
    pub body_size: u64,
    /// The message properties.
    pub properties: BasicProperties,
}

impl ContentHeader {
    /// Appends the header payload (class, weight 0, body size, properties).
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.put_u16(self.class_id);
        dst.put_u16(0);
        dst.put_u64(self.body_size);
        self.properties.encode(dst);
    }

    /// Decodes a complete header payload.
    pub fn decode(payload: &[u8]) -> Result<Self> {
        let mut r = Reader::new(payload, "content header");
        let class_id = r.u16()?;
        let weight = r.u16()?;
        if weight != 0 {
            return Err(ProtocolError::NonZeroWeight(weight));
        }
        let body_size = r.u64()?;
        let properties = BasicProperties::decode(&mut r)?;
        r.finish()?;
        Ok(ContentHeader {
            class_id,
            body_size,
            properties,
        })
    }
}

//! The tokio-util codec that turns a byte stream into [`Frame`]s and back.
//!
//! The decoder reads the 7-byte frame header, checks the declared size against the
//! negotiated `frame_max` *before* waiting for or reserving the payload, and then decodes
//! the payload. A hostile size therefore costs nothing but an error. Like RabbitMQ, it
//! accepts frames up to [`FRAME_SIZE_TOLERANCE`] bytes over `frame_max` (a payload of
//! at most `frame_max` bytes), because some clients miscount the frame overhead.

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::constants::{
    FRAME_BODY, FRAME_END, FRAME_HEADER, FRAME_HEADER_SIZE, FRAME_HEARTBEAT, FRAME_METHOD,
    FRAME_MIN_SIZE, FRAME_OVERHEAD, FRAME_SIZE_TOLERANCE,
};
use crate::error::{ProtocolError, Result};
use crate::frame::Frame;
use crate::method::Method;
use crate::properties::{ContentHeader, CONTENT_HEADER_FIXED_SIZE};

/// Frame codec with a `frame_max` limit that the connection raises after tuning.
#[derive(Debug, Clone)]
pub struct FrameCodec {
    frame_max: u32,
}

impl Default for FrameCodec {
    /// A codec limited to [`FRAME_MIN_SIZE`], the limit before `connection.tune-ok`.
    fn default() -> Self {
        FrameCodec::new(FRAME_MIN_SIZE)
    }
}

impl FrameCodec {
    /// A codec that rejects frames larger than `frame_max` bytes in total (plus
    /// [`FRAME_SIZE_TOLERANCE`]). Values below [`FRAME_MIN_SIZE`], including 0 (which
    /// AMQP reads as "no limit"), are raised to [`FRAME_MIN_SIZE`]: the server never
    /// negotiates an unlimited frame size.
    pub fn new(frame_max: u32) -> Self {
        FrameCodec {
            frame_max: frame_max.max(FRAME_MIN_SIZE),
        }
    }

    /// The limit in force.
    pub fn frame_max(&self) -> u32 {
        self.frame_max
    }

    /// Changes the limit, e.g. to the value negotiated by `connection.tune-ok`.
    pub fn set_frame_max(&mut self, frame_max: u32) {
        self.frame_max = frame_max.max(FRAME_MIN_SIZE);
    }
}

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>> {
        if src.len() < FRAME_HEADER_SIZE {
            return Ok(None);
        }
        let frame_type = src[0];
        let channel = u16::from_be_bytes([src[1], src[2]]);
        let size = u32::from_be_bytes([src[3], src[4], src[5], src[6]]);
        let total = u64::from(size) + u64::from(FRAME_OVERHEAD);
        if total > u64::from(self.frame_max) + u64::from(FRAME_SIZE_TOLERANCE) {
            return Err(ProtocolError::FrameTooLarge {
                size: total,
                frame_max: self.frame_max,
            });
        }
        // `total` is at most frame_max + 8, far below usize::MAX on any supported target.
        let total = total as usize;
        if src.len() < total {
            src.reserve(total - src.len());
            return Ok(None);
        }
        if src[total - 1] != FRAME_END {
            return Err(ProtocolError::BadFrameEnd(src[total - 1]));
        }
        let mut frame = src.split_to(total);
        frame.advance(FRAME_HEADER_SIZE);
        frame.truncate(size as usize);
        decode_payload(frame_type, channel, frame).map(Some)
    }
}

fn decode_payload(frame_type: u8, channel: u16, payload: BytesMut) -> Result<Frame> {
    match frame_type {
        FRAME_METHOD => Ok(Frame::Method {
            channel,
            method: Method::decode(&payload)?,
        }),
        FRAME_HEADER => {
            let payload = payload.freeze();
            let header = Box::new(ContentHeader::decode(&payload)?);
            Ok(Frame::Header {
                channel,
                header,
                raw_properties: payload.slice(CONTENT_HEADER_FIXED_SIZE..),
            })
        }
        FRAME_BODY => Ok(Frame::Body {
            channel,
            payload: payload.freeze(),
        }),
        FRAME_HEARTBEAT if channel != 0 => Err(ProtocolError::HeartbeatOnChannel(channel)),
        FRAME_HEARTBEAT if !payload.is_empty() => {
            Err(ProtocolError::HeartbeatPayload(payload.len() as u32))
        }
        FRAME_HEARTBEAT => Ok(Frame::Heartbeat),
        other => Err(ProtocolError::UnknownFrameType(other)),
    }
}

impl Encoder<Frame> for FrameCodec {
    type Error = ProtocolError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<()> {
        frame.encode(dst);
        Ok(())
    }
}

impl Encoder<&Frame> for FrameCodec {
    type Error = ProtocolError;

    fn encode(&mut self, frame: &Frame, dst: &mut BytesMut) -> Result<()> {
        frame.encode(dst);
        Ok(())
    }
}

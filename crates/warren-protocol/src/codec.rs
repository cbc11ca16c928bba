//! The tokio-util codec that turns a byte stream into [`Frame`]s and back.
//!
//! The decoder reads the 7-byte frame header, checks the declared size against the
//! negotiated `frame_max` *before* waiting for or reserving the payload, and then decodes
//! the payload. A hostile size therefore costs nothing but an error. Like RabbitMQ, it
//! accepts frames up to [`FRAME_SIZE_TOLERANCE`] bytes over `frame_max` (a payload of
//! at most `frame_max` bytes), because some clients miscount the frame overhead.

use bytes::{Buf, Bytes, BytesMut};
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

/// A frame the codec refused, with what a server reports about it: the frame's type and
/// channel and its payload as received (empty for a frame refused on its declared size
/// alone, whose payload is never read).
#[derive(Debug)]
pub struct FrameFault {
    /// Why it was refused.
    pub error: ProtocolError,
    /// The frame type octet.
    pub frame_type: u8,
    /// The channel the frame named.
    pub channel: u16,
    /// The payload size the frame declared.
    pub size: u32,
    /// The payload (shared with the read buffer, not copied, when the frame was whole).
    pub payload: Bytes,
}

impl FrameCodec {
    /// Like [`Decoder::decode`], but a refused frame comes with its type, channel and
    /// payload, so the connection can report it (and know which channel it was for).
    /// A frame refused for its size or frame-end octet stays in `src`; one whose payload
    /// did not decode has been taken out of it.
    pub fn decode_frame(
        &mut self,
        src: &mut BytesMut,
    ) -> std::result::Result<Option<Frame>, FrameFault> {
        if src.len() < FRAME_HEADER_SIZE {
            return Ok(None);
        }
        let frame_type = src[0];
        let channel = u16::from_be_bytes([src[1], src[2]]);
        let size = u32::from_be_bytes([src[3], src[4], src[5], src[6]]);
        let fault = |error, payload| FrameFault {
            error,
            frame_type,
            channel,
            size,
            payload,
        };
        let total = u64::from(size) + u64::from(FRAME_OVERHEAD);
        if total > u64::from(self.frame_max) + u64::from(FRAME_SIZE_TOLERANCE) {
            let error = ProtocolError::FrameTooLarge {
                size: total,
                frame_max: self.frame_max,
            };
            return Err(fault(error, Bytes::new()));
        }
        // `total` is at most frame_max + 8, far below usize::MAX on any supported target.
        let total = total as usize;
        if src.len() < total {
            src.reserve(total - src.len());
            return Ok(None);
        }
        if src[total - 1] != FRAME_END {
            let payload = Bytes::copy_from_slice(&src[FRAME_HEADER_SIZE..total - 1]);
            return Err(fault(ProtocolError::BadFrameEnd(src[total - 1]), payload));
        }
        let mut frame = src.split_to(total);
        frame.advance(FRAME_HEADER_SIZE);
        frame.truncate(size as usize);
        decode_payload(frame_type, channel, frame.freeze())
            .map(Some)
            .map_err(|(e, payload)| fault(e, payload))
    }
}

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>> {
        self.decode_frame(src).map_err(|f| f.error)
    }
}

/// Decodes a whole frame's payload; a refused payload is handed back with the error.
fn decode_payload(
    frame_type: u8,
    channel: u16,
    payload: Bytes,
) -> std::result::Result<Frame, (ProtocolError, Bytes)> {
    match frame_type {
        FRAME_METHOD => match Method::decode(&payload) {
            Ok(method) => Ok(Frame::Method { channel, method }),
            Err(e) => Err((e, payload)),
        },
        FRAME_HEADER => match ContentHeader::decode(&payload) {
            Ok(header) => Ok(Frame::Header {
                channel,
                header: Box::new(header),
                raw_properties: payload.slice(CONTENT_HEADER_FIXED_SIZE..),
            }),
            Err(e) => Err((e, payload)),
        },
        FRAME_BODY => Ok(Frame::Body { channel, payload }),
        FRAME_HEARTBEAT if channel != 0 => {
            Err((ProtocolError::HeartbeatOnChannel(channel), payload))
        }
        FRAME_HEARTBEAT if !payload.is_empty() => Err((
            ProtocolError::HeartbeatPayload(payload.len() as u32),
            payload,
        )),
        FRAME_HEARTBEAT => Ok(Frame::Heartbeat),
        other => Err((ProtocolError::UnknownFrameType(other), payload)),
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

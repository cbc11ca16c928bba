//! Errors raised while decoding or encoding AMQP 0-9-1 data.
//!
//! Every error knows which AMQP reply code the server must answer it with, so the
//! connection layer can send the right `connection.close` without matching on text.
//! The codes follow what RabbitMQ 3.10.8 was measured to send for the same input
//! (`docs/probes/out-connection-rabbitmq-3.10.8.txt`):
//!
//! | input | code |
//! |---|---|
//! | bad frame end, unknown frame type, frame over `frame_max`, heartbeat with a payload | 501 `FRAME_ERROR` |
//! | a method or header payload that cannot be decoded: truncated, trailing bytes, invalid UTF-8 in a short string, unknown field value type | 501 `FRAME_ERROR` (RabbitMQ: `cannot decode`, `Malformed UTF-8 in shortstr`) |
//! | a field table nested deeper than Warren accepts | 502 `SYNTAX_ERROR` |
//! | heartbeat on a channel other than 0, content header with a non-zero weight | 505 `UNEXPECTED_FRAME` |
//! | class and method ids that 0-9-1 does not define | 540 `NOT_IMPLEMENTED` (RabbitMQ drops the connection without a `connection.close`) |

use crate::constants::ReplyCode;

/// A failure to decode (or, rarely, encode) AMQP wire data.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// The frame-end octet was not `0xCE`.
    #[error("frame end octet was {0:#04x}, expected 0xce")]
    BadFrameEnd(u8),
    /// The frame type octet is not one of method, header, body or heartbeat.
    #[error("unknown frame type {0}")]
    UnknownFrameType(u8),
    /// A frame's declared size exceeds the negotiated `frame_max` by more than
    /// [`crate::constants::FRAME_SIZE_TOLERANCE`].
    #[error("frame of {size} bytes exceeds frame_max of {frame_max} bytes")]
    FrameTooLarge {
        /// Total frame size the peer declared (header, payload and end octet).
        size: u64,
        /// The limit in force.
        frame_max: u32,
    },
    /// A method frame named a class and method this protocol does not define.
    #[error("unknown method {class_id}.{method_id}")]
    UnknownMethod {
        /// The class id read from the frame.
        class_id: u16,
        /// The method id read from the frame.
        method_id: u16,
    },
    /// A method or header payload ended before all its fields were read.
    #[error("malformed {what}: payload truncated")]
    Truncated {
        /// What was being decoded.
        what: &'static str,
    },
    /// A method or header payload had bytes left over after its last field.
    #[error("malformed {what}: {extra} trailing bytes")]
    TrailingBytes {
        /// What was being decoded.
        what: &'static str,
        /// How many bytes were left.
        extra: usize,
    },
    /// A short string or table key was not valid UTF-8.
    #[error("malformed {what}: invalid UTF-8")]
    InvalidUtf8 {
        /// What was being decoded.
        what: &'static str,
    },
    /// A field table or array carried a value type code this protocol does not know.
    #[error("unknown field value type {0:?}")]
    UnknownFieldType(char),
    /// Field tables nested deeper than [`crate::constants::limits::MAX_TABLE_DEPTH`].
    #[error("field tables nested deeper than {0} levels")]
    TableTooDeep(usize),
    /// A heartbeat frame arrived on a channel other than 0.
    #[error("heartbeat frame on channel {0}")]
    HeartbeatOnChannel(u16),
    /// A heartbeat frame carried a payload (it must be empty).
    #[error("heartbeat frame with a {0}-byte payload")]
    HeartbeatPayload(u32),
    /// A content header frame had a non-zero weight field.
    #[error("content header weight must be 0, was {0}")]
    NonZeroWeight(u16),
    /// Reading from or writing to the transport failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl ProtocolError {
    /// The AMQP reply code a server closes the connection with for this error.
    pub fn reply_code(&self) -> ReplyCode {
        match self {
            ProtocolError::BadFrameEnd(_)
            | ProtocolError::UnknownFrameType(_)
            | ProtocolError::FrameTooLarge { .. }
            | ProtocolError::HeartbeatPayload(_)
            | ProtocolError::Truncated { .. }
            | ProtocolError::TrailingBytes { .. }
            | ProtocolError::InvalidUtf8 { .. }
            | ProtocolError::UnknownFieldType(_) => ReplyCode::FrameError,
            ProtocolError::TableTooDeep(_) => ReplyCode::SyntaxError,
            ProtocolError::HeartbeatOnChannel(_) | ProtocolError::NonZeroWeight(_) => {
                ReplyCode::UnexpectedFrame
            }
            ProtocolError::UnknownMethod { .. } => ReplyCode::NotImplemented,
            ProtocolError::Io(_) => ReplyCode::InternalError,
        }
    }
}

/// Shorthand for results whose error is a [`ProtocolError`].
pub type Result<T, E = ProtocolError> = std::result::Result<T, E>;

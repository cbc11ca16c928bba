//! Protocol constants: frame types, sizes and reply codes from the 0-9-1 specification.

/// The eight bytes a client sends first: `AMQP` 0, then version 0-9-1.
pub const PROTOCOL_HEADER: [u8; 8] = *b"AMQP\x00\x00\x09\x01";
/// Frame type of a method frame.
pub const FRAME_METHOD: u8 = 1;
/// Frame type of a content header frame.
pub const FRAME_HEADER: u8 = 2;
/// Frame type of a content body frame.
pub const FRAME_BODY: u8 = 3;
/// Frame type of a heartbeat frame.
pub const FRAME_HEARTBEAT: u8 = 8;
/// The octet every frame ends with.
pub const FRAME_END: u8 = 0xCE;
/// Smallest `frame_max` a peer may negotiate; also the limit before tuning.
pub const FRAME_MIN_SIZE: u32 = 4096;
/// Bytes a frame adds around its payload: type (1), channel (2), size (4), end (1).
pub const FRAME_OVERHEAD: u32 = 8;
/// Bytes of the frame header before the payload.
pub const FRAME_HEADER_SIZE: usize = 7;
/// Bytes by which an incoming frame may exceed the negotiated `frame_max` and still be
/// accepted. RabbitMQ allows this "because quite a few clients get it wrong" (off by one
/// or by the 8 bytes of frame overhead): it refuses a frame only when its *payload* is
/// larger than `frame_max`, measured as `{frame_too_large,131073,131064}` for
/// `frame_max` 131072. Warren's decoder does the same; its encoder never uses the slack.
pub const FRAME_SIZE_TOLERANCE: u32 = 8;

/// AMQP reply codes, as used in `connection.close`, `channel.close` and `basic.return`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum ReplyCode {
    /// 200: success.
    ReplySuccess = 200,
    /// 311: content too large (soft).
    ContentTooLarge = 311,
    /// 312: message could not be routed (returned to a mandatory publisher).
    NoRoute = 312,
    /// 313: no consumers for an immediate publish (soft).
    NoConsumers = 313,
    /// 320: an operator or the server closed the connection (hard).
    ConnectionForced = 320,
    /// 402: invalid virtual host path (hard).
    InvalidPath = 402,
    /// 403: access refused (soft).
    AccessRefused = 403,
    /// 404: entity not found (soft).
    NotFound = 404,
    /// 405: resource locked by another connection (soft).
    ResourceLocked = 405,
    /// 406: precondition failed (soft).
    PreconditionFailed = 406,
    /// 501: malformed frame (hard).
    FrameError = 501,
    /// 502: malformed method or field (hard).
    SyntaxError = 502,
    /// 503: invalid command sequence (hard).
    CommandInvalid = 503,
    /// 504: invalid channel use (hard).
    ChannelError = 504,
    /// 505: frame out of order (hard).
    UnexpectedFrame = 505,
    /// 506: server resource exhausted (hard).
    ResourceError = 506,
    /// 530: not allowed (hard).
    NotAllowed = 530,
    /// 540: not implemented (hard).
    NotImplemented = 540,
    /// 541: internal error (hard).
    InternalError = 541,
}

impl ReplyCode {
    /// The numeric code.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The upper-case name RabbitMQ puts in front of reply texts, e.g. `NOT_FOUND`.
    pub fn name(self) -> &'static str {
        match self {
            ReplyCode::ReplySuccess => "OK",
            ReplyCode::ContentTooLarge => "CONTENT_TOO_LARGE",
            ReplyCode::NoRoute => "NO_ROUTE",
            ReplyCode::NoConsumers => "NO_CONSUMERS",
            ReplyCode::ConnectionForced => "CONNECTION_FORCED",
            ReplyCode::InvalidPath => "INVALID_PATH",
            ReplyCode::AccessRefused => "ACCESS_REFUSED",
            ReplyCode::NotFound => "NOT_FOUND",
            ReplyCode::ResourceLocked => "RESOURCE_LOCKED",
            ReplyCode::PreconditionFailed => "PRECONDITION_FAILED",
            ReplyCode::FrameError => "FRAME_ERROR",
            ReplyCode::SyntaxError => "SYNTAX_ERROR",
            ReplyCode::CommandInvalid => "COMMAND_INVALID",
            ReplyCode::ChannelError => "CHANNEL_ERROR",
            ReplyCode::UnexpectedFrame => "UNEXPECTED_FRAME",
            ReplyCode::ResourceError => "RESOURCE_ERROR",
            ReplyCode::NotAllowed => "NOT_ALLOWED",
            ReplyCode::NotImplemented => "NOT_IMPLEMENTED",
            ReplyCode::InternalError => "INTERNAL_ERROR",
        }
    }

    /// Whether the spec classes this code as a hard error, which closes the whole connection.
    pub fn is_hard_error(self) -> bool {
        matches!(
            self,
            ReplyCode::ConnectionForced
                | ReplyCode::InvalidPath
                | ReplyCode::FrameError
                | ReplyCode::SyntaxError
                | ReplyCode::CommandInvalid
                | ReplyCode::ChannelError
                | ReplyCode::UnexpectedFrame
                | ReplyCode::ResourceError
                | ReplyCode::NotAllowed
                | ReplyCode::NotImplemented
                | ReplyCode::InternalError
        )
    }
}

/// Size limits the decoder enforces regardless of what the peer claims.
pub mod limits {
    /// Deepest nesting of tables and arrays accepted; deeper input is a syntax error,
    /// which keeps hostile input from exhausting the decoder's stack.
    pub const MAX_TABLE_DEPTH: usize = 64;
}

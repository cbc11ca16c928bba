//! AMQP errors raised by broker operations, typed by what they close.
//!
//! An [`AmqpError`] is either a [`ChannelError`] (a soft error: `channel.close`, the
//! connection and its other channels go on) or a [`ConnectionError`] (a hard error:
//! `connection.close`). Each carries a code of its own scope ([`ChannelCode`],
//! [`ConnectionCode`]), so a channel error cannot be sent as a connection close nor the
//! other way round. The reply text on the wire (`NOT_FOUND - no queue 'q' in vhost '/'`)
//! is built in one place, [`AmqpError::reply_text`], from the code's name and the
//! explanation, which never repeats the name.

use warren_protocol::{ProtocolError, ReplyCode};

/// Codes that close a channel (the spec's soft errors Warren raises).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelCode {
    /// 403 ACCESS_REFUSED: e.g. the default exchange, reserved `amq.` names.
    AccessRefused,
    /// 404 NOT_FOUND.
    NotFound,
    /// 405 RESOURCE_LOCKED: an exclusive queue of another connection.
    ResourceLocked,
    /// 406 PRECONDITION_FAILED: inequivalent redeclare, unknown delivery tag, …
    PreconditionFailed,
}

/// Codes that close the connection (the spec's hard errors, and 403 for a refused
/// login, which RabbitMQ reports with `connection.close`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionCode {
    /// 320 CONNECTION_FORCED: shutdown, or an operator closed it.
    ConnectionForced,
    /// 402 INVALID_PATH.
    InvalidPath,
    /// 403 ACCESS_REFUSED: a refused login (during the handshake).
    AccessRefused,
    /// 501 FRAME_ERROR.
    FrameError,
    /// 502 SYNTAX_ERROR.
    SyntaxError,
    /// 503 COMMAND_INVALID.
    CommandInvalid,
    /// 504 CHANNEL_ERROR.
    ChannelError,
    /// 505 UNEXPECTED_FRAME.
    UnexpectedFrame,
    /// 506 RESOURCE_ERROR.
    ResourceError,
    /// 530 NOT_ALLOWED.
    NotAllowed,
    /// 540 NOT_IMPLEMENTED.
    NotImplemented,
    /// 541 INTERNAL_ERROR: e.g. the store failed.
    InternalError,
}

impl ChannelCode {
    /// The wire reply code.
    pub fn reply_code(self) -> ReplyCode {
        match self {
            ChannelCode::AccessRefused => ReplyCode::AccessRefused,
            ChannelCode::NotFound => ReplyCode::NotFound,
            ChannelCode::ResourceLocked => ReplyCode::ResourceLocked,
            ChannelCode::PreconditionFailed => ReplyCode::PreconditionFailed,
        }
    }
}

impl ConnectionCode {
    /// The wire reply code.
    pub fn reply_code(self) -> ReplyCode {
        match self {
            ConnectionCode::ConnectionForced => ReplyCode::ConnectionForced,
            ConnectionCode::InvalidPath => ReplyCode::InvalidPath,
            ConnectionCode::AccessRefused => ReplyCode::AccessRefused,
            ConnectionCode::FrameError => ReplyCode::FrameError,
            ConnectionCode::SyntaxError => ReplyCode::SyntaxError,
            ConnectionCode::CommandInvalid => ReplyCode::CommandInvalid,
            ConnectionCode::ChannelError => ReplyCode::ChannelError,
            ConnectionCode::UnexpectedFrame => ReplyCode::UnexpectedFrame,
            ConnectionCode::ResourceError => ReplyCode::ResourceError,
            ConnectionCode::NotAllowed => ReplyCode::NotAllowed,
            ConnectionCode::NotImplemented => ReplyCode::NotImplemented,
            ConnectionCode::InternalError => ReplyCode::InternalError,
        }
    }

    /// The code a malformed-input error from the codec closes the connection with.
    pub fn of_protocol_error(e: &ProtocolError) -> ConnectionCode {
        match e.reply_code() {
            ReplyCode::SyntaxError => ConnectionCode::SyntaxError,
            ReplyCode::UnexpectedFrame => ConnectionCode::UnexpectedFrame,
            ReplyCode::NotImplemented => ConnectionCode::NotImplemented,
            ReplyCode::InternalError => ConnectionCode::InternalError,
            _ => ConnectionCode::FrameError,
        }
    }
}

/// A soft error: closes one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelError {
    /// The reply code.
    pub code: ChannelCode,
    /// The explanation, without the code's name.
    pub text: String,
}

/// A hard error: closes the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionError {
    /// The reply code.
    pub code: ConnectionCode,
    /// The explanation, without the code's name.
    pub text: String,
}

impl ChannelError {
    /// The reply text as sent on the wire.
    pub fn reply_text(&self) -> String {
        reply_text(self.code.reply_code(), &self.text)
    }
}

impl ConnectionError {
    /// A connection error with `code` and `text`.
    pub fn new(code: ConnectionCode, text: impl Into<String>) -> Self {
        ConnectionError {
            code,
            text: text.into(),
        }
    }

    /// 541 INTERNAL_ERROR for a store that failed to write or sync: `store failure: …`.
    pub fn store_failed(e: &dyn std::error::Error) -> Self {
        ConnectionError::new(ConnectionCode::InternalError, format!("store failure: {e}"))
    }

    /// The reply text as sent on the wire.
    pub fn reply_text(&self) -> String {
        reply_text(self.code.reply_code(), &self.text)
    }
}

impl std::fmt::Display for ChannelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reply_text())
    }
}

impl std::fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reply_text())
    }
}

/// `NAME - explanation`, as RabbitMQ words every reply text.
fn reply_text(code: ReplyCode, text: &str) -> String {
    format!("{} - {text}", code.name())
}

/// An AMQP exception: what it closes, its code and a text such as
/// `no queue 'q' in vhost '/'`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmqpError {
    /// Closes the channel.
    #[error("{}", .0.reply_text())]
    Channel(ChannelError),
    /// Closes the connection.
    #[error("{}", .0.reply_text())]
    Connection(ConnectionError),
}

impl From<ConnectionError> for AmqpError {
    fn from(e: ConnectionError) -> Self {
        AmqpError::Connection(e)
    }
}

impl From<ChannelError> for AmqpError {
    fn from(e: ChannelError) -> Self {
        AmqpError::Channel(e)
    }
}

impl AmqpError {
    fn channel(code: ChannelCode, text: impl Into<String>) -> Self {
        AmqpError::Channel(ChannelError {
            code,
            text: text.into(),
        })
    }

    fn connection(code: ConnectionCode, text: impl Into<String>) -> Self {
        AmqpError::Connection(ConnectionError::new(code, text))
    }

    /// The wire reply code.
    pub fn code(&self) -> ReplyCode {
        match self {
            AmqpError::Channel(e) => e.code.reply_code(),
            AmqpError::Connection(e) => e.code.reply_code(),
        }
    }

    /// The explanation, without the code's name.
    pub fn text(&self) -> &str {
        match self {
            AmqpError::Channel(e) => &e.text,
            AmqpError::Connection(e) => &e.text,
        }
    }

    /// The reply text as sent on the wire: `NOT_FOUND - no queue 'q' in vhost '/'`.
    pub fn reply_text(&self) -> String {
        reply_text(self.code(), self.text())
    }

    /// 404 NOT_FOUND (channel).
    pub fn not_found(text: impl Into<String>) -> Self {
        Self::channel(ChannelCode::NotFound, text)
    }
    /// 403 ACCESS_REFUSED (channel).
    pub fn access_refused(text: impl Into<String>) -> Self {
        Self::channel(ChannelCode::AccessRefused, text)
    }
    /// 405 RESOURCE_LOCKED (channel).
    pub fn resource_locked(text: impl Into<String>) -> Self {
        Self::channel(ChannelCode::ResourceLocked, text)
    }
    /// 406 PRECONDITION_FAILED (channel).
    pub fn precondition_failed(text: impl Into<String>) -> Self {
        Self::channel(ChannelCode::PreconditionFailed, text)
    }
    /// 320 CONNECTION_FORCED (connection).
    pub fn connection_forced(text: impl Into<String>) -> Self {
        Self::connection(ConnectionCode::ConnectionForced, text)
    }
    /// 503 COMMAND_INVALID (connection).
    pub fn command_invalid(text: impl Into<String>) -> Self {
        Self::connection(ConnectionCode::CommandInvalid, text)
    }
    /// 504 CHANNEL_ERROR (connection).
    pub fn channel_error(text: impl Into<String>) -> Self {
        Self::connection(ConnectionCode::ChannelError, text)
    }
    /// 505 UNEXPECTED_FRAME (connection).
    pub fn unexpected_frame(text: impl Into<String>) -> Self {
        Self::connection(ConnectionCode::UnexpectedFrame, text)
    }
    /// 530 NOT_ALLOWED (connection).
    pub fn not_allowed(text: impl Into<String>) -> Self {
        Self::connection(ConnectionCode::NotAllowed, text)
    }
    /// 540 NOT_IMPLEMENTED (connection).
    pub fn not_implemented(text: impl Into<String>) -> Self {
        Self::connection(ConnectionCode::NotImplemented, text)
    }
    /// 541 INTERNAL_ERROR (connection).
    pub fn internal(text: impl Into<String>) -> Self {
        Self::connection(ConnectionCode::InternalError, text)
    }
    /// 541 INTERNAL_ERROR for a store that failed to write or sync: `store failure: …`.
    pub fn store_failed(e: &dyn std::error::Error) -> Self {
        AmqpError::Connection(ConnectionError::store_failed(e))
    }
    /// 501 FRAME_ERROR (connection).
    pub fn frame_error(text: impl Into<String>) -> Self {
        Self::connection(ConnectionCode::FrameError, text)
    }
    /// 502 SYNTAX_ERROR (connection).
    pub fn syntax_error(text: impl Into<String>) -> Self {
        Self::connection(ConnectionCode::SyntaxError, text)
    }
    /// The connection error a malformed frame from the codec means.
    pub fn malformed(e: &ProtocolError) -> Self {
        Self::connection(ConnectionCode::of_protocol_error(e), e.to_string())
    }
}

/// Shorthand for results of broker operations.
pub type AmqpResult<T> = Result<T, AmqpError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_codes_close_channels_and_hard_codes_connections() {
        for e in [
            AmqpError::not_found("x"),
            AmqpError::access_refused("x"),
            AmqpError::resource_locked("x"),
            AmqpError::precondition_failed("x"),
        ] {
            assert!(matches!(e, AmqpError::Channel(_)), "{e}");
            assert!(!e.code().is_hard_error());
        }
        for e in [
            AmqpError::command_invalid("x"),
            AmqpError::channel_error("x"),
            AmqpError::unexpected_frame("x"),
            AmqpError::not_allowed("x"),
            AmqpError::not_implemented("x"),
            AmqpError::internal("x"),
            AmqpError::frame_error("x"),
            AmqpError::syntax_error("x"),
            AmqpError::connection_forced("x"),
        ] {
            assert!(matches!(e, AmqpError::Connection(_)), "{e}");
            assert!(e.code().is_hard_error());
        }
        // A refused login is the one 403 that closes the connection.
        let login = ConnectionError::new(ConnectionCode::AccessRefused, "x");
        assert_eq!(login.code.reply_code(), ReplyCode::AccessRefused);
        assert_eq!(login.reply_text(), "ACCESS_REFUSED - x");
    }

    #[test]
    fn the_reply_text_names_the_code_once() {
        let e = AmqpError::not_found("no queue 'q' in vhost '/'");
        assert_eq!(e.reply_text(), "NOT_FOUND - no queue 'q' in vhost '/'");
        assert_eq!(e.to_string(), e.reply_text());
        let io = std::io::Error::other("disk on fire");
        let e = AmqpError::store_failed(&io);
        assert_eq!(e.code(), ReplyCode::InternalError);
        assert_eq!(
            e.reply_text(),
            "INTERNAL_ERROR - store failure: disk on fire"
        );
    }

    #[test]
    fn malformed_frames_map_to_their_connection_codes() {
        let e = AmqpError::malformed(&ProtocolError::TableTooDeep(100));
        assert_eq!(e.code(), ReplyCode::SyntaxError);
        let e = AmqpError::malformed(&ProtocolError::HeartbeatOnChannel(1));
        assert_eq!(e.code(), ReplyCode::UnexpectedFrame);
    }
}

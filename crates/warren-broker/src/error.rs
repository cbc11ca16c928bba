//! AMQP errors raised by broker operations.
//!
//! An [`AmqpError`] carries the reply code and RabbitMQ-style text. Whether it closes the
//! channel or the whole connection follows from the code: the spec's hard errors (5xx,
//! 530, 320, 402) close the connection, soft errors (403-406) close the channel.

use warren_protocol::ReplyCode;

/// An AMQP exception: a reply code and a text such as `no queue 'q' in vhost '/'`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} - {text}", code.name())]
pub struct AmqpError {
    /// The reply code.
    pub code: ReplyCode,
    /// The human-readable explanation, without the code name prefix.
    pub text: String,
}

/// Whether an exception closes a channel or the whole connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorScope {
    /// `channel.close`; the connection and its other channels go on.
    Channel,
    /// `connection.close`; every channel ends.
    Connection,
}

impl AmqpError {
    /// An error with `code` and `text`.
    pub fn new(code: ReplyCode, text: impl Into<String>) -> Self {
        AmqpError {
            code,
            text: text.into(),
        }
    }

    /// Whether this error closes the channel or the connection.
    pub fn scope(&self) -> ErrorScope {
        if self.code.is_hard_error() {
            ErrorScope::Connection
        } else {
            ErrorScope::Channel
        }
    }

    /// The reply text as sent on the wire: `NOT_FOUND - no queue 'q' in vhost '/'`.
    pub fn reply_text(&self) -> String {
        self.to_string()
    }

    /// 404 NOT_FOUND.
    pub fn not_found(text: impl Into<String>) -> Self {
        Self::new(ReplyCode::NotFound, text)
    }
    /// 403 ACCESS_REFUSED.
    pub fn access_refused(text: impl Into<String>) -> Self {
        Self::new(ReplyCode::AccessRefused, text)
    }
    /// 405 RESOURCE_LOCKED.
    pub fn resource_locked(text: impl Into<String>) -> Self {
        Self::new(ReplyCode::ResourceLocked, text)
    }
    /// 406 PRECONDITION_FAILED.
    pub fn precondition_failed(text: impl Into<String>) -> Self {
        Self::new(ReplyCode::PreconditionFailed, text)
    }
    /// 503 COMMAND_INVALID.
    pub fn command_invalid(text: impl Into<String>) -> Self {
        Self::new(ReplyCode::CommandInvalid, text)
    }
    /// 504 CHANNEL_ERROR.
    pub fn channel_error(text: impl Into<String>) -> Self {
        Self::new(ReplyCode::ChannelError, text)
    }
    /// 505 UNEXPECTED_FRAME.
    pub fn unexpected_frame(text: impl Into<String>) -> Self {
        Self::new(ReplyCode::UnexpectedFrame, text)
    }
    /// 530 NOT_ALLOWED.
    pub fn not_allowed(text: impl Into<String>) -> Self {
        Self::new(ReplyCode::NotAllowed, text)
    }
    /// 540 NOT_IMPLEMENTED.
    pub fn not_implemented(text: impl Into<String>) -> Self {
        Self::new(ReplyCode::NotImplemented, text)
    }
    /// 541 INTERNAL_ERROR.
    pub fn internal(text: impl Into<String>) -> Self {
        Self::new(ReplyCode::InternalError, text)
    }
    /// 501 FRAME_ERROR.
    pub fn frame_error(text: impl Into<String>) -> Self {
        Self::new(ReplyCode::FrameError, text)
    }
    /// 502 SYNTAX_ERROR.
    pub fn syntax_error(text: impl Into<String>) -> Self {
        Self::new(ReplyCode::SyntaxError, text)
    }
}

/// Shorthand for results of broker operations.
pub type AmqpResult<T> = Result<T, AmqpError>;

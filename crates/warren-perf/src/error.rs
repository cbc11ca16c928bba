//! The one error type of warren-perf.

use warren_protocol::ProtocolError;

/// Why a run, a connection or a setup step failed.
#[derive(Debug, thiserror::Error)]
pub enum PerfError {
    /// The `--uri` could not be parsed.
    #[error("bad URI {uri:?}: {reason}")]
    Uri {
        /// The URI as given.
        uri: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A command-line value is invalid or options contradict each other.
    #[error("bad option: {0}")]
    Option(String),
    /// The TLS setup or handshake failed (a CA file, the server's certificate).
    #[error("TLS: {0}")]
    Tls(String),
    /// A socket read or write failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The broker sent bytes that do not decode.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// The broker closed the connection or channel with a reply code.
    #[error("broker closed the {scope} with {code} {text}")]
    Closed {
        /// `connection` or `channel`.
        scope: &'static str,
        /// The AMQP reply code.
        code: u16,
        /// The reply text.
        text: String,
    },
    /// The broker answered with something other than what the protocol calls for.
    #[error("unexpected from broker: {0}")]
    Unexpected(String),
    /// The broker closed the TCP connection.
    #[error("broker closed the TCP connection")]
    Eof,
    /// The broker did not answer in time.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
}

/// Result with [`PerfError`].
pub type Result<T> = std::result::Result<T, PerfError>;

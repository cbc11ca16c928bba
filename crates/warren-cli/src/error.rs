//! The one error type of `warrenctl`: every failure is a [`CliError`], printed as one
//! line on standard error and mapped to an exit code (see [`crate::exit`]).

use crate::exit;

/// Everything that can make a `warrenctl` command fail.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A bad command line that clap itself could not catch (e.g. a mutually dependent flag).
    #[error("{0}")]
    Usage(String),
    /// The management API did not answer at all.
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// The base URL that was tried.
        url: String,
        /// Why, e.g. `connection refused`.
        reason: String,
    },
    /// HTTP 401 or 403.
    #[error("access refused for user '{user}' (HTTP {status}){}", suffix(reason))]
    AccessRefused {
        /// The user the request was made as.
        user: String,
        /// 401 or 403.
        status: u16,
        /// The server's `reason`, if it gave one worth showing.
        reason: Option<String>,
    },
    /// HTTP 404, or a lookup (binding by routing key) that found nothing.
    #[error("{0}")]
    NotFound(String),
    /// A local input file that cannot be read.
    #[error("cannot read {path}: {reason}")]
    Input {
        /// The file as named on the command line.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// Bad data: a malformed file, HTTP 400 (shown with the server's `reason`), an
    /// ambiguous lookup.
    #[error("{0}")]
    Data(String),
    /// A publish that no queue received.
    #[error("message published to {0} was not routed to any queue")]
    Unroutable(String),
    /// HTTP 5xx or any other unexpected status or reply.
    #[error("server error (HTTP {status}): {reason}")]
    Server {
        /// The HTTP status (0 when the reply itself was unreadable).
        status: u16,
        /// The server's `reason` or a description of what was wrong.
        reason: String,
    },
    /// A local write (output file, stdout) failed.
    #[error("cannot write {target}: {source}")]
    Output {
        /// What was being written.
        target: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config file is malformed.
    #[error("{path}: {reason}")]
    Config {
        /// The config file's path.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

fn suffix(reason: &Option<String>) -> String {
    match reason {
        Some(r) if !r.is_empty() => format!(": {r}"),
        _ => String::new(),
    }
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => exit::USAGE,
            CliError::Unreachable { .. } => exit::UNAVAILABLE,
            CliError::AccessRefused { .. } => exit::NOPERM,
            CliError::NotFound(_) | CliError::Input { .. } => exit::NOINPUT,
            CliError::Data(_) | CliError::Unroutable(_) => exit::DATAERR,
            CliError::Server { .. } => exit::SOFTWARE,
            CliError::Output { .. } => exit::IOERR,
            CliError::Config { .. } => exit::CONFIG,
        }
    }

    /// A write to standard output failed: `BrokenPipe` (output piped into `head`) is
    /// not worth a message, so callers check [`CliError::is_broken_pipe`].
    pub fn stdout(err: std::io::Error) -> CliError {
        CliError::Output {
            target: "standard output".into(),
            source: err,
        }
    }

    /// True for a failed write to a closed pipe, which ends the program quietly.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Output { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// Shorthand for results whose error is a [`CliError`].
pub type Result<T, E = CliError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_maps_to_its_sysexits_code() {
        let cases = [
            (CliError::Usage("x".into()), 64),
            (
                CliError::Unreachable {
                    url: "u".into(),
                    reason: "r".into(),
                },
                69,
            ),
            (
                CliError::AccessRefused {
                    user: "u".into(),
                    status: 401,
                    reason: None,
                },
                77,
            ),
            (CliError::NotFound("x".into()), 66),
            (
                CliError::Input {
                    path: "f".into(),
                    reason: "r".into(),
                },
                66,
            ),
            (CliError::Data("x".into()), 65),
            (CliError::Unroutable("x".into()), 65),
            (
                CliError::Server {
                    status: 500,
                    reason: "r".into(),
                },
                70,
            ),
            (
                CliError::Output {
                    target: "t".into(),
                    source: std::io::Error::other("r"),
                },
                74,
            ),
            (
                CliError::Config {
                    path: "p".into(),
                    reason: "r".into(),
                },
                78,
            ),
        ];
        for (err, code) in cases {
            assert_eq!(err.exit_code(), code, "{err:?}");
        }
    }

    #[test]
    fn access_refused_reads_as_one_line() {
        let e = CliError::AccessRefused {
            user: "x".into(),
            status: 401,
            reason: None,
        };
        assert_eq!(e.to_string(), "access refused for user 'x' (HTTP 401)");
        let e = CliError::AccessRefused {
            user: "x".into(),
            status: 403,
            reason: Some("Not administrator user".into()),
        };
        assert_eq!(
            e.to_string(),
            "access refused for user 'x' (HTTP 403): Not administrator user"
        );
    }
}

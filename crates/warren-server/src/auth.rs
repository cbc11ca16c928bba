//! SASL mechanisms PLAIN and AMQPLAIN, and the user check.

use std::net::IpAddr;

use warren_protocol::wire::Reader;
use warren_protocol::FieldValue;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use warren_broker::access::{AccessControl, User};

/// Mechanisms offered in `connection.start`, in preference order.
pub const MECHANISMS: &str = "PLAIN AMQPLAIN";
/// Mechanisms offered on a TLS connection that verifies client certificates.
pub const MECHANISMS_WITH_EXTERNAL: &str = "PLAIN AMQPLAIN EXTERNAL";
/// SASL EXTERNAL: the user is the one the verified client certificate names
/// (`tls::identity`); the response is ignored, as RabbitMQ does.
pub const EXTERNAL: &str = "EXTERNAL";

/// Why a login failed. The client only ever sees 403 ACCESS_REFUSED.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// The client picked a mechanism we do not offer.
    #[error("unsupported authentication mechanism '{0}'")]
    UnsupportedMechanism(String),
    /// The response could not be parsed for its mechanism.
    #[error("malformed {0} response")]
    Malformed(&'static str),
    /// Unknown user or wrong password.
    #[error("invalid credentials for user '{0}'")]
    InvalidCredentials(String),
    /// EXTERNAL found no user to log in as (no client certificate, no name in it,
    /// or no such user).
    #[error("EXTERNAL login refused: {0}")]
    External(String),
    /// The user may only connect from loopback.
    #[error("user '{0}' can only connect via localhost")]
    LoopbackOnly(String),
}

/// Credentials extracted from a SASL response.
#[derive(Debug, PartialEq, Eq)]
pub struct Credentials {
    /// Login name.
    pub user: String,
    /// Password.
    pub password: String,
}

/// Parses the `connection.start-ok` response for `mechanism`.
pub fn parse_response(mechanism: &str, response: &[u8]) -> Result<Credentials, AuthError> {
    match mechanism {
        // PLAIN: [authzid] NUL authcid NUL password
        "PLAIN" => {
            let mut parts = response.split(|&b| b == 0);
            let (_authz, user, pass) =
                match (parts.next(), parts.next(), parts.next(), parts.next()) {
                    (Some(a), Some(u), Some(p), None) => (a, u, p),
                    _ => return Err(AuthError::Malformed("PLAIN")),
                };
            let text =
                |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| AuthError::Malformed("PLAIN"));
            Ok(Credentials {
                user: text(user)?,
                password: text(pass)?,
            })
        }
        // AMQPLAIN: a field table without its length prefix, holding LOGIN and PASSWORD.
        "AMQPLAIN" => {
            let mut framed = Vec::with_capacity(response.len() + 4);
            framed.extend_from_slice(&(response.len() as u32).to_be_bytes());
            framed.extend_from_slice(response);
            let table = Reader::new(&framed, "AMQPLAIN response")
                .table()
                .map_err(|_| AuthError::Malformed("AMQPLAIN"))?;
            let field = |k: &str| match table.get(k) {
                Some(FieldValue::LongString(b)) => String::from_utf8(b.to_vec()).ok(),
                _ => None,
            };
            match (field("LOGIN"), field("PASSWORD")) {
                (Some(user), Some(password)) => Ok(Credentials { user, password }),
                _ => Err(AuthError::Malformed("AMQPLAIN")),
            }
        }
        other => Err(AuthError::UnsupportedMechanism(other.to_owned())),
    }
}

/// Checks credentials against the broker's users and the peer's address: users named
/// in `loopback_users` may only log in from a loopback address.
pub fn authenticate(
    access: &AccessControl,
    loopback_users: &[String],
    creds: &Credentials,
    peer: IpAddr,
) -> Result<Arc<User>, AuthError> {
    let user = access
        .authenticate(&creds.user, &creds.password)
        .ok_or_else(|| AuthError::InvalidCredentials(creds.user.clone()))?;
    if loopback_users.contains(&user.name) && !peer.is_loopback() {
        return Err(AuthError::LoopbackOnly(user.name.clone()));
    }
    Ok(user)
}

/// Slows down password guessing: a failed login is answered only after
/// `Limits::failed_login_delay`. At most `Limits::failed_login_max_waiting` failures
/// wait at once; past that a failed login's socket is closed at once without an answer,
/// so a flood of bad logins holds neither memory nor connections.
#[derive(Debug)]
pub struct FailedLogins {
    waiting: Arc<Semaphore>,
    /// How long a failed login waits for its answer.
    pub delay: Duration,
}

impl FailedLogins {
    /// A gate for `max_waiting` failures at once, each answered after `delay`.
    pub fn new(delay: Duration, max_waiting: usize) -> Self {
        FailedLogins {
            waiting: Arc::new(Semaphore::new(max_waiting)),
            delay,
        }
    }

    /// A slot to wait in, or `None` if too many failures are waiting already.
    pub fn wait_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.waiting.clone().try_acquire_owned().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guest() -> AccessControl {
        let access = AccessControl::new();
        access.put_user(User::with_password("guest", "guest", vec![]));
        access
    }

    fn loopback() -> Vec<String> {
        vec!["guest".into()]
    }

    #[test]
    fn plain_response_parses_and_authenticates_from_loopback_only() {
        let creds = parse_response("PLAIN", b"\0guest\0guest").unwrap();
        assert_eq!(creds.user, "guest");
        assert!(authenticate(&guest(), &loopback(), &creds, "127.0.0.1".parse().unwrap()).is_ok());
        assert_eq!(
            authenticate(&guest(), &loopback(), &creds, "10.1.2.3".parse().unwrap()).unwrap_err(),
            AuthError::LoopbackOnly("guest".into())
        );
        assert!(authenticate(&guest(), &[], &creds, "10.1.2.3".parse().unwrap()).is_ok());
    }

    #[test]
    fn wrong_password_and_malformed_responses_are_refused() {
        let creds = parse_response("PLAIN", b"\0guest\0nope").unwrap();
        assert!(matches!(
            authenticate(&guest(), &loopback(), &creds, "127.0.0.1".parse().unwrap()),
            Err(AuthError::InvalidCredentials(_))
        ));
        assert!(parse_response("PLAIN", b"guest").is_err());
        assert!(parse_response("EXTERNAL", b"").is_err());
    }

    #[test]
    fn amqplain_response_parses() {
        let mut t = warren_protocol::FieldTable::new();
        t.insert("LOGIN", FieldValue::string("guest"));
        t.insert("PASSWORD", FieldValue::string("guest"));
        let mut buf = bytes::BytesMut::new();
        warren_protocol::wire::put_table(&mut buf, &t);
        let creds = parse_response("AMQPLAIN", &buf[4..]).unwrap();
        assert_eq!(creds.password, "guest");
    }
}

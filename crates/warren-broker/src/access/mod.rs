//! Access control: users and their password hashes, permissions per vhost, topic
//! permissions, and per-vhost and per-user limits, with RabbitMQ's semantics.
//!
//! [`AccessControl`] holds the tables; the broker's admin operations change them (and
//! the store) and the AMQP side checks through a per-connection [`SessionAccess`].

mod control;
pub mod limits;
pub mod password;
pub mod pattern;
pub mod permissions;
mod session;
pub mod user;

pub use control::{AccessControl, LoginRefusal};
pub use limits::{LimitError, UserLimits, VHostLimits};
pub use password::{HashAlgorithm, PasswordError, PasswordHash};
pub use pattern::{Pattern, PatternError};
pub use permissions::{Access, Permission, TopicPermission};
pub use session::{Resource, SessionAccess};
pub use user::{tags, User};

/// Whether `ip` is a loopback address, as RabbitMQ's `rabbit_net:is_loopback` decides
/// for `loopback_users`: 127.0.0.0/8, `::1`, and an IPv4 loopback address mapped into
/// IPv6 (`::ffff:127.0.0.1`, how a dual-stack `[::]` listener sees an IPv4 client).
pub fn is_loopback(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
    }
}

/// A definition of a user, permission or limit that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// A user entry is unusable (bad hash, unknown algorithm, bad limits).
    #[error("user '{user}': {reason}")]
    InvalidUser {
        /// The user.
        user: String,
        /// Why.
        reason: String,
    },
    /// A permission or topic permission pattern is not a valid regular expression.
    #[error("permissions of user '{user}' in vhost '{vhost}': {source}")]
    InvalidPattern {
        /// The user.
        user: String,
        /// The vhost.
        vhost: String,
        /// The bad pattern.
        source: PatternError,
    },
}

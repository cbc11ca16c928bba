//! Server settings: [`ServerConfig`] is what the server runs with; [`load()`] builds it
//! from defaults, `WARREN_*` environment variables, the config file and the command line
//! (in that order of precedence). The limits live in one place,
//! [`warren_broker::Limits`], re-exported here.

mod env;
pub mod file;
pub mod load;
mod locate;
pub mod print;
mod units;
mod values;

pub use load::{load, topology_from_toml, CliOverrides, ConfigError, Loaded, LogFormat};

use std::net::SocketAddr;
use std::path::PathBuf;

pub use warren_broker::definitions::Definitions;
pub use warren_broker::{Limits, MemoryWatermark};

/// The user a fresh broker creates on its first boot (RabbitMQ's `default_user`,
/// `default_pass`, `default_user_tags`, `default_permissions`). Its `Debug` (and so
/// `ServerConfig`'s) does not show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DefaultUser {
    /// Login name (`default_user`).
    pub name: String,
    /// Password in clear (`default_pass`); stored hashed.
    pub password: String,
    /// Tags (`default_user_tags`).
    pub tags: Vec<String>,
    /// Configure, write and read patterns on the default vhost (`default_permissions`).
    pub permissions: [String; 3],
}

impl std::fmt::Debug for DefaultUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DefaultUser")
            .field("name", &self.name)
            .field("password", &"<redacted>")
            .field("tags", &self.tags)
            .field("permissions", &self.permissions)
            .finish()
    }
}

impl Default for DefaultUser {
    fn default() -> Self {
        DefaultUser {
            name: "guest".into(),
            password: "guest".into(),
            tags: vec!["administrator".into()],
            permissions: [".*".into(), ".*".into(), ".*".into()],
        }
    }
}

/// Where EXTERNAL login takes the user name from in a verified client certificate
/// (RabbitMQ's `ssl_cert_login_from`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CertLoginFrom {
    /// The subject's common name (CN); several CNs are joined with `,` as RabbitMQ does.
    #[default]
    CommonName,
    /// The first DNS name of the subjectAltName extension (RabbitMQ's
    /// `ssl_cert_login_san_type = dns`, `ssl_cert_login_san_index = 0`).
    SubjectAlternativeName,
}

impl CertLoginFrom {
    /// The config file's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            CertLoginFrom::CommonName => "common_name",
            CertLoginFrom::SubjectAlternativeName => "subject_alternative_name",
        }
    }
}

/// TLS (`[tls]`): the `amqps` listeners, HTTPS for the management API, the certificate
/// and key they present, and client-certificate verification. Off unless a listen
/// address is given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// `amqps` listen addresses (`tls.listen`; RabbitMQ's `listeners.ssl`, port 5671).
    pub listen: Vec<SocketAddr>,
    /// The management API over HTTPS (`tls.management_listen`; RabbitMQ's
    /// `management.ssl.port`, 15671), served with the same certificate and verification.
    pub management_listen: Option<SocketAddr>,
    /// The server's certificate chain, PEM, leaf first (`tls.cert_file`).
    pub cert_file: Option<PathBuf>,
    /// The server's private key, PEM: PKCS#8, PKCS#1 or SEC1 (`tls.key_file`).
    pub key_file: Option<PathBuf>,
    /// CA certificates, PEM, that client certificates must chain to (`tls.ca_file`).
    pub ca_file: Option<PathBuf>,
    /// Ask clients for a certificate and refuse one that does not chain to `ca_file`
    /// (`tls.verify_peer`; RabbitMQ's `ssl_options.verify = verify_peer`).
    pub verify_peer: bool,
    /// With `verify_peer`, refuse clients that present no certificate at all
    /// (`tls.fail_if_no_peer_cert`).
    pub fail_if_no_peer_cert: bool,
    /// Where EXTERNAL login reads the user name (`tls.cert_login_from`).
    pub cert_login_from: CertLoginFrom,
}

impl TlsSettings {
    /// Whether any TLS listener is configured.
    pub fn enabled(&self) -> bool {
        !self.listen.is_empty() || self.management_listen.is_some()
    }
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Addresses to listen on.
    pub listen: Vec<SocketAddr>,
    /// The management HTTP API's address (`listeners.management`; None: off).
    pub management_listen: Option<SocketAddr>,
    /// A separate listener serving only `/metrics` (`listeners.prometheus`; None: off,
    /// the management listener still serves `/metrics`).
    pub prometheus_listen: Option<SocketAddr>,
    /// How often message rates are sampled (`collect_statistics_interval_ms`).
    pub stats_interval: std::time::Duration,
    /// Directory for durable state (created if missing).
    pub data_dir: PathBuf,
    /// Limits.
    pub limits: Limits,
    /// The virtual host a fresh broker creates (`default_vhost`).
    pub default_vhost: String,
    /// The user a fresh broker creates, or none (`default_user = ""`).
    pub default_user: Option<DefaultUser>,
    /// Users who may only log in from a loopback address (RabbitMQ's `loopback_users`;
    /// `guest` by default).
    pub loopback_users: Vec<String>,
    /// Topology, users and policies applied at every boot before the listeners open:
    /// the `load_definitions` files and the config file's own `[[queues]]` etc., merged
    /// in that order.
    pub definitions: Definitions,
    /// TLS listeners and their certificates (`[tls]`; off by default).
    pub tls: TlsSettings,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: vec![SocketAddr::from(([0, 0, 0, 0], 5672))],
            management_listen: Some(SocketAddr::from(([127, 0, 0, 1], 15672))),
            prometheus_listen: None,
            stats_interval: std::time::Duration::from_secs(5),
            data_dir: PathBuf::from("warren-data"),
            limits: Limits::default(),
            default_vhost: "/".into(),
            default_user: Some(DefaultUser::default()),
            loopback_users: vec!["guest".into()],
            definitions: Definitions::default(),
            tls: TlsSettings::default(),
        }
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn the_configuration_debug_hides_the_default_password() {
        let config = ServerConfig {
            default_user: Some(DefaultUser {
                password: "s3cret-default-pw".into(),
                ..DefaultUser::default()
            }),
            ..ServerConfig::default()
        };
        let shown = format!("{config:?} {config:#?}");
        assert!(shown.contains("guest"), "{shown}");
        assert!(!shown.contains("s3cret-default-pw"), "{shown}");
    }
}

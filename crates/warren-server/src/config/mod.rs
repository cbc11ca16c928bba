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
/// `default_pass`, `default_user_tags`, `default_permissions`).
#[derive(Debug, Clone, PartialEq, Eq)]
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
        }
    }
}

//! Server settings. The limits live in one place, [`warren_broker::Limits`], re-exported
//! here.

use std::net::SocketAddr;
use std::path::PathBuf;

pub use warren_broker::{Limits, MemoryWatermark};

/// A user allowed to log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Password (compared as given).
    pub password: String,
    /// Only connections from a loopback address may log in as this user (RabbitMQ's
    /// rule for `guest`).
    pub loopback_only: bool,
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Addresses to listen on.
    pub listen: Vec<SocketAddr>,
    /// Directory for durable state (created if missing).
    pub data_dir: PathBuf,
    /// Limits.
    pub limits: Limits,
    /// Users; the default is RabbitMQ's `guest`/`guest`, loopback only.
    pub users: Vec<User>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: vec![SocketAddr::from(([0, 0, 0, 0], 5672))],
            data_dir: PathBuf::from("warren-data"),
            limits: Limits::default(),
            users: vec![User {
                name: "guest".into(),
                password: "guest".into(),
                loopback_only: true,
            }],
        }
    }
}

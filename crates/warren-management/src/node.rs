//! What the management API needs to know about the server it runs in: facts the
//! broker model does not hold (listeners, alarms, memory, disk) and the one parser that
//! lives with the config (a `warren.toml` topology, for `apply`).

use std::net::SocketAddr;

use warren_broker::definitions::Definitions;

/// A listening socket of the node.
#[derive(Debug, Clone)]
pub struct Listener {
    /// `amqp`, `http` (the management API) or `prometheus`.
    pub protocol: &'static str,
    /// Where it listens.
    pub addr: SocketAddr,
}

/// Resource alarms in force.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Alarms {
    /// Memory use is above the high watermark.
    pub memory: bool,
    /// Free disk space is below the limit.
    pub disk: bool,
}

/// The node's resource use and limits, in bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Resources {
    /// Resident memory of the process.
    pub memory_used: u64,
    /// The memory high watermark (0: none).
    pub memory_limit: u64,
    /// Free space on the data directory's file system.
    pub disk_free: u64,
    /// The free disk space limit.
    pub disk_free_limit: u64,
    /// Open file descriptors of the process.
    pub fds_used: u64,
    /// The process' file descriptor limit.
    pub fds_total: u64,
    /// Most client connections accepted (`limits.max_connections`).
    pub connections_limit: u64,
}

/// The server the API runs in.
pub trait Node: Send + Sync + 'static {
    /// The node's name, e.g. `warren@localhost`.
    fn name(&self) -> String;
    /// Its listeners.
    fn listeners(&self) -> Vec<Listener>;
    /// The alarms in force now.
    fn alarms(&self) -> Alarms;
    /// Memory and disk, sampled now.
    fn resources(&self) -> Resources;
    /// Whether `user` may log in only from a loopback address (RabbitMQ's
    /// `loopback_users`: `guest` by default), over HTTP as over AMQP.
    fn is_loopback_only(&self, user: &str) -> bool;
    /// A failed API login from `peer`: how long to wait before answering it. The server
    /// counts it with the AMQP listener's failed logins from the same address (the
    /// per-address back-off); an unknown peer gets the first delay.
    fn failed_login(&self, peer: Option<std::net::IpAddr>) -> std::time::Duration;
    /// A successful API login from `peer`: its address starts the back-off over.
    fn succeeded_login(&self, peer: Option<std::net::IpAddr>);
    /// Parses the topology part of a `warren.toml` (vhosts, users, permissions,
    /// policies, exchanges, queues, bindings) into definitions; the error names the key
    /// and line.
    fn parse_topology(&self, toml: &str) -> Result<Definitions, String>;
}

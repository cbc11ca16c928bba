//! Server settings and limits, each with its default in one place.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Default of [`Limits::publish_flow_backlog`]: deep enough that consumers with a
/// prefetch in the hundreds never wait for a publisher, shallow enough that a publisher
/// cannot take the CPU its queues' consumers need.
pub const DEFAULT_PUBLISH_FLOW_BACKLOG: u32 = 10_000;

/// Every limit the server enforces, with RabbitMQ-compatible defaults.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most channels a connection may have open at once (`channel_max` offered in tune;
    /// as in RabbitMQ it limits the count, not the channel numbers).
    pub channel_max: u16,
    /// Largest frame, in bytes, offered in tune and enforced by the codec.
    pub frame_max_bytes: u32,
    /// Heartbeat interval offered in tune (0 disables).
    pub heartbeat_secs: u16,
    /// Largest message body accepted; bigger publishes fail with 406.
    pub max_message_bytes: u64,
    /// Time a client has to finish the handshake (header to `connection.open`).
    pub handshake_timeout: Duration,
    /// Connections served at once; more are refused at accept.
    pub max_connections: usize,
    /// Bytes a connection may have waiting to be written before it stops reading
    /// from its socket, so a client that does not read cannot grow memory.
    pub max_pending_write_bytes: usize,
    /// How long to wait for `connection.close-ok` after sending `connection.close`.
    pub close_timeout: Duration,
    /// Resident memory above which publishing connections are blocked
    /// (default: 40% of physical memory, as in RabbitMQ; 0 turns the monitor off).
    pub memory_high_watermark_bytes: u64,
    /// How long a delivery may stay unacknowledged before its channel is closed with
    /// 406 (RabbitMQ's `consumer_timeout`); a queue's `x-consumer-timeout` overrides it.
    pub consumer_timeout: Duration,
    /// How much of a durable queue's backlog stays in memory: persistent messages
    /// beyond `keep_in_memory` ready ones are kept on disk only and read back
    /// `page_size` at a time (default 16,384 and 1,024).
    pub paging: warren_broker::queue::Paging,
    /// Memory for the store's page cache (sled's `cache_capacity`); the store's own
    /// structures and sled's index come on top of it.
    pub store_cache_bytes: u64,
    /// Publisher flow control: when a publish is routed to a queue that has consumers
    /// and holds more than this many ready messages, the publishing connection stops
    /// reading its socket (TCP back-pressure, like RabbitMQ's `flow` state) until the
    /// queue has drained to half of it. Queues without consumers never throttle, nor do
    /// queues whose consumers make no progress (see `connection/flow.rs`); 0 turns
    /// publisher flow control off.
    pub publish_flow_backlog: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            channel_max: 2047,
            frame_max_bytes: 131_072,
            heartbeat_secs: 60,
            max_message_bytes: 128 * 1024 * 1024,
            handshake_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            max_pending_write_bytes: 16 * 1024 * 1024,
            close_timeout: Duration::from_secs(3),
            memory_high_watermark_bytes: crate::memory::default_watermark_bytes(),
            consumer_timeout: Duration::from_secs(30 * 60),
            paging: warren_broker::queue::Paging::default(),
            store_cache_bytes: 128 * 1024 * 1024,
            publish_flow_backlog: DEFAULT_PUBLISH_FLOW_BACKLOG,
        }
    }
}

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

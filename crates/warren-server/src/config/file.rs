//! The config file's schema (`warren.toml`): every key optional, unknown keys refused.
//! The same schema reads `WARREN_*` environment variables (see `env.rs`) and is what
//! `--print-config` writes, every key filled in.

use serde::{Deserialize, Serialize};
use warren_broker::definitions::{
    BindingDef, ExchangeDef, ParameterDef, PermissionDef, PolicyDef, QueueDef, TopicPermissionDef,
    UserDef, VHostDef,
};

/// One string or several (a comma-separated string from an environment variable is
/// several).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A list.
    Many(Vec<String>),
    /// One value (commas separate several).
    One(String),
}

impl OneOrMany {
    /// The values.
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::Many(v) => v,
            OneOrMany::One(s) if s.is_empty() => Vec::new(),
            OneOrMany::One(s) => s.split(',').map(|p| p.trim().to_owned()).collect(),
        }
    }
}

/// A number, or a string with a unit (`"512MiB"`, `"2GB"`), or a fraction (`0.4`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SizeOrFraction {
    /// A whole number of bytes.
    Bytes(u64),
    /// A fraction (of RAM, for the memory watermark).
    Fraction(f64),
    /// A size with a unit, or `"off"`.
    Text(String),
}

/// `[listeners]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenersFile {
    /// AMQP listen addresses.
    pub amqp: Option<OneOrMany>,
    /// The management HTTP API's address, or `"off"`.
    pub management: Option<String>,
    /// A separate Prometheus listener (RabbitMQ's 15692), or `"off"`.
    pub prometheus: Option<String>,
}

/// `[log]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogFile {
    /// A level or a tracing filter directive.
    pub level: Option<String>,
    /// `text` or `json`.
    pub format: Option<String>,
}

/// `default_permissions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionsFile {
    /// Configure pattern.
    pub configure: String,
    /// Write pattern.
    pub write: String,
    /// Read pattern.
    pub read: String,
}

/// `[limits]`: every field of `warren_broker::Limits` (durations in milliseconds).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct LimitsFile {
    pub channel_max: Option<u16>,
    pub frame_max_bytes: Option<u32>,
    pub heartbeat_secs: Option<u16>,
    pub max_message_bytes: Option<SizeOrFraction>,
    pub handshake_timeout_ms: Option<u64>,
    pub max_connections: Option<usize>,
    pub max_connections_per_ip: Option<usize>,
    pub max_pending_write_bytes: Option<SizeOrFraction>,
    pub close_timeout_ms: Option<u64>,
    pub memory_high_watermark: Option<SizeOrFraction>,
    pub disk_free_limit: Option<SizeOrFraction>,
    pub consumer_timeout_ms: Option<u64>,
    pub consumer_unsent_window: Option<u32>,
    pub paging_keep_in_memory: Option<usize>,
    pub paging_page_size: Option<usize>,
    pub spill_keep_in_memory: Option<usize>,
    pub spill_keep_in_memory_bytes: Option<SizeOrFraction>,
    pub spill_page_size: Option<usize>,
    pub spill_page_bytes: Option<SizeOrFraction>,
    pub spill_segment_bytes: Option<SizeOrFraction>,
    pub store_segment_bytes: Option<SizeOrFraction>,
    pub spill_memory_pressure: Option<f64>,
    pub paging_stream_tail_bytes: Option<usize>,
    pub store_cache_bytes: Option<SizeOrFraction>,
    pub store_compaction_check_every_ms: Option<u64>,
    pub store_compaction_min_file_bytes: Option<SizeOrFraction>,
    pub store_compaction_ratio: Option<u32>,
    pub store_compaction_max_live_bytes: Option<SizeOrFraction>,
    pub store_compaction_segment_live_percent: Option<u32>,
    pub store_compaction_segment_step_bytes: Option<SizeOrFraction>,
    pub publish_flow_backlog: Option<u32>,
    pub publish_flow_stall_ms: Option<u64>,
    pub publish_flow_max_pause_ms: Option<u64>,
    pub publish_flow_exempt_ms: Option<u64>,
    pub failed_login_delay_ms: Option<u64>,
    pub failed_login_max_waiting: Option<usize>,
    pub failed_login_max_delay_ms: Option<u64>,
    pub failed_login_reset_after_ms: Option<u64>,
    pub failed_login_tracked_peers: Option<usize>,
    pub http_max_body_bytes: Option<SizeOrFraction>,
    pub http_max_connections: Option<usize>,
    pub http_idle_timeout_ms: Option<u64>,
    pub http_max_connections_per_ip: Option<usize>,
    pub max_super_stream_partitions: Option<u32>,
}

/// `[tls]`: paths are relative to the config file's directory; `""` is no file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    /// `amqps` listen addresses (none: off).
    pub listen: Option<OneOrMany>,
    /// The management API over HTTPS, or `"off"`.
    pub management_listen: Option<String>,
    /// Certificate chain, PEM.
    pub cert_file: Option<String>,
    /// Private key, PEM.
    pub key_file: Option<String>,
    /// CA certificates for client certificates, PEM.
    pub ca_file: Option<String>,
    /// Ask for and verify client certificates.
    pub verify_peer: Option<bool>,
    /// Refuse clients without a certificate.
    pub fail_if_no_peer_cert: Option<bool>,
    /// `common_name` or `subject_alternative_name`.
    pub cert_login_from: Option<String>,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ConfigFile {
    pub data_dir: Option<String>,
    pub default_vhost: Option<String>,
    pub default_user: Option<String>,
    pub default_pass: Option<String>,
    pub default_user_tags: Option<OneOrMany>,
    pub default_permissions: Option<PermissionsFile>,
    pub loopback_users: Option<OneOrMany>,
    pub load_definitions: Option<OneOrMany>,
    pub listeners: Option<ListenersFile>,
    pub collect_statistics_interval_ms: Option<u64>,
    pub log: Option<LogFile>,
    pub limits: Option<LimitsFile>,
    pub tls: Option<TlsFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vhosts: Vec<VHostDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<PermissionDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topic_permissions: Vec<TopicPermissionDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<ParameterDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PolicyDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exchanges: Vec<ExchangeDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queues: Vec<QueueDef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bindings: Vec<BindingDef>,
}

//! Building the effective configuration. Precedence, lowest first:
//!
//! 1. built-in defaults (`ServerConfig::default()`, `Limits::default()`);
//! 2. `WARREN_*` environment variables (`WARREN_DATA_DIR`, `WARREN_LIMITS__CHANNEL_MAX`:
//!    the key path upper-cased, tables joined by `__`; lists comma-separated);
//! 3. the config file given with `--config`;
//! 4. command-line flags.
//!
//! An unknown key or a bad value stops the start with an error naming the key and where
//! it came from (`warren.toml:12: unknown key `limits.chanel_max` ...`, or the
//! variable). A `WARREN_*` variable that names no setting at all is not an error (other
//! programs use the prefix too) but a line in [`Loaded::warnings`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use warren_broker::definitions::Definitions;
use warren_broker::{Limits, MemoryWatermark};

use super::file::{ConfigFile, LimitsFile, SizeOrFraction, TlsFile};
use super::locate;
use super::units::parse_size;
use super::{CertLoginFrom, DefaultUser, ServerConfig, TlsSettings};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (colours only on a terminal).
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// What the command line sets (each `None`/empty: not given).
#[derive(Debug, Clone, Default)]
pub struct CliOverrides {
    /// `--config FILE`.
    pub config: Option<PathBuf>,
    /// `--load-definitions FILE`, repeatable: appended after the file's.
    pub load_definitions: Vec<PathBuf>,
    /// `--listen ADDR`, repeatable: replaces `listeners.amqp`.
    pub listen: Vec<SocketAddr>,
    /// `--management-listen ADDR|off`: replaces `listeners.management`.
    pub management_listen: Option<String>,
    /// `--prometheus-listen ADDR|off`: replaces `listeners.prometheus`.
    pub prometheus_listen: Option<String>,
    /// `--data-dir DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--log LEVEL`.
    pub log_level: Option<String>,
    /// `--log-format text|json`.
    pub log_format: Option<String>,
    /// `--store-cache-mib N`.
    pub store_cache_mib: Option<u64>,
    /// `--amqps-listen ADDR`, repeatable: replaces `tls.listen`.
    pub amqps_listen: Vec<SocketAddr>,
    /// `--tls-cert FILE`: `tls.cert_file`.
    pub tls_cert: Option<PathBuf>,
    /// `--tls-key FILE`: `tls.key_file`.
    pub tls_key: Option<PathBuf>,
    /// `--tls-ca FILE`: `tls.ca_file`.
    pub tls_ca: Option<PathBuf>,
    /// `--tls-verify-peer`: `tls.verify_peer = true`.
    pub tls_verify_peer: bool,
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// What the server runs with (its `definitions` are the files' and the config
    /// file's topology, merged).
    pub server: ServerConfig,
    /// Log filter.
    pub log_level: String,
    /// Log format.
    pub log_format: LogFormat,
    /// The definitions files, in load order.
    pub definitions_files: Vec<PathBuf>,
    /// The config file's own topology (`[[queues]]` and so on).
    pub topology: Definitions,
    /// Settings that were ignored, one line each (`WARREN_*` variables that name no
    /// setting), to be logged once logging is set up.
    pub warnings: Vec<String>,
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read.
    #[error("{}: {message}", .path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The config file is not TOML, or has a key or value the schema refuses:
    /// `warren.toml:12: unknown key `limits.chanel_max` (expected one of ...)`.
    #[error("{}{}: {message}", .path.display(), .line.map(|l| format!(":{l}")).unwrap_or_default())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The line of the key or value (1-based), where known.
        line: Option<usize>,
        /// What is wrong, naming the key by its dotted path.
        message: String,
    },
    /// A key's value is invalid.
    #[error("{origin}: `{key}`: {message}")]
    Value {
        /// Where it was set (`warren.toml:12`, `environment variable WARREN_X`, `--listen`).
        origin: String,
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// An environment variable is not a known key or has a bad value.
    #[error("environment variable {var}: {message}")]
    Env {
        /// The variable.
        var: String,
        /// What is wrong.
        message: String,
    },
    /// A definitions file cannot be read or parsed.
    #[error("definitions file {path}: {message}")]
    Definitions {
        /// The file.
        path: PathBuf,
        /// What is wrong (with line and column).
        message: String,
    },
}

impl Loaded {
    /// The built-in defaults, before any layer is applied.
    fn defaults() -> Self {
        Loaded {
            server: ServerConfig::default(),
            log_level: "info".into(),
            log_format: LogFormat::Text,
            definitions_files: Vec::new(),
            topology: Definitions::default(),
            warnings: Vec::new(),
        }
    }
}

/// Where a layer of settings came from, for error messages.
enum Origin<'a> {
    Env,
    File { path: &'a Path, text: &'a str },
}

impl Origin<'_> {
    fn of(&self, key: &str) -> String {
        match self {
            Origin::Env => format!("environment variable {}", env_name(key)),
            Origin::File { path, text } => {
                let leaf = key.rsplit('.').next().unwrap_or(key);
                match locate::line_of(text, leaf) {
                    Some(line) => format!("{}:{line}", path.display()),
                    None => path.display().to_string(),
                }
            }
        }
    }
}

/// The environment variable that sets `key` (`limits.channel_max` →
/// `WARREN_LIMITS__CHANNEL_MAX`).
pub fn env_name(key: &str) -> String {
    format!("WARREN_{}", key.replace('.', "__").to_ascii_uppercase())
}

/// Loads the configuration from the environment `vars`, the config file and `cli`.
pub fn load(
    cli: &CliOverrides,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<Loaded, ConfigError> {
    let mut loaded = Loaded::defaults();
    let env = super::env::from_vars(vars)?;
    loaded.warnings = env.warnings;
    apply(&mut loaded, env.settings, &Origin::Env, Path::new("."))?;
    if let Some(path) = &cli.config {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let file: ConfigFile = toml::from_str(&text).map_err(|e| {
            let (line, message) = locate::describe(&text, &e);
            ConfigError::Parse {
                path: path.clone(),
                line,
                message,
            }
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        apply(&mut loaded, file, &Origin::File { path, text: &text }, dir)?;
    }
    apply_cli(&mut loaded, cli)?;
    check_tls(&loaded.server.tls)?;
    let mut definitions = Definitions::default();
    for path in &loaded.definitions_files {
        definitions.extend(read_definitions(path)?);
    }
    definitions.extend(loaded.topology.clone());
    loaded.server.definitions = definitions;
    Ok(loaded)
}

/// The topology a `warren.toml` declares (`[[vhosts]]`, `[[users]]`, ... `[[bindings]]`),
/// as definitions; its other keys are checked but not applied (they configure a server
/// at start, not a running one). For `warrenctl apply`. Errors name the line.
pub fn topology_from_toml(text: &str) -> Result<Definitions, String> {
    let path = Path::new("warren.toml");
    let file: ConfigFile = toml::from_str(text).map_err(|e| {
        let (line, message) = locate::describe(text, &e);
        match line {
            Some(line) => format!("warren.toml:{line}: {message}"),
            None => format!("warren.toml: {message}"),
        }
    })?;
    let mut loaded = Loaded::defaults();
    apply(
        &mut loaded,
        file,
        &Origin::File { path, text },
        Path::new("."),
    )
    .map_err(|e| e.to_string())?;
    Ok(loaded.topology)
}

/// Reads a RabbitMQ definitions file.
pub fn read_definitions(path: &Path) -> Result<Definitions, ConfigError> {
    let err = |message: String| ConfigError::Definitions {
        path: path.to_owned(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    serde_json::from_str(&text)
        .map_err(|e| err(format!("line {}, column {}: {e}", e.line(), e.column())))
}

/// A listen address, or `"off"` for none.
fn optional_addr(text: &str) -> Result<Option<SocketAddr>, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|e| format!("'{text}': {e} (an address like 127.0.0.1:15672, or \"off\")"))
}

fn value_err(origin: &Origin<'_>, key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Value {
        origin: origin.of(key),
        key: key.to_owned(),
        message: message.into(),
    }
}

fn apply(
    loaded: &mut Loaded,
    f: ConfigFile,
    origin: &Origin<'_>,
    base: &Path,
) -> Result<(), ConfigError> {
    let s = &mut loaded.server;
    if let Some(dir) = f.data_dir {
        s.data_dir = PathBuf::from(dir);
    }
    if let Some(v) = f.default_vhost {
        s.default_vhost = v;
    }
    if let Some(name) = f.default_user {
        if name.is_empty() {
            s.default_user = None;
        } else {
            s.default_user.get_or_insert_with(DefaultUser::default).name = name;
        }
    }
    if let (Some(pass), Some(u)) = (f.default_pass, s.default_user.as_mut()) {
        u.password = pass;
    }
    if let (Some(tags), Some(u)) = (f.default_user_tags, s.default_user.as_mut()) {
        u.tags = tags.into_vec();
    }
    if let (Some(p), Some(u)) = (f.default_permissions, s.default_user.as_mut()) {
        u.permissions = [p.configure, p.write, p.read];
    }
    if let Some(users) = f.loopback_users {
        // RabbitMQ's `loopback_users = none` (as `[]`): no user is held to loopback.
        s.loopback_users = match users {
            super::file::OneOrMany::One(none) if none == "none" => Vec::new(),
            users => users.into_vec(),
        };
    }
    if let Some(paths) = f.load_definitions {
        loaded.definitions_files = paths.into_vec().into_iter().map(|p| base.join(p)).collect();
    }
    if let Some(ms) = f.collect_statistics_interval_ms {
        if ms == 0 {
            return Err(value_err(
                origin,
                "collect_statistics_interval_ms",
                "must be at least 1",
            ));
        }
        s.stats_interval = Duration::from_millis(ms);
    }
    let listeners = f.listeners.unwrap_or_default();
    if let Some(addr) = listeners.management {
        s.management_listen =
            optional_addr(&addr).map_err(|e| value_err(origin, "listeners.management", e))?;
    }
    if let Some(addr) = listeners.prometheus {
        s.prometheus_listen =
            optional_addr(&addr).map_err(|e| value_err(origin, "listeners.prometheus", e))?;
    }
    if let Some(amqp) = listeners.amqp {
        s.listen = amqp
            .into_vec()
            .iter()
            .map(|a| {
                a.parse()
                    .map_err(|e| value_err(origin, "listeners.amqp", format!("'{a}': {e}")))
            })
            .collect::<Result<_, _>>()?;
        if s.listen.is_empty() {
            return Err(value_err(
                origin,
                "listeners.amqp",
                "at least one address is needed",
            ));
        }
    }
    if let Some(log) = f.log {
        if let Some(level) = log.level {
            tracing_subscriber::EnvFilter::try_new(&level)
                .map_err(|e| value_err(origin, "log.level", e.to_string()))?;
            loaded.log_level = level;
        }
        if let Some(format) = log.format {
            loaded.log_format =
                log_format(&format).map_err(|m| value_err(origin, "log.format", m))?;
        }
    }
    if let Some(l) = f.limits {
        apply_limits(&mut s.limits, l, origin)?;
    }
    if let Some(t) = f.tls {
        apply_tls(&mut s.tls, t, origin, base)?;
    }
    let t = &mut loaded.topology;
    t.vhosts.extend(f.vhosts);
    t.users.extend(f.users);
    t.permissions.extend(f.permissions);
    t.topic_permissions.extend(f.topic_permissions);
    t.parameters.extend(f.parameters);
    t.policies.extend(f.policies);
    t.exchanges.extend(f.exchanges);
    t.queues.extend(f.queues);
    t.bindings.extend(f.bindings);
    Ok(())
}

fn apply_tls(
    tls: &mut TlsSettings,
    f: TlsFile,
    origin: &Origin<'_>,
    base: &Path,
) -> Result<(), ConfigError> {
    if let Some(listen) = f.listen {
        tls.listen = listen
            .into_vec()
            .iter()
            .map(|a| {
                a.parse()
                    .map_err(|e| value_err(origin, "tls.listen", format!("'{a}': {e}")))
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some(addr) = f.management_listen {
        tls.management_listen =
            optional_addr(&addr).map_err(|e| value_err(origin, "tls.management_listen", e))?;
    }
    // "" names no file (what --print-config writes for an unset one).
    let file = |p: String| (!p.is_empty()).then(|| base.join(p));
    if let Some(p) = f.cert_file {
        tls.cert_file = file(p);
    }
    if let Some(p) = f.key_file {
        tls.key_file = file(p);
    }
    if let Some(p) = f.ca_file {
        tls.ca_file = file(p);
    }
    if let Some(v) = f.verify_peer {
        tls.verify_peer = v;
    }
    if let Some(v) = f.fail_if_no_peer_cert {
        tls.fail_if_no_peer_cert = v;
    }
    if let Some(from) = f.cert_login_from {
        tls.cert_login_from = match from.as_str() {
            "common_name" => CertLoginFrom::CommonName,
            "subject_alternative_name" => CertLoginFrom::SubjectAlternativeName,
            other => {
                return Err(value_err(
                    origin,
                    "tls.cert_login_from",
                    format!("'{other}' is not common_name or subject_alternative_name"),
                ))
            }
        };
    }
    Ok(())
}

/// The TLS settings that only make sense together, checked once every layer is applied.
fn check_tls(tls: &TlsSettings) -> Result<(), ConfigError> {
    let err = |key: &str, message: &str| ConfigError::Value {
        origin: "configuration".into(),
        key: key.into(),
        message: message.into(),
    };
    if tls.enabled() {
        if tls.cert_file.is_none() {
            return Err(err(
                "tls.cert_file",
                "a certificate is needed when tls.listen or tls.management_listen is set",
            ));
        }
        if tls.key_file.is_none() {
            return Err(err(
                "tls.key_file",
                "a private key is needed when tls.listen or tls.management_listen is set",
            ));
        }
    }
    if tls.verify_peer && tls.ca_file.is_none() {
        return Err(err(
            "tls.ca_file",
            "tls.verify_peer needs the CA certificates client certificates must chain to",
        ));
    }
    if tls.fail_if_no_peer_cert && !tls.verify_peer {
        return Err(err(
            "tls.fail_if_no_peer_cert",
            "only applies with tls.verify_peer = true",
        ));
    }
    Ok(())
}

fn log_format(text: &str) -> Result<LogFormat, String> {
    match text {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("'{other}' is not a log format (text or json)")),
    }
}

/// The smallest absolute memory watermark taken: less is a fraction written without
/// its decimal point (`1` for `1.0`).
const MIN_ABSOLUTE_WATERMARK_BYTES: u64 = 1 << 20;

fn apply_limits(l: &mut Limits, f: LimitsFile, origin: &Origin<'_>) -> Result<(), ConfigError> {
    let ms = Duration::from_millis;
    let size = |key: &str, v: SizeOrFraction| -> Result<u64, ConfigError> {
        let key = format!("limits.{key}");
        match v {
            SizeOrFraction::Bytes(n) => Ok(n),
            SizeOrFraction::Text(t) => parse_size(&t).map_err(|m| value_err(origin, &key, m)),
            SizeOrFraction::Fraction(x) => Err(value_err(
                origin,
                &key,
                format!("{x} is not a size in bytes"),
            )),
        }
    };
    macro_rules! set {
        ($($field:ident),*) => { $( if let Some(v) = f.$field { l.$field = v; } )* };
    }
    set!(
        channel_max,
        frame_max_bytes,
        heartbeat_secs,
        max_connections,
        max_connections_per_ip,
        consumer_unsent_window,
        publish_flow_backlog,
        failed_login_max_waiting,
        failed_login_tracked_peers,
        http_max_connections,
        http_max_connections_per_ip,
        max_super_stream_partitions
    );
    if let Some(v) = f.http_max_body_bytes {
        l.http_max_body_bytes = size("http_max_body_bytes", v)? as usize;
    }
    if let Some(v) = f.max_message_bytes {
        l.max_message_bytes = size("max_message_bytes", v)?;
    }
    if let Some(v) = f.max_pending_write_bytes {
        l.max_pending_write_bytes = size("max_pending_write_bytes", v)? as usize;
    }
    if let Some(v) = f.store_cache_bytes {
        l.store_cache_bytes = size("store_cache_bytes", v)?;
    }
    if let Some(v) = f.disk_free_limit {
        l.disk_free_limit_bytes = size("disk_free_limit", v)?;
    }
    if let Some(v) = f.store_compaction_min_file_bytes {
        l.store_compaction.min_file_bytes = size("store_compaction_min_file_bytes", v)?;
    }
    if let Some(v) = f.store_compaction_max_live_bytes {
        l.store_compaction.max_live_bytes = size("store_compaction_max_live_bytes", v)?;
    }
    if let Some(v) = f.store_compaction_ratio {
        l.store_compaction.ratio = v;
    }
    if let Some(v) = f.store_compaction_segment_live_percent {
        l.store_compaction.segment_live_percent = v;
    }
    if let Some(v) = f.store_compaction_segment_step_bytes {
        l.store_compaction.segment_step_bytes = size("store_compaction_segment_step_bytes", v)?;
    }
    if let Some(v) = f.store_compaction_check_every_ms {
        l.store_compaction.check_every = (v > 0).then(|| ms(v));
    }
    if let Some(v) = f.paging_keep_in_memory {
        l.paging.keep_in_memory = v;
    }
    if let Some(v) = f.paging_page_size {
        l.paging.page_size = v;
    }
    if let Some(v) = f.spill_keep_in_memory {
        l.spill.keep_in_memory = v;
    }
    if let Some(v) = f.spill_keep_in_memory_bytes {
        l.spill.keep_in_memory_bytes = size("spill_keep_in_memory_bytes", v)? as usize;
    }
    if let Some(v) = f.spill_page_size {
        l.spill.page_size = v;
    }
    if let Some(v) = f.spill_page_bytes {
        l.spill.page_bytes = size("spill_page_bytes", v)? as usize;
    }
    if let Some(v) = f.store_segment_bytes {
        l.store_segment_bytes = size("store_segment_bytes", v)?;
    }
    if let Some(v) = f.spill_segment_bytes {
        l.spill_segment_bytes = size("spill_segment_bytes", v)?;
    }
    if let Some(v) = f.spill_memory_pressure {
        l.spill_memory_pressure = v;
    }
    if let Some(v) = f.paging_stream_tail_bytes {
        l.paging.stream_tail_bytes = v;
    }
    for (value, target) in [
        (f.handshake_timeout_ms, &mut l.handshake_timeout),
        (f.close_timeout_ms, &mut l.close_timeout),
        (f.http_idle_timeout_ms, &mut l.http_idle_timeout),
        (f.consumer_timeout_ms, &mut l.consumer_timeout),
        (f.publish_flow_stall_ms, &mut l.publish_flow_stall),
        (f.publish_flow_max_pause_ms, &mut l.publish_flow_max_pause),
        (f.publish_flow_exempt_ms, &mut l.publish_flow_exempt),
        (f.failed_login_delay_ms, &mut l.failed_login_delay),
        (f.failed_login_max_delay_ms, &mut l.failed_login_max_delay),
        (
            f.failed_login_reset_after_ms,
            &mut l.failed_login_reset_after,
        ),
    ] {
        if let Some(v) = value {
            *target = ms(v);
        }
    }
    if let Some(v) = f.memory_high_watermark {
        let key = "limits.memory_high_watermark";
        l.memory_high_watermark = match v {
            SizeOrFraction::Fraction(x) if x > 0.0 && x <= 1.0 => MemoryWatermark::Relative(x),
            SizeOrFraction::Fraction(x) => {
                return Err(value_err(
                    origin,
                    key,
                    format!("{x}: a fraction of RAM must be in (0, 1]"),
                ))
            }
            SizeOrFraction::Text(t) if t == "off" => MemoryWatermark::Off,
            other => match size("memory_high_watermark", other)? {
                // `1` meant as "all of RAM" would block every publisher at once.
                bytes @ 1..MIN_ABSOLUTE_WATERMARK_BYTES => {
                    return Err(value_err(
                        origin,
                        key,
                        format!(
                            "{bytes} bytes is below 1 MiB; write a fraction of RAM with a \
                             decimal point (0.4, 1.0), a size with a unit (\"2GiB\"), or \"off\""
                        ),
                    ))
                }
                0 => MemoryWatermark::Off,
                bytes => MemoryWatermark::Absolute(bytes),
            },
        };
    }
    if l.channel_max == 0 {
        return Err(value_err(
            origin,
            "limits.channel_max",
            "must be at least 1",
        ));
    }
    if l.frame_max_bytes < 4096 {
        return Err(value_err(
            origin,
            "limits.frame_max_bytes",
            format!("{} is below AMQP's minimum of 4096", l.frame_max_bytes),
        ));
    }
    if l.paging.page_size == 0 || l.paging.page_size > l.paging.keep_in_memory {
        return Err(value_err(
            origin,
            "limits.paging_page_size",
            "must be between 1 and paging_keep_in_memory",
        ));
    }
    if l.spill.page_size == 0 || l.spill.page_size > l.spill.keep_in_memory.max(1) {
        return Err(value_err(
            origin,
            "limits.spill_page_size",
            "must be between 1 and spill_keep_in_memory",
        ));
    }
    if l.spill.page_bytes == 0 || l.spill.page_bytes as u64 > l.spill_segment_bytes {
        return Err(value_err(
            origin,
            "limits.spill_page_bytes",
            "must be between 1 and spill_segment_bytes",
        ));
    }
    if l.store_compaction.segment_live_percent > 100 {
        return Err(value_err(
            origin,
            "limits.store_compaction_segment_live_percent",
            "must be a percentage between 0 (never) and 100",
        ));
    }
    if l.store_compaction.segment_step_bytes == 0 {
        return Err(value_err(
            origin,
            "limits.store_compaction_segment_step_bytes",
            "must be at least 1",
        ));
    }
    if l.store_segment_bytes < 4096 || l.store_segment_bytes > u64::from(u32::MAX) {
        return Err(value_err(
            origin,
            "limits.store_segment_bytes",
            "must be between 4096 and 4294967295",
        ));
    }
    if l.spill_segment_bytes < 4096 || l.spill_segment_bytes > u64::from(u32::MAX) {
        return Err(value_err(
            origin,
            "limits.spill_segment_bytes",
            "must be between 4096 and 4294967295",
        ));
    }
    if !(l.spill_memory_pressure > 0.0 && l.spill_memory_pressure <= 1.0) {
        return Err(value_err(
            origin,
            "limits.spill_memory_pressure",
            "must be a fraction of the memory high watermark above 0 and at most 1",
        ));
    }
    if l.max_super_stream_partitions == 0 {
        return Err(value_err(
            origin,
            "limits.max_super_stream_partitions",
            "must be at least 1",
        ));
    }
    if l.max_connections == 0 {
        return Err(value_err(
            origin,
            "limits.max_connections",
            "must be at least 1",
        ));
    }
    // A failed login waits inside the handshake: a wait past its timeout would end in
    // the socket closing, never in the 403.
    if l.failed_login_max_delay >= l.handshake_timeout {
        return Err(value_err(
            origin,
            "limits.failed_login_max_delay_ms",
            format!(
                "{} ms must be below limits.handshake_timeout_ms ({} ms), which the wait counts towards",
                l.failed_login_max_delay.as_millis(),
                l.handshake_timeout.as_millis()
            ),
        ));
    }
    Ok(())
}

fn apply_cli(loaded: &mut Loaded, cli: &CliOverrides) -> Result<(), ConfigError> {
    let flag = |key: &str, m: String| ConfigError::Value {
        origin: "command line".into(),
        key: key.into(),
        message: m,
    };
    if let Some(addr) = &cli.management_listen {
        loaded.server.management_listen =
            optional_addr(addr).map_err(|m| flag("--management-listen", m))?;
    }
    if let Some(addr) = &cli.prometheus_listen {
        loaded.server.prometheus_listen =
            optional_addr(addr).map_err(|m| flag("--prometheus-listen", m))?;
    }
    if !cli.listen.is_empty() {
        loaded.server.listen = cli.listen.clone();
    }
    if let Some(d) = &cli.data_dir {
        loaded.server.data_dir = d.clone();
    }
    if let Some(level) = &cli.log_level {
        tracing_subscriber::EnvFilter::try_new(level).map_err(|e| flag("--log", e.to_string()))?;
        loaded.log_level = level.clone();
    }
    if let Some(format) = &cli.log_format {
        loaded.log_format = log_format(format).map_err(|m| flag("--log-format", m))?;
    }
    if let Some(mib) = cli.store_cache_mib {
        loaded.server.limits.store_cache_bytes = mib << 20;
    }
    let tls = &mut loaded.server.tls;
    if !cli.amqps_listen.is_empty() {
        tls.listen = cli.amqps_listen.clone();
    }
    for (flag, target) in [
        (&cli.tls_cert, &mut tls.cert_file),
        (&cli.tls_key, &mut tls.key_file),
        (&cli.tls_ca, &mut tls.ca_file),
    ] {
        if let Some(path) = flag {
            *target = Some(path.clone());
        }
    }
    if cli.tls_verify_peer {
        tls.verify_peer = true;
    }
    loaded
        .definitions_files
        .extend(cli.load_definitions.iter().cloned());
    Ok(())
}

//! `warren --print-config`: the effective configuration as a config file, every key
//! present, so it can be saved and edited.

use std::time::Duration;

use warren_broker::MemoryWatermark;

use super::file::{
    ConfigFile, LimitsFile, ListenersFile, LogFile, OneOrMany, PermissionsFile, SizeOrFraction,
    TlsFile,
};
use super::load::{Loaded, LogFormat};

fn ms(d: Duration) -> Option<u64> {
    Some(d.as_millis() as u64)
}

fn bytes(n: u64) -> Option<SizeOrFraction> {
    Some(SizeOrFraction::Bytes(n))
}

/// The effective configuration in the config file's schema.
pub fn to_file(loaded: &Loaded) -> ConfigFile {
    let s = &loaded.server;
    let l = &s.limits;
    let user = s.default_user.clone().unwrap_or_default();
    ConfigFile {
        data_dir: Some(s.data_dir.display().to_string()),
        default_vhost: Some(s.default_vhost.clone()),
        default_user: Some(
            s.default_user
                .as_ref()
                .map_or(String::new(), |u| u.name.clone()),
        ),
        default_pass: Some(user.password.clone()),
        default_user_tags: Some(OneOrMany::Many(user.tags.clone())),
        default_permissions: Some(PermissionsFile {
            configure: user.permissions[0].clone(),
            write: user.permissions[1].clone(),
            read: user.permissions[2].clone(),
        }),
        loopback_users: Some(OneOrMany::Many(s.loopback_users.clone())),
        load_definitions: Some(OneOrMany::Many(
            loaded
                .definitions_files
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        )),
        listeners: Some(ListenersFile {
            amqp: Some(OneOrMany::Many(
                s.listen.iter().map(|a| a.to_string()).collect(),
            )),
            management: Some(addr_or_off(s.management_listen)),
            prometheus: Some(addr_or_off(s.prometheus_listen)),
        }),
        collect_statistics_interval_ms: Some(s.stats_interval.as_millis() as u64),
        log: Some(LogFile {
            level: Some(loaded.log_level.clone()),
            format: Some(match loaded.log_format {
                LogFormat::Text => "text".into(),
                LogFormat::Json => "json".into(),
            }),
        }),
        limits: Some(LimitsFile {
            channel_max: Some(l.channel_max),
            frame_max_bytes: Some(l.frame_max_bytes),
            heartbeat_secs: Some(l.heartbeat_secs),
            max_message_bytes: bytes(l.max_message_bytes),
            handshake_timeout_ms: ms(l.handshake_timeout),
            max_connections: Some(l.max_connections),
            max_connections_per_ip: Some(l.max_connections_per_ip),
            max_pending_write_bytes: bytes(l.max_pending_write_bytes as u64),
            close_timeout_ms: ms(l.close_timeout),
            memory_high_watermark: Some(match l.memory_high_watermark {
                MemoryWatermark::Relative(f) => SizeOrFraction::Fraction(f),
                MemoryWatermark::Absolute(b) => SizeOrFraction::Bytes(b),
                MemoryWatermark::Off => SizeOrFraction::Text("off".into()),
            }),
            disk_free_limit: bytes(l.disk_free_limit_bytes),
            consumer_timeout_ms: ms(l.consumer_timeout),
            consumer_unsent_window: Some(l.consumer_unsent_window),
            paging_keep_in_memory: Some(l.paging.keep_in_memory),
            paging_page_size: Some(l.paging.page_size),
            spill_keep_in_memory: Some(l.spill.keep_in_memory),
            spill_keep_in_memory_bytes: bytes(l.spill.keep_in_memory_bytes as u64),
            spill_page_size: Some(l.spill.page_size),
            spill_page_bytes: bytes(l.spill.page_bytes as u64),
            spill_segment_bytes: bytes(l.spill_segment_bytes),
            store_segment_bytes: bytes(l.store_segment_bytes),
            spill_memory_pressure: Some(l.spill_memory_pressure),
            paging_stream_tail_bytes: Some(l.paging.stream_tail_bytes),
            store_cache_bytes: bytes(l.store_cache_bytes),
            store_compaction_check_every_ms: Some(
                l.store_compaction
                    .check_every
                    .map_or(0, |d| d.as_millis() as u64),
            ),
            store_compaction_min_file_bytes: bytes(l.store_compaction.min_file_bytes),
            store_compaction_ratio: Some(l.store_compaction.ratio),
            store_compaction_max_live_bytes: bytes(l.store_compaction.max_live_bytes),
            store_compaction_segment_live_percent: Some(l.store_compaction.segment_live_percent),
            store_compaction_segment_step_bytes: bytes(l.store_compaction.segment_step_bytes),
            publish_flow_backlog: Some(l.publish_flow_backlog),
            publish_flow_stall_ms: ms(l.publish_flow_stall),
            publish_flow_max_pause_ms: ms(l.publish_flow_max_pause),
            publish_flow_exempt_ms: ms(l.publish_flow_exempt),
            failed_login_delay_ms: ms(l.failed_login_delay),
            failed_login_max_waiting: Some(l.failed_login_max_waiting),
            failed_login_max_delay_ms: ms(l.failed_login_max_delay),
            failed_login_reset_after_ms: ms(l.failed_login_reset_after),
            failed_login_tracked_peers: Some(l.failed_login_tracked_peers),
            http_max_body_bytes: bytes(l.http_max_body_bytes as u64),
            http_max_connections: Some(l.http_max_connections),
            http_idle_timeout_ms: ms(l.http_idle_timeout),
            http_max_connections_per_ip: Some(l.http_max_connections_per_ip),
            max_super_stream_partitions: Some(l.max_super_stream_partitions),
        }),
        tls: Some(TlsFile {
            listen: Some(OneOrMany::Many(
                s.tls.listen.iter().map(|a| a.to_string()).collect(),
            )),
            management_listen: Some(addr_or_off(s.tls.management_listen)),
            cert_file: Some(path_or_empty(&s.tls.cert_file)),
            key_file: Some(path_or_empty(&s.tls.key_file)),
            ca_file: Some(path_or_empty(&s.tls.ca_file)),
            verify_peer: Some(s.tls.verify_peer),
            fail_if_no_peer_cert: Some(s.tls.fail_if_no_peer_cert),
            cert_login_from: Some(s.tls.cert_login_from.as_str().into()),
        }),
        vhosts: loaded.topology.vhosts.clone(),
        users: loaded.topology.users.clone(),
        permissions: loaded.topology.permissions.clone(),
        topic_permissions: loaded.topology.topic_permissions.clone(),
        parameters: loaded.topology.parameters.clone(),
        policies: loaded.topology.policies.clone(),
        exchanges: loaded.topology.exchanges.clone(),
        queues: loaded.topology.queues.clone(),
        bindings: loaded.topology.bindings.clone(),
    }
}

/// The effective configuration as TOML.
pub fn to_toml(loaded: &Loaded) -> String {
    let body = toml::to_string(&to_file(loaded)).expect("the config serializes");
    format!(
        "# Warren's effective configuration (defaults < WARREN_* environment < config file < flags).\n{body}"
    )
}

fn path_or_empty(path: &Option<std::path::PathBuf>) -> String {
    path.as_ref()
        .map_or_else(String::new, |p| p.display().to_string())
}

fn addr_or_off(addr: Option<std::net::SocketAddr>) -> String {
    addr.map_or_else(|| "off".to_owned(), |a| a.to_string())
}

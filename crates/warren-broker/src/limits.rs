//! Every limit Warren enforces, in one place, each with its default and why. Nothing
//! else in the workspace holds a limit constant: the server, the queue core and the
//! store take their values from here. Field names are snake_case with the unit last;
//! each is set by the key of the same name in the config file's `[limits]` table
//! (durations with `_ms` appended, `disk_free_limit_bytes` as RabbitMQ's
//! `disk_free_limit`, paging and compaction as flat `paging_*` and `store_compaction_*`
//! keys: see `deploy/warren.toml`). Each field's doc names its key ("Config:"), and a
//! test in `warren-server` checks those names against the `[limits]` table.

use std::time::Duration;

use warren_store::CompactionConfig;

use crate::queue::{Paging, SpillLimits};

/// The memory high watermark: above it, publishing connections are blocked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MemoryWatermark {
    /// A fraction of the memory the broker may use (the smaller of physical memory and
    /// its cgroup's limit). RabbitMQ's default is 0.4.
    Relative(f64),
    /// An absolute number of bytes of resident memory.
    Absolute(u64),
    /// No memory alarm (tests that drive the alarm by hand).
    Off,
}

/// Every limit Warren enforces, with RabbitMQ-compatible defaults where RabbitMQ has one.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most channels a connection may have open at once (`channel_max` offered in tune;
    /// as in RabbitMQ it limits the count, not the channel numbers). Default 2047,
    /// RabbitMQ's.
    /// Config: `limits.channel_max`.
    pub channel_max: u16,
    /// Largest frame, in bytes, offered in tune and enforced by the codec. Default
    /// 131,072, RabbitMQ's: big enough for any method, small enough to bound a read.
    /// Config: `limits.frame_max_bytes`.
    pub frame_max_bytes: u32,
    /// Heartbeat interval offered in tune (0 disables). Default 60 s, RabbitMQ's.
    /// Config: `limits.heartbeat_secs`.
    pub heartbeat_secs: u16,
    /// Largest message body accepted; bigger publishes fail with 406. Default 128 MiB,
    /// RabbitMQ's `max_message_size`.
    /// Config: `limits.max_message_bytes`.
    pub max_message_bytes: u64,
    /// Time a client has to finish the handshake (header to `connection.open`), so
    /// half-open sockets cannot pile up. Default 10 s, RabbitMQ's.
    /// Config: `limits.handshake_timeout_ms`.
    pub handshake_timeout: Duration,
    /// Connections served at once; more are refused at accept, bounding file
    /// descriptors and memory. Default 10,000.
    /// Config: `limits.max_connections`.
    pub max_connections: usize,
    /// Connections one client address may have open at once (handshakes included);
    /// more are closed as they are accepted, before a byte is read, so one host cannot
    /// take every slot of `max_connections`. 0 (the default) turns it off: clients
    /// behind one NAT or proxy share an address.
    /// Config: `limits.max_connections_per_ip`.
    pub max_connections_per_ip: usize,
    /// Bytes a connection may have waiting to be written before it stops reading from
    /// its socket, so a client that does not read cannot grow memory. Default 16 MiB.
    /// Config: `limits.max_pending_write_bytes`.
    pub max_pending_write_bytes: usize,
    /// How long to wait for `connection.close-ok` after sending `connection.close`.
    /// Default 3 s.
    /// Config: `limits.close_timeout_ms`.
    pub close_timeout: Duration,
    /// Resident memory above which publishing connections are blocked. Default 40% of
    /// the memory limit, as in RabbitMQ.
    /// Config: `limits.memory_high_watermark` (a fraction such as 0.4, a size such as
    /// "2GiB", or "off").
    pub memory_high_watermark: MemoryWatermark,
    /// How long a delivery may stay unacknowledged before its channel is closed with
    /// 406 (RabbitMQ's `consumer_timeout`); a queue's `x-consumer-timeout` overrides
    /// it. Default 30 min, RabbitMQ's.
    /// Config: `limits.consumer_timeout_ms`.
    pub consumer_timeout: Duration,
    /// Deliveries a consumer may have staged but not yet written to its socket; it
    /// gets more once its connection's output drains. Bounds what a slow or no-ack
    /// consumer holds in memory, while being deep enough for full-speed no-ack
    /// delivery. Default 2,000.
    /// Config: `limits.consumer_unsent_window`.
    pub consumer_unsent_window: u32,
    /// How much of a durable queue's backlog stays in memory: persistent messages
    /// beyond `keep_in_memory` ready ones are kept on disk only and read back
    /// `page_size` at a time. Default 16,384 and 1,024.
    /// Config: `limits.paging_keep_in_memory`, `limits.paging_page_size`,
    /// `limits.paging_stream_tail_bytes` (default 4 MiB per stream).
    pub paging: Paging,
    /// How much of any queue's ready backlog stays in memory before the messages
    /// behind it are written to the spill log (`<data>/spill/`, not synced, emptied at
    /// start): more than `keep_in_memory` messages or `keep_in_memory_bytes` bytes
    /// (bodies, properties and about 200 bytes per message of the broker's own) in
    /// memory, and messages are spilled in batches of `page_size` messages or
    /// `page_bytes` bytes (one write each) and read back a batch at a time. Persistent
    /// messages of a durable queue page to the store instead (`paging`). Default
    /// 16,384 messages, 32 MiB, 1,024 messages and 4 MiB.
    /// Config: `limits.spill_keep_in_memory`, `limits.spill_keep_in_memory_bytes`,
    /// `limits.spill_page_size`, `limits.spill_page_bytes`.
    pub spill: SpillLimits,
    /// Size at which the spill log starts a new segment file; a segment is deleted
    /// once every batch in it was read back or dropped. Default 16 MiB.
    /// Config: `limits.spill_segment_bytes`.
    pub spill_segment_bytes: u64,
    /// Memory pressure, as a fraction of the memory high watermark: while resident
    /// memory is above it, every queue keeps only one page of ready messages in memory
    /// and spills the rest (once when pressure starts, then as messages arrive), so
    /// memory stays below the watermark before publishers have to be blocked. Default
    /// 0.8.
    /// Config: `limits.spill_memory_pressure`.
    pub spill_memory_pressure: f64,
    /// Memory for the store's page cache (sled's `cache_capacity`); the store's own
    /// structures and sled's index come on top of it. Default 32 MiB: with bodies in the
    /// segment log sled holds only queue entries and message positions, and the cache
    /// fills as a restart reads them (sled's budget undercounts what it takes: at
    /// 5,000,000 stored messages 128 MiB meant 714 MiB of heap after the open, 32 MiB
    /// 397 MiB; crates/warren-perf/backlog.sh).
    /// Config: `limits.store_cache_bytes`.
    pub store_cache_bytes: u64,
    /// Size of the store's segment files of persistent message bodies (the log rolls
    /// to a new file there; space comes back a whole file at a time, see
    /// `store_compaction`). Default 64 MiB; 4096 ..= 4294967295.
    /// Config: `limits.store_segment_bytes`.
    pub store_segment_bytes: u64,
    /// When the store compacts its files (space is never returned otherwise). Default:
    /// check every 10 s; compact when the files are at least 64 MiB, at least 4 times
    /// the live data, and the live data is at most 16 MiB (writers wait while it is
    /// copied: 250 ms for 11 MiB measured). At the same checks, a sealed segment of
    /// message bodies whose live messages take under 25% of its bytes (at two checks
    /// in a row) has them copied to the head of the log, 4 MiB of it scanned per step,
    /// and is deleted (the store's README: "Segment compaction").
    /// Config: `limits.store_compaction_check_every_ms`,
    /// `limits.store_compaction_min_file_bytes`, `limits.store_compaction_ratio`,
    /// `limits.store_compaction_max_live_bytes`,
    /// `limits.store_compaction_segment_live_percent`,
    /// `limits.store_compaction_segment_step_bytes`.
    pub store_compaction: CompactionConfig,
    /// Publisher flow control: when a publish is routed to a queue that has consumers
    /// and holds more than this many ready messages, the publishing connection stops
    /// reading its socket (TCP back-pressure, like RabbitMQ's `flow` state) until the
    /// queue has drained to half of it. 0 turns publisher flow control off. Default
    /// 10,000: deep enough that consumers with a prefetch in the hundreds never wait
    /// for a publisher, shallow enough that a publisher cannot take the CPU its
    /// queues' consumers need.
    /// Config: `limits.publish_flow_backlog`.
    pub publish_flow_backlog: u32,
    /// A flow-control pause ends when none of its queues has shrunk for this long (its
    /// consumers are stalled, so pausing cannot help). Default 100 ms.
    /// Config: `limits.publish_flow_stall_ms`.
    pub publish_flow_stall: Duration,
    /// Longest a connection stays paused by flow control at once, so it still reads
    /// the acks, closes and heartbeats its client sent. Default 1 s.
    /// Config: `limits.publish_flow_max_pause_ms`.
    pub publish_flow_max_pause: Duration,
    /// How long a queue whose consumers stalled does not pause its publishers.
    /// Default 1 s.
    /// Config: `limits.publish_flow_exempt_ms`.
    pub publish_flow_exempt: Duration,
    /// How long a failed login waits for its answer, so password guessing is slow: the
    /// first failure from an address waits this long, each further one from the same
    /// address twice as long as the one before, up to `failed_login_max_delay`.
    /// Default 1 s.
    /// Config: `limits.failed_login_delay_ms`.
    pub failed_login_delay: Duration,
    /// Longest a failed login waits for its answer (the cap of the doubling). It must be
    /// below `handshake_timeout`, which the wait counts towards. Default 8 s.
    /// Config: `limits.failed_login_max_delay_ms`.
    pub failed_login_max_delay: Duration,
    /// An address with no failed login for this long starts again from
    /// `failed_login_delay` (a successful login from it resets it at once).
    /// Default 5 min.
    /// Config: `limits.failed_login_reset_after_ms`.
    pub failed_login_reset_after: Duration,
    /// Addresses whose failed logins are remembered (IPv6 ones by their /64); past it the
    /// one whose last failure is oldest is forgotten, so a flood from many addresses
    /// holds bounded memory (about 100 bytes each). Default 10,000.
    /// Config: `limits.failed_login_tracked_peers`.
    pub failed_login_tracked_peers: usize,
    /// Most failed logins waiting for their answer at once; past it a failed login's
    /// socket is closed at once, so a flood holds no memory. Default 256.
    /// Config: `limits.failed_login_max_waiting`.
    pub failed_login_max_waiting: usize,
    /// Largest request body the management API reads (a definitions import, a
    /// publish); a bigger one gets 413 without being buffered. Default 20 MiB,
    /// RabbitMQ's `management.http.max_body_size`.
    /// Config: `limits.http_max_body_bytes`.
    pub http_max_body_bytes: usize,
    /// Management API connections served at once; more wait for a slot, so a client
    /// opening connections in a loop cannot take the node's file descriptors.
    /// Default 256.
    /// Config: `limits.http_max_connections`.
    pub http_max_connections: usize,
    /// A management API connection that sends nothing for this long (a request's headers
    /// trickled in, or an idle keep-alive) is closed, so slow clients cannot hold every
    /// slot. Default 15 s.
    /// Config: `limits.http_idle_timeout_ms`.
    pub http_idle_timeout: Duration,
    /// Most management API connections one client address may hold at once; more are
    /// closed as they are accepted. Default 64.
    /// Config: `limits.http_max_connections_per_ip`.
    pub http_max_connections_per_ip: usize,
    /// Free space on the data directory's file system below which publishing
    /// connections are blocked (RabbitMQ's `disk_free_limit`; 0 turns the disk alarm
    /// off). Default 50 MB, RabbitMQ's.
    /// Config: `limits.disk_free_limit` (bytes, or a size such as "1GB").
    pub disk_free_limit_bytes: u64,
    /// Most partitions an `x-super-stream` exchange may be declared with
    /// (`x-partitions`); each partition is a stream with its own files and tracked
    /// offsets, so one declare cannot create an unbounded number of them. A bigger count
    /// is refused with `406 PRECONDITION_FAILED - invalid arg 'x-partitions' for exchange
    /// '<name>' in vhost '<vhost>': <n> is not between 1 and <limit>`. Super streams
    /// already stored keep their partitions when the limit is lowered. Default 1,024.
    /// Config: `limits.max_super_stream_partitions`.
    pub max_super_stream_partitions: u32,
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
            max_connections_per_ip: 0,
            max_pending_write_bytes: 16 * 1024 * 1024,
            close_timeout: Duration::from_secs(3),
            memory_high_watermark: MemoryWatermark::Relative(0.4),
            consumer_timeout: Duration::from_secs(30 * 60),
            consumer_unsent_window: 2_000,
            paging: Paging {
                keep_in_memory: 16_384,
                page_size: 1_024,
                stream_tail_bytes: 4 << 20,
            },
            spill: SpillLimits {
                keep_in_memory: 16_384,
                keep_in_memory_bytes: 32 << 20,
                page_size: 1_024,
                page_bytes: 4 << 20,
            },
            spill_segment_bytes: 16 << 20,
            spill_memory_pressure: 0.8,
            store_cache_bytes: 32 * 1024 * 1024,
            store_segment_bytes: 64 << 20,
            store_compaction: CompactionConfig {
                check_every: Some(Duration::from_secs(10)),
                min_file_bytes: 64 << 20,
                ratio: 4,
                max_live_bytes: 16 << 20,
                segment_live_percent: 25,
                segment_step_bytes: 4 << 20,
            },
            publish_flow_backlog: 10_000,
            publish_flow_stall: Duration::from_millis(100),
            publish_flow_max_pause: Duration::from_secs(1),
            publish_flow_exempt: Duration::from_secs(1),
            failed_login_delay: Duration::from_secs(1),
            failed_login_max_delay: Duration::from_secs(8),
            failed_login_reset_after: Duration::from_secs(300),
            failed_login_tracked_peers: 10_000,
            failed_login_max_waiting: 256,
            http_max_body_bytes: 20 << 20,
            http_max_connections: 256,
            http_idle_timeout: Duration::from_secs(15),
            http_max_connections_per_ip: 64,
            disk_free_limit_bytes: 50_000_000,
            max_super_stream_partitions: 1_024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_relate_as_documented() {
        let l = Limits::default();
        assert!(l.paging.page_size <= l.paging.keep_in_memory);
        assert!(l.spill.page_size <= l.spill.keep_in_memory);
        assert!(l.spill.page_bytes <= l.spill.keep_in_memory_bytes);
        assert!(l.spill.page_bytes as u64 <= l.spill_segment_bytes);
        assert!(l.spill_memory_pressure > 0.0 && l.spill_memory_pressure < 1.0);
        assert!(l.publish_flow_stall < l.publish_flow_max_pause);
        assert!(l.frame_max_bytes >= 4096);
        assert!(l.failed_login_delay <= l.failed_login_max_delay);
        assert!(l.failed_login_max_delay < l.handshake_timeout);
        assert!(l.failed_login_max_delay < l.failed_login_reset_after);
        assert!(l.store_compaction.max_live_bytes < l.store_compaction.min_file_bytes);
        assert!(l.max_super_stream_partitions >= 1);
    }
}

//! The memory alarm: a background check of the broker's resident memory against a high
//! watermark. While the alarm is on, connections that publish are blocked (they stop
//! being read, and clients that support it get `connection.blocked`), as RabbitMQ does.
//! Consumers keep running, so acknowledgements can bring memory back down.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};
use warren_broker::MemoryWatermark;

/// How often resident memory is sampled.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

/// Whether the broker is over its memory high watermark or under its disk free limit
/// (either blocks publishers; both must clear to unblock them).
#[derive(Debug, Default)]
pub struct MemoryAlarm {
    on: AtomicBool,
    disk: AtomicBool,
}

impl MemoryAlarm {
    /// Whether publishers must be blocked now.
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed) || self.disk.load(Ordering::Relaxed)
    }

    /// Whether the memory alarm (alone) is on.
    pub fn memory_alarm(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Whether the disk alarm (alone) is on.
    pub fn disk_alarm(&self) -> bool {
        self.disk.load(Ordering::Relaxed)
    }

    /// The reason `connection.blocked` gives, in RabbitMQ's words: `low on memory`
    /// while the memory alarm is on, else `low on disk`.
    pub fn reason(&self) -> &'static str {
        if self.on.load(Ordering::Relaxed) {
            "low on memory"
        } else {
            "low on disk"
        }
    }

    /// How a cleared alarm is logged: publishers resume only if the other one is off.
    fn log_cleared(&self, which: &str) {
        if self.is_on() {
            info!("{which} alarm cleared; publishers stay blocked by the other alarm");
        } else {
            info!("{which} alarm cleared, unblocking publishers");
        }
    }

    /// Sets the disk alarm (the disk monitor and tests use this).
    pub fn set_disk(&self, on: bool) {
        let was = self.disk.swap(on, Ordering::Relaxed);
        if was != on {
            if on {
                warn!("disk alarm: free disk space below disk_free_limit, blocking publishers");
            } else {
                self.log_cleared("disk");
            }
        }
    }

    /// Sets the alarm (tests and the monitor use this).
    pub fn set(&self, on: bool) {
        let was = self.on.swap(on, Ordering::Relaxed);
        if was != on {
            if on {
                warn!(
                    "memory alarm: resident memory above the high watermark, blocking publishers"
                );
            } else {
                self.log_cleared("memory");
            }
        }
    }
}

/// Resident set size of this process in bytes, from `/proc/self/statm`.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size_bytes())
}

/// Bytes the allocator has handed out and not had back (jemalloc's `stats.allocated`:
/// live heap, without pages freed but not yet returned to the OS). `None` if the
/// statistics cannot be read.
pub fn heap_allocated_bytes() -> Option<u64> {
    tikv_jemalloc_ctl::epoch::advance().ok()?;
    tikv_jemalloc_ctl::stats::allocated::read()
        .ok()
        .map(|b| b as u64)
}

/// The operating system's page size (`sysconf(_SC_PAGESIZE)`: 4 KiB on most x86-64
/// machines, 16 or 64 KiB on some ARM ones).
pub fn page_size_bytes() -> u64 {
    rustix::param::page_size() as u64
}

/// Physical memory in bytes, from `/proc/meminfo`.
pub fn total_memory_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo_total(&meminfo)
}

fn parse_meminfo_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Where the cgroup memory limits are read from (the real paths, or test files).
#[derive(Debug, Clone)]
pub struct CgroupPaths {
    /// cgroup v2: `memory.max` of the process's cgroup (`max` means no limit).
    pub v2_max: PathBuf,
    /// cgroup v1: `memory.limit_in_bytes` (a huge value means no limit).
    pub v1_limit: PathBuf,
}

impl Default for CgroupPaths {
    fn default() -> Self {
        CgroupPaths {
            v2_max: PathBuf::from("/sys/fs/cgroup/memory.max"),
            v1_limit: PathBuf::from("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
        }
    }
}

/// cgroup v1 reports "no limit" as a page-rounded `i64::MAX`; anything at or above
/// this is treated as none.
const CGROUP_V1_UNLIMITED_BYTES: u64 = 1 << 62;

/// The memory limit of the process's cgroup, if it has one (v2 first, then v1).
pub fn cgroup_limit_bytes(paths: &CgroupPaths) -> Option<u64> {
    if let Ok(v2) = std::fs::read_to_string(&paths.v2_max) {
        let v2 = v2.trim();
        return if v2 == "max" { None } else { v2.parse().ok() };
    }
    let v1: u64 = std::fs::read_to_string(&paths.v1_limit)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (v1 < CGROUP_V1_UNLIMITED_BYTES).then_some(v1)
}

/// The memory the broker may use: the smaller of physical memory and its cgroup's
/// limit, so in a container limited to 512 MiB on a 64 GiB host it is 512 MiB.
pub fn memory_limit_bytes(paths: &CgroupPaths) -> Option<u64> {
    match (total_memory_bytes(), cgroup_limit_bytes(paths)) {
        (Some(total), Some(cgroup)) => Some(total.min(cgroup)),
        (total, cgroup) => total.or(cgroup),
    }
}

/// The watermark in bytes (None: no memory alarm). A relative watermark is a fraction
/// of the memory limit ([`memory_limit_bytes`]), or of 1 GiB where that is unknown.
pub fn watermark_bytes(w: MemoryWatermark) -> Option<u64> {
    watermark_of(w, memory_limit_bytes(&CgroupPaths::default()))
}

fn watermark_of(w: MemoryWatermark, limit: Option<u64>) -> Option<u64> {
    match w {
        MemoryWatermark::Off | MemoryWatermark::Absolute(0) => None,
        MemoryWatermark::Absolute(bytes) => Some(bytes),
        MemoryWatermark::Relative(fraction) => {
            Some((limit.unwrap_or(1 << 30) as f64 * fraction) as u64)
        }
    }
}

/// Memory pressure: above `above_bytes` of resident memory (a fraction of the
/// watermark, `Limits::spill_memory_pressure`), the broker's queues keep one page of
/// ready messages in memory and spill the rest.
pub struct Pressure {
    /// The broker whose queues shed memory.
    pub broker: Arc<warren_broker::Broker>,
    /// Resident memory above which memory is under pressure.
    pub above_bytes: u64,
}

/// How often, while memory stays under pressure, every queue is asked again to shed
/// what it gathered in memory.
pub const SHED_INTERVAL: Duration = Duration::from_secs(1);

/// Samples resident memory until `alarm` is the only owner left (the server is gone),
/// setting the alarm above `watermark_bytes` and memory pressure above `pressure`'s
/// threshold (queues shed memory when it starts, and every [`SHED_INTERVAL`] while it
/// lasts; the shedding's file writes run on a blocking thread).
pub async fn monitor(alarm: Arc<MemoryAlarm>, watermark_bytes: u64, pressure: Option<Pressure>) {
    let mut tick = tokio::time::interval(SAMPLE_INTERVAL);
    let mut last_shed: Option<tokio::time::Instant> = None;
    let mut shedding: Option<tokio::task::JoinHandle<usize>> = None;
    while Arc::strong_count(&alarm) > 1 {
        tick.tick().await;
        let Some(rss) = resident_bytes() else {
            continue;
        };
        alarm.set(rss > watermark_bytes);
        let Some(p) = &pressure else { continue };
        let Some(spill) = p.broker.spill() else {
            continue;
        };
        let on = rss > p.above_bytes;
        if on != spill.under_pressure() {
            if on {
                warn!(rss, above = p.above_bytes, "memory pressure: queues keep one page of ready messages in memory and spill the rest");
            } else {
                info!(rss, "memory pressure over");
            }
            spill.set_pressure(on);
        }
        let due = last_shed.is_none_or(|t| t.elapsed() >= SHED_INTERVAL);
        let idle = shedding.as_ref().is_none_or(|h| h.is_finished());
        if on && due && idle {
            last_shed = Some(tokio::time::Instant::now());
            let broker = p.broker.clone();
            shedding = Some(tokio::task::spawn_blocking(move || broker.shed_memory()));
        }
        if !on {
            last_shed = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_process_and_machine_memory() {
        let rss = resident_bytes().expect("linux /proc");
        assert!(rss > 0);
        assert!(total_memory_bytes().unwrap() > rss);
        let w = watermark_bytes(MemoryWatermark::Relative(0.4)).unwrap();
        assert!(w < total_memory_bytes().unwrap());
        assert_eq!(watermark_bytes(MemoryWatermark::Off), None);
        assert_eq!(watermark_bytes(MemoryWatermark::Absolute(0)), None);
        assert_eq!(watermark_bytes(MemoryWatermark::Absolute(5)), Some(5));
    }

    #[test]
    fn the_page_size_comes_from_the_os() {
        let page = page_size_bytes();
        assert!(page >= 4096 && page.is_power_of_two(), "{page}");
    }

    fn fake_cgroup(v2: Option<&str>, v1: Option<&str>) -> (tempfile::TempDir, CgroupPaths) {
        let dir = tempfile::tempdir().unwrap();
        let paths = CgroupPaths {
            v2_max: dir.path().join("memory.max"),
            v1_limit: dir.path().join("memory.limit_in_bytes"),
        };
        if let Some(v) = v2 {
            std::fs::write(&paths.v2_max, v).unwrap();
        }
        if let Some(v) = v1 {
            std::fs::write(&paths.v1_limit, v).unwrap();
        }
        (dir, paths)
    }

    #[test]
    fn a_cgroup_limit_below_physical_memory_sets_the_watermark() {
        let half_gib = 512u64 << 20;
        let (_d, v2) = fake_cgroup(Some("536870912\n"), None);
        assert_eq!(cgroup_limit_bytes(&v2), Some(half_gib));
        assert_eq!(memory_limit_bytes(&v2), Some(half_gib));
        assert_eq!(
            watermark_of(MemoryWatermark::Relative(0.4), memory_limit_bytes(&v2)),
            Some((half_gib as f64 * 0.4) as u64)
        );
        let (_d, v1) = fake_cgroup(None, Some("536870912\n"));
        assert_eq!(memory_limit_bytes(&v1), Some(half_gib));
    }

    #[test]
    fn no_cgroup_limit_means_physical_memory() {
        let total = total_memory_bytes().unwrap();
        let (_d, max) = fake_cgroup(Some("max\n"), Some("1024"));
        assert_eq!(cgroup_limit_bytes(&max), None, "v2 'max' wins over v1");
        assert_eq!(memory_limit_bytes(&max), Some(total));
        let (_d, v1_unlimited) = fake_cgroup(None, Some("9223372036854771712\n"));
        assert_eq!(cgroup_limit_bytes(&v1_unlimited), None);
        let (_d, missing) = fake_cgroup(None, None);
        assert_eq!(memory_limit_bytes(&missing), Some(total));
        let (_d, huge) = fake_cgroup(Some(&format!("{}", total * 2)), None);
        assert_eq!(memory_limit_bytes(&huge), Some(total), "the smaller wins");
    }

    #[test]
    fn meminfo_is_parsed_in_kib() {
        assert_eq!(
            parse_meminfo_total("MemTotal:       2048 kB\nMemFree: 1 kB\n"),
            Some(2048 * 1024)
        );
        assert_eq!(parse_meminfo_total("nothing"), None);
    }

    #[test]
    fn the_blocked_reason_names_the_alarm() {
        let a = MemoryAlarm::default();
        a.set_disk(true);
        assert_eq!(a.reason(), "low on disk");
        a.set(true);
        assert_eq!(a.reason(), "low on memory");
        a.set_disk(false);
        assert_eq!(a.reason(), "low on memory");
    }

    #[test]
    fn alarm_toggles() {
        let a = MemoryAlarm::default();
        assert!(!a.is_on());
        a.set(true);
        assert!(a.is_on());
        a.set(false);
        assert!(!a.is_on());
    }
}

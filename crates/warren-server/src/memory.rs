//! The memory alarm: a background check of the broker's resident memory against a high
//! watermark. While the alarm is on, connections that publish are blocked (they stop
//! being read, and clients that support it get `connection.blocked`), as RabbitMQ does.
//! Consumers keep running, so acknowledgements can bring memory back down.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

/// How often resident memory is sampled.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

/// Fraction of physical memory used as the default watermark (RabbitMQ's default).
pub const DEFAULT_WATERMARK_FRACTION: f64 = 0.4;

/// Whether the broker is over its memory high watermark.
#[derive(Debug, Default)]
pub struct MemoryAlarm {
    on: AtomicBool,
}

impl MemoryAlarm {
    /// Whether publishers must be blocked now.
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
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
                info!("memory alarm cleared, unblocking publishers");
            }
        }
    }
}

/// Resident set size of this process in bytes, from `/proc/self/statm`.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

fn page_size() -> u64 {
    4096
}

/// Physical memory in bytes, from `/proc/meminfo`.
pub fn total_memory_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The default watermark: 40% of physical memory, or 1 GiB where that is unknown.
pub fn default_watermark_bytes() -> u64 {
    total_memory_bytes()
        .map(|t| (t as f64 * DEFAULT_WATERMARK_FRACTION) as u64)
        .unwrap_or(1 << 30)
}

/// Samples resident memory until `alarm` is the only owner left (the server is gone).
pub async fn monitor(alarm: Arc<MemoryAlarm>, watermark_bytes: u64) {
    let mut tick = tokio::time::interval(SAMPLE_INTERVAL);
    while Arc::strong_count(&alarm) > 1 {
        tick.tick().await;
        if let Some(rss) = resident_bytes() {
            alarm.set(rss > watermark_bytes);
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
        assert!(default_watermark_bytes() < total_memory_bytes().unwrap());
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

//! The disk alarm: free space on the data directory's file system checked against
//! `Limits::disk_free_limit_bytes` (RabbitMQ's `disk_free_limit`). While it is low,
//! publishing connections are blocked exactly as by the memory alarm, so a full disk
//! never loses a confirmed message; consumers keep draining.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::memory::MemoryAlarm;

/// How often free space is checked (a statvfs call: cheap, but not per message).
pub const CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// Free bytes available to the broker on `path`'s file system.
pub fn free_bytes(path: &Path) -> Option<u64> {
    let st = rustix::fs::statvfs(path).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Whether `free` bytes are below `limit` (0: the alarm is off).
pub fn is_low(free: u64, limit: u64) -> bool {
    limit > 0 && free < limit
}

/// Checks `data_dir` until `alarm` is the only owner left (the server is gone).
pub async fn monitor(alarm: Arc<MemoryAlarm>, data_dir: PathBuf, limit: u64) {
    monitor_with(alarm, limit, CHECK_INTERVAL, move || free_bytes(&data_dir)).await
}

/// [`monitor`] with the free-space reading injected (tests).
pub async fn monitor_with(
    alarm: Arc<MemoryAlarm>,
    limit: u64,
    every: Duration,
    mut read: impl FnMut() -> Option<u64>,
) {
    let mut tick = tokio::time::interval(every);
    while Arc::strong_count(&alarm) > 1 {
        tick.tick().await;
        if let Some(free) = read() {
            alarm.set_disk(is_low(free, limit));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    #[test]
    fn the_data_directory_has_measurable_free_space() {
        assert!(free_bytes(Path::new(".")).unwrap() > 0);
        assert!(is_low(10, 50) && !is_low(50, 50) && !is_low(0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn either_alarm_blocks_and_both_must_clear() {
        let alarm = Arc::new(MemoryAlarm::default());
        let free = Arc::new(AtomicU64::new(100));
        let reading = free.clone();
        let task = tokio::spawn(monitor_with(
            alarm.clone(),
            50,
            Duration::from_secs(1),
            move || Some(reading.load(Ordering::Relaxed)),
        ));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(!alarm.is_on());
        free.store(10, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(alarm.is_on(), "low disk blocks publishers");
        alarm.set(true);
        free.store(100, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(alarm.is_on(), "the memory alarm still holds");
        alarm.set(false);
        assert!(!alarm.is_on(), "both clear: publishers resume");
        task.abort();
    }
}

//! The queue core's clock: milliseconds since the Unix epoch, advanced by tokio's clock.
//!
//! `now_ms()` is the wall-clock time read once, at first use, plus the time
//! [`tokio::time::Instant`] says has passed since then. So:
//! - values mean epoch milliseconds, and what is persisted with them (a message's
//!   `published_at_ms`, an entry's `expires_at_ms`, a delayed message's due time) keeps
//!   its meaning across restarts;
//! - under `#[tokio::test(start_paused = true)]`, `tokio::time::advance` moves it, and
//!   the [`Scheduler`](crate::scheduler::Scheduler) sleeps on the same clock, so TTL,
//!   `x-expires` and delayed delivery are tested without real sleeps;
//! - it is monotonic: a wall-clock step (NTP, a manual change) no longer moves TTLs.
//!
//! Why a function on tokio's clock rather than a `Clock` trait: the scheduler must
//! *sleep* on the same clock it reads, and tokio already offers a pausable clock that
//! its timers obey. A trait would have to be threaded through every queue and still
//! need tokio's timers paused to drive the scheduler task; this keeps every reader a
//! plain call with the cost of one `Instant::now()`, as before.

use std::sync::OnceLock;

use tokio::time::Instant;

/// The wall-clock reading taken at first use, and tokio's instant at that moment.
static BASE: OnceLock<(u64, Instant)> = OnceLock::new();

fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch on the queue core's clock: the clock of TTLs,
/// queue expiry, delays, deduplication windows and `x-death` times.
///
/// The map from tokio's instant to milliseconds is affine, also for instants before
/// the base: tests run several paused runtimes at once, and one whose frozen clock is
/// earlier than the base (taken in another runtime) must still see its time move.
pub fn now_ms() -> u64 {
    let (base_ms, base) = BASE.get_or_init(|| (wall_clock_ms(), Instant::now()));
    let now = Instant::now();
    // The usual case, on the publish and delivery paths: integer milliseconds, no
    // 128-bit division.
    if let Some(after) = now.checked_duration_since(*base) {
        return base_ms
            .saturating_add(after.as_secs().saturating_mul(1_000))
            .saturating_add(u64::from(after.subsec_millis()));
    }
    let offset_ns = -(base.duration_since(now).as_nanos() as i128);
    let ms = i128::from(*base_ms) + offset_ns.div_euclid(1_000_000);
    ms.clamp(0, i128::from(u64::MAX)) as u64
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn advances_with_tokio_time_only() {
        let start = now_ms();
        assert!(
            start.abs_diff(wall_clock_ms()) < 60_000,
            "epoch milliseconds, near the wall clock"
        );
        assert_eq!(now_ms(), start, "paused: no time passes by itself");
        tokio::time::advance(Duration::from_millis(1_500)).await;
        assert_eq!(now_ms(), start + 1_500);
    }

    #[test]
    fn time_moves_in_a_paused_runtime_frozen_before_the_base() {
        let paused = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("runtime");
        // The base is taken (if not yet) well after that runtime's clock froze.
        std::thread::sleep(Duration::from_millis(20));
        now_ms();
        paused.block_on(async {
            let start = now_ms();
            tokio::time::advance(Duration::from_millis(5)).await;
            assert_eq!(now_ms(), start + 5, "no saturation at the base");
        });
    }
}

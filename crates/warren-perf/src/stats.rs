//! Counters each producer and consumer updates, and the clock latencies are measured
//! against.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::histogram::{AtomicHistogram, Histogram};

/// Wall-clock nanoseconds since the Unix epoch: what producers write into a body and
/// consumers subtract from. The wall clock (rather than a process-local monotonic one)
/// lets the stamping and the reading happen in different processes on one machine,
/// e.g. in the null broker of the self-test; a clock step backwards reads as latency 0.
pub fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// One worker's counters; the worker is their only writer.
#[derive(Debug, Default)]
pub struct Counters {
    /// Messages published.
    pub sent: AtomicU64,
    /// Messages delivered to a consumer.
    pub received: AtomicU64,
    /// Messages the broker confirmed (basic.ack from the broker).
    pub confirmed: AtomicU64,
    /// Messages the broker refused (basic.nack from the broker).
    pub nacked: AtomicU64,
    /// Deliveries this consumer rejected (basic.reject, requeue=false).
    pub rejected: AtomicU64,
    /// Deliveries that carried an `x-stream-offset` header (stream consumers).
    pub stream_offsets: AtomicU64,
    /// Stream deliveries whose offset was not above the consumer's previous one.
    pub stream_offset_regressions: AtomicU64,
    /// Send-to-receive latency of timestamped deliveries, in µs.
    pub latency: AtomicHistogram,
}

impl Counters {
    /// Adds `n` to one counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        if n != 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// Totals over all workers at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Messages published.
    pub sent: u64,
    /// Messages delivered.
    pub received: u64,
    /// Messages confirmed.
    pub confirmed: u64,
    /// Messages nacked by the broker.
    pub nacked: u64,
    /// Deliveries with an `x-stream-offset` header.
    pub stream_offsets: u64,
    /// Stream deliveries whose offset did not grow.
    pub stream_offset_regressions: u64,
}

/// Sums the counters of all workers and moves their latencies into `latency`.
pub fn collect(workers: &[std::sync::Arc<Counters>], latency: &mut Histogram) -> Totals {
    let mut t = Totals::default();
    for w in workers {
        t.sent += w.sent.load(Ordering::Relaxed);
        t.received += w.received.load(Ordering::Relaxed);
        t.confirmed += w.confirmed.load(Ordering::Relaxed);
        t.nacked += w.nacked.load(Ordering::Relaxed);
        t.stream_offsets += w.stream_offsets.load(Ordering::Relaxed);
        t.stream_offset_regressions += w.stream_offset_regressions.load(Ordering::Relaxed);
        w.latency.drain_into(latency);
    }
    t
}

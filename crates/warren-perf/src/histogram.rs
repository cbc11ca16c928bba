//! A log-linear latency histogram in microseconds with about 3% resolution, updated
//! with relaxed atomics so a consumer task records into it without a lock while the
//! reporter drains it once a second.

use std::sync::atomic::{AtomicU64, Ordering};

/// Values below this are exact (one bucket per microsecond).
const LINEAR: u64 = 64;
/// Sub-buckets per power of two above [`LINEAR`] (5 bits of precision).
const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
/// Largest exponent tracked: 2^40 µs is about 12 days; larger values are clamped.
const MAX_EXP: u32 = 40;
/// Number of buckets.
pub const BUCKETS: usize = (LINEAR + (MAX_EXP as u64 - SUB_BITS as u64) * SUB) as usize;

/// The bucket a value falls in.
fn index(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let exp = (63 - v.leading_zeros()).min(MAX_EXP);
    let shift = exp - SUB_BITS;
    let top = (v >> shift).min(2 * SUB - 1);
    (LINEAR + u64::from(shift - 1) * SUB + (top - SUB)) as usize
}

/// A representative value (the middle) of a bucket.
fn value_of(i: usize) -> u64 {
    let i = i as u64;
    if i < LINEAR {
        return i;
    }
    let shift = (i - LINEAR) / SUB + 1;
    let top = (i - LINEAR) % SUB + SUB;
    (top << shift) + (1 << shift) / 2
}

/// A histogram shared between one recorder and the reporter.
#[derive(Debug)]
pub struct AtomicHistogram {
    buckets: Box<[AtomicU64]>,
}

impl Default for AtomicHistogram {
    fn default() -> Self {
        AtomicHistogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl AtomicHistogram {
    /// Records one value in microseconds.
    pub fn record(&self, micros: u64) {
        self.buckets[index(micros)].fetch_add(1, Ordering::Relaxed);
    }

    /// Moves every count into `into` and zeroes this histogram.
    pub fn drain_into(&self, into: &mut Histogram) {
        for (b, c) in self.buckets.iter().zip(into.counts.iter_mut()) {
            if b.load(Ordering::Relaxed) != 0 {
                *c += b.swap(0, Ordering::Relaxed);
            }
        }
    }
}

/// A plain histogram, for summing and reading percentiles.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
        }
    }
}

impl Histogram {
    /// Records one value (for tests and single-threaded use).
    pub fn record(&mut self, micros: u64) {
        self.counts[index(micros)] += 1;
    }

    /// Number of recorded values.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Adds every count of `other`.
    pub fn add(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    /// Zeroes every count.
    pub fn clear(&mut self) {
        self.counts.iter_mut().for_each(|c| *c = 0);
    }

    /// The value at quantile `q` (0.0 to 1.0), or `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(value_of(i));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_monotonic() {
        let mut last = 0;
        for v in [
            0u64,
            1,
            63,
            64,
            65,
            127,
            128,
            1_000,
            123_456,
            1 << 39,
            u64::MAX,
        ] {
            let i = index(v);
            assert!(i >= last, "index not monotonic at {v}");
            assert!(i < BUCKETS);
            last = i;
        }
        assert_eq!(index(63) + 1, index(64));
        assert_eq!(index(127) + 1, index(128));
    }

    #[test]
    fn representative_value_is_within_three_percent() {
        for v in [64u64, 100, 1_000, 9_999, 250_000, 7_000_000] {
            let r = value_of(index(v));
            let err = (r as f64 - v as f64).abs() / v as f64;
            assert!(err < 0.03, "{v} -> {r}");
        }
        assert_eq!(value_of(index(17)), 17);
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::default();
        assert_eq!(h.quantile(0.5), None);
        for v in 1..=100 {
            h.record(v);
        }
        assert_eq!(h.quantile(0.5), Some(50));
        let p99 = h.quantile(0.99).unwrap();
        assert!((97..=101).contains(&p99), "{p99}");
    }

    #[test]
    fn drain_moves_counts() {
        let a = AtomicHistogram::default();
        a.record(10);
        a.record(10_000);
        let mut h = Histogram::default();
        a.drain_into(&mut h);
        assert_eq!(h.count(), 2);
        let mut again = Histogram::default();
        a.drain_into(&mut again);
        assert_eq!(again.count(), 0);
    }
}

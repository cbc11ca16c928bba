//! Per-second lines and the end-of-run summary (text or JSON).

use serde::Serialize;

/// One second of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Seconds since the run started.
    pub at_secs: f64,
    /// Messages published per second.
    pub sent: f64,
    /// Messages delivered per second.
    pub received: f64,
    /// Messages confirmed per second.
    pub confirmed: f64,
    /// Median latency in µs, if any timestamped message arrived.
    pub p50_us: Option<u64>,
    /// 99th percentile latency in µs.
    pub p99_us: Option<u64>,
}

impl Sample {
    /// The line printed for this second.
    pub fn line(&self) -> String {
        let lat = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
        format!(
            "time {:>6.1}s, sent {:>9.0} msg/s, received {:>9.0} msg/s, confirmed {:>9.0} msg/s, latency p50/p99 {}/{} µs",
            self.at_secs,
            self.sent,
            self.received,
            self.confirmed,
            lat(self.p50_us),
            lat(self.p99_us)
        )
    }
}

/// Minimum, median and maximum of a metric over the per-second samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// Smallest sample.
    pub min: f64,
    /// Median sample (mean of the middle two for an even count).
    pub median: f64,
    /// Largest sample.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`, `None` when there are none.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        let mut v: Vec<f64> = values.into_iter().collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            min: v[0],
            median,
            max: v[n - 1],
        })
    }
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Wall time of the load phase, in seconds.
    pub duration_secs: f64,
    /// Producers and consumers.
    pub producers: usize,
    /// Consumers.
    pub consumers: usize,
    /// Body size in bytes.
    pub body_size: usize,
    /// Messages published.
    pub sent_total: u64,
    /// Messages delivered.
    pub received_total: u64,
    /// Messages confirmed.
    pub confirmed_total: u64,
    /// Messages nacked by the broker.
    pub nacked_total: u64,
    /// Deliveries that carried an `x-stream-offset` header (stream consumers).
    pub stream_offsets_total: u64,
    /// Stream deliveries whose offset was not above the same consumer's previous one
    /// (0 when every reader saw its stream in order).
    pub stream_offset_regressions: u64,
    /// Published per second over the whole run.
    pub sent_mean_rate: f64,
    /// Delivered per second over the whole run.
    pub received_mean_rate: f64,
    /// Per-second publish rates.
    pub sent_rate: Option<Spread>,
    /// Per-second delivery rates.
    pub received_rate: Option<Spread>,
    /// Per-second confirm rates.
    pub confirmed_rate: Option<Spread>,
    /// Per-second median latencies in µs.
    pub latency_p50_us: Option<Spread>,
    /// Per-second 99th percentile latencies in µs.
    pub latency_p99_us: Option<Spread>,
    /// Median latency over the whole run, in µs.
    pub latency_p50_overall_us: Option<u64>,
    /// 99th percentile latency over the whole run, in µs.
    pub latency_p99_overall_us: Option<u64>,
    /// warren-perf's own CPU use during the load phase (100 = one core).
    pub perf_cpu_percent: Option<f64>,
    /// warren-perf's own CPU µs per message handled (published plus delivered).
    pub perf_cpu_us_per_msg: Option<f64>,
    /// The broker's CPU use during the load phase (100 = one core), with --broker-pid.
    pub broker_cpu_percent: Option<f64>,
    /// Broker CPU µs per message (per delivery, or per publish without consumers).
    pub broker_cpu_us_per_msg: Option<f64>,
}

impl Summary {
    /// The human-readable summary.
    pub fn text(&self) -> String {
        let mut out = format!(
            "summary: {:.1}s, {} producer(s), {} consumer(s), {} B bodies\n  sent {} ({:.0} msg/s), received {} ({:.0} msg/s), confirmed {}, nacked {}\n",
            self.duration_secs,
            self.producers,
            self.consumers,
            self.body_size,
            self.sent_total,
            self.sent_mean_rate,
            self.received_total,
            self.received_mean_rate,
            self.confirmed_total,
            self.nacked_total
        );
        if self.stream_offsets_total > 0 {
            out += &format!(
                "  stream deliveries {} with x-stream-offset, {} out of order\n",
                self.stream_offsets_total, self.stream_offset_regressions
            );
        }
        let rows = [
            ("sent msg/s", self.sent_rate),
            ("received msg/s", self.received_rate),
            ("confirmed msg/s", self.confirmed_rate),
            ("latency p50 µs", self.latency_p50_us),
            ("latency p99 µs", self.latency_p99_us),
        ];
        for (name, spread) in rows {
            if let Some(s) = spread {
                out += &format!(
                    "  {name:<16} min {:>10.0}  median {:>10.0}  max {:>10.0}\n",
                    s.min, s.median, s.max
                );
            }
        }
        if let (Some(p50), Some(p99)) = (self.latency_p50_overall_us, self.latency_p99_overall_us) {
            out += &format!("  latency over the run: p50 {p50} µs, p99 {p99} µs\n");
        }
        if let Some(c) = self.perf_cpu_percent {
            out += &format!("  warren-perf CPU: {c:.0}% of one core");
            if let Some(per) = self.perf_cpu_us_per_msg {
                out += &format!(", {per:.3} µs per message sent or received");
            }
            out += "\n";
        }
        if let Some(c) = self.broker_cpu_percent {
            out += &format!("  broker CPU: {c:.0}% of one core");
            if let Some(per) = self.broker_cpu_us_per_msg {
                out += &format!(", {per:.2} µs per message");
            }
            out += "\n";
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_median() {
        assert_eq!(Spread::of([]), None);
        let s = Spread::of([3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.min, s.median, s.max), (1.0, 2.0, 3.0));
        assert_eq!(Spread::of([4.0, 1.0, 2.0, 3.0]).unwrap().median, 2.5);
    }

    #[test]
    fn line_shows_missing_latency_as_dash() {
        let s = Sample {
            at_secs: 1.0,
            sent: 10.0,
            received: 9.0,
            confirmed: 0.0,
            p50_us: None,
            p99_us: Some(5),
        };
        assert!(s.line().contains("-/5 µs"), "{}", s.line());
    }
}

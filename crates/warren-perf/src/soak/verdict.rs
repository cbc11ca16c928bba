//! The soak's pass/fail rule: resident memory and open file descriptors at the end of
//! the run compared with the first window after warm-up.

use serde::Serialize;

/// One sample of the broker and the traffic, taken every `--sample-secs`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    /// Seconds since the soak's traffic started.
    pub at_secs: f64,
    /// Broker resident memory, MiB.
    pub rss_mib: f64,
    /// Broker open file descriptors.
    pub fds: u64,
    /// Disk space of the broker's data directory, MiB (0 when not given).
    pub data_dir_mib: f64,
    /// Messages published per second over the interval.
    pub published_per_sec: f64,
    /// Messages delivered per second over the interval (every queue's deliveries).
    pub delivered_per_sec: f64,
    /// Publish → deliver latency over the interval: median, 99th percentile and
    /// maximum, µs (`None` when nothing stamped arrived).
    pub p50_us: Option<u64>,
    /// 99th percentile, µs.
    pub p99_us: Option<u64>,
    /// Maximum, µs.
    pub max_us: Option<u64>,
}

impl Sample {
    /// The CSV header matching [`Sample::csv_row`].
    pub const CSV_HEADER: &'static str = "elapsed_s,rss_mib,fds,data_dir_mib,published_per_s,delivered_per_s,latency_p50_us,latency_p99_us,latency_max_us";

    /// One CSV row (empty latency cells when nothing arrived).
    pub fn csv_row(&self) -> String {
        let lat = |v: Option<u64>| v.map_or_else(String::new, |v| v.to_string());
        format!(
            "{:.0},{:.1},{},{:.1},{:.0},{:.0},{},{},{}",
            self.at_secs,
            self.rss_mib,
            self.fds,
            self.data_dir_mib,
            self.published_per_sec,
            self.delivered_per_sec,
            lat(self.p50_us),
            lat(self.p99_us),
            lat(self.max_us)
        )
    }
}

/// How much growth is allowed, and over which windows it is measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bounds {
    /// Samples before this (seconds) are warm-up and judged by nothing.
    pub warmup_secs: f64,
    /// Length of the baseline window (from the end of warm-up) and of the end window
    /// (up to the end of the run), seconds.
    pub window_secs: f64,
    /// The end window's mean RSS may exceed the baseline window's mean by this
    /// fraction of it …
    pub rss_growth_fraction: f64,
    /// … plus this many MiB.
    pub rss_slack_mib: f64,
    /// The end window's largest fd count may exceed the baseline window's by this many.
    pub fd_slack: u64,
}

/// What the comparison found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// Mean RSS over the baseline window, MiB.
    pub rss_baseline_mib: f64,
    /// Mean RSS over the end window, MiB.
    pub rss_end_mib: f64,
    /// The most the end window's mean may be, MiB.
    pub rss_limit_mib: f64,
    /// Largest fd count in the baseline window.
    pub fds_baseline: u64,
    /// Largest fd count in the end window.
    pub fds_end: u64,
    /// The most the end window's fd count may be.
    pub fds_limit: u64,
    /// p99 latency of the baseline and end windows (the largest per-sample p99), µs.
    pub p99_baseline_us: Option<u64>,
    /// See `p99_baseline_us`.
    pub p99_end_us: Option<u64>,
    /// Every bound that was broken, in words; empty when the soak passed.
    pub failures: Vec<String>,
}

/// Compares the end of the run with its first window after warm-up. `None` when the
/// run is too short for two disjoint windows with a sample each.
pub fn judge(samples: &[Sample], duration_secs: f64, b: &Bounds) -> Option<Verdict> {
    let base_end = b.warmup_secs + b.window_secs;
    let end_start = duration_secs - b.window_secs;
    if end_start < base_end {
        return None;
    }
    let baseline: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.at_secs >= b.warmup_secs && s.at_secs <= base_end)
        .collect();
    let end: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.at_secs >= end_start && s.at_secs > base_end)
        .collect();
    if baseline.is_empty() || end.is_empty() {
        return None;
    }
    let mean = |v: &[&Sample]| v.iter().map(|s| s.rss_mib).sum::<f64>() / v.len() as f64;
    let max_fds = |v: &[&Sample]| v.iter().map(|s| s.fds).max().unwrap_or(0);
    let max_p99 = |v: &[&Sample]| v.iter().filter_map(|s| s.p99_us).max();
    let rss_baseline_mib = mean(&baseline);
    let rss_end_mib = mean(&end);
    let rss_limit_mib = rss_baseline_mib * (1.0 + b.rss_growth_fraction) + b.rss_slack_mib;
    let fds_baseline = max_fds(&baseline);
    let fds_end = max_fds(&end);
    let fds_limit = fds_baseline + b.fd_slack;
    let mut failures = Vec::new();
    if rss_end_mib > rss_limit_mib {
        failures.push(format!(
            "RSS grew from {rss_baseline_mib:.1} MiB to {rss_end_mib:.1} MiB (limit {rss_limit_mib:.1} MiB)"
        ));
    }
    if fds_end > fds_limit {
        failures.push(format!(
            "open fds grew from {fds_baseline} to {fds_end} (limit {fds_limit})"
        ));
    }
    Some(Verdict {
        rss_baseline_mib,
        rss_end_mib,
        rss_limit_mib,
        fds_baseline,
        fds_end,
        fds_limit,
        p99_baseline_us: max_p99(&baseline),
        p99_end_us: max_p99(&end),
        failures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: f64, rss: f64, fds: u64) -> Sample {
        Sample {
            at_secs: at,
            rss_mib: rss,
            fds,
            data_dir_mib: 0.0,
            published_per_sec: 1.0,
            delivered_per_sec: 1.0,
            p50_us: Some(100),
            p99_us: Some(900),
            max_us: Some(2000),
        }
    }

    const BOUNDS: Bounds = Bounds {
        warmup_secs: 60.0,
        window_secs: 60.0,
        rss_growth_fraction: 0.10,
        rss_slack_mib: 16.0,
        fd_slack: 8,
    };

    fn run(rss: impl Fn(f64) -> f64, fds: impl Fn(f64) -> u64) -> Vec<Sample> {
        (1..=60)
            .map(|i| {
                let t = i as f64 * 10.0;
                sample(t, rss(t), fds(t))
            })
            .collect()
    }

    #[test]
    fn flat_run_passes_and_warmup_is_ignored() {
        let s = run(|t| if t < 60.0 { 400.0 } else { 100.0 }, |_| 40);
        let v = judge(&s, 600.0, &BOUNDS).unwrap();
        assert!(v.failures.is_empty(), "{:?}", v.failures);
        assert_eq!(v.rss_baseline_mib, 100.0);
        assert!((v.rss_limit_mib - 126.0).abs() < 1e-9);
        assert_eq!(v.fds_limit, 48);
        assert_eq!(v.p99_end_us, Some(900));
    }

    #[test]
    fn steady_rss_growth_fails() {
        // 100 MiB, then +0.1 MiB per second: 150+ MiB by the end.
        let s = run(|t| 100.0 + (t - 60.0).max(0.0) * 0.1, |_| 40);
        let v = judge(&s, 600.0, &BOUNDS).unwrap();
        assert_eq!(v.failures.len(), 1, "{:?}", v.failures);
        assert!(v.failures[0].starts_with("RSS grew"));
    }

    #[test]
    fn fd_leak_fails() {
        let s = run(|_| 100.0, |t| 40 + (t / 10.0) as u64);
        let v = judge(&s, 600.0, &BOUNDS).unwrap();
        assert_eq!(v.failures.len(), 1, "{:?}", v.failures);
        assert!(v.failures[0].starts_with("open fds grew"));
    }

    #[test]
    fn too_short_a_run_has_no_verdict() {
        let s = run(|_| 100.0, |_| 40);
        assert!(judge(&s, 150.0, &BOUNDS).is_none());
        assert!(judge(&[], 600.0, &BOUNDS).is_none());
    }

    #[test]
    fn csv_row_matches_header() {
        let row = sample(10.0, 12.34, 7).csv_row();
        assert_eq!(
            row.split(',').count(),
            Sample::CSV_HEADER.split(',').count()
        );
        assert!(row.starts_with("10,12.3,7,"));
    }
}

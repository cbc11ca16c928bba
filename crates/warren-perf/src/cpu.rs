//! CPU time of a process from `/proc/PID/stat` (Linux): the broker's, to report CPU
//! microseconds per message, and warren-perf's own, to show it is not the bottleneck.

use std::time::Instant;

/// Clock ticks per second (`getconf CLK_TCK`), 100 where it cannot be asked.
pub fn ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// Which process to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// warren-perf itself.
    SelfProcess,
    /// Another process by PID.
    Pid(u32),
}

/// Parses utime + stime (fields 14 and 15, in clock ticks) from a stat line. The
/// command name (field 2) may contain spaces and parentheses, so fields are counted
/// from the last `)`.
pub fn parse_stat(line: &str) -> Option<u64> {
    let rest = &line[line.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After ")" come field 3 (state) onwards: utime is field 14, i.e. the 12th here.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// CPU time (user + system) of `target` in clock ticks, `None` if unreadable.
pub fn cpu_ticks(target: Target) -> Option<u64> {
    let path = match target {
        Target::SelfProcess => "/proc/self/stat".to_owned(),
        Target::Pid(p) => format!("/proc/{p}/stat"),
    };
    parse_stat(&std::fs::read_to_string(path).ok()?)
}

/// CPU time of one process between [`CpuMeter::start`] and [`CpuMeter::finish`].
#[derive(Debug, Clone, Copy)]
pub struct CpuMeter {
    target: Target,
    ticks: u64,
    at: Instant,
}

/// What a [`CpuMeter`] measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuUsage {
    /// CPU time used, in microseconds.
    pub cpu_micros: u64,
    /// Wall time elapsed, in microseconds.
    pub wall_micros: u64,
}

impl CpuUsage {
    /// CPU time as a percentage of one core (200 = two cores busy).
    pub fn percent(&self) -> f64 {
        if self.wall_micros == 0 {
            0.0
        } else {
            self.cpu_micros as f64 * 100.0 / self.wall_micros as f64
        }
    }
}

impl CpuMeter {
    /// Starts measuring; `None` if the process's stat cannot be read.
    pub fn start(target: Target) -> Option<Self> {
        Some(CpuMeter {
            target,
            ticks: cpu_ticks(target)?,
            at: Instant::now(),
        })
    }

    /// CPU and wall time since start; `None` if the process is gone.
    pub fn finish(&self, ticks_per_second: u64) -> Option<CpuUsage> {
        let ticks = cpu_ticks(self.target)?.saturating_sub(self.ticks);
        Some(CpuUsage {
            cpu_micros: ticks * 1_000_000 / ticks_per_second.max(1),
            wall_micros: self.at.elapsed().as_micros() as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_awkward_name() {
        let line =
            "1234 (beam) smp) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 30 0 1 2 3";
        assert_eq!(parse_stat(line), Some(325));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn own_cpu_time_advances_while_busy() {
        let meter = CpuMeter::start(Target::SelfProcess).expect("/proc/self/stat readable");
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let mut x = 0u64;
        let usage = loop {
            for i in 0..1_000_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
            let usage = meter.finish(ticks_per_second()).expect("still running");
            if usage.cpu_micros > 0 || Instant::now() > deadline {
                break usage;
            }
        };
        assert!(
            usage.cpu_micros > 0,
            "no CPU time seen after 5 s of spinning"
        );
        assert!(usage.percent() > 0.0);
    }
}

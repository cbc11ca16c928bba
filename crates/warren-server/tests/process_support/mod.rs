//! The real `warren` binary as a separate process, for the flood and churn tests: its
//! resident memory, open file descriptors and data directory size are the broker's
//! alone, read from /proc and the file system.
//!
//! The binary is `WARREN_BIN` when set (e.g. `target/release/warren`, which the long
//! runs in docs/soak.md use), else the one Cargo built for this package's tests
//! (`CARGO_BIN_EXE_warren`).

#![allow(dead_code)] // each test binary uses part of it

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use warren_testkit::eventually;

/// The broker binary the tests run.
pub fn warren_bin() -> PathBuf {
    std::env::var_os("WARREN_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_warren")))
}

/// A count from the environment (so CI runs a scaled-down version and a person the
/// full one), or `default`.
pub fn env_count(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a count")),
        Err(_) => default,
    }
}

/// A broker child process on a fresh data directory, killed when dropped.
pub struct BrokerProcess {
    child: Child,
    /// Its AMQP address.
    pub addr: SocketAddr,
    /// Its data directory.
    pub data: PathBuf,
    log: PathBuf,
    /// How it was started (kept for restarts).
    env: Vec<(String, String)>,
    log_level: String,
    args: Vec<String>,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl BrokerProcess {
    /// Starts the binary with `env` (`WARREN_*` settings) added and waits (up to 30 s)
    /// until it accepts connections.
    pub async fn start(env: &[(&str, &str)]) -> Self {
        Self::start_with(env, "warn", &[]).await
    }

    /// Like [`Self::start`], logging at `log_level` and with extra command-line `args`.
    pub async fn start_with(env: &[(&str, &str)], log_level: &str, args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let log = dir.path().join("warren.log");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let child = spawn(&addr, &data, &log, &env, log_level, &args);
        let mut broker = BrokerProcess {
            child,
            addr,
            data,
            log,
            env,
            log_level: log_level.to_owned(),
            args,
            _dir: dir,
        };
        broker.wait_listening().await;
        eprintln!("broker: {} (pid {})", warren_bin().display(), broker.pid());
        broker
    }

    /// Kills the broker with SIGKILL, starts it again on the same data directory and
    /// address, and returns how long after the spawn its port accepted a connection.
    pub async fn kill_and_restart(&mut self) -> Duration {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let spawned = std::time::Instant::now();
        self.child = spawn(
            &self.addr,
            &self.data,
            &self.log,
            &self.env,
            &self.log_level,
            &self.args,
        );
        self.wait_listening().await;
        spawned.elapsed()
    }

    /// Waits (up to 30 s) until the broker accepts connections.
    async fn wait_listening(&mut self) {
        let (addr, log) = (self.addr, self.log.clone());
        let child = &mut self.child;
        let listening = eventually(Duration::from_secs(30), || {
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("warren exited at start-up: {status}\n{log}");
            }
            std::future::ready(TcpStream::connect(addr).is_ok())
        })
        .await;
        assert!(listening, "warren did not start listening\n{}", self.log());
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// guest's URI on the default vhost.
    pub fn uri(&self) -> String {
        format!("amqp://guest:guest@{}/%2f", self.addr)
    }

    /// Panics (with the broker's log) if the process has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("warren exited: {status}\n{}", self.log());
        }
    }

    /// Resident memory in bytes (`VmRSS`).
    pub fn rss_bytes(&self) -> u64 {
        rss_bytes(self.pid()).expect("the broker's /proc/PID/status")
    }

    /// Open file descriptors.
    pub fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .expect("the broker's /proc/PID/fd")
            .count()
    }

    /// Disk space the data directory takes (allocated blocks, as `du` counts).
    pub fn data_dir_bytes(&self) -> u64 {
        dir_bytes(&self.data)
    }

    /// The broker's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Spawns the binary on `data`, appending its output to `log`.
fn spawn(
    addr: &SocketAddr,
    data: &Path,
    log: &Path,
    env: &[(String, String)],
    log_level: &str,
    args: &[String],
) -> Child {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let bin = warren_bin();
    let mut cmd = Command::new(&bin);
    cmd.arg("--listen")
        .arg(addr.to_string())
        .args(["--management-listen", "off", "--log", log_level])
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("WARREN_BIN")
        .stdout(out.try_clone().expect("log file"))
        .stderr(out)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn()
        .unwrap_or_else(|e| panic!("{} starts: {e}", bin.display()))
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `VmRSS` of a process in bytes.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn dir_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            Some(if meta.is_dir() {
                dir_bytes(&e.path())
            } else {
                meta.blocks() * 512
            })
        })
        .sum()
}

/// MiB, for messages.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

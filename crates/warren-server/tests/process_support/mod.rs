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
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let log = dir.path().join("warren.log");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let out = std::fs::File::create(&log).expect("log file");
        let bin = warren_bin();
        let mut cmd = Command::new(&bin);
        cmd.arg("--listen")
            .arg(addr.to_string())
            .args(["--management-listen", "off", "--log", "warn"])
            .arg("--data-dir")
            .arg(&data)
            .env_remove("WARREN_BIN")
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}", bin.display()));
        let mut broker = BrokerProcess {
            child,
            addr,
            data,
            log,
            _dir: dir,
        };
        let listening = eventually(Duration::from_secs(30), || {
            if let Ok(Some(status)) = broker.child.try_wait() {
                panic!("warren exited at start-up: {status}\n{}", broker.log());
            }
            std::future::ready(TcpStream::connect(addr).is_ok())
        })
        .await;
        assert!(
            listening,
            "warren did not start listening\n{}",
            broker.log()
        );
        eprintln!("broker: {} (pid {})", bin.display(), broker.pid());
        broker
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

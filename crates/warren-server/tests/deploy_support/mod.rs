//! What the deploy/ tests share: the repository's deploy/ directory, `warren
//! --print-config` on a config file, free ports, a broker process stopped on drop, and
//! polling `warren --check` until the broker answers.

#![allow(dead_code)] // each deploy test uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The binary under test.
pub const WARREN: &str = env!("CARGO_BIN_EXE_warren");

/// How long a broker may take to answer its first check.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The repository's deploy/ directory.
pub fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// `warren --config FILE --print-config`, which must succeed; its output.
#[track_caller]
pub fn print_config(config: &Path) -> String {
    let out = Command::new(WARREN)
        .arg("--config")
        .arg(config)
        .arg("--print-config")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A port nothing listens on (now).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A broker process, killed when dropped.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `check` (a `warren --check` command) every 100 ms until it succeeds; false if
/// the broker exits or does not answer within 30 s.
pub fn answers_check(broker: &mut Running, mut check: impl FnMut() -> Command) -> bool {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if check().output().unwrap().status.success() {
            return true;
        }
        if Instant::now() > deadline || broker.0.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

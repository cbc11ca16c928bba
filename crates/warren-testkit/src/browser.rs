//! Runs a web console browser script (`tests/console/*.mjs`, Playwright driving
//! Debian's chromium) against a running broker and reports what it printed. The
//! script is a child process; the broker keeps running in-process meanwhile. Missing
//! `node`, `chromium` or the npm packages fail the test (`tests/console/run.sh`
//! installs them): a browser test that cannot run must not pass.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// What a script did.
#[derive(Debug)]
pub struct ScriptRun {
    /// Whether it exited 0 (every check held).
    pub success: bool,
    /// Its standard output (`ok - ...` lines, `key=value` measurements).
    pub stdout: String,
    /// Its standard error (the failed check and its stack).
    pub stderr: String,
}

impl ScriptRun {
    /// Panics with the script's output unless it succeeded.
    pub fn assert_success(&self, script: &str) {
        assert!(
            self.success,
            "console script {script} failed\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
    }

    /// The value of a `key=value` line the script printed.
    pub fn value(&self, key: &str) -> Option<&str> {
        let prefix = format!("{key}=");
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
    }
}

/// The repository's `tests/console` directory.
pub fn console_tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/console")
}

/// Runs `tests/console/{script}` with `BASE_URL=base` and `env`, for at most
/// `timeout`; panics (fails the test) when node, chromium or the npm packages are
/// missing or the script outlives the timeout.
pub async fn run_console_script(
    base: &str,
    script: &str,
    env: &[(&str, &str)],
    timeout: Duration,
) -> ScriptRun {
    let dir = console_tests_dir();
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: run `bash tests/console/run.sh` (installs Debian's chromium)"
    );
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "tests/console/node_modules is missing: run `bash tests/console/run.sh` (npm ci)"
    );
    let mut command = Command::new("node");
    command
        .arg(dir.join(script))
        .current_dir(&dir)
        .env("BASE_URL", base)
        .env("CHROMIUM", &chromium);
    for (k, v) in env {
        command.env(k, v);
    }
    let script_name = script.to_owned();
    let child = tokio::task::spawn_blocking(move || command.output());
    let output = tokio::time::timeout(timeout, child)
        .await
        .unwrap_or_else(|_| panic!("console script {script_name} ran over {timeout:?}"))
        .expect("the script's waiter")
        .unwrap_or_else(|e| panic!("cannot run node (install Node.js 18 or later): {e}"));
    // The script's `ok - ...` lines (shown with --nocapture, and with a failure).
    print!("{}", String::from_utf8_lossy(&output.stdout));
    ScriptRun {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

//! The binary's log lines: plain text (no ANSI colour codes) when stderr is not a
//! terminal, e.g. a file or a journal; with `--log-format json`, one JSON object per
//! line.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Starts the binary with `extra` flags, stderr to a file, until it logs that it
/// listens (or 30 s pass); returns what it logged.
fn log_of_a_start(extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("warren.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_warren"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--management-listen",
            "off",
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .args(extra)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("warren starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if text.contains("listening for AMQP") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = child.kill();
    let _ = child.wait();
    text
}

#[test]
fn logs_to_a_file_carry_no_colour_codes() {
    let text = log_of_a_start(&[]);
    assert!(
        text.contains("listening for AMQP"),
        "the broker logs to stderr: {text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "no escape codes in a file: {text:?}"
    );
}

#[test]
fn json_logs_are_one_object_per_line() {
    let text = log_of_a_start(&["--log-format", "json"]);
    assert!(
        text.contains("listening for AMQP"),
        "the broker logs to stderr: {text}"
    );
    // Only whole lines: the broker may be writing the next one as the file is read.
    let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    for line in whole.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
    }
    assert!(!text.contains('\u{1b}'), "no escape codes: {text:?}");
}

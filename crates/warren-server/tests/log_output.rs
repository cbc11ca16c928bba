//! The binary's log lines: plain text (no ANSI colour codes) when stderr is not a
//! terminal, e.g. a file or a journal.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn logs_to_a_file_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("warren.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_warren"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
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
    assert!(
        text.contains("listening for AMQP"),
        "the broker logs to stderr: {text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "no escape codes in a file: {text:?}"
    );
}

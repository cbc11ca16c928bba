//! Piping generated source through `rustfmt` so the outputs pass `cargo fmt`.

use std::io::Write as _;
use std::process::{Command, Stdio};

/// Formats Rust source with `rustfmt --edition 2021` (or `$RUSTFMT`), as `cargo fmt` would.
pub fn rustfmt(source: &str) -> Result<String, String> {
    let program = std::env::var("RUSTFMT").unwrap_or_else(|_| "rustfmt".to_owned());
    let mut child = Command::new(&program)
        .args(["--edition", "2021"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = source.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child
        .wait_with_output()
        .map_err(|e| format!("{program} failed: {e}"))?;
    writer
        .join()
        .map_err(|_| "writer thread panicked".to_owned())?
        .map_err(|e| format!("writing to {program}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{program} rejected the generated code ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8(output.stdout).map_err(|e| format!("{program} printed non-UTF-8: {e}"))
}

//! `cargo run -p warren-codegen`: regenerates warren-protocol's `src/method.rs` and
//! `tests/method_roundtrip.rs` from the vendored spec XML.
//!
//! With `--check`, writes nothing and exits with status 1 if either file is stale.

use std::process::ExitCode;

use warren_codegen::{generate_all, Paths};

fn main() -> ExitCode {
    let check = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--check") => true,
        Some(other) => {
            eprintln!("usage: warren-codegen [--check]  (unknown argument {other:?})");
            return ExitCode::from(2);
        }
    };
    let outputs = match generate_all(&Paths::in_tree()) {
        Ok(outputs) => outputs,
        Err(e) => {
            eprintln!("warren-codegen: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stale = false;
    for (path, content) in outputs {
        let current = std::fs::read_to_string(&path).ok();
        if current.as_deref() == Some(content.as_str()) {
            println!("up to date: {}", path.display());
            continue;
        }
        if check {
            println!("stale: {}", path.display());
            stale = true;
        } else if let Err(e) = std::fs::write(&path, &content) {
            eprintln!("warren-codegen: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        } else {
            println!("wrote {}", path.display());
        }
    }
    if stale {
        eprintln!("regenerate with `{}`", warren_codegen::REGENERATE);
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

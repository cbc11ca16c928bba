//! deploy/systemd: the unit passes `systemd-analyze verify` (pointed at the binary this
//! build made, since the unit names /usr/local/bin/warren), and its sample config loads.

use std::path::Path;
use std::process::Command;

mod deploy_support;

use deploy_support::{print_config, WARREN};

fn deploy(file: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/systemd")
        .join(file)
}

#[test]
fn the_unit_passes_systemd_analyze_verify() {
    let unit = std::fs::read_to_string(deploy("warren.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/warren "));
    let dir = tempfile::tempdir().unwrap();
    let here = dir.path().join("warren.service");
    std::fs::write(&here, unit.replace("/usr/local/bin/warren", WARREN)).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&here)
        .output()
        .expect("systemd-analyze is installed (the brief's machines have it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify: {}\n{stderr}",
        out.status
    );
}

#[test]
fn the_sample_config_loads() {
    let printed = print_config(&deploy("warren.toml"));
    assert!(
        printed.contains("data_dir = \"/var/lib/warren\""),
        "{printed}"
    );
    assert!(
        printed.contains("prometheus = \"0.0.0.0:15692\""),
        "{printed}"
    );
}

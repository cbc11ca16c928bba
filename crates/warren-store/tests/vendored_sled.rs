//! The vendored sled (`vendor/sled-0.34.7`) is the published sled 0.34.7 plus exactly the
//! changes `vendor/README.md` documents: this test downloads the published crate with
//! cargo (into cargo's own cache), compares the two trees with `git diff --no-index`, and
//! fails if any file differs other than as recorded in `vendor/sled-0.34.7.patch`, or if
//! the set of files removed from the published package is not
//! `vendor/sled-0.34.7.removed`. Nothing may be added.
//!
//! After a deliberate change to the vendored copy, record it with
//! `WARREN_RECORD_VENDOR_DIFF=1 cargo test -p warren-store --test vendored_sled` and
//! describe it in `vendor/README.md`.

use std::path::{Path, PathBuf};
use std::process::Command;

const VERSION: &str = "0.34.7";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Fetches the published crate with cargo and returns its unpacked source directory.
fn published_sled() -> PathBuf {
    let probe = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        probe.path().join("Cargo.toml"),
        format!(
            "[package]\nname = \"sled-upstream-probe\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             publish = false\n[lib]\npath = \"lib.rs\"\n[dependencies]\nsled = \"={VERSION}\"\n\
             [workspace]\n"
        ),
    )
    .unwrap();
    std::fs::write(probe.path().join("lib.rs"), "").unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let fetch = Command::new(&cargo)
        .arg("fetch")
        .current_dir(probe.path())
        .output()
        .expect("run cargo fetch");
    assert!(
        fetch.status.success(),
        "cargo fetch of sled {VERSION} failed (the registry must be reachable): {}",
        String::from_utf8_lossy(&fetch.stderr)
    );
    let metadata = Command::new(&cargo)
        .args(["metadata", "--format-version", "1"])
        .current_dir(probe.path())
        .output()
        .expect("run cargo metadata");
    assert!(metadata.status.success(), "cargo metadata failed");
    let json: serde_json::Value = serde_json::from_slice(&metadata.stdout).unwrap();
    let manifest = json["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "sled" && p["version"] == VERSION)
        .and_then(|p| p["manifest_path"].as_str())
        .expect("sled in the probe's metadata");
    Path::new(manifest).parent().unwrap().to_path_buf()
}

/// `git diff --no-index` of the published tree against the vendored one, with both
/// trees' paths cut to paths inside the crate.
fn diff(published: &Path, args: &[&str]) -> String {
    let vendored = format!("vendor/sled-{VERSION}");
    let out = Command::new("git")
        .args([
            "-c",
            "core.quotepath=off",
            "diff",
            "--no-index",
            "--no-color",
        ])
        .args(args)
        .arg(published)
        .arg(&vendored)
        .current_dir(workspace_root())
        .output()
        .expect("run git diff");
    // 1 = the trees differ, 0 = they do not; anything else is an error.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "git diff failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let published = published.to_str().unwrap().trim_start_matches('/');
    String::from_utf8(out.stdout)
        .unwrap()
        .replace(&format!("{published}/"), "")
        .replace(&format!("{vendored}/"), "")
}

fn check_or_record(name: &str, actual: &str) {
    let path = workspace_root().join("vendor").join(name);
    if std::env::var_os("WARREN_RECORD_VENDOR_DIFF").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(
        expected == actual,
        "vendor/sled-{VERSION} drifted from the published crate plus {name}; the difference now is:\n{actual}"
    );
}

#[test]
fn vendored_sled_is_the_published_crate_plus_the_documented_changes() {
    let published = published_sled();
    let added = diff(&published, &["--diff-filter=A", "--name-status"]);
    assert!(
        added.is_empty(),
        "files added to the vendored sled: {added}"
    );
    check_or_record(
        &format!("sled-{VERSION}.removed"),
        &diff(&published, &["--diff-filter=D", "--name-status"]),
    );
    check_or_record(
        &format!("sled-{VERSION}.patch"),
        &diff(&published, &["--diff-filter=M"]),
    );
}

//! deploy/Dockerfile, checked on the host (no container engine runs here): the binaries
//! it builds exist, its environment is a valid configuration that listens where it
//! says, and its HEALTHCHECK command passes against a broker started with that
//! environment. Also .dockerignore keeps build output out of the build context.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod deploy_support;

use deploy_support::{answers_check, free_port, Running, WARREN};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Dockerfile with its line continuations joined.
fn instructions() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("deploy/Dockerfile")).unwrap();
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
        } else {
            current.push_str(line);
            out.push(std::mem::take(&mut current));
        }
    }
    out
}

/// The runtime stage's `ENV` settings.
fn env() -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for i in instructions().iter().filter_map(|i| i.strip_prefix("ENV ")) {
        for pair in i.split_whitespace() {
            let (k, v) = pair.split_once('=').expect("ENV key=value");
            vars.insert(k.to_owned(), v.to_owned());
        }
    }
    vars
}

#[test]
fn the_build_names_binaries_the_workspace_has_and_the_context_skips_output() {
    let run = instructions()
        .into_iter()
        .find(|i| i.contains("cargo build"))
        .expect("a cargo build step");
    assert!(
        run.contains("--release") && run.contains("--locked"),
        "{run}"
    );
    let manifests: String = [
        "crates/warren-server/Cargo.toml",
        "crates/warren-cli/Cargo.toml",
    ]
    .iter()
    .map(|m| std::fs::read_to_string(repo().join(m)).unwrap())
    .collect();
    let mut words = run.split_whitespace();
    while let Some(w) = words.next() {
        if w == "--bin" {
            let bin = words.next().unwrap();
            assert!(
                manifests.contains(&format!("name = \"{bin}\"")),
                "the Dockerfile builds {bin}, which no crate defines"
            );
        }
    }
    let ignore = std::fs::read_to_string(repo().join(".dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l.trim() == "target/"));
    let entry = instructions()
        .into_iter()
        .find(|i| i.starts_with("ENTRYPOINT"))
        .unwrap();
    assert_eq!(entry, r#"ENTRYPOINT ["/usr/local/bin/warren"]"#);
}

#[test]
fn the_image_environment_is_a_valid_configuration() {
    let out = Command::new(WARREN)
        .env_clear()
        .envs(env())
        .arg("--print-config")
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        r#"data_dir = "/var/lib/warren""#,
        r#"amqp = ["0.0.0.0:5672"]"#,
        r#"management = "0.0.0.0:15672""#,
        r#"prometheus = "0.0.0.0:15692""#,
        "loopback_users = []",
    ] {
        assert!(printed.contains(want), "{want} in:\n{printed}");
    }
}

#[test]
fn the_health_check_passes_against_a_broker_started_with_the_image_environment() {
    let healthcheck = instructions()
        .into_iter()
        .find(|i| i.starts_with("HEALTHCHECK"))
        .unwrap();
    assert!(
        healthcheck.ends_with(r#"CMD ["/usr/local/bin/warren", "--check"]"#),
        "{healthcheck}"
    );
    let dir = tempfile::tempdir().unwrap();
    let (amqp, http, prom) = (free_port(), free_port(), free_port());
    // The image's environment, with this host's free ports and a temporary volume.
    let mut vars = env();
    vars.insert("WARREN_DATA_DIR".into(), dir.path().display().to_string());
    vars.insert("WARREN_LISTENERS__AMQP".into(), format!("127.0.0.1:{amqp}"));
    vars.insert(
        "WARREN_LISTENERS__MANAGEMENT".into(),
        format!("127.0.0.1:{http}"),
    );
    vars.insert(
        "WARREN_LISTENERS__PROMETHEUS".into(),
        format!("127.0.0.1:{prom}"),
    );
    let mut broker = Running(
        Command::new(WARREN)
            .env_clear()
            .envs(&vars)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let passed = answers_check(&mut broker, || {
        let mut probe = Command::new(WARREN);
        probe.env_clear().envs(&vars).arg("--check");
        probe
    });
    assert!(passed, "the health check never passed");
}

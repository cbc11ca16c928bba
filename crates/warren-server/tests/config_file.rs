//! The configuration: `warren.toml` keys and their errors (key and line), the precedence
//! defaults < `WARREN_*` < file < flags, `load_definitions` files, the compact TOML
//! topology, `deploy/warren.toml` (equal to the defaults, so it cannot drift),
//! `--print-config` (reparses to the same configuration), and the real binary started
//! with a five-line topology file, checked with lapin.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use warren_server::config::{load, print, CliOverrides, ConfigError, LogFormat};
use warren_server::MemoryWatermark;

const WARREN: &str = env!("CARGO_BIN_EXE_warren");

const FIVE_LINES: &str = r#"
[[exchanges]]
name = "jobs"
type = "direct"

[[queues]]
name = "jobs.resize"
arguments = { "x-max-priority" = 5 }

[[bindings]]
source = "jobs"
destination = "jobs.resize"
routing_key = "resize"
"#;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    path
}

fn with_file(path: &Path) -> CliOverrides {
    CliOverrides {
        config: Some(path.to_owned()),
        ..CliOverrides::default()
    }
}

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

#[test]
fn an_unknown_key_names_the_key_and_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "w.toml",
        "data_dir = \"d\"\n\n[limits]\nchanel_max = 5\n",
    );
    let e = load(&with_file(&path), no_env()).unwrap_err().to_string();
    assert!(
        e.contains("w.toml:4: unknown key `limits.chanel_max` (expected one of `channel_max`, "),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "one line, for logs: {e}");
    let path = write(
        dir.path(),
        "top.toml",
        "[[queues]]\nname = \"q\"\ndurabel = true\n",
    );
    let e = load(&with_file(&path), no_env()).unwrap_err().to_string();
    assert!(
        e.contains("top.toml:3: unknown key `queues[0].durabel`"),
        "{e}"
    );
}

/// RabbitMQ's `loopback_users = none` and an empty list both hold no user to loopback;
/// a failed login's longest wait must stay below the handshake timeout it counts in.
#[test]
fn loopback_users_none_and_the_failed_login_delay_bound() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text, expected) in [
        ("n.toml", "loopback_users = \"none\"\n", vec![]),
        ("e.toml", "loopback_users = []\n", vec![]),
        (
            "o.toml",
            "loopback_users = \"ops\"\n",
            vec!["ops".to_owned()],
        ),
        ("d.toml", "", vec!["guest".to_owned()]),
    ] {
        let path = write(dir.path(), name, text);
        let l = load(&with_file(&path), no_env()).unwrap();
        assert_eq!(l.server.loopback_users, expected, "{text}");
    }
    let path = write(
        dir.path(),
        "w.toml",
        "[limits]\nhandshake_timeout_ms = 5000\nfailed_login_max_delay_ms = 5000\n",
    );
    let e = load(&with_file(&path), no_env()).unwrap_err().to_string();
    assert!(
        e.contains("limits.failed_login_max_delay_ms")
            && e.contains("below limits.handshake_timeout_ms (5000 ms)"),
        "{e}"
    );
    let path = write(
        dir.path(),
        "ok.toml",
        "[limits]\nfailed_login_delay_ms = 50\nfailed_login_max_delay_ms = 400\n\
         failed_login_reset_after_ms = 1000\nfailed_login_tracked_peers = 7\n\
         max_connections_per_ip = 3\n",
    );
    let l = load(&with_file(&path), no_env()).unwrap().server.limits;
    assert_eq!(
        (
            l.failed_login_delay,
            l.failed_login_max_delay,
            l.failed_login_reset_after,
            l.failed_login_tracked_peers,
            l.max_connections_per_ip
        ),
        (
            Duration::from_millis(50),
            Duration::from_millis(400),
            Duration::from_millis(1000),
            7,
            3
        )
    );
}

#[test]
fn a_bad_value_names_the_key_and_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "w.toml", "[limits]\nchannel_max = \"x\"\n");
    let e = load(&with_file(&path), no_env()).unwrap_err().to_string();
    assert!(
        e.contains("w.toml:2: `limits.channel_max`: invalid type: string \"x\""),
        "{e}"
    );
    let path = write(
        dir.path(),
        "w2.toml",
        "\n[limits]\nmemory_high_watermark = 2.0\n",
    );
    let e = load(&with_file(&path), no_env()).unwrap_err();
    assert!(matches!(e, ConfigError::Value { .. }));
    let e = e.to_string();
    assert!(
        e.contains("w2.toml:3") && e.contains("limits.memory_high_watermark"),
        "{e}"
    );
    let path = write(
        dir.path(),
        "w5.toml",
        "[limits]\nmemory_high_watermark = 1\n",
    );
    let e = load(&with_file(&path), no_env()).unwrap_err().to_string();
    assert!(
        e.contains("w5.toml:2: `limits.memory_high_watermark`: 1 bytes is below 1 MiB"),
        "{e}"
    );
    let path = write(
        dir.path(),
        "w3.toml",
        "[listeners]\namqp = [\"not-an-address\"]\n",
    );
    let e = load(&with_file(&path), no_env()).unwrap_err().to_string();
    assert!(
        e.contains("w3.toml:2") && e.contains("listeners.amqp"),
        "{e}"
    );
    let path = write(dir.path(), "w4.toml", "[log]\nformat = \"xml\"\n");
    let e = load(&with_file(&path), no_env()).unwrap_err().to_string();
    assert!(e.contains("log.format"), "{e}");
}

#[test]
fn defaults_then_environment_then_file_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "w.toml",
        "data_dir = \"from-file\"\n[limits]\nchannel_max = 7\nmemory_high_watermark = \"2GiB\"\n",
    );
    let env = vec![
        ("WARREN_DATA_DIR".to_owned(), "from-env".to_owned()),
        ("WARREN_LIMITS__CHANNEL_MAX".to_owned(), "9".to_owned()),
        ("WARREN_LIMITS__HEARTBEAT_SECS".to_owned(), "5".to_owned()),
        ("WARREN_LOG__FORMAT".to_owned(), "json".to_owned()),
    ];
    let l = load(&CliOverrides::default(), env.clone()).unwrap();
    assert_eq!(l.server.data_dir, PathBuf::from("from-env"));
    assert_eq!(l.server.limits.channel_max, 9);
    assert_eq!(l.log_format, LogFormat::Json);
    let l = load(&with_file(&path), env.clone()).unwrap();
    assert_eq!(
        l.server.data_dir,
        PathBuf::from("from-file"),
        "the file beats the environment"
    );
    assert_eq!(l.server.limits.channel_max, 7);
    assert_eq!(
        l.server.limits.heartbeat_secs, 5,
        "the environment beats the defaults"
    );
    assert_eq!(
        l.server.limits.memory_high_watermark,
        MemoryWatermark::Absolute(2 << 30)
    );
    let cli = CliOverrides {
        data_dir: Some("from-flag".into()),
        listen: vec!["127.0.0.1:1234".parse().unwrap()],
        ..with_file(&path)
    };
    let l = load(&cli, env).unwrap();
    assert_eq!(
        l.server.data_dir,
        PathBuf::from("from-flag"),
        "flags beat the file"
    );
    assert_eq!(l.server.listen, vec!["127.0.0.1:1234".parse().unwrap()]);
    let e = load(
        &CliOverrides::default(),
        vec![("WARREN_LIMITS__CHANNEL_MAX".to_owned(), "many".to_owned())],
    )
    .unwrap_err();
    assert!(e.to_string().contains("WARREN_LIMITS__CHANNEL_MAX"), "{e}");
}

#[test]
fn the_five_line_topology_gets_the_service_team_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "w.toml", FIVE_LINES);
    let d = load(&with_file(&path), no_env())
        .unwrap()
        .server
        .definitions;
    assert_eq!(d.exchanges[0].kind, "direct");
    assert!(d.exchanges[0].durable && d.queues[0].durable);
    assert_eq!(d.queues[0].vhost, "/");
    assert_eq!(d.queues[0].arguments["x-max-priority"], 5);
    assert_eq!(d.bindings[0].destination_type, "queue");
}

#[test]
fn definitions_files_load_in_order_relative_to_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("defs")).unwrap();
    write(
        dir.path(),
        "defs/a.json",
        r#"{"queues": [{"name": "from-a"}]}"#,
    );
    write(
        dir.path(),
        "defs/b.json",
        r#"{"queues": [{"name": "from-b"}]}"#,
    );
    let path = write(
        dir.path(),
        "w.toml",
        "load_definitions = [\"defs/a.json\", \"defs/b.json\"]\n[[queues]]\nname = \"inline\"\n",
    );
    let flag = write(
        dir.path(),
        "c.json",
        r#"{"queues": [{"name": "from-flag"}]}"#,
    );
    let cli = CliOverrides {
        load_definitions: vec![flag],
        ..with_file(&path)
    };
    let d = load(&cli, no_env()).unwrap().server.definitions;
    let names: Vec<_> = d.queues.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(names, ["from-a", "from-b", "from-flag", "inline"]);
    let single = write(dir.path(), "s.toml", "load_definitions = \"defs/a.json\"\n");
    assert_eq!(
        load(&with_file(&single), no_env())
            .unwrap()
            .server
            .definitions
            .queues
            .len(),
        1
    );
    write(
        dir.path(),
        "defs/bad.json",
        "{\n  \"queues\": [{\"name\": 1}]\n}",
    );
    let bad = write(
        dir.path(),
        "bad.toml",
        "load_definitions = \"defs/bad.json\"\n",
    );
    let e = load(&with_file(&bad), no_env()).unwrap_err().to_string();
    assert!(e.contains("bad.json") && e.contains("line 2"), "{e}");
}

#[test]
fn deploy_warren_toml_is_exactly_the_defaults_and_print_config_reparses() {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/warren.toml");
    let from_file = load(&with_file(&deploy), no_env()).unwrap();
    let defaults = load(&CliOverrides::default(), no_env()).unwrap();
    assert_eq!(print::to_toml(&from_file), print::to_toml(&defaults));
    let dir = tempfile::tempdir().unwrap();
    let custom = write(
        dir.path(),
        "w.toml",
        &format!("default_user = \"\"\n[limits]\nchannel_max = 3\nmemory_high_watermark = \"off\"\n{FIVE_LINES}"),
    );
    let first = load(&with_file(&custom), no_env()).unwrap();
    assert!(first.server.default_user.is_none());
    let printed = write(dir.path(), "printed.toml", &print::to_toml(&first));
    let again = load(&with_file(&printed), no_env()).unwrap();
    assert_eq!(print::to_toml(&again), print::to_toml(&first));
    assert_eq!(again.server.definitions, first.server.definitions);
}

#[test]
fn the_binary_explains_itself_and_refuses_a_bad_config_with_status_2() {
    let help = Command::new(WARREN).arg("--help").output().unwrap();
    let text = String::from_utf8(help.stdout).unwrap();
    assert!(
        text.lines()
            .next()
            .unwrap()
            .starts_with("Warren, a message broker"),
        "{text}"
    );
    assert!(
        text.contains("--config") && text.contains("config: data_dir"),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "bad.toml", "[limits]\nchanel_max = 1\n");
    let out = Command::new(WARREN)
        .arg("--config")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("warren: configuration error: ")
            && err.contains("bad.toml:2: unknown key `limits.chanel_max`"),
        "{err}"
    );
    let out = Command::new(WARREN).arg("--print-config").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout).unwrap().contains("[limits]"));
}

#[tokio::test]
async fn warren_started_with_a_five_line_file_has_its_topology() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "warren.toml", FIVE_LINES);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(WARREN)
        .arg("--config")
        .arg(&config)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--management-listen",
            "off",
            "--log-format",
            "json",
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let uri = format!("amqp://guest:guest@127.0.0.1:{port}/%2f");
    let deadline = Instant::now() + Duration::from_secs(30);
    let conn = loop {
        match lapin::Connection::connect(&uri, Default::default()).await {
            Ok(c) => break c,
            Err(e) if Instant::now() > deadline => panic!("warren did not come up: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let ch = conn.create_channel().await.unwrap();
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    ch.queue_declare("jobs.resize".into(), passive, FieldTable::default())
        .await
        .expect("declared from the config file");
    let _ = child.kill();
    let _ = child.wait();
}

/// Every `Limits` field's doc names its config key ("Config: `limits.x`"), and the
/// `[limits]` table has exactly those keys: a new limit without a key, or a key the docs
/// do not name, fails here.
#[test]
fn every_limit_documents_its_config_key() {
    let source = include_str!("../../warren-broker/src/limits.rs");
    let mut documented: Vec<&str> = source
        .split("`limits.")
        .skip(1)
        .filter_map(|rest| rest.split('`').next())
        .collect();
    documented.sort_unstable();
    documented.dedup();
    let printed: toml::Table = print::to_toml(&load(&CliOverrides::default(), no_env()).unwrap())
        .parse()
        .unwrap();
    let mut keys: Vec<&str> = printed["limits"]
        .as_table()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(documented, keys);
    let fields = source
        .split("pub struct Limits {")
        .nth(1)
        .and_then(|s| s.split("\n}").next())
        .unwrap();
    let field_count = fields.matches("\n    pub ").count();
    let config_lines = fields.matches("/// Config: `limits.").count();
    assert_eq!(field_count, config_lines, "one Config: line per field");
}

//! Passwords never reach the log. The real binary runs with `--log trace` (every
//! crate's every event, the management API's HTTP stack included) and JSON lines; the
//! test logs in with wrong and right passwords over PLAIN and AMQPLAIN, with wrong and
//! right basic auth over HTTP, creates a user through the management API with a
//! password, and logs in as that user. None of the passwords appears in the log, in
//! clear or as the base64 of an `Authorization` header, while the refusals are logged
//! with their user names.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Decoder;
use warren_protocol::frame::write_method;
use warren_protocol::method::connection as conn;
use warren_protocol::{FieldTable, FieldValue, Frame, FrameCodec, Method, PROTOCOL_HEADER};
use warren_testkit::http::Api;

const DEFAULT_PASS: &str = "DefaultPass-51f0c2e8";
const WRONG_PLAIN: &str = "WrongPlain-9d1e6b44";
const WRONG_AMQPLAIN: &str = "WrongAmqplain-33c7a0f1";
const WRONG_HTTP: &str = "WrongHttp-4e2a91d7";
const CAROL_PASS: &str = "CarolPass-77ab3c0e";
const WRONG_CAROL: &str = "WrongCarol-0b5f62aa";

struct Broker {
    child: Child,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn log_fields(text: &str) -> impl Iterator<Item = serde_json::Value> + '_ {
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| v["fields"].clone())
}

/// Starts the binary at trace level with JSON logs; returns it with its AMQP and
/// management addresses, read from its log.
fn start() -> (Broker, SocketAddr, SocketAddr) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("warren.log");
    let child = Command::new(env!("CARGO_BIN_EXE_warren"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--management-listen",
            "127.0.0.1:0",
            "--log",
            "trace",
            "--log-format",
            "json",
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .env("WARREN_DEFAULT_USER", "admin")
        .env("WARREN_DEFAULT_PASS", DEFAULT_PASS)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("warren starts");
    let broker = Broker {
        child,
        log,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&broker.log).unwrap_or_default();
        let mut amqp = None;
        let mut http = None;
        for f in log_fields(&text) {
            let message = f["message"].as_str().unwrap_or_default();
            let addr = f["addr"].as_str().unwrap_or_default();
            if message == "listening for AMQP 0-9-1" {
                amqp = addr.parse().ok();
            } else if message == "management API listening" {
                http = addr
                    .trim_start_matches("Some(")
                    .trim_end_matches(')')
                    .parse()
                    .ok();
            }
        }
        if let (Some(a), Some(h)) = (amqp, http) {
            return (broker, a, h);
        }
        assert!(
            Instant::now() < deadline,
            "the broker did not log its listeners: {text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn next_frame(s: &mut TcpStream, buf: &mut BytesMut) -> Option<Frame> {
    let mut codec = FrameCodec::default();
    loop {
        if let Ok(Some(frame)) = codec.decode(buf) {
            return Some(frame);
        }
        match s.read_buf(buf).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// An AMQPLAIN login; whether it reached `connection.tune`.
async fn amqplain(addr: SocketAddr, user: &str, password: &str) -> bool {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut buf = BytesMut::new();
    s.write_all(&PROTOCOL_HEADER).await.unwrap();
    next_frame(&mut s, &mut buf)
        .await
        .expect("connection.start");
    let mut t = FieldTable::new();
    t.insert("LOGIN", FieldValue::string(user));
    t.insert("PASSWORD", FieldValue::string(password));
    let mut response = BytesMut::new();
    warren_protocol::wire::put_table(&mut response, &t);
    let mut caps = FieldTable::new();
    caps.insert("authentication_failure_close", FieldValue::Bool(true));
    let mut props = FieldTable::new();
    props.insert("capabilities", FieldValue::Table(caps));
    let mut out = BytesMut::new();
    write_method(
        &mut out,
        0,
        &Method::from(conn::StartOk {
            client_properties: props,
            mechanism: "AMQPLAIN".into(),
            response: response[4..].to_vec().into(),
            locale: "en_US".into(),
        }),
    );
    s.write_all(&out).await.unwrap();
    matches!(
        next_frame(&mut s, &mut buf).await,
        Some(Frame::Method {
            method: Method::ConnectionTune(_),
            ..
        })
    )
}

async fn plain(addr: SocketAddr, user: &str, password: &str) -> bool {
    let uri = format!("amqp://{user}:{password}@{addr}/%2f");
    match lapin::Connection::connect(&uri, lapin::ConnectionProperties::default()).await {
        Ok(c) => {
            c.close(200, "bye".into()).await.unwrap();
            true
        }
        Err(_) => false,
    }
}

/// Standard base64 with padding, as an `Authorization: Basic` header carries it.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn base64_matches_the_known_vectors() {
    assert_eq!(base64(b"admin:guest"), "YWRtaW46Z3Vlc3Q=");
    assert_eq!(base64(b"ab"), "YWI=");
    assert_eq!(base64(b"abc"), "YWJj");
}

#[tokio::test]
async fn no_password_reaches_a_trace_level_log() {
    let (broker, amqp, http) = start();
    let base = format!("http://{http}");

    assert!(!plain(amqp, "admin", WRONG_PLAIN).await);
    assert!(plain(amqp, "admin", DEFAULT_PASS).await);
    assert!(!amqplain(amqp, "admin", WRONG_AMQPLAIN).await);
    assert!(amqplain(amqp, "admin", DEFAULT_PASS).await);

    let wrong = Api::new(&base, "admin", WRONG_HTTP)
        .get("/api/whoami")
        .await;
    assert_eq!(wrong.status, 401);
    let admin = Api::new(&base, "admin", DEFAULT_PASS);
    let created = admin
        .put(
            "/api/users/carol",
            &format!(r#"{{"password":"{CAROL_PASS}","tags":"management"}}"#),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let perm = admin
        .put(
            "/api/permissions/%2f/carol",
            r#"{"configure":".*","write":".*","read":".*"}"#,
        )
        .await;
    assert!(perm.status < 300, "{}", perm.body);
    assert_eq!(
        Api::new(&base, "carol", CAROL_PASS)
            .get("/api/whoami")
            .await
            .status,
        200
    );
    assert!(plain(amqp, "carol", CAROL_PASS).await);
    assert!(!plain(amqp, "carol", WRONG_CAROL).await);

    // The refusals are answered after the failed-login delay; give the log a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = std::fs::read_to_string(&broker.log).unwrap();
    assert!(
        text.contains(r#""level":"TRACE""#),
        "trace-level events are logged (else this test proves little)"
    );
    for refusal in [
        "PLAIN login refused: user 'admin' - invalid credentials (wrong password)",
        "AMQPLAIN login refused: user 'admin' - invalid credentials (wrong password)",
        "PLAIN login refused: user 'carol' - invalid credentials (wrong password)",
        "HTTP access denied: user 'admin' - invalid credentials",
    ] {
        assert!(text.contains(refusal), "the log has {refusal:?}");
    }
    let b64 = |s: &str| base64(s.as_bytes());
    for secret in [
        DEFAULT_PASS,
        WRONG_PLAIN,
        WRONG_AMQPLAIN,
        WRONG_HTTP,
        CAROL_PASS,
        WRONG_CAROL,
    ] {
        for shown in [
            secret.to_owned(),
            b64(&format!("admin:{secret}")),
            b64(&format!("carol:{secret}")),
        ] {
            if let Some(at) = text.find(&shown) {
                let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
                let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
                panic!(
                    "{shown:?} is in the log ({} bytes): {}",
                    text.len(),
                    &text[line_start..line_end]
                );
            }
        }
    }
}

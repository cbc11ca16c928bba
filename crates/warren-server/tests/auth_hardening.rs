//! Login hardening end to end: the per-address back-off of failed logins, one refusal
//! for every wrong user or password (both mechanisms, as RabbitMQ 3.10 answers:
//! docs/authentication.md), `loopback_users` from a non-loopback address (over the
//! in-memory connect, which takes any peer address), and the per-address connection
//! limit at accept.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Decoder;
use warren_protocol::frame::write_method;
use warren_protocol::method::connection as conn;
use warren_protocol::{FieldTable, FieldValue, Frame, FrameCodec, Method, PROTOCOL_HEADER};
use warren_server::{RunningServer, Server, ServerConfig};

const REFUSED_PLAIN: &str = "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.";
const REFUSED_AMQPLAIN: &str = "ACCESS_REFUSED - Login was refused using authentication mechanism AMQPLAIN. For details see the broker logfile.";

/// How a login attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    /// `connection.close`: code, text, class id, method id.
    Refused(u16, String, u16, u16),
    /// `connection.tune`: the login was accepted.
    Tuned,
    /// The socket closed without an answer.
    Closed,
}

async fn next_frame<S: AsyncRead + Unpin>(s: &mut S, buf: &mut BytesMut) -> Option<Frame> {
    let mut codec = FrameCodec::default();
    loop {
        match codec.decode(buf) {
            Ok(Some(Frame::Heartbeat)) => continue,
            Ok(Some(frame)) => return Some(frame),
            Ok(None) => {}
            Err(_) => return None,
        }
        match s.read_buf(buf).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

async fn send<S: AsyncWrite + Unpin>(s: &mut S, method: impl Into<Method>) {
    let mut buf = BytesMut::new();
    write_method(&mut buf, 0, &method.into());
    s.write_all(&buf).await.expect("write");
}

fn plain(user: &str, password: &str) -> (&'static str, Vec<u8>) {
    ("PLAIN", format!("\0{user}\0{password}").into_bytes())
}

fn amqplain(user: &str, password: &str) -> (&'static str, Vec<u8>) {
    let mut t = FieldTable::new();
    t.insert("LOGIN", FieldValue::string(user));
    t.insert("PASSWORD", FieldValue::string(password));
    let mut buf = BytesMut::new();
    warren_protocol::wire::put_table(&mut buf, &t);
    ("AMQPLAIN", buf[4..].to_vec())
}

/// Sends the header and `start-ok` (announcing `authentication_failure_close`), and
/// returns the server's answer with the time it took from `start-ok`.
async fn attempt<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    (mechanism, response): (&str, Vec<u8>),
) -> (Answer, Duration) {
    let mut buf = BytesMut::new();
    s.write_all(&PROTOCOL_HEADER).await.expect("header");
    match next_frame(&mut s, &mut buf).await {
        Some(Frame::Method {
            method: Method::ConnectionStart(_),
            ..
        }) => {}
        other => panic!("expected connection.start, got {other:?}"),
    }
    let mut caps = FieldTable::new();
    caps.insert("authentication_failure_close", FieldValue::Bool(true));
    let mut props = FieldTable::new();
    props.insert("capabilities", FieldValue::Table(caps));
    send(
        &mut s,
        conn::StartOk {
            client_properties: props,
            mechanism: mechanism.into(),
            response: response.into(),
            locale: "en_US".into(),
        },
    )
    .await;
    let sent = Instant::now();
    let answer = match next_frame(&mut s, &mut buf).await {
        Some(Frame::Method {
            method: Method::ConnectionClose(c),
            ..
        }) => {
            send(&mut s, conn::CloseOk {}).await;
            Answer::Refused(
                c.reply_code,
                c.reply_text.to_string(),
                c.class_id,
                c.method_id,
            )
        }
        Some(Frame::Method {
            method: Method::ConnectionTune(_),
            ..
        }) => Answer::Tuned,
        None => Answer::Closed,
        Some(other) => panic!("unexpected {other:?}"),
    };
    (answer, sent.elapsed())
}

fn refused_plain() -> Answer {
    Answer::Refused(403, REFUSED_PLAIN.into(), 0, 0)
}

async fn start(configure: impl FnOnce(&mut ServerConfig)) -> (RunningServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        management_listen: None,
        data_dir: dir.path().to_path_buf(),
        ..ServerConfig::default()
    };
    configure(&mut config);
    (Server::start(config).await.expect("server starts"), dir)
}

fn peer(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[tokio::test]
async fn failed_logins_back_off_per_address_and_start_over_after_a_success() {
    let (server, _dir) = start(|c| {
        c.limits.failed_login_delay = Duration::from_millis(200);
        c.limits.failed_login_max_delay = Duration::from_millis(800);
    })
    .await;
    let addr = server.addrs[0];
    let tcp = || async { TcpStream::connect(addr).await.unwrap() };

    // From 127.0.0.1: 200, 400, 800, then 800 ms (the cap).
    let mut waits = Vec::new();
    for expected in [200, 400, 800, 800] {
        let (answer, took) = attempt(tcp().await, plain("guest", "wrong")).await;
        assert_eq!(answer, refused_plain());
        assert!(
            took >= Duration::from_millis(expected),
            "failure {} answered after {took:?}, before its {expected} ms",
            waits.len() + 1
        );
        waits.push(took);
    }
    assert!(
        waits[3] < Duration::from_millis(1600),
        "the cap holds: {waits:?}"
    );

    // Another address is not slowed by 127.0.0.1's failures.
    let (answer, took) = attempt(
        server.connect_in_memory(peer("10.1.2.3:4000")),
        plain("nobody", "guest"),
    )
    .await;
    assert_eq!(answer, refused_plain());
    assert!(
        (Duration::from_millis(200)..Duration::from_millis(800)).contains(&took),
        "{took:?}"
    );

    // A successful login from 127.0.0.1 is not delayed, and starts it over.
    let (answer, took) = attempt(tcp().await, plain("guest", "guest")).await;
    assert_eq!(answer, Answer::Tuned);
    assert!(took < Duration::from_millis(200), "{took:?}");
    let (answer, took) = attempt(tcp().await, plain("guest", "wrong")).await;
    assert_eq!(answer, refused_plain());
    assert!(
        (Duration::from_millis(200)..Duration::from_millis(800)).contains(&took),
        "started over: {took:?}"
    );
    server.stop().await;
}

/// RabbitMQ 3.10 answers all four with the same 403 and class/method 0/0 (measured,
/// docs/authentication.md); only its log says which user and why.
#[tokio::test]
async fn a_wrong_user_or_password_gets_the_same_refusal_with_either_mechanism() {
    let (server, _dir) = start(|c| c.limits.failed_login_delay = Duration::ZERO).await;
    let local = peer("127.0.0.1:5000");
    for (login, text) in [
        (plain("guest", "wrong"), REFUSED_PLAIN),
        (plain("nosuchuser", "guest"), REFUSED_PLAIN),
        (amqplain("guest", "wrong"), REFUSED_AMQPLAIN),
        (amqplain("nosuchuser", "guest"), REFUSED_AMQPLAIN),
    ] {
        let (answer, _) = attempt(server.connect_in_memory(local), login).await;
        assert_eq!(answer, Answer::Refused(403, text.into(), 0, 0));
    }
    let (answer, _) = attempt(server.connect_in_memory(local), amqplain("guest", "guest")).await;
    assert_eq!(answer, Answer::Tuned);
    server.stop().await;
}

/// guest (in `loopback_users` by default) from a non-loopback address gets the same 403
/// as a wrong password, after the same delay; from IPv4 or IPv6 loopback (also as an
/// IPv4-mapped IPv6 address, how a dual-stack listener sees 127.0.0.1) it logs in.
/// With `loopback_users` empty (RabbitMQ's `loopback_users = none`) it logs in from
/// anywhere.
#[tokio::test]
async fn loopback_users_are_refused_from_elsewhere_like_a_wrong_password() {
    let (server, _dir) = start(|c| c.limits.failed_login_delay = Duration::from_millis(150)).await;
    let (answer, took) = attempt(
        server.connect_in_memory(peer("10.1.2.3:4000")),
        plain("guest", "guest"),
    )
    .await;
    assert_eq!(answer, refused_plain());
    assert!(
        took >= Duration::from_millis(150),
        "delayed as a failure: {took:?}"
    );
    for from in ["127.0.0.1:4000", "[::1]:4000", "[::ffff:127.0.0.1]:4000"] {
        let (answer, _) = attempt(
            server.connect_in_memory(peer(from)),
            plain("guest", "guest"),
        )
        .await;
        assert_eq!(answer, Answer::Tuned, "from {from}");
    }
    server.stop().await;

    let (server, _dir) = start(|c| c.loopback_users.clear()).await;
    let (answer, _) = attempt(
        server.connect_in_memory(peer("10.1.2.3:4000")),
        plain("guest", "guest"),
    )
    .await;
    assert_eq!(answer, Answer::Tuned);
    server.stop().await;
}

/// With `max_connections_per_ip = 2`, a third socket from 127.0.0.1 is closed at accept
/// (lapin reports the connection as closed by the server); when one of the two closes,
/// the address may connect again.
#[tokio::test]
async fn connections_per_address_are_capped_at_accept() {
    let (server, _dir) = start(|c| c.limits.max_connections_per_ip = 2).await;
    let addr = server.addrs[0];
    let first = TcpStream::connect(addr).await.unwrap();
    let mut second = TcpStream::connect(addr).await.unwrap();
    // Both are being served: each answers the header with connection.start.
    second.write_all(&PROTOCOL_HEADER).await.unwrap();
    let mut buf = BytesMut::new();
    assert!(matches!(
        next_frame(&mut second, &mut buf).await,
        Some(Frame::Method {
            method: Method::ConnectionStart(_),
            ..
        })
    ));

    let mut third = TcpStream::connect(addr).await.unwrap();
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(5), third.read(&mut byte))
        .await
        .expect("the third socket is closed at once, not left waiting");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "closed without a byte: {read:?}"
    );
    let uri = format!("amqp://guest:guest@{addr}/%2f");
    let refused =
        match lapin::Connection::connect(&uri, lapin::ConnectionProperties::default()).await {
            Ok(_) => panic!("a client over the limit is refused"),
            Err(e) => e,
        };
    println!("lapin over max_connections_per_ip: {refused}");

    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    let conn = loop {
        match lapin::Connection::connect(&uri, lapin::ConnectionProperties::default()).await {
            Ok(c) => break c,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("a freed slot lets the address connect again: {e}"),
        }
    };
    conn.close(200, "bye".into()).await.unwrap();
    drop(second);
    server.stop().await;
}

/// The management API's failed logins count with AMQP's, per address: two wrong HTTP
/// passwords wait 200 and 400 ms, the AMQP failure after them 800 ms; a right HTTP login
/// starts the address over.
#[tokio::test]
async fn management_api_logins_share_the_back_off() {
    let (server, _dir) = start(|c| {
        c.management_listen = Some("127.0.0.1:0".parse().unwrap());
        c.limits.failed_login_delay = Duration::from_millis(200);
        c.limits.failed_login_max_delay = Duration::from_millis(1600);
    })
    .await;
    let base = format!("http://{}", server.management_addr.unwrap());
    let wrong = warren_testkit::http::Api::new(&base, "guest", "wrong");
    for expected in [200, 400] {
        let sent = Instant::now();
        assert_eq!(wrong.get("/api/whoami").await.status, 401);
        let took = sent.elapsed();
        assert!(took >= Duration::from_millis(expected), "{took:?}");
    }
    let addr = server.addrs[0];
    let (answer, took) = attempt(
        TcpStream::connect(addr).await.unwrap(),
        plain("guest", "wrong"),
    )
    .await;
    assert_eq!(answer, refused_plain());
    assert!(took >= Duration::from_millis(800), "{took:?}");

    let right = warren_testkit::http::Api::new(&base, "guest", "guest");
    let sent = Instant::now();
    assert_eq!(right.get("/api/whoami").await.status, 200);
    assert!(sent.elapsed() < Duration::from_millis(200));
    let sent = Instant::now();
    assert_eq!(wrong.get("/api/whoami").await.status, 401);
    let took = sent.elapsed();
    assert!(
        (Duration::from_millis(200)..Duration::from_millis(800)).contains(&took),
        "started over: {took:?}"
    );
    server.stop().await;
}

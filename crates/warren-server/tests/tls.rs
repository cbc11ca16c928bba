//! TLS: the `amqps` listener with lapin over rustls, client-certificate verification,
//! EXTERNAL login as the certificate's CN, a plain client on the TLS port, the
//! management API over HTTPS, and the binary reloading its certificates on SIGHUP while
//! a connection stays open. Every certificate is generated here (rcgen).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use lapin::options::{BasicGetOptions, BasicPublishOptions, QueueDeclareOptions};
use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use warren_broker::access::User;
use warren_broker::definitions::PermissionDef;
use warren_server::config::{CertLoginFrom, TlsSettings};
use warren_server::{RunningServer, Server, ServerConfig};

const WARREN: &str = env!("CARGO_BIN_EXE_warren");

/// A CA and what it signs, as PEM.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key, as PEM.
struct Leaf {
    cert: String,
    key: String,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        Ca {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    fn sign(&self, mut params: CertificateParams, cn: &str) -> Leaf {
        params.distinguished_name.push(DnType::CommonName, cn);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    /// A server certificate for localhost and 127.0.0.1.
    fn server(&self) -> Leaf {
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params, "localhost")
    }

    /// A client certificate whose CN is `cn`.
    fn client(&self, cn: &str) -> Leaf {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params, cn)
    }
}

/// Polls `check` every 100 ms until it gives something or `timeout` passes.
async fn poll_some<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Writes the CA and a server certificate into `dir` and returns the `[tls]` settings
/// naming them.
fn settings(dir: &Path, ca: &Ca, verify_peer: bool, fail_if_no_peer_cert: bool) -> TlsSettings {
    let server = ca.server();
    TlsSettings {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        management_listen: Some("127.0.0.1:0".parse().unwrap()),
        cert_file: Some(write(dir, "server.pem", &server.cert)),
        key_file: Some(write(dir, "server.key", &server.key)),
        ca_file: Some(write(dir, "ca.pem", &ca.pem())),
        verify_peer,
        fail_if_no_peer_cert,
        cert_login_from: CertLoginFrom::CommonName,
    }
}

async fn start(dir: &Path, tls: TlsSettings) -> RunningServer {
    let config = ServerConfig {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        management_listen: None,
        data_dir: dir.join("data"),
        tls,
        ..ServerConfig::default()
    };
    Server::start(config).await.expect("warren starts with TLS")
}

fn client_tls(ca: &Ca, identity: Option<&Leaf>) -> OwnedTLSConfig {
    OwnedTLSConfig {
        identity: identity.map(|leaf| OwnedIdentity::PKCS8 {
            pem: leaf.cert.clone().into_bytes(),
            key: leaf.key.clone().into_bytes(),
        }),
        cert_chain: Some(ca.pem()),
    }
}

async fn connect(uri: &str, tls: OwnedTLSConfig) -> lapin::Result<Connection> {
    let runtime = lapin::runtime::default_runtime()?;
    let connect =
        Connection::connect_with_config(uri, ConnectionProperties::default(), tls, runtime);
    match tokio::time::timeout(Duration::from_secs(20), connect).await {
        Ok(result) => result,
        Err(_) => panic!("connecting to {uri} timed out"),
    }
}

fn amqps(addr: SocketAddr, userinfo: &str, query: &str) -> String {
    format!("amqps://{userinfo}localhost:{}/%2f{query}", addr.port())
}

/// Declares a queue, publishes to it and gets the message back on `conn`.
async fn round_trip(conn: &Connection, queue: &str) {
    let ch = conn.create_channel().await.unwrap();
    ch.queue_declare(
        queue.into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.basic_publish(
        "".into(),
        queue.into(),
        BasicPublishOptions::default(),
        b"over tls",
        BasicProperties::default(),
    )
    .await
    .unwrap();
    let got = poll_some(Duration::from_secs(5), || {
        let ch = ch.clone();
        let queue = queue.to_owned();
        async move {
            ch.basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
                .await
                .unwrap()
        }
    })
    .await;
    assert_eq!(
        got.expect("the message comes back").delivery.data,
        b"over tls"
    );
    // Closed here: a dropped lapin channel closes in the background, which would race
    // the connection's close.
    ch.close(200, "done".into()).await.unwrap();
}

#[tokio::test]
async fn lapin_over_tls_round_trips_and_a_client_trusting_another_ca_refuses_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("Warren test CA");
    let server = start(dir.path(), settings(dir.path(), &ca, false, false)).await;
    let addr = server.tls_addrs[0];

    let conn = connect(&amqps(addr, "guest:guest@", ""), client_tls(&ca, None))
        .await
        .expect("lapin connects over TLS with the test CA");
    round_trip(&conn, "tls.q").await;

    let other = Ca::new("Another CA");
    let refused = connect(&amqps(addr, "guest:guest@", ""), client_tls(&other, None)).await;
    assert!(
        refused.is_err(),
        "a client trusting another CA must refuse the server"
    );

    // The plain listener is unaffected.
    let plain = Connection::connect(
        &format!("amqp://guest:guest@{}/%2f", server.addrs[0]),
        ConnectionProperties::default(),
    )
    .await
    .expect("plain AMQP still works");
    round_trip(&plain, "plain.q").await;
    conn.close(200, "bye".into()).await.unwrap();
    plain.close(200, "bye".into()).await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn external_logs_in_as_the_certificates_cn_and_refuses_unknown_users() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("Warren test CA");
    let server = start(dir.path(), settings(dir.path(), &ca, true, false)).await;
    let addr = server.tls_addrs[0];
    let broker = server.broker.clone();
    broker
        .put_user(User {
            name: "alice".into(),
            password: None,
            tags: vec![],
            limits: Default::default(),
        })
        .unwrap()
        .committed()
        .await
        .unwrap();
    broker
        .set_permissions(&PermissionDef {
            user: "alice".into(),
            vhost: "/".into(),
            configure: ".*".into(),
            write: ".*".into(),
            read: ".*".into(),
        })
        .unwrap()
        .committed()
        .await
        .unwrap();
    let external = "?auth_mechanism=external";

    let alice = ca.client("alice");
    let conn = connect(&amqps(addr, "", external), client_tls(&ca, Some(&alice)))
        .await
        .expect("EXTERNAL logs in as CN=alice, who has no password");
    round_trip(&conn, "alice.q").await;
    let names: Vec<_> = broker
        .connections()
        .list()
        .iter()
        .map(|c| (c.info.user.clone(), c.info.details.auth_mechanism.clone()))
        .collect();
    assert!(
        names.contains(&("alice".to_owned(), "EXTERNAL".to_owned())),
        "{names:?}"
    );
    let entry = broker
        .connections()
        .list()
        .into_iter()
        .find(|c| c.info.user == "alice")
        .unwrap();
    let tls = entry
        .info
        .details
        .tls
        .clone()
        .expect("an amqps connection has TLS details");
    assert_eq!(tls.protocol, "tlsv1.3");
    assert!(tls.cipher.starts_with("TLS13_"), "{tls:?}");
    assert_eq!(tls.peer_cert_subject.as_deref(), Some("CN=alice"));
    assert_eq!(tls.peer_cert_issuer.as_deref(), Some("CN=Warren test CA"));

    let mallory = ca.client("mallory");
    let refused = connect(&amqps(addr, "", external), client_tls(&ca, Some(&mallory))).await;
    assert!(refused.is_err(), "CN=mallory names no user: refused");

    // No certificate: PLAIN still works (fail_if_no_peer_cert is off), EXTERNAL does not.
    let plain = connect(&amqps(addr, "guest:guest@", ""), client_tls(&ca, None))
        .await
        .expect("PLAIN without a client certificate");
    let no_cert = connect(&amqps(addr, "", external), client_tls(&ca, None)).await;
    assert!(
        no_cert.is_err(),
        "EXTERNAL without a certificate is refused"
    );

    // A certificate from a CA the server does not trust fails the TLS handshake.
    let stranger = Ca::new("Another CA").client("alice");
    let untrusted = connect(&amqps(addr, "", external), client_tls(&ca, Some(&stranger))).await;
    assert!(untrusted.is_err(), "a client certificate from another CA");

    conn.close(200, "bye".into()).await.unwrap();
    plain.close(200, "bye".into()).await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn fail_if_no_peer_cert_refuses_clients_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("Warren test CA");
    let server = start(dir.path(), settings(dir.path(), &ca, true, true)).await;
    let addr = server.tls_addrs[0];
    let refused = connect(&amqps(addr, "guest:guest@", ""), client_tls(&ca, None)).await;
    assert!(refused.is_err(), "no client certificate: refused");
    let guest = ca.client("guest");
    let conn = connect(
        &amqps(addr, "guest:guest@", ""),
        client_tls(&ca, Some(&guest)),
    )
    .await
    .expect("with a certificate, PLAIN logs in");
    conn.close(200, "bye".into()).await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn a_plain_amqp_client_on_the_tls_port_is_closed_and_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("Warren test CA");
    let server = start(dir.path(), settings(dir.path(), &ca, false, false)).await;
    let addr = server.tls_addrs[0];
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain.write_all(b"AMQP\x00\x00\x09\x01").await.unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut got)).await;
    assert!(
        matches!(read, Ok(Ok(_)) | Ok(Err(_))),
        "the broker closes the socket (got {got:?} before the close)"
    );
    assert!(
        !got.starts_with(b"AMQP"),
        "no AMQP on the TLS port: {got:?}"
    );
    let conn = connect(&amqps(addr, "guest:guest@", ""), client_tls(&ca, None))
        .await
        .expect("the TLS port still serves TLS clients");
    round_trip(&conn, "after.plain").await;
    conn.close(200, "bye".into()).await.unwrap();
    server.stop().await;
}

/// GET `path` over HTTPS trusting `ca`, as guest; the whole response.
async fn https_get(addr: SocketAddr, ca: &Ca, path: &str) -> std::io::Result<String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca.pem().as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic Z3Vlc3Q6Z3Vlc3Q=\r\nConnection: close\r\n\r\n"
    );
    tls.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    // The server may end without close_notify once it sent the response.
    let _ = tls.read_to_end(&mut response).await;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

#[tokio::test]
async fn the_management_api_answers_over_https_and_lists_the_tls_listeners() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("Warren test CA");
    let server = start(dir.path(), settings(dir.path(), &ca, false, false)).await;
    let https = server.management_tls_addr.expect("HTTPS management is on");
    let response = https_get(https, &ca, "/api/overview").await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"amqp/ssl\""), "{response}");
    assert!(response.contains("\"https\""), "{response}");
    // An amqps connection is listed with its TLS session, as RabbitMQ lists it.
    let conn = connect(
        &amqps(server.tls_addrs[0], "guest:guest@", ""),
        client_tls(&ca, None),
    )
    .await
    .unwrap();
    let listed = https_get(https, &ca, "/api/connections").await.unwrap();
    assert!(listed.contains("\"ssl\":true"), "{listed}");
    assert!(listed.contains("\"ssl_protocol\":\"tlsv1.3\""), "{listed}");
    conn.close(200, "bye".into()).await.unwrap();
    let other = Ca::new("Another CA");
    assert!(
        https_get(https, &other, "/api/overview").await.is_err(),
        "a client trusting another CA refuses the HTTPS server"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_bad_certificate_file_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("Warren test CA");
    let mut tls = settings(dir.path(), &ca, false, false);
    tls.cert_file = Some(write(dir.path(), "garbage.pem", "not a certificate\n"));
    let config = ServerConfig {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        management_listen: None,
        data_dir: dir.path().join("data"),
        tls: tls.clone(),
        ..ServerConfig::default()
    };
    let err = Server::start(config.clone()).await.err().expect("refused");
    let text = err.to_string();
    assert!(
        text.contains("tls.cert_file") && text.contains("garbage.pem"),
        "{text}"
    );
    let mut missing = config;
    missing.tls.cert_file = Some(dir.path().join("server.pem"));
    missing.tls.key_file = Some(dir.path().join("nope.key"));
    let text = Server::start(missing)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        text.contains("tls.key_file") && text.contains("nope.key"),
        "{text}"
    );
}

/// The binary, stopped on drop.
struct Binary(Child);

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn sighup_reloads_certificates_for_new_connections_and_keeps_open_ones() {
    let dir = tempfile::tempdir().unwrap();
    let first = Ca::new("First CA");
    let tls = settings(dir.path(), &first, false, false);
    let port = free_port();
    let config = write(
        dir.path(),
        "warren.toml",
        &format!(
            "data_dir = \"data\"\n[listeners]\namqp = [\"127.0.0.1:{}\"]\nmanagement = \"off\"\n\
             [tls]\nlisten = [\"127.0.0.1:{port}\"]\ncert_file = \"server.pem\"\nkey_file = \"server.key\"\n",
            free_port()
        ),
    );
    drop(tls);
    let log = std::fs::File::create(dir.path().join("warren.log")).unwrap();
    let child = Command::new(WARREN)
        .arg("--config")
        .arg(&config)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut broker = Binary(child);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let uri = amqps(addr, "guest:guest@", "");
    let open = poll_some(Duration::from_secs(30), || {
        let uri = uri.clone();
        let tls = client_tls(&first, None);
        async move { connect(&uri, tls).await.ok() }
    })
    .await
    .expect("the binary serves amqps");

    // New certificates from another CA; SIGHUP.
    let second = Ca::new("Second CA");
    let server2 = second.server();
    write(dir.path(), "server.pem", &server2.cert);
    write(dir.path(), "server.key", &server2.key);
    signal(&broker.0, "HUP");
    let fresh = poll_some(Duration::from_secs(10), || {
        let uri = uri.clone();
        let tls = client_tls(&second, None);
        async move { connect(&uri, tls).await.ok() }
    })
    .await
    .expect("a new connection gets the reloaded certificate");
    assert!(
        connect(&uri, client_tls(&first, None)).await.is_err(),
        "the old certificate is no longer served"
    );
    // The connection opened before the reload is still up and working.
    round_trip(&open, "before.reload").await;

    // A broken file on reload: logged, the current certificate stays.
    write(
        dir.path(),
        "server.pem",
        "-----BEGIN CERTIFICATE-----\nbroken\n",
    );
    signal(&broker.0, "HUP");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let still = connect(&uri, client_tls(&second, None))
        .await
        .expect("a bad reload keeps the previous certificate");
    assert!(
        broker.0.try_wait().unwrap().is_none(),
        "SIGHUP does not stop warren"
    );
    let log = std::fs::read_to_string(dir.path().join("warren.log")).unwrap();
    assert!(log.contains("TLS certificates reloaded"), "{log}");
    assert!(
        log.contains("TLS reload failed") && log.contains("server.pem"),
        "{log}"
    );

    for conn in [open, fresh, still] {
        conn.close(200, "bye".into()).await.unwrap();
    }
    // SIGTERM still shuts down gracefully.
    signal(&broker.0, "TERM");
    let status = poll_some(Duration::from_secs(10), || {
        let exited = broker.0.try_wait().unwrap();
        async move { exited }
    })
    .await
    .expect("warren exits on SIGTERM");
    assert!(status.success(), "{status}");
}

//! Shared harness for the end-to-end tests: a real Warren server on an ephemeral port
//! with a temporary data directory, and helpers to connect lapin clients to it.
#![allow(dead_code)] // each test binary uses a different subset

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lapin::{Channel, Connection, ConnectionProperties};

pub mod raw;
use warren_server::{RunningServer, Server, ServerConfig};

/// A broker running in-process for one test.
pub struct TestBroker {
    /// Where it listens.
    pub addr: SocketAddr,
    server: Option<RunningServer>,
    dir: tempfile::TempDir,
    config: ServerConfig,
}

impl TestBroker {
    /// Starts a broker with the default configuration.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts a broker after `configure` adjusts its configuration.
    pub async fn start_with(configure: impl FnOnce(&mut ServerConfig)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = ServerConfig {
            listen: vec!["127.0.0.1:0".parse().unwrap()],
            data_dir: dir.path().to_path_buf(),
            ..ServerConfig::default()
        };
        configure(&mut config);
        let server = Server::start(config.clone()).await.expect("server starts");
        TestBroker {
            addr: server.addrs[0],
            server: Some(server),
            dir,
            config,
        }
    }

    /// The AMQP URI for guest on the default vhost.
    pub fn uri(&self) -> String {
        format!("amqp://guest:guest@{}/%2f", self.addr)
    }

    /// A lapin connection to the broker.
    pub async fn connect(&self) -> Connection {
        Connection::connect(&self.uri(), ConnectionProperties::default())
            .await
            .expect("lapin connects")
    }

    /// A connection and one open channel.
    pub async fn channel(&self) -> (Connection, Channel) {
        let conn = self.connect().await;
        let ch = conn.create_channel().await.expect("channel opens");
        (conn, ch)
    }

    /// The broker's data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The broker model, for assertions on server-side state.
    pub fn broker(&self) -> std::sync::Arc<warren_broker::Broker> {
        self.server.as_ref().expect("running").broker.clone()
    }

    /// The memory alarm; start the broker with `memory_high_watermark_bytes = 0` to
    /// drive it by hand.
    pub fn memory_alarm(&self) -> std::sync::Arc<warren_server::memory::MemoryAlarm> {
        self.server.as_ref().expect("running").memory.clone()
    }

    /// Stops the server gracefully and starts a new one on the same data directory and
    /// configuration (on a fresh port: read `addr` again). The new server's store must
    /// get the directory's lock, so this waits (up to 10 s) for the old one to let go.
    pub async fn restart(&mut self) {
        self.stop_server().await;
        self.start_again().await;
    }

    /// Stops the server gracefully, keeping its data directory for [`Self::start_again`].
    pub async fn stop_server(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
    }

    /// Starts a server on the data directory of the one [`Self::stop_server`] stopped.
    pub async fn start_again(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let server = loop {
            match Server::start(self.config.clone()).await {
                Ok(s) => break s,
                Err(e) if Instant::now() < deadline && e.to_string().contains("locked") => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("server restarts: {e}"),
            }
        };
        self.addr = server.addrs[0];
        self.server = Some(server);
    }

    /// Shuts the broker down gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown.shutdown();
        }
    }
}

/// Polls `check` until it is true or `timeout` passes; returns whether it became true.
pub async fn wait_for(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    check()
}

/// The AMQP reply code of a lapin error that carries one (channel or connection close).
pub fn reply_code(err: &lapin::Error) -> Option<u16> {
    match err.kind() {
        lapin::ErrorKind::ProtocolError(e) => Some(e.get_id()),
        _ => None,
    }
}

/// The reply text of a lapin error that carries one, e.g.
/// `NOT_FOUND - no queue 'q' in vhost '/'`.
pub fn reply_text(err: &lapin::Error) -> Option<String> {
    match err.kind() {
        lapin::ErrorKind::ProtocolError(e) => Some(e.get_message().to_string()),
        _ => None,
    }
}

/// Asserts that `result` failed with AMQP `code` and exactly `text`.
#[track_caller]
pub fn assert_amqp_error<T: std::fmt::Debug>(result: lapin::Result<T>, code: u16, text: &str) {
    let err = result.expect_err("the operation should fail");
    assert_eq!(
        (reply_code(&err), reply_text(&err).as_deref()),
        (Some(code), Some(text)),
        "error was {err:?}"
    );
}

/// `queue.declare` options for a passive declare.
pub fn passive() -> lapin::options::QueueDeclareOptions {
    lapin::options::QueueDeclareOptions {
        passive: true,
        ..Default::default()
    }
}

/// Ready messages in `queue`, by passive declare.
pub async fn message_count(ch: &Channel, queue: &str) -> u32 {
    ch.queue_declare(queue.into(), passive(), lapin::types::FieldTable::default())
        .await
        .expect("passive declare")
        .message_count()
}

/// Publishes on a channel in confirm mode and waits for the broker's confirm, so the
/// message has been routed when this returns.
pub async fn publish_confirmed(
    ch: &Channel,
    exchange: &str,
    routing_key: &str,
    properties: lapin::BasicProperties,
) -> lapin::Result<lapin::Confirmation> {
    ch.basic_publish(
        exchange.into(),
        routing_key.into(),
        lapin::options::BasicPublishOptions::default(),
        b"m",
        properties,
    )
    .await?
    .await
}

/// Takes every ready message of `queue` with `basic.get` (acking each): bodies and
/// redelivered flags, in order.
pub async fn drain(ch: &Channel, queue: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    while let Some(m) = ch
        .basic_get(queue.into(), lapin::options::BasicGetOptions::default())
        .await
        .expect("get")
    {
        out.push((String::from_utf8_lossy(&m.data).into_owned(), m.redelivered));
        ch.basic_ack(m.delivery_tag, lapin::options::BasicAckOptions::default())
            .await
            .unwrap();
    }
    out
}

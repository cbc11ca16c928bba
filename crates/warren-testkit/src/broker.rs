//! [`TestBroker`]: a Warren server running in-process for one test.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lapin::{Channel, Connection, ConnectionProperties};
use warren_broker::Queue;
use warren_server::{RunningServer, Server, ServerConfig};

use crate::poll::{eventually, WAIT};

/// Percent-encodes a URI component (user, password, vhost).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

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
        let (dir, config) = Self::config(configure);
        let server = Server::start(config.clone()).await.expect("server starts");
        Self::running(server, dir, config)
    }

    /// Starts a broker on the store `make_store` returns for the default configuration
    /// (e.g. a `FaultyStore` wrapping the data directory's): the durable state stays in
    /// the temp data directory, so [`Self::restart`] brings it back on a plain store.
    pub async fn start_with_store(
        make_store: impl FnOnce(&ServerConfig) -> Arc<dyn warren_broker::persist::Store>,
    ) -> Self {
        let (dir, config) = Self::config(|_| {});
        let store = make_store(&config);
        let server = Server::start_with_store(config.clone(), store)
            .await
            .expect("server starts");
        Self::running(server, dir, config)
    }

    fn config(configure: impl FnOnce(&mut ServerConfig)) -> (tempfile::TempDir, ServerConfig) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = ServerConfig {
            listen: vec!["127.0.0.1:0".parse().unwrap()],
            management_listen: Some("127.0.0.1:0".parse().unwrap()),
            data_dir: dir.path().to_path_buf(),
            ..ServerConfig::default()
        };
        configure(&mut config);
        (dir, config)
    }

    fn running(server: RunningServer, dir: tempfile::TempDir, config: ServerConfig) -> Self {
        TestBroker {
            addr: server.addrs[0],
            server: Some(server),
            dir,
            config,
        }
    }

    /// The management API's base URL, e.g. `http://127.0.0.1:40123` (the broker is
    /// started with the API on an ephemeral port unless a test turns it off).
    pub fn management_url(&self) -> String {
        let addr = self
            .server
            .as_ref()
            .and_then(|s| s.management_addr)
            .expect("the management API is on");
        format!("http://{addr}")
    }

    /// The separate Prometheus listener's base URL, if the test turned it on.
    pub fn prometheus_url(&self) -> Option<String> {
        let addr = self.server.as_ref()?.prometheus_addr?;
        Some(format!("http://{addr}"))
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

    /// A lapin connection as `user` to `vhost` (the result: the login or the vhost may
    /// be refused).
    pub async fn connect_as(
        &self,
        user: &str,
        password: &str,
        vhost: &str,
    ) -> lapin::Result<Connection> {
        let uri = format!(
            "amqp://{}:{}@{}/{}",
            encode(user),
            encode(password),
            self.addr,
            encode(vhost)
        );
        Connection::connect(&uri, ConnectionProperties::default()).await
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
    pub fn broker(&self) -> Arc<warren_broker::Broker> {
        self.server.as_ref().expect("running").broker.clone()
    }

    /// The memory alarm; start the broker with `memory_high_watermark = MemoryWatermark::Off` to
    /// drive it by hand.
    pub fn memory_alarm(&self) -> Arc<warren_server::memory::MemoryAlarm> {
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
        if let Err(e) = self.try_start_again().await {
            panic!("server restarts: {e}");
        }
    }

    /// Like [`Self::start_again`], returning why the server did not start (e.g. a
    /// changed configuration it refuses).
    pub async fn try_start_again(&mut self) -> std::io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let server = loop {
            match Server::start(self.config.clone()).await {
                Ok(s) => break s,
                Err(e) if Instant::now() < deadline && e.to_string().contains("locked") => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => return Err(e),
            }
        };
        self.addr = server.addrs[0];
        self.server = Some(server);
        Ok(())
    }

    /// The configuration the next [`Self::start_again`] uses.
    pub fn config_mut(&mut self) -> &mut ServerConfig {
        &mut self.config
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

/// The broker's own queue `name` on vhost `/`, for checks on its state.
pub fn server_queue(broker: &TestBroker, name: &str) -> Arc<Queue> {
    broker
        .broker()
        .vhost("/")
        .expect("vhost /")
        .queues()
        .into_iter()
        .find(|q| q.name().as_ref() == name)
        .expect("queue exists on the server")
}

/// Waits (up to [`WAIT`]) until `check` holds for the server's queue `name`; returns
/// whether it did.
pub async fn wait_queue(broker: &TestBroker, name: &str, check: impl Fn(&Queue) -> bool) -> bool {
    let q = server_queue(broker, name);
    eventually(WAIT, || std::future::ready(check(&q))).await
}

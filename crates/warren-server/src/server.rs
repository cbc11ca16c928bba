//! The listener: accepts connections, bounds their number, and shuts down gracefully.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tracing::{error, info, warn};
use warren_broker::{recovery, Broker};
use warren_store::Store;

use crate::config::ServerConfig;
use crate::connection;
use crate::connection::stream::Halves;
use crate::management::{HttpListeners, ServerNode};
use crate::memory::MemoryAlarm;
use crate::tls::{Tls, TlsError};

mod bound;
mod per_ip;

use bound::Bound;
use per_ip::PerIp;

/// Bytes an in-memory connection's pipe buffers in each direction (a socket's buffer).
const IN_MEMORY_PIPE_BYTES: usize = 256 * 1024;

/// State shared by every connection task.
#[derive(Debug)]
pub struct ServerContext {
    /// The broker model.
    pub broker: Arc<Broker>,
    /// Configuration.
    pub config: ServerConfig,
    /// Set while resident memory is above the high watermark.
    pub memory: Arc<MemoryAlarm>,
    /// Failed logins (AMQP and the management API's) and their back-off.
    pub failed_logins: Arc<crate::auth::FailedLogins>,
    /// Connections open per client address (`Limits::max_connections_per_ip`).
    pub(crate) per_ip: PerIp,
}

/// A bound, not yet running server. Binding first lets callers (and tests) learn the
/// actual addresses, e.g. of port 0, before serving.
pub struct Server {
    ctx: Arc<ServerContext>,
    listeners: Vec<TcpListener>,
    /// The `amqps` listeners (`tls.listen`).
    tls_listeners: Vec<TcpListener>,
    /// The TLS configuration, when a TLS listener is configured.
    tls: Option<Arc<Tls>>,
    http: HttpListeners,
}

/// Opens the spill log in `<data dir>/spill` (emptied: transient messages do not
/// survive a restart), with the queues' in-memory budget from the limits.
fn open_spill(
    data_dir: &std::path::Path,
    limits: &warren_broker::Limits,
) -> std::io::Result<warren_broker::queue::Spill> {
    let dir = data_dir.join("spill");
    let log = warren_store::SpillLog::open(&dir, limits.spill_segment_bytes)
        .map_err(std::io::Error::other)?;
    info!(path = %dir.display(), "spill log opened (emptied)");
    Ok(warren_broker::queue::Spill::new(
        Arc::new(log),
        limits.spill,
    ))
}

/// Tells a running server to shut down.
#[derive(Debug, Clone)]
pub struct ShutdownHandle(watch::Sender<bool>);

impl ShutdownHandle {
    /// Starts a graceful shutdown: stop accepting, close every connection with 320.
    pub fn shutdown(&self) {
        let _ = self.0.send(true);
    }
}

impl Server {
    /// Creates the data directory, binds every listen address, then opens the store in
    /// it (locking it: a second broker on the same directory gets an error saying so)
    /// and recovers the broker from it.
    ///
    /// The addresses are bound before recovery, so from the first milliseconds the
    /// kernel accepts connections (into each listener's backlog) instead of refusing
    /// them: a client connecting while a large store opens is not turned away (and sent
    /// into its reconnect back-off) but greeted as soon as recovery ends. Nothing is
    /// served before that, so no client ever sees a half-recovered broker.
    pub async fn bind(config: ServerConfig) -> std::io::Result<Server> {
        let started = Instant::now();
        std::fs::create_dir_all(&config.data_dir)?;
        let (tls, bound) = Bound::bind(&config, started).await?;
        let (data_dir, limits) = (config.data_dir.clone(), config.limits.clone());
        // Opening reads the store's indexes (seconds for millions of messages): off the
        // runtime's worker threads.
        let store = tokio::task::spawn_blocking(move || recovery::open_store(&data_dir, &limits))
            .await
            .map_err(std::io::Error::other)??;
        Self::recover_into(config, store, tls, bound, started).await
    }

    /// Like [`Server::bind`], with durable state kept in `store` (already open) instead
    /// of the data directory's: e.g. a store that injects faults, in tests. The
    /// addresses are bound first, then the broker is built from what the store holds.
    pub async fn bind_with_store(
        config: ServerConfig,
        store: Arc<dyn Store>,
    ) -> std::io::Result<Server> {
        let started = Instant::now();
        let (tls, bound) = Bound::bind(&config, started).await?;
        Self::recover_into(config, store, tls, bound, started).await
    }

    /// Builds the broker from `store` and the server around it and the bound listeners.
    async fn recover_into(
        config: ServerConfig,
        store: Arc<dyn Store>,
        tls: Option<Arc<Tls>>,
        bound: Bound,
        started: Instant,
    ) -> std::io::Result<Server> {
        let (data_dir, limits) = (config.data_dir.clone(), config.limits.clone());
        let mib = |b: Option<u64>| b.map_or(-1.0, |b| (b >> 10) as f64 / 1024.0);
        let heap_opened = crate::memory::heap_allocated_bytes();
        // Emptying the spill log (a transient backlog of gigabytes, maybe) and reading
        // the store: off the runtime's worker threads.
        let broker = tokio::task::spawn_blocking(move || -> std::io::Result<Broker> {
            let spill = open_spill(&data_dir, &limits)?;
            Ok(recovery::recover_spilling(store, &limits, Some(spill))?)
        })
        .await
        .map_err(std::io::Error::other)??;
        let broker = Arc::new(broker);
        crate::boot::apply(&broker, &config).await?;
        // The heap before and after the broker was built from the store: what the store
        // holds once open, and what recovery added (the queues' indexes).
        info!(
            since_start_ms = started.elapsed().as_millis() as u64,
            heap_store_open_mib = mib(heap_opened),
            heap_recovered_mib = mib(crate::memory::heap_allocated_bytes()),
            rss_mib = mib(crate::memory::resident_bytes()),
            "recovered: serving connections"
        );
        let failed_logins = Arc::new(crate::auth::FailedLogins::new(&config.limits));
        let per_ip = PerIp::new(config.limits.max_connections_per_ip);
        Ok(Server {
            ctx: Arc::new(ServerContext {
                broker,
                config,
                memory: Arc::new(MemoryAlarm::default()),
                failed_logins,
                per_ip,
            }),
            listeners: bound.amqp,
            tls_listeners: bound.amqps,
            tls,
            http: bound.http,
        })
    }

    /// The addresses actually bound.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// The `amqps` listeners' bound addresses.
    pub fn tls_addrs(&self) -> Vec<SocketAddr> {
        self.tls_listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// The TLS configuration, if a TLS listener is on (see [`Tls::reload`]).
    pub fn tls(&self) -> Option<Arc<Tls>> {
        self.tls.clone()
    }

    /// The management API's bound address, if it is on.
    pub fn management_addr(&self) -> Option<SocketAddr> {
        self.http.management_addr()
    }

    /// The separate Prometheus listener's bound address, if it is on.
    pub fn prometheus_addr(&self) -> Option<SocketAddr> {
        self.http.prometheus_addr()
    }

    /// The broker this server serves.
    pub fn broker(&self) -> Arc<Broker> {
        self.ctx.broker.clone()
    }

    /// Serves until `shutdown` fires, then closes every connection with 320
    /// CONNECTION_FORCED and returns once they have all ended.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let permits = Arc::new(Semaphore::new(self.ctx.config.limits.max_connections));
        let watermark =
            crate::memory::watermark_bytes(self.ctx.config.limits.memory_high_watermark);
        if let Some(bytes) = watermark {
            info!(watermark_bytes = bytes, "memory alarm armed");
        }
        let limits = &self.ctx.config.limits;
        let disk_monitor = (limits.disk_free_limit_bytes > 0).then(|| {
            info!(
                disk_free_limit_bytes = limits.disk_free_limit_bytes,
                "disk alarm armed"
            );
            tokio::spawn(crate::disk::monitor(
                self.ctx.memory.clone(),
                self.ctx.config.data_dir.clone(),
                limits.disk_free_limit_bytes,
            ))
        });
        let memory_monitor = watermark.map(|bytes| {
            let pressure = crate::memory::Pressure {
                broker: self.ctx.broker.clone(),
                above_bytes: (bytes as f64 * limits.spill_memory_pressure) as u64,
            };
            tokio::spawn(crate::memory::monitor(
                self.ctx.memory.clone(),
                bytes,
                Some(pressure),
            ))
        });
        let amqp_addrs = self.local_addrs();
        let node = Arc::new(ServerNode::new(
            &self.ctx.config,
            self.http.describe(&amqp_addrs, &self.tls_addrs()),
            self.ctx.memory.clone(),
            self.ctx.failed_logins.clone(),
        ));
        let http_tasks = self.http.spawn(
            self.ctx.broker.clone(),
            node,
            &self.ctx.config,
            shutdown.clone(),
        );
        let mut accept_tasks = JoinSet::new();
        let connections = Arc::new(tokio::sync::Mutex::new(JoinSet::new()));
        let plain = self.listeners.into_iter().map(|l| (l, None));
        let tls = self.tls.clone();
        let secure = self.tls_listeners.into_iter().map(|l| (l, tls.clone()));
        for (listener, tls) in plain.chain(secure) {
            let ctx = self.ctx.clone();
            let permits = permits.clone();
            let mut stop = shutdown.clone();
            let connections = connections.clone();
            accept_tasks.spawn(async move {
                loop {
                    tokio::select! {
                        accepted = listener.accept() => match accepted {
                            Ok((stream, peer)) => {
                                let Ok(permit) = permits.clone().try_acquire_owned() else {
                                    warn!(%peer, "connection limit reached, refusing connection");
                                    drop(stream);
                                    continue;
                                };
                                // Closed before a byte is read: the client sees the
                                // connection reset, as at max_connections.
                                let Some(per_ip) = ctx.per_ip.admit(peer.ip()) else {
                                    warn!(%peer, max = ctx.per_ip.max(), "too many connections from this address (max_connections_per_ip), refusing connection");
                                    drop(stream);
                                    continue;
                                };
                                let ctx = ctx.clone();
                                let stop = stop.clone();
                                let _ = stream.set_nodelay(true);
                                let local = stream.local_addr().ok();
                                let tls = tls.clone();
                                let mut served = connections.lock().await;
                                // Reap the connections that ended: a JoinSet keeps a
                                // finished task (sized for its whole future) until it
                                // is joined, so without this every connection ever
                                // served would stay allocated until shutdown.
                                while served.try_join_next().is_some() {}
                                served.spawn(async move {
                                    let mut stream = stream;
                                    match tls {
                                        // The TLS handshake runs here, on the connection's task.
                                        Some(tls) => crate::tls::serve(stream, peer, local, tls, ctx, stop).await,
                                        None => connection::serve(&mut stream, peer, local, None, ctx, stop).await,
                                    }
                                    drop((permit, per_ip));
                                });
                            }
                            Err(e) => {
                                error!(error = %e, "accept failed");
                                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                            }
                        },
                        _ = stop.changed() => break,
                    }
                }
            });
        }
        let mut stop = shutdown;
        let _ = stop.wait_for(|s| *s).await;
        while accept_tasks.join_next().await.is_some() {}
        let mut conns = std::mem::take(&mut *connections.lock().await);
        info!(
            connections = conns.len(),
            "shutting down: closing connections"
        );
        while conns.join_next().await.is_some() {}
        for t in http_tasks {
            let _ = t.await;
        }
        for m in [memory_monitor, disk_monitor].into_iter().flatten() {
            m.abort();
        }
        info!("shutdown complete");
    }

    /// Binds and serves in a background task; returns the bound addresses and a handle
    /// to stop it. Used by tests and embedders.
    pub async fn start(config: ServerConfig) -> std::io::Result<RunningServer> {
        Ok(Server::bind(config).await?.spawn())
    }

    /// Like [`Server::start`], keeping durable state in `store` (see
    /// [`Server::bind_with_store`]).
    pub async fn start_with_store(
        config: ServerConfig,
        store: Arc<dyn Store>,
    ) -> std::io::Result<RunningServer> {
        Ok(Server::bind_with_store(config, store).await?.spawn())
    }

    /// Serves in a background task.
    fn spawn(self) -> RunningServer {
        let server = self;
        let addrs = server.local_addrs();
        let tls_addrs = server.tls_addrs();
        let management_tls_addr = server.http.management_tls_addr();
        let tls = server.tls();
        let management_addr = server.management_addr();
        let prometheus_addr = server.prometheus_addr();
        let broker = server.broker();
        let memory = server.ctx.memory.clone();
        let ctx = server.ctx.clone();
        let (tx, rx) = watch::channel(false);
        let stopping = rx.clone();
        let task = tokio::spawn(server.run(rx));
        RunningServer {
            ctx,
            stopping,
            addrs,
            tls_addrs,
            management_addr,
            management_tls_addr,
            prometheus_addr,
            broker,
            tls,
            memory,
            shutdown: ShutdownHandle(tx),
            task,
        }
    }
}

/// A server running in the background (see [`Server::start`]).
pub struct RunningServer {
    /// Bound addresses.
    pub addrs: Vec<SocketAddr>,
    /// The `amqps` listeners' bound addresses.
    pub tls_addrs: Vec<SocketAddr>,
    /// The management API's bound address, if on.
    pub management_addr: Option<SocketAddr>,
    /// The management API's HTTPS address, if on.
    pub management_tls_addr: Option<SocketAddr>,
    /// The separate Prometheus listener's bound address, if on.
    pub prometheus_addr: Option<SocketAddr>,
    /// The broker state, for inspection.
    pub broker: Arc<Broker>,
    /// The memory alarm (tests may set it by hand when the monitor is off).
    pub memory: Arc<MemoryAlarm>,
    /// Stops the server.
    pub shutdown: ShutdownHandle,
    /// The serving task; completes after shutdown.
    pub task: tokio::task::JoinHandle<()>,
    ctx: Arc<ServerContext>,
    stopping: watch::Receiver<bool>,
    tls: Option<Arc<Tls>>,
}

impl RunningServer {
    /// Opens a client connection over an in-memory pipe instead of a socket and returns
    /// the client's end: the server side runs the same handshake and connection loop as
    /// an accepted TCP socket, as if from `peer`. For the fuzz harness and tests that
    /// must not open sockets. Such connections do not count against `max_connections`.
    pub fn connect_in_memory(&self, peer: SocketAddr) -> tokio::io::DuplexStream {
        let (client, server) = tokio::io::duplex(IN_MEMORY_PIPE_BYTES);
        let (ctx, stopping) = (self.ctx.clone(), self.stopping.clone());
        tokio::spawn(async move {
            connection::serve(&mut Halves(server), peer, None, None, ctx, stopping).await;
        });
        client
    }

    /// Reads the TLS certificate, key and CA files again for new connections (what
    /// SIGHUP does to the binary); an error keeps the previous ones.
    pub fn reload_tls(&self) -> Result<(), TlsError> {
        match &self.tls {
            Some(tls) => tls.reload(),
            None => Err(TlsError::Config("no TLS listener is configured".into())),
        }
    }

    /// Shuts down gracefully and waits for every connection to end.
    pub async fn stop(self) {
        self.shutdown.shutdown();
        let _ = self.task.await;
    }
}

/// A watch channel pair for [`Server::run`].
pub fn shutdown_channel() -> (ShutdownHandle, watch::Receiver<bool>) {
    let (tx, rx) = watch::channel(false);
    (ShutdownHandle(tx), rx)
}

//! Starts the management HTTP API (and the separate Prometheus listener, if configured)
//! next to the AMQP listeners, and tells it what only the server knows: its listeners,
//! alarms, memory and disk, and how to read a `warren.toml` topology.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{error, info};
use warren_broker::definitions::Definitions;
use warren_broker::Broker;
use warren_management::{Alarms, Listener, Management, Node, Resources};

use crate::auth::FailedLogins;
use crate::config::ServerConfig;
use crate::memory::MemoryAlarm;
use crate::tls::Tls;

/// The server as the management API sees it.
#[derive(Debug)]
pub struct ServerNode {
    name: String,
    listeners: Vec<Listener>,
    alarm: Arc<MemoryAlarm>,
    memory_limit: u64,
    data_dir: PathBuf,
    disk_free_limit: u64,
    connections_limit: u64,
    loopback_users: Vec<String>,
    /// The AMQP listener's failed logins: API logins count with them, per address.
    failed_logins: Arc<FailedLogins>,
}

/// The node's name, RabbitMQ style: `warren@host`.
fn node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("warren@{host}")
}

impl ServerNode {
    /// The node for a server with `config`, listening on `listeners`, whose failed
    /// logins are `failed_logins`.
    pub fn new(
        config: &ServerConfig,
        listeners: Vec<Listener>,
        alarm: Arc<MemoryAlarm>,
        failed_logins: Arc<FailedLogins>,
    ) -> Self {
        ServerNode {
            name: node_name(),
            listeners,
            alarm,
            memory_limit: crate::memory::watermark_bytes(config.limits.memory_high_watermark)
                .unwrap_or(0),
            data_dir: config.data_dir.clone(),
            disk_free_limit: config.limits.disk_free_limit_bytes,
            connections_limit: config.limits.max_connections as u64,
            loopback_users: config.loopback_users.clone(),
            failed_logins,
        }
    }
}

impl Node for ServerNode {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn listeners(&self) -> Vec<Listener> {
        self.listeners.clone()
    }

    fn alarms(&self) -> Alarms {
        Alarms {
            memory: self.alarm.memory_alarm(),
            disk: self.alarm.disk_alarm(),
        }
    }

    fn resources(&self) -> Resources {
        Resources {
            memory_used: crate::memory::resident_bytes().unwrap_or(0),
            memory_limit: self.memory_limit,
            disk_free: crate::disk::free_bytes(&self.data_dir).unwrap_or(0),
            disk_free_limit: self.disk_free_limit,
            fds_used: open_fds(),
            fds_total: max_fds(),
            connections_limit: self.connections_limit,
        }
    }

    fn is_loopback_only(&self, user: &str) -> bool {
        self.loopback_users.iter().any(|u| u == user)
    }

    fn failed_login(&self, peer: Option<std::net::IpAddr>) -> std::time::Duration {
        match peer {
            Some(ip) => self.failed_logins.failed(ip),
            None => self.failed_logins.first_delay(),
        }
    }

    fn succeeded_login(&self, peer: Option<std::net::IpAddr>) {
        if let Some(ip) = peer {
            self.failed_logins.succeeded(ip);
        }
    }

    fn parse_topology(&self, toml: &str) -> Result<Definitions, String> {
        crate::config::topology_from_toml(toml)
    }
}

/// File descriptors the process has open (Linux: entries of /proc/self/fd; 0 elsewhere).
fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64)
}

/// The process' soft limit on open files (Linux: /proc/self/limits; 0 if unknown).
fn max_fds() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The HTTP listeners, bound before serving (so port 0 can be learned and a busy port
/// fails the start).
#[derive(Debug, Default)]
pub struct HttpListeners {
    /// The management API.
    pub management: Option<TcpListener>,
    /// Prometheus only.
    pub prometheus: Option<TcpListener>,
    /// The management API over HTTPS (`tls.management_listen`), and its TLS configuration.
    pub management_tls: Option<(TcpListener, Arc<Tls>)>,
}

impl HttpListeners {
    /// Binds what `config` asks for.
    pub async fn bind(config: &ServerConfig, tls: Option<Arc<Tls>>) -> std::io::Result<Self> {
        let bind = |addr: Option<SocketAddr>| async move {
            match addr {
                Some(a) => TcpListener::bind(a).await.map(Some),
                None => Ok(None),
            }
        };
        Ok(HttpListeners {
            management: bind(config.management_listen).await?,
            prometheus: bind(config.prometheus_listen).await?,
            management_tls: match (config.tls.management_listen, tls) {
                (Some(addr), Some(tls)) => Some((TcpListener::bind(addr).await?, tls)),
                _ => None,
            },
        })
    }

    /// The management API's bound address.
    pub fn management_addr(&self) -> Option<SocketAddr> {
        self.management.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The management API's HTTPS address.
    pub fn management_tls_addr(&self) -> Option<SocketAddr> {
        self.management_tls
            .as_ref()
            .and_then(|(l, _)| l.local_addr().ok())
    }

    /// The Prometheus listener's bound address.
    pub fn prometheus_addr(&self) -> Option<SocketAddr> {
        self.prometheus.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The listeners as the API lists them, with the AMQP ones (`amqps`: RabbitMQ's
    /// protocol name `amqp/ssl`).
    pub fn describe(&self, amqp: &[SocketAddr], amqps: &[SocketAddr]) -> Vec<Listener> {
        let mut out: Vec<Listener> = amqp
            .iter()
            .map(|&addr| Listener {
                protocol: "amqp",
                addr,
            })
            .chain(amqps.iter().map(|&addr| Listener {
                protocol: "amqp/ssl",
                addr,
            }))
            .collect();
        if let Some(addr) = self.management_addr() {
            out.push(Listener {
                protocol: "http",
                addr,
            });
        }
        if let Some(addr) = self.management_tls_addr() {
            out.push(Listener {
                protocol: "https",
                addr,
            });
        }
        if let Some(addr) = self.prometheus_addr() {
            out.push(Listener {
                protocol: "http/prometheus",
                addr,
            });
        }
        out
    }

    /// Serves the API (and metrics) until `shutdown` fires.
    pub fn spawn(
        self,
        broker: Arc<Broker>,
        node: Arc<dyn Node>,
        config: &ServerConfig,
        shutdown: watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = Vec::new();
        if self.management.is_none() && self.prometheus.is_none() && self.management_tls.is_none() {
            return tasks;
        }
        let api = Management::new(broker, node, config.stats_interval);
        let limits = config.limits.clone();
        let serve = |listener: TcpListener,
                     router: warren_management::Router,
                     what: &'static str| {
            let mut stop = shutdown.clone();
            let limits = limits.clone();
            let addr = listener.local_addr().ok();
            info!(addr = ?addr, "{what} listening");
            tokio::spawn(async move {
                let stopped = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                if let Err(e) = warren_management::serve(listener, router, &limits, stopped).await {
                    error!(error = %e, "{what} stopped");
                }
            })
        };
        if let Some(l) = self.management {
            tasks.push(serve(l, api.router(), "management API"));
        }
        if let Some((listener, tls)) = self.management_tls {
            let mut stop = shutdown.clone();
            let limits = limits.clone();
            let router = api.router();
            info!(addr = ?listener.local_addr().ok(), "management API (HTTPS) listening");
            tasks.push(tokio::spawn(async move {
                let stopped = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                if let Err(e) =
                    warren_management::serve_tls(listener, router, &limits, tls, stopped).await
                {
                    error!(error = %e, "management API (HTTPS) stopped");
                }
            }));
        }
        if let Some(l) = self.prometheus {
            tasks.push(serve(l, api.metrics_router(), "Prometheus metrics"));
        }
        tasks
    }
}

//! Every listen address bound, before the broker is recovered (see
//! [`Server::bind`](super::Server::bind)).

use std::time::Instant;

use tokio::net::TcpListener;
use tracing::info;

use crate::config::ServerConfig;
use crate::management::HttpListeners;
use crate::tls::Tls;

/// The bound, not yet served listeners.
pub(super) struct Bound {
    /// `amqp` listeners.
    pub amqp: Vec<TcpListener>,
    /// `amqps` listeners (`tls.listen`).
    pub amqps: Vec<TcpListener>,
    /// Management API and Prometheus listeners.
    pub http: HttpListeners,
}

impl Bound {
    /// Loads the TLS configuration when one is set (a bad certificate stops the start
    /// before anything is bound or recovered), then binds every configured address,
    /// logging each with the milliseconds since `started`.
    pub async fn bind(
        config: &ServerConfig,
        started: Instant,
    ) -> std::io::Result<(Option<std::sync::Arc<Tls>>, Bound)> {
        let tls = match config.tls.enabled() {
            true => Some(Tls::load(&config.tls)?),
            false => None,
        };
        let since_start_ms = || started.elapsed().as_millis() as u64;
        let mut amqp = Vec::new();
        for addr in &config.listen {
            let listener = TcpListener::bind(addr).await?;
            info!(addr = %listener.local_addr()?, since_start_ms = since_start_ms(), "listening for AMQP 0-9-1");
            amqp.push(listener);
        }
        let mut amqps = Vec::new();
        for addr in &config.tls.listen {
            let listener = TcpListener::bind(addr).await?;
            info!(addr = %listener.local_addr()?, since_start_ms = since_start_ms(), "listening for AMQP 0-9-1 over TLS (amqps)");
            amqps.push(listener);
        }
        let http = HttpListeners::bind(config, tls.clone()).await?;
        Ok((tls, Bound { amqp, amqps, http }))
    }
}

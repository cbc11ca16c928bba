//! Warren's management HTTP API, shaped like RabbitMQ 3.10's so the tools operators
//! already run (rabbitmqadmin v1 and v2, scripts, Terraform providers) work unchanged,
//! plus Prometheus metrics named as `rabbitmq_prometheus` names them.
//!
//! The API is a client of the broker's admin interface: it reads the broker's state
//! and changes it only through [`warren_broker::Broker`] and
//! [`warren_broker::VHost`] operations, and it has no access to the store. Facts only
//! the server knows (listeners, alarms, memory) come through the [`Node`] trait.
//!
//! Layout: `api/` has one file per group of endpoints (parse, act, answer);
//! `shapes/` builds the JSON objects; `auth.rs` is basic auth and RabbitMQ's tag rules;
//! `listing.rs` the pagination, sorting and column selection every list shares;
//! `rates.rs` the timer that turns counters into rates; `metrics/` the Prometheus
//! exposition; `console.rs` serves the web console (`console/`, embedded by `build.rs`).

mod api;
pub mod auth;
pub mod console;
pub mod error;
pub mod listener;
pub mod listing;
pub mod metrics;
pub mod node;
pub mod rates;
pub mod shapes;
pub mod tls;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use tokio::net::TcpListener;
use warren_broker::{Broker, Limits};

pub use axum::Router;
pub use error::{ApiError, ApiResult};
pub use node::{Alarms, Listener, Node, Resources};
use rates::Rates;
pub use tls::TlsConfigSource;

/// The state every request sees.
pub struct Management {
    /// The broker.
    pub broker: Arc<Broker>,
    /// The server around it.
    pub node: Arc<dyn Node>,
    /// Message rates, sampled on a timer.
    pub rates: Arc<Rates>,
    /// When the API started, for `uptime`.
    started: tokio::time::Instant,
}

impl std::fmt::Debug for Management {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Management").finish_non_exhaustive()
    }
}

impl Management {
    /// The API over `broker` in `node`, sampling rates every `sample_interval` (starts
    /// the sampler; call inside a tokio runtime).
    pub fn new(broker: Arc<Broker>, node: Arc<dyn Node>, sample_interval: Duration) -> Arc<Self> {
        let rates = Arc::new(Rates::new(sample_interval));
        rates::spawn_sampler(rates.clone(), Arc::downgrade(&broker));
        Arc::new(Management {
            broker,
            node,
            rates,
            started: tokio::time::Instant::now(),
        })
    }

    /// Milliseconds since the API started.
    pub fn uptime_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// The node's name.
    pub fn node_name(&self) -> String {
        self.node.name()
    }

    /// Every route of the management API, the metrics endpoints and the web console.
    pub fn router(self: &Arc<Self>) -> Router {
        api::router(self.clone())
            .layer(axum::middleware::map_response(error::json_errors))
            .layer(axum::middleware::from_fn(console::no_browser_prompt))
            .merge(metrics::router(self.clone()))
            .merge(console::router())
    }

    /// Only the metrics endpoints (the separate Prometheus listener).
    pub fn metrics_router(self: &Arc<Self>) -> Router {
        metrics::router(self.clone())
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, with at most
/// `limits.http_max_connections` connections at once and request bodies of at most
/// `limits.http_max_body_bytes` (413 beyond).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_on(
        listener::BoundedListener::new(listener, limits),
        router,
        limits,
        shutdown,
    )
    .await
}

/// Like [`serve`], over HTTPS with `tls`'s configuration (taken afresh for each
/// connection, so a reload applies to the next one).
pub async fn serve_tls(
    listener: TcpListener,
    router: Router,
    limits: &Limits,
    tls: Arc<dyn TlsConfigSource>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = listener::BoundedListener::new(listener, limits).with_tls(tls);
    serve_on(listener, router, limits, shutdown).await
}

async fn serve_on(
    listener: listener::BoundedListener,
    router: Router,
    limits: &Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::ServiceExt;
    use tower::Layer;
    let router = router.layer(axum::extract::DefaultBodyLimit::max(
        limits.http_max_body_bytes,
    ));
    let app = axum::middleware::map_request(default_exchange_segment).layer(router);
    axum::serve(
        listener,
        ServiceExt::<Request>::into_make_service_with_connect_info::<listener::Peer>(app),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// rabbitmqadmin v2 names the default exchange with an empty path segment
/// (`/api/exchanges/%2F//publish`); the router matches only non-empty segments, so the
/// segment becomes `amq.default`, the name RabbitMQ's own URLs use.
async fn default_exchange_segment(mut request: Request) -> Request {
    let path = request.uri().path();
    let Some(fixed) = with_default_exchange_name(path) else {
        return request;
    };
    let fixed = match request.uri().query() {
        Some(q) => format!("{fixed}?{q}"),
        None => fixed,
    };
    if let Ok(uri) = fixed.parse() {
        *request.uri_mut() = uri;
    }
    request
}

fn with_default_exchange_name(path: &str) -> Option<String> {
    let mut segments: Vec<&str> = path.split('/').collect();
    // ["", "api", "exchanges", vhost, name, ...] or
    // ["", "api", "bindings", vhost, "e", source, ...]
    let at = match segments.get(2).copied() {
        Some("exchanges") => 4,
        Some("bindings") if segments.get(4) == Some(&"e") => 5,
        _ => return None,
    };
    if segments.len() > at + 1 && segments[at].is_empty() {
        segments[at] = "amq.default";
        Some(segments.join("/"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::with_default_exchange_name;

    #[test]
    fn an_empty_exchange_segment_names_the_default_exchange() {
        assert_eq!(
            with_default_exchange_name("/api/exchanges/%2F//publish").as_deref(),
            Some("/api/exchanges/%2F/amq.default/publish")
        );
        assert_eq!(
            with_default_exchange_name("/api/bindings/%2F/e//q/q1").as_deref(),
            Some("/api/bindings/%2F/e/amq.default/q/q1")
        );
        assert_eq!(
            with_default_exchange_name("/api/exchanges/%2F/x/publish"),
            None
        );
        assert_eq!(with_default_exchange_name("/api/queues/%2F//get"), None);
    }
}

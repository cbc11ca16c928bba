//! Health checks: `/api/health/checks/*` and `/api/aliveness-test/{vhost}`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde_json::{json, Value};
use warren_broker::vhost::GetSettle;
use warren_broker::QueueDeclare;
use warren_protocol::BasicProperties;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::Management;

/// The queue the aliveness test declares, publishes to and reads back.
const ALIVENESS_QUEUE: &str = "aliveness-test";

fn failed(body: Value) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

fn ok() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

/// GET /api/health/checks/alarms (and local-alarms: Warren is one node).
pub(crate) async fn alarms(
    State(state): State<Arc<Management>>,
    caller: Caller,
) -> ApiResult<Response> {
    caller.require_monitor()?;
    let a = state.node.alarms();
    let node = state.node_name();
    let mut alarms = Vec::new();
    if a.memory {
        alarms.push(json!({"node": node, "resource": "memory"}));
    }
    if a.disk {
        alarms.push(json!({"node": node, "resource": "disk"}));
    }
    if alarms.is_empty() {
        return Ok(ok());
    }
    Ok(failed(json!({
        "status": "failed",
        "reason": "There are alarms in effect in the cluster",
        "alarms": alarms,
    })))
}

/// GET /api/health/checks/port-listener/{port}.
pub(crate) async fn port_listener(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path(port): Path<String>,
) -> ApiResult<Response> {
    caller.require_monitor()?;
    let port: u16 = port
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid port '{port}'")))?;
    let ports: Vec<u16> = state
        .node
        .listeners()
        .iter()
        .map(|l| l.addr.port())
        .collect();
    if ports.contains(&port) {
        return Ok(Json(json!({"status": "ok", "port": port})).into_response());
    }
    Ok(failed(json!({
        "status": "failed",
        "reason": "No active listener",
        "missing": port,
        "ports": ports,
    })))
}

/// GET /api/health/checks/virtual-hosts: every vhost is running (they cannot be
/// otherwise in a single node).
pub(crate) async fn virtual_hosts(caller: Caller) -> ApiResult<Response> {
    caller.require_monitor()?;
    Ok(ok())
}

/// GET /api/aliveness-test/{vhost}: declares `aliveness-test`, publishes a message to it
/// and reads it back, as RabbitMQ does.
pub(crate) async fn aliveness(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path(vhost_name): Path<String>,
) -> ApiResult<Response> {
    caller.require_vhost(&vhost_name)?;
    let vhost = super::vhost(&state, &vhost_name)?;
    let declare = QueueDeclare {
        name: ALIVENESS_QUEUE.into(),
        durable: false,
        ..Default::default()
    };
    vhost.declare_queue(&declare, 0)?.committed().await?;
    let body = Bytes::from_static(b"test_message");
    let routed = vhost
        .publish_message(
            "",
            ALIVENESS_QUEUE,
            &BasicProperties::default(),
            body.clone(),
        )
        .await?;
    let got = vhost
        .get_messages(ALIVENESS_QUEUE, 1, GetSettle::Ack)
        .await?;
    if routed && got.first().is_some_and(|m| m.message.body == body) {
        Ok(ok())
    } else {
        Ok(failed(
            json!({"status": "failed", "reason": "aliveness test message not received"}),
        ))
    }
}

//! `/api/queues`: list, show, declare, delete, purge, get, and a queue's bindings.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value};
use warren_broker::access::Access;
use warren_broker::definitions::arguments::table_from_json;
use warren_broker::routing::Destination;
use warren_broker::vhost::GetSettle;
use warren_broker::{Queue, QueueDeclare};

use super::{body, created, list, no_content, per_vhost_list, vhost, visible_vhosts, Params};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::shapes::binding::{binding, default_binding};
use crate::shapes::queue::{queue, queue_detail, ConnName, ConnNames};
use crate::Management;

/// Names of open connections by id (for consumers' channel details).
pub(crate) fn connection_names(state: &Management) -> ConnNames {
    state
        .broker
        .connections()
        .list()
        .iter()
        .map(|c| {
            (
                c.info.id,
                ConnName {
                    name: c.info.details.name.clone(),
                    peer: c.info.peer,
                    user: c.info.user.clone(),
                },
            )
        })
        .collect()
}

fn queues_of(state: &Management, caller: &Caller, only: Option<&str>) -> Vec<Value> {
    let node = state.node_name();
    let mut out = Vec::new();
    for v in visible_vhosts(state, caller, only) {
        let mut qs = v.queues();
        qs.sort_by(|a, b| a.name().cmp(b.name()));
        out.extend(qs.iter().map(|q| queue(q, v.name(), &node, &state.rates)));
    }
    out
}

/// GET /api/queues.
pub(crate) async fn all(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    per_vhost_list(state, caller, None, params, queues_of).await
}

/// GET /api/queues/{vhost}.
pub(crate) async fn in_vhost(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path(vhost_name): Path<String>,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    per_vhost_list(state, caller, Some(vhost_name), params, queues_of).await
}

fn find(state: &Management, vhost_name: &str, name: &str) -> ApiResult<Arc<Queue>> {
    vhost(state, vhost_name)?
        .find_queue(name)
        .ok_or_else(ApiError::not_found)
}

/// One queue with its consumers.
fn one_queue(
    state: &Management,
    caller: &Caller,
    vhost_name: &str,
    name: &str,
) -> ApiResult<Value> {
    caller.require_sees_vhost(vhost_name)?;
    let q = find(state, vhost_name, name)?;
    let names = connection_names(state);
    Ok(queue_detail(
        &q,
        vhost_name,
        &state.node_name(),
        &state.rates,
        &names,
    ))
}

/// GET /api/queues/{vhost}/{name}.
pub(crate) async fn one(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost_name, name)): Path<(String, String)>,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    let q = one_queue(&state, &caller, &vhost_name, &name)?;
    super::one(&params, q)
}

#[derive(Debug, Deserialize)]
struct QueueBody {
    #[serde(default = "yes", deserialize_with = "super::lenient::bool_or_string")]
    durable: bool,
    #[serde(default, deserialize_with = "super::lenient::bool_or_string")]
    auto_delete: bool,
    #[serde(default)]
    arguments: Map<String, Value>,
    #[serde(default, rename = "type")]
    queue_type: Option<String>,
}

fn yes() -> bool {
    true
}

/// PUT /api/queues/{vhost}/{name}: declares the queue (201, or 204 if it existed).
pub(crate) async fn put(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost_name, name)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Response> {
    caller.require_permission(&vhost_name, Access::Configure, "queue", &name)?;
    super::check_name("queue", &name)?;
    let v = vhost(&state, &vhost_name)?;
    let b: QueueBody = body(&bytes)?;
    let mut arguments = b.arguments;
    if let Some(t) = b.queue_type {
        arguments.entry("x-queue-type").or_insert(Value::String(t));
    }
    let existed = v.find_queue(&name).is_some();
    let declare = QueueDeclare {
        name: name.clone(),
        durable: b.durable,
        auto_delete: b.auto_delete,
        arguments: table_from_json(&arguments),
        ..Default::default()
    };
    v.declare_queue(&declare, 0)?.committed().await?;
    tracing::info!(vhost = %vhost_name, queue = %name, user = %caller.user.name, "management: queue declared");
    Ok(if existed { no_content() } else { created() })
}

/// DELETE /api/queues/{vhost}/{name}?if-unused=true&if-empty=true.
pub(crate) async fn delete(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost_name, name)): Path<(String, String)>,
    Query(params): Params,
) -> ApiResult<Response> {
    caller.require_permission(&vhost_name, Access::Configure, "queue", &name)?;
    let v = vhost(&state, &vhost_name)?;
    if v.find_queue(&name).is_none() {
        return Err(ApiError::not_found());
    }
    let flag = |k: &str| params.get(k).is_some_and(|v| v == "true");
    v.delete_queue(&name, flag("if-unused"), flag("if-empty"), 0)?
        .committed()
        .await?;
    tracing::info!(vhost = %vhost_name, queue = %name, user = %caller.user.name, "management: queue deleted");
    Ok(no_content())
}

/// DELETE /api/queues/{vhost}/{name}/contents: purge.
pub(crate) async fn purge(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost_name, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    caller.require_permission(&vhost_name, Access::Read, "queue", &name)?;
    let q = find(&state, &vhost_name, &name)?;
    not_exclusive(&q)?;
    let purged = q.purge();
    tracing::info!(vhost = %vhost_name, queue = %name, purged, "management: queue purged");
    Ok(no_content())
}

/// 400 RESOURCE_LOCKED for a queue another connection holds exclusively: the API is no
/// connection, so it may not take its messages (as in RabbitMQ).
pub(crate) fn not_exclusive(q: &Queue) -> ApiResult<()> {
    q.check_access(0)
        .map_err(|e| ApiError::bad_request(e.reply_text()))
}

/// GET /api/queues/{vhost}/{name}/bindings.
pub(crate) async fn bindings(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost_name, name)): Path<(String, String)>,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    caller.require_sees_vhost(&vhost_name)?;
    let v = vhost(&state, &vhost_name)?;
    let q = v.find_queue(&name).ok_or_else(ApiError::not_found)?;
    let mut out = vec![default_binding(q.name(), &vhost_name)];
    let mut exchanges = v.exchanges();
    exchanges.sort_by(|a, b| a.name().cmp(b.name()));
    for e in exchanges {
        for b in e.bindings() {
            if matches!(&b.destination, Destination::Queue(d) if d.as_ref() == name) {
                out.push(binding(e.name(), &b, &vhost_name));
            }
        }
    }
    list(&params, out)
}

#[derive(Debug, Deserialize)]
struct GetBody {
    #[serde(
        default = "one_message",
        deserialize_with = "super::lenient::usize_or_string"
    )]
    count: usize,
    ackmode: String,
    #[serde(default = "auto")]
    encoding: String,
    #[serde(default, deserialize_with = "super::lenient::opt_usize_or_string")]
    truncate: Option<usize>,
}

fn one_message() -> usize {
    1
}

fn auto() -> String {
    "auto".into()
}

/// POST /api/queues/{vhost}/{name}/get.
pub(crate) async fn get_messages(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost_name, name)): Path<(String, String)>,
    _headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    caller.require_permission(&vhost_name, Access::Read, "queue", &name)?;
    let v = vhost(&state, &vhost_name)?;
    let b: GetBody = body(&bytes)?;
    let settle = match b.ackmode.as_str() {
        "ack_requeue_true" | "reject_requeue_true" => GetSettle::Requeue,
        "ack_requeue_false" => GetSettle::Ack,
        "reject_requeue_false" => GetSettle::Reject,
        other => return Err(ApiError::bad_request(format!("invalid ackmode '{other}'"))),
    };
    if !matches!(b.encoding.as_str(), "auto" | "base64") {
        return Err(ApiError::bad_request(format!(
            "invalid encoding '{}'",
            b.encoding
        )));
    }
    let q = v.find_queue(&name).ok_or_else(ApiError::not_found)?;
    not_exclusive(&q)?;
    let got = v.get_messages(&name, b.count, settle).await?;
    let out: Vec<Value> = got
        .iter()
        .map(|m| crate::shapes::message::got(m, &b.encoding, b.truncate))
        .collect();
    Ok(Json(Value::Array(out)))
}

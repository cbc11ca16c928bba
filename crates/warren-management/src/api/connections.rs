//! `/api/connections`, `/api/channels`, `/api/consumers`: who is connected, their
//! channels and consumers; closing a connection.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use serde_json::Value;
use warren_broker::connections::ConnectionEntry;

use super::{blocking, list, no_content, per_vhost_list, visible_vhosts, Params};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::shapes::connection::{channel as channel_json, connection as connection_json};
use crate::shapes::queue::consumer;
use crate::Management;

/// The default reason of a close from the API.
const DEFAULT_CLOSE_REASON: &str = "Closed via management plugin";

fn visible(caller: &Caller, c: &ConnectionEntry) -> bool {
    caller.sees_connection_of(&c.info.user) && caller.sees_vhost(&c.info.vhost)
}

fn connections_json(state: &Management, caller: &Caller, vhost: Option<&str>) -> Vec<Value> {
    let node = state.node_name();
    state
        .broker
        .connections()
        .list()
        .iter()
        .filter(|c| visible(caller, c) && vhost.is_none_or(|v| v == c.info.vhost))
        .map(|c| connection_json(c, &node, &state.rates))
        .collect()
}

fn channels_json(
    state: &Management,
    caller: &Caller,
    keep: impl Fn(&ConnectionEntry) -> bool,
) -> Vec<Value> {
    let node = state.node_name();
    let mut out = Vec::new();
    for c in state.broker.connections().list() {
        if !visible(caller, &c) || !keep(&c) {
            continue;
        }
        for (number, ch) in c.stats.channels() {
            out.push(channel_json(&c, number, &ch, &node, &state.rates));
        }
    }
    out
}

/// GET /api/connections.
pub(crate) async fn connections(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    blocking(move || list(&params, connections_json(&state, &caller, None))).await
}

/// GET /api/vhosts/{vhost}/connections.
pub(crate) async fn vhost_connections(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path(vhost_name): Path<String>,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    caller.require_sees_vhost(&vhost_name)?;
    list(
        &params,
        connections_json(&state, &caller, Some(&vhost_name)),
    )
}

fn find(state: &Management, caller: &Caller, name: &str) -> ApiResult<Arc<ConnectionEntry>> {
    state
        .broker
        .connections()
        .by_name(name)
        .filter(|c| visible(caller, c))
        .ok_or_else(ApiError::not_found)
}

/// GET /api/connections/{name}.
pub(crate) async fn connection(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    let c = find(&state, &caller, &name)?;
    super::one(
        &params,
        connection_json(&c, &state.node_name(), &state.rates),
    )
}

/// DELETE /api/connections/{name}: closes it with 320 CONNECTION_FORCED and the
/// `X-Reason` header's text.
pub(crate) async fn close(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let c = find(&state, &caller, &name)?;
    if !caller.is_admin() && c.info.user != caller.user.name {
        return Err(ApiError::not_authorised("Not administrator user"));
    }
    let reason = headers
        .get("x-reason")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(DEFAULT_CLOSE_REASON);
    state.broker.connections().close(c.info.id, reason);
    tracing::info!(connection = %name, user = %caller.user.name, %reason, "management: connection closed");
    Ok(no_content())
}

/// GET /api/connections/{name}/channels.
pub(crate) async fn connection_channels(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    let c = find(&state, &caller, &name)?;
    let id = c.info.id;
    list(&params, channels_json(&state, &caller, |e| e.info.id == id))
}

/// GET /api/channels.
pub(crate) async fn channels(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    blocking(move || list(&params, channels_json(&state, &caller, |_| true))).await
}

/// GET /api/vhosts/{vhost}/channels.
pub(crate) async fn vhost_channels(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path(vhost_name): Path<String>,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    caller.require_sees_vhost(&vhost_name)?;
    list(
        &params,
        channels_json(&state, &caller, |e| e.info.vhost == vhost_name),
    )
}

/// A channel by its name, `"{connection name} ({number})"`.
fn channel_one(state: &Management, caller: &Caller, name: &str) -> ApiResult<Value> {
    let (conn_name, number) = name
        .rsplit_once(" (")
        .and_then(|(c, n)| Some((c, n.strip_suffix(')')?.parse::<u16>().ok()?)))
        .ok_or_else(ApiError::not_found)?;
    let c = find(state, caller, conn_name)?;
    let (_, ch) = c
        .stats
        .channels()
        .into_iter()
        .find(|(n, _)| *n == number)
        .ok_or_else(ApiError::not_found)?;
    Ok(channel_json(
        &c,
        number,
        &ch,
        &state.node_name(),
        &state.rates,
    ))
}

/// GET /api/channels/{name}.
pub(crate) async fn channel(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    let ch = channel_one(&state, &caller, &name)?;
    super::one(&params, ch)
}

fn consumers_json(state: &Management, caller: &Caller, only: Option<&str>) -> Vec<Value> {
    let names = super::queues::connection_names(state);
    let node = state.node_name();
    let mut out = Vec::new();
    for v in visible_vhosts(state, caller, only) {
        for q in v.queues() {
            for c in q.snapshot().consumers {
                // A management user sees the consumers of its own connections only.
                let owner = names
                    .get(&c.consumer.spec.connection)
                    .map(|n| n.user.as_str());
                if caller.is_monitor() || owner == Some(caller.user.name.as_str()) {
                    out.push(consumer(&c, &q, v.name(), &names, &node));
                }
            }
        }
    }
    out
}

/// GET /api/consumers.
pub(crate) async fn consumers(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    per_vhost_list(state, caller, None, params, consumers_json).await
}

/// GET /api/consumers/{vhost}.
pub(crate) async fn vhost_consumers(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path(vhost_name): Path<String>,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    per_vhost_list(state, caller, Some(vhost_name), params, consumers_json).await
}

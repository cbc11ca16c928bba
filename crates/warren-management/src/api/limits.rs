//! `/api/vhost-limits` and `/api/user-limits`: read by monitors, set by administrators,
//! one key at a time (`PUT .../{name}` with `{"value": N}`).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Json;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value};
use warren_broker::access::{UserLimits, VHostLimits};

use super::{body, list, no_content, Params};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::shapes::access::limits as limits_json;
use crate::Management;

#[derive(Debug, Deserialize)]
struct LimitBody {
    value: Value,
}

fn vhost_items(state: &Management, only: Option<&str>) -> Vec<Value> {
    let mut all = state.broker.access().all_vhost_limits();
    all.retain(|(v, l)| !l.is_empty() && only.is_none_or(|o| o == v));
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all.iter()
        .map(|(v, l)| limits_json("vhost", v, l.to_json()))
        .collect()
}

fn user_items(state: &Management, only: Option<&str>) -> Vec<Value> {
    let mut users = state.broker.access().users();
    users.retain(|u| only.is_none_or(|o| o == u.name) && !u.limits.to_json().is_empty());
    users.sort_by(|a, b| a.name.cmp(&b.name));
    users
        .iter()
        .map(|u| limits_json("user", &u.name, u.limits.to_json()))
        .collect()
}

/// GET /api/vhost-limits.
pub(crate) async fn vhost_limits(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    caller.require_monitor()?;
    list(&params, vhost_items(&state, None))
}

/// GET /api/vhost-limits/{vhost}.
pub(crate) async fn vhost_limits_of(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path(vhost): Path<String>,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    caller.require_sees_vhost(&vhost)?;
    list(&params, vhost_items(&state, Some(&vhost)))
}

fn with_key(mut map: Map<String, Value>, name: &str, value: Option<Value>) -> Map<String, Value> {
    match value {
        Some(v) => {
            map.insert(name.to_owned(), v);
        }
        None => {
            map.remove(name);
        }
    }
    map
}

async fn set_vhost_limit(
    state: &Management,
    caller: &Caller,
    vhost: &str,
    name: &str,
    value: Option<Value>,
) -> ApiResult<Response> {
    caller.require_admin()?;
    super::vhost(state, vhost)?;
    let current = state.broker.access().vhost_limits(vhost).to_json();
    if value.is_none() && !current.contains_key(name) {
        return Err(ApiError::not_found());
    }
    let limits = VHostLimits::from_json(&with_key(current, name, value))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    state
        .broker
        .set_vhost_limits(vhost, limits)?
        .committed()
        .await?;
    tracing::info!(%vhost, limit = %name, by = %caller.user.name, "management: vhost limit changed");
    Ok(no_content())
}

/// PUT /api/vhost-limits/{vhost}/{name}.
pub(crate) async fn put_vhost_limit(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost, name)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let b: LimitBody = body(&bytes)?;
    set_vhost_limit(&state, &caller, &vhost, &name, Some(b.value)).await
}

/// DELETE /api/vhost-limits/{vhost}/{name}.
pub(crate) async fn delete_vhost_limit(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    set_vhost_limit(&state, &caller, &vhost, &name, None).await
}

/// GET /api/user-limits.
pub(crate) async fn user_limits(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    caller.require_monitor()?;
    list(&params, user_items(&state, None))
}

/// GET /api/user-limits/{user}.
pub(crate) async fn user_limits_of(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path(user): Path<String>,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    if caller.user.name != user {
        caller.require_monitor()?;
    }
    list(&params, user_items(&state, Some(&user)))
}

async fn set_user_limit(
    state: &Management,
    caller: &Caller,
    user: &str,
    name: &str,
    value: Option<Value>,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let existing = state
        .broker
        .access()
        .user(user)
        .ok_or_else(ApiError::not_found)?;
    let current = existing.limits.to_json();
    if value.is_none() && !current.contains_key(name) {
        return Err(ApiError::not_found());
    }
    let limits = UserLimits::from_json(&with_key(current, name, value))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    state
        .broker
        .set_user_limits(user, limits)?
        .committed()
        .await?;
    tracing::info!(%user, limit = %name, by = %caller.user.name, "management: user limit changed");
    Ok(no_content())
}

/// PUT /api/user-limits/{user}/{name}.
pub(crate) async fn put_user_limit(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((user, name)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let b: LimitBody = body(&bytes)?;
    set_user_limit(&state, &caller, &user, &name, Some(b.value)).await
}

/// DELETE /api/user-limits/{user}/{name}.
pub(crate) async fn delete_user_limit(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((user, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    set_user_limit(&state, &caller, &user, &name, None).await
}

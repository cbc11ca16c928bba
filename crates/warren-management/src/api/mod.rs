//! The routes of `/api`, one module per group of endpoints, and what they share:
//! reading a JSON body, finding a vhost, answering a list.

mod access;
mod bindings;
mod connections;
mod definitions;
mod exchanges;
mod health;
mod lenient;
mod limits;
pub(crate) mod overview;
mod policies;
mod queues;
mod warren;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::Value;
use warren_broker::VHost;

use crate::error::{ApiError, ApiResult};
use crate::listing::ListQuery;
use crate::Management;

/// Query parameters.
pub(crate) type Params = Query<HashMap<String, String>>;

/// All `/api` routes.
pub(crate) fn router(state: Arc<Management>) -> Router {
    Router::new()
        .route("/api/overview", get(overview::overview))
        .route("/api/cluster-name", get(overview::cluster_name))
        .route("/api/nodes", get(overview::nodes))
        .route("/api/nodes/{node}", get(overview::node))
        .route("/api/whoami", get(overview::whoami))
        .route("/api/extensions", get(overview::extensions))
        .route("/api/vhosts", get(access::vhosts))
        .route(
            "/api/vhosts/{vhost}",
            get(access::vhost)
                .put(access::put_vhost)
                .delete(access::delete_vhost),
        )
        .route(
            "/api/vhosts/{vhost}/permissions",
            get(access::vhost_permissions),
        )
        .route(
            "/api/vhosts/{vhost}/connections",
            get(connections::vhost_connections),
        )
        .route(
            "/api/vhosts/{vhost}/channels",
            get(connections::vhost_channels),
        )
        .route("/api/users", get(access::users))
        .route(
            "/api/users/{user}",
            get(access::user)
                .put(access::put_user)
                .delete(access::delete_user),
        )
        .route(
            "/api/users/{user}/permissions",
            get(access::user_permissions),
        )
        .route("/api/permissions", get(access::permissions))
        .route(
            "/api/permissions/{vhost}/{user}",
            get(access::permission)
                .put(access::put_permission)
                .delete(access::delete_permission),
        )
        .route("/api/topic-permissions", get(access::topic_permissions))
        .route(
            "/api/topic-permissions/{vhost}/{user}",
            get(access::topic_permission)
                .put(access::put_topic_permission)
                .delete(access::delete_topic_permission),
        )
        .route("/api/policies", get(policies::policies))
        .route("/api/policies/{vhost}", get(policies::vhost_policies))
        .route(
            "/api/policies/{vhost}/{name}",
            get(policies::policy)
                .put(policies::put_policy)
                .delete(policies::delete_policy),
        )
        .route("/api/operator-policies", get(policies::operator_policies))
        .route(
            "/api/operator-policies/{vhost}",
            get(policies::vhost_operator_policies),
        )
        .route(
            "/api/operator-policies/{vhost}/{name}",
            get(policies::operator_policy)
                .put(policies::put_operator_policy)
                .delete(policies::delete_operator_policy),
        )
        .route("/api/vhost-limits", get(limits::vhost_limits))
        .route("/api/vhost-limits/{vhost}", get(limits::vhost_limits_of))
        .route(
            "/api/vhost-limits/{vhost}/{name}",
            put(limits::put_vhost_limit).delete(limits::delete_vhost_limit),
        )
        .route("/api/user-limits", get(limits::user_limits))
        .route("/api/user-limits/{user}", get(limits::user_limits_of))
        .route(
            "/api/user-limits/{user}/{name}",
            put(limits::put_user_limit).delete(limits::delete_user_limit),
        )
        .route("/api/queues", get(queues::all))
        .route("/api/queues/{vhost}", get(queues::in_vhost))
        .route(
            "/api/queues/{vhost}/{name}",
            get(queues::one).put(queues::put).delete(queues::delete),
        )
        .route("/api/queues/{vhost}/{name}/bindings", get(queues::bindings))
        .route(
            "/api/queues/{vhost}/{name}/contents",
            axum::routing::delete(queues::purge),
        )
        .route("/api/queues/{vhost}/{name}/get", post(queues::get_messages))
        .route("/api/exchanges", get(exchanges::all))
        .route("/api/exchanges/{vhost}", get(exchanges::in_vhost))
        .route(
            "/api/exchanges/{vhost}/{name}",
            get(exchanges::one)
                .put(exchanges::put)
                .delete(exchanges::delete),
        )
        .route(
            "/api/exchanges/{vhost}/{name}/bindings/source",
            get(exchanges::source_bindings),
        )
        .route(
            "/api/exchanges/{vhost}/{name}/bindings/destination",
            get(exchanges::destination_bindings),
        )
        .route(
            "/api/exchanges/{vhost}/{name}/publish",
            post(exchanges::publish),
        )
        .route("/api/bindings", get(bindings::all))
        .route("/api/bindings/{vhost}", get(bindings::in_vhost))
        .route(
            "/api/bindings/{vhost}/e/{source}/{kind}/{destination}",
            get(bindings::between).post(bindings::create),
        )
        .route(
            "/api/bindings/{vhost}/e/{source}/{kind}/{destination}/{props}",
            get(bindings::one).delete(bindings::delete),
        )
        .route("/api/connections", get(connections::connections))
        .route(
            "/api/connections/{name}",
            get(connections::connection).delete(connections::close),
        )
        .route(
            "/api/connections/{name}/channels",
            get(connections::connection_channels),
        )
        .route("/api/channels", get(connections::channels))
        .route("/api/channels/{name}", get(connections::channel))
        .route("/api/consumers", get(connections::consumers))
        .route("/api/consumers/{vhost}", get(connections::vhost_consumers))
        .route(
            "/api/definitions",
            get(definitions::export).post(definitions::import),
        )
        .route(
            "/api/definitions/{vhost}",
            get(definitions::export_vhost).post(definitions::import_vhost),
        )
        .route("/api/health/checks/alarms", get(health::alarms))
        .route("/api/health/checks/local-alarms", get(health::alarms))
        .route(
            "/api/health/checks/port-listener/{port}",
            get(health::port_listener),
        )
        .route(
            "/api/health/checks/virtual-hosts",
            get(health::virtual_hosts),
        )
        .route("/api/aliveness-test/{vhost}", get(health::aliveness))
        .route("/api/warren/apply", post(warren::apply))
        .route(
            "/api/warren/queues/{vhost}/{name}/replay",
            post(warren::replay),
        )
        .route(
            "/api/warren/queues/{vhost}/{name}/move",
            post(warren::move_messages),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

/// Parses a JSON request body; an empty body is `{}`.
pub(crate) fn body<T: DeserializeOwned>(bytes: &Bytes) -> ApiResult<T> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::bad_request("not_json"));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            ApiError::bad_request("not_json")
        } else {
            ApiError::bad_request(e.to_string())
        }
    })
}

/// AMQP names (queues, exchanges) are short strings: at most 255 bytes.
pub(crate) fn check_name(kind: &str, name: &str) -> ApiResult<()> {
    if name.len() > 255 {
        return Err(ApiError::bad_request(format!(
            "{kind} should be less than 255 bytes, actually was {}",
            name.len()
        )));
    }
    Ok(())
}

/// The vhost named `name`, or 404.
pub(crate) fn vhost(state: &Management, name: &str) -> ApiResult<Arc<VHost>> {
    state.broker.vhost(name).ok_or_else(ApiError::not_found)
}

/// A list answered with the request's filters, sorting, paging and columns.
pub(crate) fn list(params: &HashMap<String, String>, items: Vec<Value>) -> ApiResult<Json<Value>> {
    Ok(Json(ListQuery::parse(params)?.apply(items)?))
}

/// One object, trimmed to `columns=` if given.
pub(crate) fn one(params: &HashMap<String, String>, item: Value) -> ApiResult<Json<Value>> {
    Ok(Json(ListQuery::parse(params)?.trim(item)))
}

/// The vhosts the caller may see, by name: all of them, or only `only`.
pub(crate) fn visible_vhosts(
    state: &Management,
    caller: &crate::auth::Caller,
    only: Option<&str>,
) -> Vec<Arc<VHost>> {
    let mut vhosts: Vec<Arc<VHost>> = state
        .broker
        .vhosts()
        .into_iter()
        .filter(|v| only.is_none_or(|o| o == v.name().as_ref()) && caller.sees_vhost(v.name()))
        .collect();
    vhosts.sort_by(|a, b| a.name().cmp(b.name()));
    vhosts
}

/// What builds a list from the vhosts a caller sees (`None`: all of them).
pub(crate) type PerVhost = fn(&Management, &crate::auth::Caller, Option<&str>) -> Vec<Value>;

/// Answers a list built vhost by vhost, off the async workers: every vhost the caller
/// sees, or only `vhost` (404 if it does not exist, 401 if the caller may not see it).
pub(crate) async fn per_vhost_list(
    state: Arc<Management>,
    caller: crate::auth::Caller,
    vhost: Option<String>,
    params: HashMap<String, String>,
    build: PerVhost,
) -> ApiResult<Json<Value>> {
    if let Some(v) = &vhost {
        caller.require_sees_vhost(v)?;
    }
    blocking(move || list(&params, build(&state, &caller, vhost.as_deref()))).await
}

/// Runs CPU-heavy work (building thousands of objects) off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(format!("worker failed: {e}")))?
}

/// 201 Created (a PUT that made something new).
pub(crate) fn created() -> Response {
    StatusCode::CREATED.into_response()
}

/// 204 No Content.
pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

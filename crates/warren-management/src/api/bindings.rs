//! `/api/bindings`: list, create (with the new binding's key in `Location`), show and
//! delete by properties key.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value};
use warren_broker::access::Access;
use warren_broker::definitions::arguments::table_from_json;
use warren_broker::routing::Destination;
use warren_broker::VHost;
use warren_protocol::FieldTable;

use super::{body, list, no_content, per_vhost_list, vhost, visible_vhosts, Params};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::shapes::binding::{all_bindings, binding, default_binding, key_matches, properties_key};
use crate::Management;

fn bindings_of(state: &Management, caller: &Caller, only: Option<&str>) -> Vec<Value> {
    visible_vhosts(state, caller, only)
        .iter()
        .flat_map(|v| all_bindings(v))
        .collect()
}

/// GET /api/bindings.
pub(crate) async fn all(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    per_vhost_list(state, caller, None, params, bindings_of).await
}

/// GET /api/bindings/{vhost}.
pub(crate) async fn in_vhost(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path(vhost_name): Path<String>,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    per_vhost_list(state, caller, Some(vhost_name), params, bindings_of).await
}

/// The destination of `/e/{source}/{kind}/{destination}`: `q` or `e`.
fn destination(kind: &str, name: &str) -> ApiResult<Destination> {
    match kind {
        "q" => Ok(Destination::Queue(name.into())),
        "e" => Ok(Destination::Exchange(name.into())),
        _ => Err(ApiError::not_found()),
    }
}

/// The bindings from `source` to `dest`, as JSON.
fn between_json(v: &VHost, source: &str, dest: &Destination) -> ApiResult<Vec<Value>> {
    let name = v.name();
    if source.is_empty() || source == "amq.default" {
        return Ok(match dest {
            Destination::Queue(q) if v.find_queue(q).is_some() => vec![default_binding(q, name)],
            _ => Vec::new(),
        });
    }
    let e = v.exchange(source).map_err(|_| ApiError::not_found())?;
    Ok(e.bindings()
        .iter()
        .filter(|b| &b.destination == dest)
        .map(|b| binding(source, b, name))
        .collect())
}

fn check_ends_exist(v: &VHost, source: &str, dest: &Destination) -> ApiResult<()> {
    if !source.is_empty() && v.exchange(source).is_err() {
        return Err(ApiError::not_found());
    }
    let exists = match dest {
        Destination::Queue(q) => v.find_queue(q).is_some(),
        Destination::Exchange(e) => v.exchange(e).is_ok(),
    };
    if exists {
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}

/// GET /api/bindings/{vhost}/e/{source}/{q|e}/{destination}.
pub(crate) async fn between(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost_name, source, kind, dest)): Path<(String, String, String, String)>,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    caller.require_sees_vhost(&vhost_name)?;
    let v = vhost(&state, &vhost_name)?;
    let dest = destination(&kind, &dest)?;
    check_ends_exist(&v, &source, &dest)?;
    list(&params, between_json(&v, &source, &dest)?)
}

#[derive(Debug, Deserialize)]
struct BindingBody {
    #[serde(default)]
    routing_key: String,
    #[serde(default)]
    arguments: Map<String, Value>,
}

fn arguments_of(b: &BindingBody) -> FieldTable {
    table_from_json(&b.arguments)
}

/// POST /api/bindings/{vhost}/e/{source}/{q|e}/{destination}: 201 with the new
/// binding's properties key in `Location`.
pub(crate) async fn create(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost_name, source, kind, dest_name)): Path<(String, String, String, String)>,
    bytes: Bytes,
) -> ApiResult<Response> {
    let dest = destination(&kind, &dest_name)?;
    let dest_kind = if kind == "q" { "queue" } else { "exchange" };
    caller.require_permission(&vhost_name, Access::Write, dest_kind, &dest_name)?;
    caller.require_permission(&vhost_name, Access::Read, "exchange", &source)?;
    let v = vhost(&state, &vhost_name)?;
    let b: BindingBody = body(&bytes)?;
    check_ends_exist(&v, &source, &dest)?;
    let args = arguments_of(&b);
    match &dest {
        Destination::Queue(q) => v.bind_queue(q, &source, &b.routing_key, &args, 0)?,
        Destination::Exchange(e) => v.bind_exchange(e, &source, &b.routing_key, &args)?,
    }
    .committed()
    .await?;
    tracing::info!(vhost = %vhost_name, source = %source, destination = %dest_name, "management: binding created");
    let key = properties_key(&b.routing_key, &args);
    let location = format!(
        "{}/{}",
        encode_path_segment(&dest_name),
        encode_path_segment(&key)
    );
    let mut response = StatusCode::CREATED.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// Percent-encodes what a path segment cannot hold as is.
fn encode_path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The binding from `source` to `dest` whose properties key is `props`.
fn find_binding(
    v: &VHost,
    source: &str,
    dest: &Destination,
    props: &str,
) -> ApiResult<(String, FieldTable, Value)> {
    if source.is_empty() {
        return Err(ApiError::not_found());
    }
    let e = v.exchange(source).map_err(|_| ApiError::not_found())?;
    e.bindings()
        .into_iter()
        .find(|b| &b.destination == dest && key_matches(props, &b.routing_key, &b.arguments))
        .map(|b| {
            let json = binding(source, &b, v.name());
            (b.routing_key.to_string(), b.arguments, json)
        })
        .ok_or_else(ApiError::not_found)
}

/// GET /api/bindings/{vhost}/e/{source}/{q|e}/{destination}/{props}.
pub(crate) async fn one(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost_name, source, kind, dest, props)): Path<(String, String, String, String, String)>,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    caller.require_sees_vhost(&vhost_name)?;
    let v = vhost(&state, &vhost_name)?;
    let dest = destination(&kind, &dest)?;
    let (_, _, json) = find_binding(&v, &source, &dest, &props)?;
    super::one(&params, json)
}

/// DELETE /api/bindings/{vhost}/e/{source}/{q|e}/{destination}/{props}.
pub(crate) async fn delete(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost_name, source, kind, dest_name, props)): Path<(
        String,
        String,
        String,
        String,
        String,
    )>,
) -> ApiResult<Response> {
    let dest_kind = if kind == "q" { "queue" } else { "exchange" };
    caller.require_permission(&vhost_name, Access::Write, dest_kind, &dest_name)?;
    let v = vhost(&state, &vhost_name)?;
    let dest = destination(&kind, &dest_name)?;
    let (key, args, _) = find_binding(&v, &source, &dest, &props)?;
    match &dest {
        Destination::Queue(q) => v.unbind_queue(q, &source, &key, &args, 0)?,
        Destination::Exchange(e) => v.unbind_exchange(e, &source, &key, &args)?,
    }
    .committed()
    .await?;
    tracing::info!(vhost = %vhost_name, source = %source, destination = %dest_name, "management: binding deleted");
    Ok(no_content())
}

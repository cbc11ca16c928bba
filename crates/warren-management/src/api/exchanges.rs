//! `/api/exchanges`: list, show, declare, delete, publish, and an exchange's bindings.
//! In URLs the default exchange is called `amq.default`, as in RabbitMQ.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Json;
use base64::Engine;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use warren_broker::access::Access;
use warren_broker::definitions::arguments::table_from_json;
use warren_broker::routing::{Destination, ExchangeKind};
use warren_broker::{ExchangeDeclare, VHost};

use super::{body, created, list, no_content, per_vhost_list, vhost, visible_vhosts, Params};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::shapes::binding::{binding, default_binding};
use crate::shapes::exchange::{default_exchange, exchange};
use crate::shapes::message::properties_from_json;
use crate::Management;

/// The URL name of the default exchange.
const DEFAULT_EXCHANGE_URL_NAME: &str = "amq.default";

/// The exchange's real name for a URL name.
fn real_name(url_name: &str) -> &str {
    if url_name == DEFAULT_EXCHANGE_URL_NAME {
        ""
    } else {
        url_name
    }
}

fn exchanges_of(v: &VHost) -> Vec<Value> {
    let mut list: Vec<_> = v.exchanges();
    list.sort_by(|a, b| a.name().cmp(b.name()));
    let mut out = vec![default_exchange(v.name())];
    out.extend(list.iter().map(|e| exchange(e, v.name())));
    out
}

fn all_exchanges(state: &Management, caller: &Caller, only: Option<&str>) -> Vec<Value> {
    visible_vhosts(state, caller, only)
        .iter()
        .flat_map(|v| exchanges_of(v))
        .collect()
}

/// GET /api/exchanges.
pub(crate) async fn all(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    per_vhost_list(state, caller, None, params, all_exchanges).await
}

/// GET /api/exchanges/{vhost}.
pub(crate) async fn in_vhost(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path(vhost_name): Path<String>,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    per_vhost_list(state, caller, Some(vhost_name), params, all_exchanges).await
}

/// GET /api/exchanges/{vhost}/{name}.
pub(crate) async fn one(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost_name, name)): Path<(String, String)>,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    caller.require_sees_vhost(&vhost_name)?;
    let v = vhost(&state, &vhost_name)?;
    let name = real_name(&name);
    let mut out = if name.is_empty() {
        default_exchange(&vhost_name)
    } else {
        exchange(
            &*v.exchange(name).map_err(|_| ApiError::not_found())?,
            &vhost_name,
        )
    };
    out["incoming"] = json!([]);
    out["outgoing"] = json!([]);
    super::one(&params, out)
}

#[derive(Debug, Deserialize)]
struct ExchangeBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default = "yes", deserialize_with = "super::lenient::bool_or_string")]
    durable: bool,
    #[serde(default, deserialize_with = "super::lenient::bool_or_string")]
    auto_delete: bool,
    #[serde(default, deserialize_with = "super::lenient::bool_or_string")]
    internal: bool,
    #[serde(default)]
    arguments: Map<String, Value>,
}

fn yes() -> bool {
    true
}

/// PUT /api/exchanges/{vhost}/{name}.
pub(crate) async fn put(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost_name, name)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Response> {
    caller.require_permission(&vhost_name, Access::Configure, "exchange", &name)?;
    let v = vhost(&state, &vhost_name)?;
    super::check_name("exchange", &name)?;
    let b: ExchangeBody = body(&bytes)?;
    // RabbitMQ declares a direct exchange when the type is left out.
    let kind = b.kind.unwrap_or_else(|| "direct".to_owned());
    let existed = v.exchange(&name).is_ok();
    let declare = ExchangeDeclare {
        name: name.clone(),
        kind,
        passive: false,
        durable: b.durable,
        auto_delete: b.auto_delete,
        internal: b.internal,
        arguments: table_from_json(&b.arguments),
    };
    v.declare_exchange(&declare)?.committed().await?;
    tracing::info!(vhost = %vhost_name, exchange = %name, user = %caller.user.name, "management: exchange declared");
    Ok(if existed { no_content() } else { created() })
}

/// DELETE /api/exchanges/{vhost}/{name}?if-unused=true.
pub(crate) async fn delete(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost_name, name)): Path<(String, String)>,
    Query(params): Params,
) -> ApiResult<Response> {
    caller.require_permission(&vhost_name, Access::Configure, "exchange", &name)?;
    let v = vhost(&state, &vhost_name)?;
    if v.exchange(&name).is_err() {
        return Err(ApiError::not_found());
    }
    let if_unused = params.get("if-unused").is_some_and(|v| v == "true");
    v.delete_exchange(&name, if_unused)?.committed().await?;
    tracing::info!(vhost = %vhost_name, exchange = %name, user = %caller.user.name, "management: exchange deleted");
    Ok(no_content())
}

/// GET /api/exchanges/{vhost}/{name}/bindings/source.
pub(crate) async fn source_bindings(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost_name, name)): Path<(String, String)>,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    caller.require_sees_vhost(&vhost_name)?;
    let v = vhost(&state, &vhost_name)?;
    let name = real_name(&name);
    let out = if name.is_empty() {
        let mut queues: Vec<_> = v.queues().iter().map(|q| q.name().clone()).collect();
        queues.sort();
        queues
            .iter()
            .map(|q| default_binding(q, &vhost_name))
            .collect()
    } else {
        let e = v.exchange(name).map_err(|_| ApiError::not_found())?;
        e.bindings()
            .iter()
            .map(|b| binding(name, b, &vhost_name))
            .collect()
    };
    list(&params, out)
}

/// GET /api/exchanges/{vhost}/{name}/bindings/destination.
pub(crate) async fn destination_bindings(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost_name, name)): Path<(String, String)>,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    caller.require_sees_vhost(&vhost_name)?;
    let v = vhost(&state, &vhost_name)?;
    v.exchange(&name).map_err(|_| ApiError::not_found())?;
    let mut exchanges = v.exchanges();
    exchanges.sort_by(|a, b| a.name().cmp(b.name()));
    let mut out = Vec::new();
    for e in exchanges {
        for b in e.bindings() {
            if matches!(&b.destination, Destination::Exchange(d) if d.as_ref() == name) {
                out.push(binding(e.name(), &b, &vhost_name));
            }
        }
    }
    list(&params, out)
}

/// The caller's topic permission on a topic exchange must allow the routing key, as
/// over AMQP (no topic permission for the exchange: allowed).
fn check_topic_write(
    state: &Management,
    caller: &Caller,
    vhost: &str,
    exchange: &str,
    routing_key: &str,
) -> ApiResult<()> {
    let permission = state
        .broker
        .access()
        .topic_permission(&caller.user.name, vhost, exchange);
    match permission {
        Some(p) if !p.allows(Access::Write, routing_key) => Err(ApiError::bad_request(format!(
            "403 ACCESS_REFUSED - access to topic '{routing_key}' in exchange '{exchange}' in vhost '{vhost}' refused for user '{}'",
            caller.user.name
        ))),
        _ => Ok(()),
    }
}

#[derive(Debug, Deserialize)]
struct PublishBody {
    #[serde(default)]
    properties: Value,
    routing_key: String,
    payload: String,
    #[serde(default = "string_encoding")]
    payload_encoding: String,
}

fn string_encoding() -> String {
    "string".into()
}

/// POST /api/exchanges/{vhost}/{name}/publish: `{"routed": bool}`.
pub(crate) async fn publish(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost_name, name)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let name = real_name(&name).to_owned();
    caller.require_permission(&vhost_name, Access::Write, "exchange", &name)?;
    let v = vhost(&state, &vhost_name)?;
    let b: PublishBody = body(&bytes)?;
    let payload = match b.payload_encoding.as_str() {
        "string" => Bytes::from(b.payload.into_bytes()),
        "base64" => Bytes::from(
            base64::engine::general_purpose::STANDARD
                .decode(b.payload.trim())
                .map_err(|e| ApiError::bad_request(format!("payload is not base64: {e}")))?,
        ),
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid payload_encoding '{other}'"
            )))
        }
    };
    let props = properties_from_json(&b.properties)?;
    if !name.is_empty() {
        let exchange = v.exchange(&name).map_err(|_| ApiError::not_found())?;
        if exchange.config().internal {
            return Err(ApiError::bad_request(format!(
                "403 ACCESS_REFUSED - cannot publish to internal exchange '{name}' in vhost '{vhost_name}'"
            )));
        }
        if exchange.config().kind == ExchangeKind::Topic {
            check_topic_write(&state, &caller, &vhost_name, &name, &b.routing_key)?;
        }
    }
    let routed = v
        .publish_message(&name, &b.routing_key, &props, payload)
        .await?;
    Ok(Json(json!({ "routed": routed })))
}

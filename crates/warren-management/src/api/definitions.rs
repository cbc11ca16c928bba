//! `/api/definitions[/{vhost}]`: export (GET) and import (POST) of RabbitMQ's
//! definitions document, through the broker's admin interface.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use bytes::Bytes;
use serde_json::Value;
use warren_broker::definitions::{Definitions, ImportMode};

use super::{blocking, no_content, vhost};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::Management;

fn to_json(defs: &Definitions) -> ApiResult<Value> {
    serde_json::to_value(defs).map_err(|e| ApiError::internal(format!("export: {e}")))
}

/// Only what belongs to `name`: its parameters, policies, queues, exchanges and
/// bindings (a vhost export carries no users, vhosts or permissions).
fn only_vhost(mut d: Definitions, name: &str) -> Definitions {
    d.users.clear();
    d.vhosts.clear();
    d.permissions.clear();
    d.topic_permissions.clear();
    d.global_parameters.clear();
    d.parameters.retain(|p| p.vhost == name);
    d.policies.retain(|p| p.vhost == name);
    d.queues.retain(|q| q.vhost == name);
    d.exchanges.retain(|e| e.vhost == name);
    d.bindings.retain(|b| b.vhost == name);
    d
}

/// GET /api/definitions (administrator). Built off the async workers: an export of
/// thousands of entities is megabytes of JSON.
pub(crate) async fn export(
    State(state): State<Arc<Management>>,
    caller: Caller,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    blocking(move || Ok(Json(to_json(&state.broker.export_definitions())?))).await
}

/// GET /api/definitions/{vhost}: as RabbitMQ shapes it, only `rabbit_version`,
/// `parameters`, `policies`, `queues`, `exchanges` and `bindings`, without `vhost` keys.
pub(crate) async fn export_vhost(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    vhost(&state, &name)?;
    blocking(move || {
        let defs = only_vhost(state.broker.export_definitions(), &name);
        let full = to_json(&defs)?;
        let mut out = serde_json::Map::new();
        out.insert("rabbit_version".into(), full["rabbit_version"].clone());
        for section in ["parameters", "policies", "queues", "exchanges", "bindings"] {
            let mut items = full[section].clone();
            if let Value::Array(list) = &mut items {
                for item in list.iter_mut().filter_map(Value::as_object_mut) {
                    item.remove("vhost");
                }
            }
            out.insert(section.into(), items);
        }
        Ok(Json(Value::Object(out)))
    })
    .await
}

/// Parses a definitions document; errors name what is wrong.
pub(crate) fn parse(bytes: &Bytes) -> ApiResult<Definitions> {
    serde_json::from_slice(bytes).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            ApiError::bad_request("not_json")
        } else {
            ApiError::bad_request(format!("invalid definitions: {e}"))
        }
    })
}

async fn import_defs(
    state: &Management,
    caller: &Caller,
    defs: Definitions,
) -> ApiResult<Response> {
    let report = state
        .broker
        .import_definitions(&defs, ImportMode::Replace)
        .await?;
    tracing::info!(
        applied = report.applied,
        unchanged = report.unchanged,
        skipped = report.skipped.len(),
        by = %caller.user.name,
        "management: definitions imported"
    );
    Ok(no_content())
}

/// POST /api/definitions (administrator).
pub(crate) async fn import(
    State(state): State<Arc<Management>>,
    caller: Caller,
    bytes: Bytes,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let defs = parse(&bytes)?;
    import_defs(&state, &caller, defs).await
}

/// POST /api/definitions/{vhost}: every entity goes into that vhost.
pub(crate) async fn import_vhost(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path(name): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    caller.require_admin()?;
    vhost(&state, &name)?;
    let mut doc: Value =
        serde_json::from_slice(&bytes).map_err(|_| ApiError::bad_request("not_json"))?;
    for section in ["parameters", "policies", "queues", "exchanges", "bindings"] {
        if let Some(Value::Array(items)) = doc.get_mut(section) {
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                item.insert("vhost".into(), Value::String(name.clone()));
            }
        }
    }
    let defs: Definitions = serde_json::from_value(doc)
        .map_err(|e| ApiError::bad_request(format!("invalid definitions: {e}")))?;
    let defs = only_vhost(defs, &name);
    import_defs(&state, &caller, defs).await
}

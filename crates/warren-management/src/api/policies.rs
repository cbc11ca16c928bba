//! `/api/policies` and `/api/operator-policies`. Reading needs a view of the vhost;
//! changing a policy needs `policymaker` (or `administrator`) and access to the vhost;
//! operator policies are changed by administrators only.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value};
use warren_broker::definitions::PolicyDef;

use super::{body, created, list, no_content, one, Params};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::shapes::access::policy as policy_json;
use crate::Management;

fn visible(state: &Management, caller: &Caller, operator: bool, vhost: Option<&str>) -> Vec<Value> {
    let mut defs = state.broker.policy_defs(operator);
    defs.retain(|p| caller.sees_vhost(&p.vhost) && vhost.is_none_or(|v| v == p.vhost));
    defs.sort_by(|a, b| (&a.vhost, &a.name).cmp(&(&b.vhost, &b.name)));
    defs.iter().map(policy_json).collect()
}

async fn list_all(
    state: Arc<Management>,
    caller: Caller,
    params: Params,
    operator: bool,
) -> ApiResult<Json<Value>> {
    list(&params, visible(&state, &caller, operator, None))
}

async fn list_vhost(
    state: Arc<Management>,
    caller: Caller,
    vhost: String,
    params: Params,
    operator: bool,
) -> ApiResult<Json<Value>> {
    caller.require_sees_vhost(&vhost)?;
    list(&params, visible(&state, &caller, operator, Some(&vhost)))
}

fn get_one(
    state: &Management,
    caller: &Caller,
    vhost: &str,
    name: &str,
    operator: bool,
    params: &Params,
) -> ApiResult<Json<Value>> {
    caller.require_sees_vhost(vhost)?;
    let p = state
        .broker
        .policy_def(vhost, name, operator)
        .ok_or_else(ApiError::not_found)?;
    one(params, policy_json(&p))
}

#[derive(Debug, Deserialize)]
struct PolicyBody {
    pattern: String,
    definition: Map<String, Value>,
    #[serde(default)]
    priority: i64,
    #[serde(rename = "apply-to", default = "all")]
    apply_to: String,
}

fn all() -> String {
    "all".into()
}

fn may_change(caller: &Caller, vhost: &str, operator: bool) -> ApiResult<()> {
    if operator {
        caller.require_admin()?;
    } else {
        caller.require_policymaker()?;
    }
    caller.require_vhost(vhost)
}

async fn put_one(
    state: Arc<Management>,
    caller: Caller,
    vhost: String,
    name: String,
    bytes: Bytes,
    operator: bool,
) -> ApiResult<Response> {
    may_change(&caller, &vhost, operator)?;
    let b: PolicyBody = body(&bytes)?;
    let existed = state.broker.policy_def(&vhost, &name, operator).is_some();
    let def = PolicyDef {
        vhost: vhost.clone(),
        name: name.clone(),
        pattern: b.pattern,
        apply_to: b.apply_to,
        definition: b.definition,
        priority: b.priority,
    };
    state.broker.set_policy(&def, operator)?.committed().await?;
    tracing::info!(%vhost, policy = %name, operator, by = %caller.user.name, "management: policy set");
    Ok(if existed { no_content() } else { created() })
}

async fn delete_one(
    state: Arc<Management>,
    caller: Caller,
    vhost: String,
    name: String,
    operator: bool,
) -> ApiResult<Response> {
    may_change(&caller, &vhost, operator)?;
    state
        .broker
        .clear_policy(&vhost, &name, operator)?
        .committed()
        .await?;
    tracing::info!(%vhost, policy = %name, operator, by = %caller.user.name, "management: policy cleared");
    Ok(no_content())
}

/// GET /api/policies.
pub(crate) async fn policies(
    State(s): State<Arc<Management>>,
    c: Caller,
    p: Params,
) -> ApiResult<Json<Value>> {
    list_all(s, c, p, false).await
}

/// GET /api/policies/{vhost}.
pub(crate) async fn vhost_policies(
    State(s): State<Arc<Management>>,
    c: Caller,
    Path(v): Path<String>,
    p: Params,
) -> ApiResult<Json<Value>> {
    list_vhost(s, c, v, p, false).await
}

/// GET /api/policies/{vhost}/{name}.
pub(crate) async fn policy(
    State(s): State<Arc<Management>>,
    c: Caller,
    Path((v, n)): Path<(String, String)>,
    p: Params,
) -> ApiResult<Json<Value>> {
    get_one(&s, &c, &v, &n, false, &p)
}

/// PUT /api/policies/{vhost}/{name}.
pub(crate) async fn put_policy(
    State(s): State<Arc<Management>>,
    c: Caller,
    Path((v, n)): Path<(String, String)>,
    b: Bytes,
) -> ApiResult<Response> {
    put_one(s, c, v, n, b, false).await
}

/// DELETE /api/policies/{vhost}/{name}.
pub(crate) async fn delete_policy(
    State(s): State<Arc<Management>>,
    c: Caller,
    Path((v, n)): Path<(String, String)>,
) -> ApiResult<Response> {
    delete_one(s, c, v, n, false).await
}

/// GET /api/operator-policies.
pub(crate) async fn operator_policies(
    State(s): State<Arc<Management>>,
    c: Caller,
    p: Params,
) -> ApiResult<Json<Value>> {
    list_all(s, c, p, true).await
}

/// GET /api/operator-policies/{vhost}.
pub(crate) async fn vhost_operator_policies(
    State(s): State<Arc<Management>>,
    c: Caller,
    Path(v): Path<String>,
    p: Params,
) -> ApiResult<Json<Value>> {
    list_vhost(s, c, v, p, true).await
}

/// GET /api/operator-policies/{vhost}/{name}.
pub(crate) async fn operator_policy(
    State(s): State<Arc<Management>>,
    c: Caller,
    Path((v, n)): Path<(String, String)>,
    p: Params,
) -> ApiResult<Json<Value>> {
    get_one(&s, &c, &v, &n, true, &p)
}

/// PUT /api/operator-policies/{vhost}/{name}.
pub(crate) async fn put_operator_policy(
    State(s): State<Arc<Management>>,
    c: Caller,
    Path((v, n)): Path<(String, String)>,
    b: Bytes,
) -> ApiResult<Response> {
    put_one(s, c, v, n, b, true).await
}

/// DELETE /api/operator-policies/{vhost}/{name}.
pub(crate) async fn delete_operator_policy(
    State(s): State<Arc<Management>>,
    c: Caller,
    Path((v, n)): Path<(String, String)>,
) -> ApiResult<Response> {
    delete_one(s, c, v, n, true).await
}

//! Warren's own endpoints under `/api/warren/`, for what no RabbitMQ tool has:
//! topology as code (`apply`) and moving messages between queues (`replay`, `move`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::Json;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};
use warren_broker::access::Access;
use warren_broker::definitions::Definitions;
use warren_broker::vhost::{MoveReport, MoveTo};

use super::{body, vhost, Params};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::Management;

fn flag(params: &Params, key: &str) -> ApiResult<bool> {
    match params.get(key).map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "'{key}' must be true or false, not '{other}'"
        ))),
    }
}

/// The document in a request: TOML (a `warren.toml` topology) when the content type
/// says so, definitions JSON otherwise.
fn desired(state: &Management, headers: &HeaderMap, bytes: &Bytes) -> ApiResult<Definitions> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    if content_type.contains("toml") {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| ApiError::bad_request("the TOML document is not UTF-8"))?;
        state
            .node
            .parse_topology(text)
            .map_err(ApiError::bad_request)
    } else {
        super::definitions::parse(bytes)
    }
}

/// POST /api/warren/apply?dry_run=&prune= (administrator): the differences between
/// the document and the broker, applied unless it is a dry run.
pub(crate) async fn apply(
    State(state): State<Arc<Management>>,
    caller: Caller,
    params: Params,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    let dry_run = flag(&params, "dry_run")?;
    let prune = flag(&params, "prune")?;
    let defs = desired(&state, &headers, &bytes)?;
    let keep = Some(caller.user.name.as_str());
    let changes = if dry_run {
        state.broker.plan_definitions(&defs, prune, keep)
    } else {
        let changes = state.broker.apply_definitions(&defs, prune, keep).await?;
        tracing::info!(changes = changes.len(), prune, by = %caller.user.name, "management: definitions applied");
        changes
    };
    Ok(Json(json!({
        "dry_run": dry_run,
        "prune": prune,
        "changes": changes,
    })))
}

#[derive(Debug, Deserialize)]
struct MoveBody {
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    limit: Option<u64>,
    #[serde(default)]
    dry_run: bool,
}

fn report_json(r: &MoveReport, dry_run: bool) -> Value {
    json!({
        "moved": r.moved,
        "skipped": r.skipped,
        "dry_run": dry_run,
        "destinations": r.destinations,
    })
}

async fn run_move(
    state: &Management,
    caller: &Caller,
    vhost_name: &str,
    from: &str,
    to: MoveTo,
    b: &MoveBody,
) -> ApiResult<Json<Value>> {
    caller.require_permission(vhost_name, Access::Read, "queue", from)?;
    if let MoveTo::Queue(dest) = &to {
        caller.require_permission(vhost_name, Access::Write, "queue", dest)?;
    }
    let v = vhost(state, vhost_name)?;
    let source = v.find_queue(from).ok_or_else(ApiError::not_found)?;
    super::queues::not_exclusive(&source)?;
    let report = v.move_messages(from, &to, b.limit, b.dry_run).await?;
    tracing::info!(vhost = %vhost_name, from, moved = report.moved, skipped = report.skipped, dry_run = b.dry_run, by = %caller.user.name, "management: messages moved");
    Ok(Json(report_json(&report, b.dry_run)))
}

/// POST /api/warren/queues/{vhost}/{name}/replay: each message back to the queue of
/// its first `x-death` entry, or to `to`.
pub(crate) async fn replay(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost_name, name)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let b: MoveBody = body(&bytes)?;
    let to = match &b.to {
        Some(q) => MoveTo::Queue(q.clone()),
        None => MoveTo::FirstDeath,
    };
    run_move(&state, &caller, &vhost_name, &name, to, &b).await
}

/// POST /api/warren/queues/{vhost}/{name}/move: every message to `to`.
pub(crate) async fn move_messages(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost_name, name)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let b: MoveBody = body(&bytes)?;
    let to =
        b.to.clone()
            .ok_or_else(|| ApiError::bad_request("key_missing: to"))?;
    run_move(&state, &caller, &vhost_name, &name, MoveTo::Queue(to), &b).await
}

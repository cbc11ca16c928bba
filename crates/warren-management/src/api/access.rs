//! `/api/vhosts`, `/api/users`, `/api/permissions`, `/api/topic-permissions`.
//! Reading users and permissions and changing any of these needs `administrator`.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Json;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};
use warren_broker::access::User;
use warren_broker::definitions::{PermissionDef, Tags, TopicPermissionDef, UserDef, VHostDef};

use super::{body, created, list, no_content, one, Params};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::rates::{RateKey, DEPTH_STATS};
use crate::shapes::access::{
    permission as permission_json, topic_permission as topic_permission_json, user as user_json,
};
use crate::shapes::details;
use crate::Management;

fn vhost_json(state: &Management, name: &str) -> Option<Value> {
    let v = state.broker.vhost(name)?;
    let def = state.broker.vhost_def(name)?;
    let mut depth = [0u64; 3];
    let mut depth_rates = [0f64; 3];
    for q in v.queues() {
        let s = q.snapshot();
        for (i, d) in [s.messages(), s.messages_ready, s.messages_unacknowledged]
            .into_iter()
            .enumerate()
        {
            depth[i] += d;
        }
        if let Some(r) = state
            .rates
            .get(&RateKey::Depth(v.name().clone(), q.name().clone()))
        {
            for (acc, x) in depth_rates.iter_mut().zip(r) {
                *acc += x;
            }
        }
    }
    let tags = def.tags.clone().unwrap_or_default().0;
    let description = def.description.clone().unwrap_or_default();
    let mut out = json!({
        "name": name,
        "description": description,
        "tags": tags,
        "default_queue_type": def.default_queue_type.clone().unwrap_or_else(|| "classic".into()),
        "metadata": {"description": description, "tags": tags},
        "tracing": false,
        "cluster_state": {state.node_name(): "running"},
    });
    for (i, key) in DEPTH_STATS.iter().enumerate() {
        out[*key] = depth[i].into();
        out[format!("{key}_details")] = details(depth_rates[i]);
    }
    Some(out)
}

/// GET /api/vhosts: those the caller may see.
pub(crate) async fn vhosts(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    let mut names: Vec<String> = state
        .broker
        .vhosts()
        .iter()
        .map(|v| v.name().to_string())
        .filter(|n| caller.sees_vhost(n))
        .collect();
    names.sort();
    let items = names.iter().filter_map(|n| vhost_json(&state, n)).collect();
    list(&params, items)
}

/// GET /api/vhosts/{vhost}.
pub(crate) async fn vhost(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    caller.require_sees_vhost(&name)?;
    let v = vhost_json(&state, &name).ok_or_else(ApiError::not_found)?;
    one(&params, v)
}

#[derive(Debug, Default, Deserialize)]
struct VHostBody {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: Option<Tags>,
    #[serde(default)]
    default_queue_type: Option<String>,
}

/// PUT /api/vhosts/{vhost}: creates it (201) or updates its description (204).
pub(crate) async fn put_vhost(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path(name): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let b: VHostBody = body(&bytes)?;
    let existed = state.broker.vhost(&name).is_some();
    let def = VHostDef {
        name: name.clone(),
        description: b.description,
        tags: b.tags,
        default_queue_type: b.default_queue_type,
        ..VHostDef::default()
    };
    state.broker.create_vhost(&def)?.committed().await?;
    if !existed {
        // As RabbitMQ does, whoever creates a vhost gets full permissions in it.
        let full = PermissionDef {
            user: caller.user.name.clone(),
            vhost: name.clone(),
            configure: ".*".into(),
            write: ".*".into(),
            read: ".*".into(),
        };
        state.broker.set_permissions(&full)?.committed().await?;
    }
    tracing::info!(vhost = %name, user = %caller.user.name, "management: vhost created");
    Ok(if existed { no_content() } else { created() })
}

/// DELETE /api/vhosts/{vhost}.
pub(crate) async fn delete_vhost(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    caller.require_admin()?;
    state.broker.delete_vhost(&name)?.committed().await?;
    tracing::info!(vhost = %name, user = %caller.user.name, "management: vhost deleted");
    Ok(no_content())
}

/// GET /api/users (administrator).
pub(crate) async fn users(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    let mut users = state.broker.access().users();
    users.sort_by(|a, b| a.name.cmp(&b.name));
    list(&params, users.iter().map(|u| user_json(u)).collect())
}

/// GET /api/users/{user}.
pub(crate) async fn user(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    let u = state
        .broker
        .access()
        .user(&name)
        .ok_or_else(ApiError::not_found)?;
    one(&params, user_json(&u))
}

#[derive(Debug, Deserialize)]
struct UserBody {
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    password_hash: Option<String>,
    #[serde(default)]
    hashing_algorithm: Option<String>,
    #[serde(default)]
    tags: Tags,
}

/// PUT /api/users/{user}: creates (201) or replaces (204) a user, keeping its limits.
pub(crate) async fn put_user(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path(name): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let b: UserBody = body(&bytes)?;
    if b.password.is_none() && b.password_hash.is_none() {
        return Err(ApiError::bad_request(
            "key_missing: password or password_hash",
        ));
    }
    let mut def = UserDef {
        name: name.clone(),
        password: b.password,
        password_hash: b.password_hash.unwrap_or_default(),
        tags: b.tags,
        ..UserDef::default()
    };
    if let Some(algorithm) = b.hashing_algorithm {
        def.hashing_algorithm = algorithm;
    }
    let mut user = User::from_def(&def).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let existing = state.broker.access().user(&name);
    if let Some(old) = &existing {
        user.limits = old.limits;
    }
    state.broker.put_user(user)?.committed().await?;
    tracing::info!(user = %name, by = %caller.user.name, "management: user saved");
    Ok(if existing.is_some() {
        no_content()
    } else {
        created()
    })
}

/// DELETE /api/users/{user}.
pub(crate) async fn delete_user(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    caller.require_admin()?;
    state.broker.delete_user(&name)?.committed().await?;
    tracing::info!(user = %name, by = %caller.user.name, "management: user deleted");
    Ok(no_content())
}

fn all_permissions(state: &Management) -> Vec<PermissionDef> {
    let mut out: Vec<PermissionDef> = state
        .broker
        .access()
        .permissions()
        .iter()
        .map(|(u, v, p)| p.to_def(u, v))
        .collect();
    out.sort_by(|a, b| (&a.vhost, &a.user).cmp(&(&b.vhost, &b.user)));
    out
}

fn all_topic_permissions(state: &Management) -> Vec<TopicPermissionDef> {
    let mut out: Vec<TopicPermissionDef> = state
        .broker
        .access()
        .topic_permissions()
        .iter()
        .map(|(u, v, p)| p.to_def(u, v))
        .collect();
    out.sort_by(|a, b| (&a.vhost, &a.user, &a.exchange).cmp(&(&b.vhost, &b.user, &b.exchange)));
    out
}

/// GET /api/permissions.
pub(crate) async fn permissions(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    list(
        &params,
        all_permissions(&state)
            .iter()
            .map(permission_json)
            .collect(),
    )
}

/// GET /api/vhosts/{vhost}/permissions.
pub(crate) async fn vhost_permissions(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path(vhost): Path<String>,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    super::vhost(&state, &vhost)?;
    let items = all_permissions(&state)
        .iter()
        .filter(|p| p.vhost == vhost)
        .map(permission_json)
        .collect();
    list(&params, items)
}

/// GET /api/users/{user}/permissions.
pub(crate) async fn user_permissions(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path(user): Path<String>,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    state
        .broker
        .access()
        .user(&user)
        .ok_or_else(ApiError::not_found)?;
    let items = all_permissions(&state)
        .iter()
        .filter(|p| p.user == user)
        .map(permission_json)
        .collect();
    list(&params, items)
}

/// One permission entry.
fn permission_of(state: &Management, vhost: &str, user: &str) -> ApiResult<Value> {
    let p = state
        .broker
        .access()
        .permission(user, vhost)
        .ok_or_else(ApiError::not_found)?;
    Ok(permission_json(&p.to_def(user, vhost)))
}

/// GET /api/permissions/{vhost}/{user}.
pub(crate) async fn permission(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost, user)): Path<(String, String)>,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    one(&params, permission_of(&state, &vhost, &user)?)
}

#[derive(Debug, Deserialize)]
struct PermissionBody {
    configure: String,
    write: String,
    read: String,
}

fn user_and_vhost_exist(state: &Management, user: &str, vhost: &str) -> ApiResult<()> {
    if state.broker.access().user(user).is_none() || state.broker.vhost(vhost).is_none() {
        return Err(ApiError::not_found());
    }
    Ok(())
}

/// PUT /api/permissions/{vhost}/{user}.
pub(crate) async fn put_permission(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost, user)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let b: PermissionBody = body(&bytes)?;
    user_and_vhost_exist(&state, &user, &vhost)?;
    let existed = state.broker.access().permission(&user, &vhost).is_some();
    let def = PermissionDef {
        user: user.clone(),
        vhost: vhost.clone(),
        configure: b.configure,
        write: b.write,
        read: b.read,
    };
    state.broker.set_permissions(&def)?.committed().await?;
    tracing::info!(%user, %vhost, by = %caller.user.name, "management: permissions set");
    Ok(if existed { no_content() } else { created() })
}

/// DELETE /api/permissions/{vhost}/{user}.
pub(crate) async fn delete_permission(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost, user)): Path<(String, String)>,
) -> ApiResult<Response> {
    caller.require_admin()?;
    if state.broker.access().permission(&user, &vhost).is_none() {
        return Err(ApiError::not_found());
    }
    state
        .broker
        .clear_permissions(&user, &vhost)?
        .committed()
        .await?;
    Ok(no_content())
}

/// GET /api/topic-permissions.
pub(crate) async fn topic_permissions(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    list(
        &params,
        all_topic_permissions(&state)
            .iter()
            .map(topic_permission_json)
            .collect(),
    )
}

/// GET /api/topic-permissions/{vhost}/{user}.
pub(crate) async fn topic_permission(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost, user)): Path<(String, String)>,
    Query(params): Params,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    let items: Vec<Value> = all_topic_permissions(&state)
        .iter()
        .filter(|p| p.vhost == vhost && p.user == user)
        .map(topic_permission_json)
        .collect();
    if items.is_empty() {
        return Err(ApiError::not_found());
    }
    list(&params, items)
}

#[derive(Debug, Deserialize)]
struct TopicPermissionBody {
    exchange: String,
    write: String,
    read: String,
}

/// PUT /api/topic-permissions/{vhost}/{user}.
pub(crate) async fn put_topic_permission(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost, user)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let b: TopicPermissionBody = body(&bytes)?;
    user_and_vhost_exist(&state, &user, &vhost)?;
    let def = TopicPermissionDef {
        user,
        vhost,
        exchange: b.exchange,
        write: b.write,
        read: b.read,
    };
    state
        .broker
        .set_topic_permissions(&def)?
        .committed()
        .await?;
    Ok(created())
}

/// DELETE /api/topic-permissions/{vhost}/{user}.
pub(crate) async fn delete_topic_permission(
    State(state): State<Arc<Management>>,
    caller: Caller,
    Path((vhost, user)): Path<(String, String)>,
) -> ApiResult<Response> {
    caller.require_admin()?;
    if state
        .broker
        .access()
        .topic_permissions_of(&user, &vhost)
        .is_empty()
    {
        return Err(ApiError::not_found());
    }
    state
        .broker
        .clear_topic_permissions(&user, &vhost, None)?
        .committed()
        .await?;
    Ok(no_content())
}

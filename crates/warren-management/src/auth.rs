//! Who is calling: HTTP basic auth against the broker's users, and RabbitMQ's tag rules.
//!
//! - `management`: may use the API; sees and manages the vhosts it has permissions in,
//!   and only its own connections and channels.
//! - `policymaker`: `management`, plus policies and parameters in its vhosts.
//! - `monitoring`: `management`, plus reads everything (all vhosts, connections, nodes).
//! - `administrator`: everything, including users, vhosts and permissions.
//!
//! A user with none of these tags cannot log in to the API (401 "Not management user").

use std::sync::Arc;

use std::net::IpAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use warren_broker::access::{is_loopback, tags, Access, User};

use crate::error::{ApiError, ApiResult};
use crate::listener::Peer;
use crate::Management;

/// The authenticated user of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: Arc<User>,
    state: Arc<Management>,
}

/// Whether a login from `peer` is allowed: a loopback-only user (RabbitMQ's
/// `loopback_users`) only from a loopback address (IPv4-mapped IPv6 included). An
/// unknown peer counts as remote.
fn from_allowed_address(loopback_only: bool, peer: Option<IpAddr>) -> bool {
    !loopback_only || peer.is_some_and(is_loopback)
}

fn basic_credentials(parts: &Parts) -> Option<(String, String)> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

impl FromRequestParts<Arc<Management>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<Management>,
    ) -> Result<Self, Self::Rejection> {
        let Some((name, password)) = basic_credentials(parts) else {
            return Err(ApiError::not_authorised("Not_Authorized"));
        };
        let peer = parts
            .extensions
            .get::<ConnectInfo<Peer>>()
            .map(|ConnectInfo(Peer(addr))| addr.ip());
        // An unknown user costs a hash too (`check_password`), so the reply's timing does
        // not tell which users exist. A refusal is answered after the server's
        // per-address back-off, shared with AMQP logins (the connection it holds
        // meanwhile counts against http_max_connections and its per-address limit).
        // RabbitMQ's log lines; never the password.
        let user = match state.broker.access().check_password(&name, &password) {
            Ok(user) => user,
            Err(reason) => {
                let delay = state.node.failed_login(peer);
                tracing::warn!(user = %name, %reason, ?peer, delay_ms = delay.as_millis() as u64, "HTTP access denied: user '{name}' - invalid credentials");
                tokio::time::sleep(delay).await;
                return Err(ApiError::login_failed());
            }
        };
        if !from_allowed_address(state.node.is_loopback_only(&name), peer) {
            // RabbitMQ 3.10's reply and log line (rabbit_mgmt_util): after the password
            // check, so (as there) it tells a correct password from a wrong one.
            let delay = state.node.failed_login(peer);
            tracing::warn!(user = %name, ?peer, delay_ms = delay.as_millis() as u64, "HTTP access denied: user '{name}' - User can only log in via localhost");
            tokio::time::sleep(delay).await;
            return Err(ApiError::not_authorised(
                "User can only log in via localhost",
            ));
        }
        state.node.succeeded_login(peer);
        let caller = Caller {
            user,
            state: state.clone(),
        };
        if !caller.is_management() {
            return Err(ApiError::not_authorised("Not management user"));
        }
        Ok(caller)
    }
}

impl Caller {
    fn has(&self, tag: &str) -> bool {
        self.user.has_tag(tag)
    }

    /// Whether the user may use the API at all.
    pub fn is_management(&self) -> bool {
        [
            tags::MANAGEMENT,
            tags::POLICYMAKER,
            tags::MONITORING,
            tags::ADMINISTRATOR,
        ]
        .iter()
        .any(|t| self.has(t))
    }

    /// `administrator`.
    pub fn is_admin(&self) -> bool {
        self.has(tags::ADMINISTRATOR)
    }

    /// `monitoring` or `administrator`: reads everything.
    pub fn is_monitor(&self) -> bool {
        self.is_admin() || self.has(tags::MONITORING)
    }

    /// `policymaker` or `administrator`.
    pub fn is_policymaker(&self) -> bool {
        self.is_admin() || self.has(tags::POLICYMAKER)
    }

    /// 401 unless `administrator`.
    pub fn require_admin(&self) -> ApiResult<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::not_authorised("Not administrator user"))
        }
    }

    /// 401 unless `monitoring` or `administrator`.
    pub fn require_monitor(&self) -> ApiResult<()> {
        if self.is_monitor() {
            Ok(())
        } else {
            Err(ApiError::not_authorised("Not monitor user"))
        }
    }

    /// 401 unless `policymaker` or `administrator`.
    pub fn require_policymaker(&self) -> ApiResult<()> {
        if self.is_policymaker() {
            Ok(())
        } else {
            Err(ApiError::not_authorised("Not policymaker user"))
        }
    }

    /// Whether the user has permissions in `vhost` (what lets it use the vhost).
    pub fn has_vhost(&self, vhost: &str) -> bool {
        self.state
            .broker
            .access()
            .permission(&self.user.name, vhost)
            .is_some()
    }

    /// Whether the user may see `vhost`'s objects: monitors see every vhost.
    pub fn sees_vhost(&self, vhost: &str) -> bool {
        self.is_monitor() || self.has_vhost(vhost)
    }

    /// 404 for a vhost that does not exist, 401 for one the user may not see.
    pub fn require_sees_vhost(&self, vhost: &str) -> ApiResult<()> {
        if self.state.broker.vhost(vhost).is_none() {
            return Err(ApiError::not_found());
        }
        if self.sees_vhost(vhost) {
            Ok(())
        } else {
            Err(ApiError::not_authorised(
                "User not authorised to access virtual host",
            ))
        }
    }

    /// 404 for a vhost that does not exist, 401 unless the user has permissions in it
    /// (what changing anything in it needs, administrators included).
    pub fn require_vhost(&self, vhost: &str) -> ApiResult<()> {
        if self.state.broker.vhost(vhost).is_none() {
            return Err(ApiError::not_found());
        }
        if self.has_vhost(vhost) {
            Ok(())
        } else {
            Err(ApiError::not_authorised(
                "User not authorised to access virtual host",
            ))
        }
    }

    /// 401 unless the user's `access` permission in `vhost` allows `name` (a queue or
    /// exchange), as the same operation over AMQP would require.
    pub fn require_permission(
        &self,
        vhost: &str,
        access: Access,
        kind: &str,
        name: &str,
    ) -> ApiResult<()> {
        self.require_vhost(vhost)?;
        let allowed = self
            .state
            .broker
            .access()
            .permission(&self.user.name, vhost)
            .is_some_and(|p| p.pattern(access).allows(name));
        if allowed {
            Ok(())
        } else {
            Err(ApiError::not_authorised(format!(
                "access to {kind} '{name}' in vhost '{vhost}' refused for user '{}'",
                self.user.name
            )))
        }
    }

    /// Whether the user may see a connection (or its channels) of `owner`.
    pub fn sees_connection_of(&self, owner: &str) -> bool {
        self.is_monitor() || self.user.name == owner
    }
}

#[cfg(test)]
mod tests {
    use super::from_allowed_address;

    #[test]
    fn loopback_only_users_log_in_from_loopback_only() {
        let local = Some("127.0.0.1".parse().unwrap());
        let local6 = Some("::1".parse().unwrap());
        let remote = Some("10.0.0.7".parse().unwrap());
        assert!(from_allowed_address(true, local));
        assert!(from_allowed_address(true, local6));
        assert!(from_allowed_address(
            true,
            Some("::ffff:127.0.0.1".parse().unwrap())
        ));
        assert!(!from_allowed_address(
            true,
            Some("::ffff:10.0.0.7".parse().unwrap())
        ));
        assert!(!from_allowed_address(true, remote));
        assert!(!from_allowed_address(true, None));
        assert!(from_allowed_address(false, remote));
    }
}

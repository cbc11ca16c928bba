//! The management API client: blocking HTTP with basic auth, and the mapping of every
//! transport failure and HTTP status onto a [`CliError`].

use std::time::Duration;

use base64::Engine;
use serde_json::Value;
use ureq::http;

use crate::config::Settings;
use crate::encode;
use crate::error::{CliError, Result};

/// What a request addresses, so a 404 reads `queue 'foo' not found in vhost '/'`.
#[derive(Debug, Clone)]
pub struct Subject {
    /// Kind of object: `queue`, `exchange`, `user`...
    pub kind: &'static str,
    /// Its name (or a description such as `orders -> tasks` for a binding).
    pub name: String,
    /// The vhost it lives in, for vhost-scoped objects.
    pub vhost: Option<String>,
}

impl Subject {
    /// An object that lives in a vhost.
    pub fn in_vhost(kind: &'static str, name: &str, vhost: &str) -> Subject {
        Subject {
            kind,
            name: name.to_string(),
            vhost: Some(vhost.to_string()),
        }
    }

    /// A cluster-wide object (user, vhost, connection).
    pub fn global(kind: &'static str, name: &str) -> Subject {
        Subject {
            kind,
            name: name.to_string(),
            vhost: None,
        }
    }

    /// The listing of a whole vhost: a 404 can only mean the vhost is missing.
    pub fn vhost(vhost: &str) -> Subject {
        Subject::global("vhost", vhost)
    }

    /// A path of the API itself (a listing): a 404 means the server lacks it.
    pub fn api(path: &str) -> Subject {
        Subject::global("path", path)
    }

    /// One of Warren's own endpoints (`/api/warren/...`): a 404 from a server without
    /// them says so.
    pub fn warren_endpoint(path: &str) -> Subject {
        Subject::global("endpoint", path)
    }

    /// The one-line message for a 404.
    pub fn not_found(&self) -> String {
        match (&self.vhost, self.kind) {
            (_, "endpoint") => format!(
                "this server has no {} endpoint (Warren's own API; is it a Warren broker?)",
                self.name
            ),
            (_, "path") => format!("this server has no {} endpoint", self.name),
            (Some(v), _) => format!("{} '{}' not found in vhost '{v}'", self.kind, self.name),
            (None, _) => format!("{} '{}' not found", self.kind, self.name),
        }
    }
}

/// A request body.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// No body.
    Empty,
    /// A JSON document (`Content-Type: application/json`).
    Json(&'a Value),
    /// Raw bytes with their content type.
    Raw {
        /// The `Content-Type` header.
        content_type: &'a str,
        /// The bytes sent.
        bytes: &'a [u8],
    },
}

/// A successful (2xx) reply.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body as text (empty for 204).
    pub body: String,
    /// The `Location` header, which RabbitMQ sets on a created binding.
    pub location: Option<String>,
}

impl Reply {
    /// The body as JSON; an unreadable body is a server error.
    pub fn json(&self) -> Result<Value> {
        serde_json::from_str(&self.body).map_err(|e| CliError::Server {
            status: self.status,
            reason: format!("reply is not JSON: {e}"),
        })
    }
}

/// A connection to one management API as one user.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    user: String,
    authorization: String,
}

impl Client {
    /// A client for `settings`; `timeout` bounds each whole request.
    pub fn new(settings: &Settings, timeout: Duration) -> Client {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(5).min(timeout)))
            .timeout_global(Some(timeout))
            .user_agent(concat!("warrenctl/", env!("CARGO_PKG_VERSION")))
            .build();
        let credentials = format!("{}:{}", settings.user, settings.password);
        Client {
            agent: ureq::Agent::new_with_config(config),
            base: settings.url.clone(),
            user: settings.user.clone(),
            authorization: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials)
            ),
        }
    }

    /// The base URL, as shown in messages.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// GET `path` (from [`encode::api_path`], query included) and parse the JSON reply.
    pub fn get_json(&self, path: &str, subject: &Subject) -> Result<Value> {
        self.send("GET", path, Payload::Empty, &[], subject)?.json()
    }

    /// PUT a JSON body.
    pub fn put_json(&self, path: &str, body: &Value, subject: &Subject) -> Result<Reply> {
        self.send("PUT", path, Payload::Json(body), &[], subject)
    }

    /// POST a JSON body.
    pub fn post_json(&self, path: &str, body: &Value, subject: &Subject) -> Result<Reply> {
        self.send("POST", path, Payload::Json(body), &[], subject)
    }

    /// DELETE, with extra headers (e.g. `X-Reason`).
    pub fn delete(&self, path: &str, headers: &[(&str, &str)], subject: &Subject) -> Result<Reply> {
        self.send("DELETE", path, Payload::Empty, headers, subject)
    }

    /// GET that also accepts `also_ok` as a status (a health check's 503 carries the
    /// alarms in its body); returns the status and the JSON body.
    pub fn get_json_allowing(
        &self,
        path: &str,
        also_ok: u16,
        subject: &Subject,
    ) -> Result<(u16, Value)> {
        let reply = self.exchange("GET", path, Payload::Empty, &[])?;
        if reply.status == also_ok || (200..300).contains(&reply.status) {
            return Ok((reply.status, reply.json()?));
        }
        Err(self.status_error(reply.status, &reply.body, subject))
    }

    /// Sends one request and maps a non-2xx status or a transport failure to a
    /// [`CliError`].
    pub fn send(
        &self,
        method: &str,
        path: &str,
        payload: Payload<'_>,
        headers: &[(&str, &str)],
        subject: &Subject,
    ) -> Result<Reply> {
        let reply = self.exchange(method, path, payload, headers)?;
        if (200..300).contains(&reply.status) {
            return Ok(reply);
        }
        Err(self.status_error(reply.status, &reply.body, subject))
    }

    /// One request and its reply whatever the status; only transport failures are errors.
    fn exchange(
        &self,
        method: &str,
        path: &str,
        payload: Payload<'_>,
        headers: &[(&str, &str)],
    ) -> Result<Reply> {
        let url = format!("{}{}", self.base, path);
        // No Accept header: RabbitMQ answers 406 to `Accept: application/json` on
        // endpoints that return no body (purge).
        let mut builder = http::Request::builder()
            .method(method)
            .uri(&url)
            .header("Authorization", &self.authorization);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let bad = |e: http::Error| CliError::Usage(format!("bad request to {url}: {e}"));
        let sent = match payload {
            Payload::Empty => self.agent.run(builder.body(()).map_err(bad)?),
            Payload::Json(v) => self.agent.run(
                builder
                    .header("Content-Type", "application/json")
                    .body(v.to_string().into_bytes())
                    .map_err(bad)?,
            ),
            Payload::Raw {
                content_type,
                bytes,
            } => self.agent.run(
                builder
                    .header("Content-Type", content_type)
                    .body(bytes)
                    .map_err(bad)?,
            ),
        };
        let mut response = sent.map_err(|e| self.transport_error(e))?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let body = response
            .body_mut()
            .with_config()
            .lossy_utf8(true)
            .read_to_string()
            .map_err(|e| self.transport_error(e))?;
        Ok(Reply {
            status,
            body,
            location,
        })
    }

    fn transport_error(&self, err: ureq::Error) -> CliError {
        let reason = match &err {
            ureq::Error::Io(e) => match e.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                std::io::ErrorKind::ConnectionReset => "connection reset".to_string(),
                _ => e.to_string(),
            },
            ureq::Error::HostNotFound => "host not found".to_string(),
            ureq::Error::Timeout(t) => format!("timed out ({t})"),
            ureq::Error::ConnectionFailed => "connection failed".to_string(),
            ureq::Error::Protocol(e) => {
                format!("no HTTP reply ({e}); is this the management port?")
            }
            other => other.to_string(),
        };
        CliError::Unreachable {
            url: self.base.clone(),
            reason,
        }
    }

    fn status_error(&self, status: u16, body: &str, subject: &Subject) -> CliError {
        let reason = server_reason(status, body);
        match status {
            401 | 403 => CliError::AccessRefused {
                user: self.user.clone(),
                status,
                reason: (status == 403 || !is_generic_401(&reason)).then_some(reason),
            },
            404 => CliError::NotFound(self.not_found_message(subject)),
            400..=499 => CliError::Data(reason),
            _ => CliError::Server { status, reason },
        }
    }

    /// For an object in a vhost, a 404 may mean the vhost itself is missing: ask.
    fn not_found_message(&self, subject: &Subject) -> String {
        if let Some(vhost) = &subject.vhost {
            let path = encode::api_path(&["vhosts", vhost]);
            let vsub = Subject::vhost(vhost);
            if let Err(CliError::NotFound(_)) = self.send("GET", &path, Payload::Empty, &[], &vsub)
            {
                return vsub.not_found();
            }
        }
        subject.not_found()
    }
}

/// RabbitMQ's 401 for bad credentials says only `Not_Authorized`; worth nothing next to
/// the status. A 401 with a real reason (`Not management user`) keeps it.
fn is_generic_401(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase().replace(['_', ' '], "");
    matches!(
        r.as_str(),
        "notauthorized" | "notauthorised" | "unauthorized" | "unauthorised" | "loginfailed" | ""
    )
}

/// The `reason` of a RabbitMQ-shaped error body (`{"error":..., "reason":...}`), else
/// its `error`, else the start of the body, else the status text.
pub fn server_reason(status: u16, body: &str) -> String {
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(body) {
        for key in ["reason", "error"] {
            match map.get(key) {
                Some(Value::String(s)) if !s.is_empty() => return s.clone(),
                Some(Value::Null) | None => {}
                Some(Value::String(_)) => {}
                Some(other) => return other.to_string(),
            }
        }
    }
    let text: String = body.trim().chars().take(200).collect();
    if !text.is_empty() {
        return text.replace('\n', " ");
    }
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("no reason given")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_comes_from_the_rabbitmq_error_body() {
        assert_eq!(
            server_reason(
                400,
                r#"{"error":"bad_request","reason":"inequivalent arg"}"#
            ),
            "inequivalent arg"
        );
        assert_eq!(server_reason(500, r#"{"error":"boom"}"#), "boom");
        assert_eq!(server_reason(502, "Bad gateway\n"), "Bad gateway");
        assert_eq!(server_reason(503, ""), "Service Unavailable");
    }

    #[test]
    fn not_found_messages_name_the_object_and_vhost() {
        assert_eq!(
            Subject::in_vhost("queue", "foo", "/").not_found(),
            "queue 'foo' not found in vhost '/'"
        );
        assert_eq!(
            Subject::global("user", "bob").not_found(),
            "user 'bob' not found"
        );
        assert!(Subject::warren_endpoint("/api/warren/apply")
            .not_found()
            .contains("/api/warren/apply"));
    }

    #[test]
    fn generic_401_reasons_are_dropped() {
        assert!(is_generic_401("Not_Authorized"));
        assert!(is_generic_401("not authorised"));
        assert!(is_generic_401("Login failed"));
        assert!(!is_generic_401("Not management user"));
    }
}

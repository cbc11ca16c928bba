//! Errors as RabbitMQ's management API reports them: a status code and a JSON body
//! `{"error": ..., "reason": ...}` with RabbitMQ's texts.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use warren_broker::admin::AdminError;
use warren_broker::AmqpError;
use warren_broker::ChannelCode;
use warren_protocol::ReplyCode;

/// An API error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {error}: {reason}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// RabbitMQ's error kind (`bad_request`, `not_authorised`, `Object Not Found`).
    pub error: String,
    /// What went wrong.
    pub reason: String,
}

/// A handler's result.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    fn new(status: StatusCode, error: &str, reason: impl Into<String>) -> Self {
        ApiError {
            status,
            error: error.to_owned(),
            reason: reason.into(),
        }
    }

    /// 404, as RabbitMQ words it for any missing object.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Object Not Found", "Not Found")
    }

    /// 400 with a reason.
    pub fn bad_request(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", reason)
    }

    /// 401: the login failed or the user may not do this.
    pub fn not_authorised(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "not_authorised", reason)
    }

    /// 401 for a failed login (RabbitMQ spells this one `not_authorized`).
    pub fn login_failed() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "not_authorized", "Login failed")
    }

    /// 500.
    pub fn internal(reason: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            reason,
        )
    }

    /// 503 for a failed health check.
    pub fn unavailable(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "failed", reason)
    }

    /// 405 for a method a path does not allow.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method Not Allowed",
            "Method Not Allowed",
        )
    }
}

impl From<AmqpError> for ApiError {
    fn from(e: AmqpError) -> Self {
        let reason = e.text().to_owned();
        match e.code() {
            ReplyCode::NotFound => ApiError::not_found(),
            ReplyCode::AccessRefused => ApiError::not_authorised(reason),
            ReplyCode::InternalError => ApiError::internal(reason),
            _ => ApiError::bad_request(reason),
        }
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::NotFound(_) => ApiError::not_found(),
            AdminError::Invalid(m) | AdminError::Conflict(m) => ApiError::bad_request(m),
            AdminError::Store(e) => ApiError::internal(format!("store: {e}")),
            AdminError::Amqp(e) => e.into(),
        }
    }
}

/// Whether a channel error is 404 (for handlers that map it themselves).
pub fn is_not_found(e: &AmqpError) -> bool {
    matches!(e, AmqpError::Channel(c) if c.code == ChannelCode::NotFound)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = %self.status, reason = %self.reason, "management API");
        } else {
            tracing::debug!(status = %self.status, reason = %self.reason, "management API");
        }
        let body = serde_json::json!({ "error": self.error, "reason": self.reason });
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"RabbitMQ Management\""),
            );
        }
        response
    }
}

/// Turns the error answers axum writes itself (a malformed path segment, a body over
/// the limit) into RabbitMQ-shaped JSON like every other error: clients (rabbitmqadmin
/// v1 in particular) read `reason` from any 4xx.
pub async fn json_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let error = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::NOT_FOUND => "Object Not Found",
        StatusCode::METHOD_NOT_ALLOWED => "Method Not Allowed",
        s if s.is_server_error() => "internal_server_error",
        _ => "bad_request",
    };
    ApiError::new(status, error, String::from_utf8_lossy(&body).trim()).into_response()
}

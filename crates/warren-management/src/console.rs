//! The web console: static files embedded into the binary at compile time (`build.rs`
//! tables everything under `console/` with `include_bytes!`), served from the
//! management listener at `/` (the page) and `/console/...` (its modules, styles and
//! images). No network access at run time and nothing read from disk: the console is
//! the binary's. Every file is revalidated (`Cache-Control: no-cache`) against its
//! ETag, a hash of its bytes, so a new binary is picked up at once and an unchanged
//! file costs a 304.

use axum::extract::{Path, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));

/// What the page may load: only this origin; no inline scripts, no frames around it.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// The console's routes: `/` and `/console/{file}`.
pub fn router() -> Router {
    Router::new()
        .route("/", get(index))
        .route("/console/{*file}", get(file))
}

/// Drops `WWW-Authenticate` from a 401 answered to a script that says it is one
/// (`X-Requested-With: XMLHttpRequest`, which the console sends): with the header a
/// browser stops the console's request to ask for a password in its own dialog (headless
/// Chromium waits forever), so a wrong password could never show "Login failed". Other
/// clients get RabbitMQ's answer unchanged.
pub async fn no_browser_prompt(request: Request, next: Next) -> Response {
    let scripted = request
        .headers()
        .get("x-requested-with")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"XMLHttpRequest"));
    let mut response = next.run(request).await;
    if scripted {
        response.headers_mut().remove(header::WWW_AUTHENTICATE);
    }
    response
}

/// The embedded file at `path` (relative to `console/`): content type, ETag, bytes.
pub fn asset(path: &str) -> Option<(&'static str, &'static str, &'static [u8])> {
    ASSETS
        .iter()
        .find(|(p, ..)| *p == path)
        .map(|(_, kind, etag, bytes)| (*kind, *etag, *bytes))
}

/// Every embedded file: (path, bytes).
pub fn assets() -> impl Iterator<Item = (&'static str, &'static [u8])> {
    ASSETS.iter().map(|(p, _, _, bytes)| (*p, *bytes))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn file(Path(file): Path<String>, headers: HeaderMap) -> Response {
    serve(&file, &headers)
}

fn serve(path: &str, request: &HeaderMap) -> Response {
    let Some((kind, etag, bytes)) = asset(path) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Not Found",
        )
            .into_response();
    };
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, HeaderValue::from_static(kind))],
            bytes,
        )
            .into_response()
    };
    let h = response.headers_mut();
    h.insert(header::ETAG, HeaderValue::from_static(etag));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The console's size budget: 300 KiB gzipped. The raw size bounds the gzipped
    /// size from above, so holding the raw total under the budget holds the promise
    /// without a compressor in the tests.
    const BUDGET_BYTES: usize = 300 * 1024;

    #[test]
    fn the_embedded_console_fits_its_budget() {
        let total: usize = assets().map(|(_, b)| b.len()).sum();
        assert!(total > 0, "no console files embedded");
        assert!(
            total < BUDGET_BYTES,
            "console assets are {total} bytes raw, over the {BUDGET_BYTES}-byte budget"
        );
    }

    #[test]
    fn the_shell_is_embedded_with_its_content_types() {
        let (kind, etag, page) = asset("index.html").expect("index.html");
        assert_eq!(kind, "text/html; charset=utf-8");
        assert!(etag.starts_with('"') && etag.ends_with('"'));
        assert!(std::str::from_utf8(page).unwrap().contains("js/app.js"));
        assert_eq!(
            asset("js/app.js").unwrap().0,
            "text/javascript; charset=utf-8"
        );
        assert_eq!(asset("console.css").unwrap().0, "text/css; charset=utf-8");
        assert!(asset("README.md").is_none());
        assert!(asset("../Cargo.toml").is_none());
    }
}

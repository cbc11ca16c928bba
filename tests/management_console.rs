//! The web console as HTTP: the management listener serves the page at `/` and its
//! files at `/console/...` from the binary, with content types, ETags (a 304 for an
//! unchanged file), `no-cache`, `nosniff` and a CSP that allows only this origin; no
//! credentials are needed for the files (the API calls carry them). A 401 answered to
//! the console's requests (`X-Requested-With: XMLHttpRequest`) has no `WWW-Authenticate`,
//! so the browser does not put up its own password dialog; other clients still get it.

use warren_testkit::http::Api;
use warren_testkit::TestBroker;

#[tokio::test]
async fn the_console_is_served_from_the_binary_with_types_and_cache_headers() {
    let broker = TestBroker::start().await;
    let web = Api::anonymous(&broker.management_url());

    let page = web.get("/").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.body.contains(r#"name="username""#) && page.body.contains(r#"name="password""#));
    assert!(page.body.contains("/console/js/app.js"));
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    let csp = page.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("default-src 'self'") && csp.contains("script-src 'self'"));
    assert!(!csp.contains("unsafe"), "{csp}");

    for (path, kind) in [
        ("/console/js/app.js", "text/javascript; charset=utf-8"),
        (
            "/console/js/pages/queues.js",
            "text/javascript; charset=utf-8",
        ),
        ("/console/console.css", "text/css; charset=utf-8"),
        ("/console/favicon.svg", "image/svg+xml"),
    ] {
        let r = web.get(path).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some(kind), "{path}");
        let etag = r.header("etag").expect("an ETag").to_owned();
        let again = web
            .request("GET", path, None, &[("If-None-Match", &etag)])
            .await;
        assert_eq!(again.status, 304, "{path} unchanged");
        assert!(again.body.is_empty());
        let other = web
            .request("GET", path, None, &[("If-None-Match", "\"0\"")])
            .await;
        assert_eq!(other.status, 200, "{path} with another ETag");
    }

    for missing in [
        "/console/nope.js",
        "/console/README.md",
        "/console/../Cargo.toml",
        "/console/%2e%2e/build.rs",
    ] {
        let r = web.get(missing).await;
        assert_eq!(r.status, 404, "{missing}");
    }
    // The API's own answers are unchanged beside it.
    assert_eq!(web.get("/api/overview").await.status, 401);
    broker.stop().await;
}

#[tokio::test]
async fn the_console_s_failed_logins_do_not_ask_the_browser_for_a_password() {
    let broker = TestBroker::start().await;
    let wrong = Api::new(&broker.management_url(), "guest", "wrong");

    let plain = wrong.get("/api/whoami").await;
    assert_eq!(plain.status, 401);
    assert_eq!(
        plain.header("www-authenticate"),
        Some("Basic realm=\"RabbitMQ Management\""),
        "other clients get RabbitMQ's challenge"
    );

    let scripted = wrong
        .request(
            "GET",
            "/api/whoami",
            None,
            &[("X-Requested-With", "XMLHttpRequest")],
        )
        .await;
    assert_eq!(scripted.status, 401);
    assert_eq!(scripted.header("www-authenticate"), None);
    assert_eq!(scripted.json()["reason"], "Login failed");

    let right = Api::new(&broker.management_url(), "guest", "guest")
        .request(
            "GET",
            "/api/whoami",
            None,
            &[("X-Requested-With", "XMLHttpRequest")],
        )
        .await;
    assert_eq!(right.status, 200);
    assert_eq!(right.json()["name"], "guest");
    broker.stop().await;
}

//! A small HTTP/1.1 client for the management API tests: one request per connection,
//! basic auth, JSON bodies. Async on tokio, so it runs beside the in-process broker.

use base64::Engine;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl Reply {
    /// The body as JSON (panics with the body if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A client for one management API base URL and user.
#[derive(Debug, Clone)]
pub struct Api {
    host: String,
    auth: Option<String>,
}

impl Api {
    /// A client for `base` (`http://127.0.0.1:PORT`) logging in as `user`.
    pub fn new(base: &str, user: &str, password: &str) -> Self {
        let mut api = Self::anonymous(base);
        api.auth =
            Some(base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")));
        api
    }

    /// A client sending no credentials.
    pub fn anonymous(base: &str) -> Self {
        Api {
            host: base
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_owned(),
            auth: None,
        }
    }

    /// GET `path`.
    pub async fn get(&self, path: &str) -> Reply {
        self.request("GET", path, None, &[]).await
    }

    /// PUT `path` with a JSON body.
    pub async fn put(&self, path: &str, body: &str) -> Reply {
        self.request("PUT", path, Some(body), &[]).await
    }

    /// POST `path` with a JSON body.
    pub async fn post(&self, path: &str, body: &str) -> Reply {
        self.request("POST", path, Some(body), &[]).await
    }

    /// DELETE `path`.
    pub async fn delete(&self, path: &str) -> Reply {
        self.request("DELETE", path, None, &[]).await
    }

    /// Any request, with extra headers.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut stream = TcpStream::connect(&self.host)
            .await
            .unwrap_or_else(|e| panic!("connect {}: {e}", self.host));
        let body = body.unwrap_or("");
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.host,
            body.len()
        );
        if !body.is_empty()
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            req.push_str("Content-Type: application/json\r\n");
        }
        if let Some(auth) = &self.auth {
            req.push_str(&format!("Authorization: Basic {auth}\r\n"));
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        stream
            .write_all(req.as_bytes())
            .await
            .expect("send request");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.expect("read reply");
        parse(&raw)
    }
}

fn parse(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw);
    let (head, rest) = text.split_once("\r\n\r\n").expect("HTTP head");
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n.min(rest.len())]);
        s = rest.get(n + 2..).unwrap_or("");
    }
    out
}

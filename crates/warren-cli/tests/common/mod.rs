//! Helpers for the integration tests: run the real `warrenctl` binary against a
//! management base URL, and a scripted stand-in management API that records requests.

#![allow(dead_code)] // each test file uses its own subset

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

/// What one run of the binary did.
#[derive(Debug)]
pub struct Outcome {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `warrenctl` against one management API as one user, with no `WARREN_*`
/// variables and an empty config directory unless a test sets them.
pub struct Ctl {
    base: String,
    user: String,
    password: String,
    env: Vec<(String, String)>,
    config_home: tempfile::TempDir,
}

impl Ctl {
    /// A runner for the management API at `base` (e.g. `http://127.0.0.1:15672`),
    /// as guest/guest.
    pub fn new(base: &str) -> Ctl {
        Ctl {
            base: base.to_string(),
            user: "guest".into(),
            password: "guest".into(),
            env: Vec::new(),
            config_home: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The same runner as another user.
    pub fn with_user(mut self, user: &str, password: &str) -> Ctl {
        self.user = user.into();
        self.password = password.into();
        self
    }

    /// Sets an environment variable for every run.
    pub fn env(mut self, key: &str, value: &str) -> Ctl {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Writes `warrenctl.toml` into this runner's config directory.
    pub fn config_file(self, text: &str) -> Ctl {
        let dir = self.config_home.path().join("warren");
        std::fs::create_dir_all(&dir).expect("config dir");
        std::fs::write(dir.join("warrenctl.toml"), text).expect("config file");
        self
    }

    /// The private config directory (XDG_CONFIG_HOME).
    pub fn config_home(&self) -> &Path {
        self.config_home.path()
    }

    /// Runs `warrenctl --url BASE --user U --password P ARGS...`.
    pub fn run(&self, args: &[&str]) -> Outcome {
        let mut full: Vec<&str> = vec![
            "--url",
            &self.base,
            "--user",
            &self.user,
            "--password",
            &self.password,
        ];
        full.extend_from_slice(args);
        self.run_raw(&full)
    }

    /// Runs `warrenctl ARGS...` with no connection flags added.
    pub fn run_raw(&self, args: &[&str]) -> Outcome {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_warrenctl"));
        cmd.args(args)
            .env_remove("WARREN_URL")
            .env_remove("WARREN_USER")
            .env_remove("WARREN_PASSWORD")
            .env_remove("WARREN_VHOST")
            .env("XDG_CONFIG_HOME", self.config_home.path())
            .env("NO_COLOR", "1");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run warrenctl");
        Outcome {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Asserts the exit code, showing both streams when it differs.
#[track_caller]
pub fn assert_code(out: &Outcome, code: i32) {
    assert_eq!(
        out.code, code,
        "expected exit {code}\nstdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
}

/// Asserts an error: the exit code and one `warrenctl: ...` line containing `needle`.
#[track_caller]
pub fn assert_error(out: &Outcome, code: i32, needle: &str) {
    assert_code(out, code);
    assert!(
        out.stderr.starts_with("warrenctl: ") && out.stderr.lines().count() == 1,
        "stderr is not one warrenctl: line: {:?}",
        out.stderr
    );
    assert!(
        out.stderr.contains(needle),
        "stderr {:?} lacks {needle:?}",
        out.stderr
    );
}

/// A port on loopback that nothing listens on.
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// One request as the stand-in API received it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `PUT`...
    pub method: String,
    /// Path and query, still percent-encoded.
    pub target: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

type Handler = dyn Fn(&Request) -> (u16, String) + Send + Sync;

/// A scripted management API on a loopback port: answers each request with what the
/// handler returns and records it. Lives until the test process ends.
pub struct FakeApi {
    /// Its base URL.
    pub url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl FakeApi {
    /// Starts answering with `handler` (status, JSON body).
    pub fn start(handler: impl Fn(&Request) -> (u16, String) + Send + Sync + 'static) -> FakeApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        let handler: Arc<Handler> = Arc::new(handler);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (seen, handler) = (Arc::clone(&seen), Arc::clone(&handler));
                std::thread::spawn(move || serve(stream, &seen, &*handler));
            }
        });
        FakeApi { url, requests }
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("lock").clone()
    }

    /// The last request.
    pub fn last(&self) -> Request {
        self.requests().pop().expect("no request was made")
    }
}

fn serve(stream: TcpStream, seen: &Mutex<Vec<Request>>, handler: &Handler) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request = Request {
        method,
        target,
        headers,
        body,
    };
    let (status, reply) = handler(&request);
    seen.lock().expect("lock").push(request);
    let mut stream = reader.into_inner();
    let _ = write!(
        stream,
        "HTTP/1.1 {status} Fake\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    );
    let _ = stream.flush();
}

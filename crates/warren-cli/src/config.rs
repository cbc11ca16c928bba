//! Connection settings: where the management API is and who to be.
//!
//! Each setting comes from the first source that has it: command-line flag, then
//! environment (`WARREN_URL`, `WARREN_USER`, `WARREN_PASSWORD`, `WARREN_VHOST`), then
//! the config file `$XDG_CONFIG_HOME/warren/warrenctl.toml` (or
//! `~/.config/warren/warrenctl.toml`) with keys `url`, `user`, `password`, `vhost`,
//! then the default (`http://127.0.0.1:15672`, `guest`, `guest`, `/`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{CliError, Result};

/// The management API address used when nothing else names one.
pub const DEFAULT_URL: &str = "http://127.0.0.1:15672";
/// The user (and password) used when nothing else names one.
pub const DEFAULT_USER: &str = "guest";
/// The vhost used by commands that address one object when nothing else names one.
pub const DEFAULT_VHOST: &str = "/";

/// Settings as given by one source; `None` where that source is silent.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partial {
    /// Base URL of the management API.
    pub url: Option<String>,
    /// User name.
    pub user: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// Virtual host.
    pub vhost: Option<String>,
}

impl Partial {
    /// The `WARREN_*` variables, read through `var` (empty values count as unset).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Partial {
        let get = |k: &str| var(k).filter(|v| !v.is_empty());
        Partial {
            url: get("WARREN_URL"),
            user: get("WARREN_USER"),
            password: get("WARREN_PASSWORD"),
            vhost: get("WARREN_VHOST"),
        }
    }
}

/// The settings a command runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:15672`.
    pub url: String,
    /// User name for HTTP basic authentication.
    pub user: String,
    /// Password for HTTP basic authentication.
    pub password: String,
    /// The vhost to address (`/` unless named).
    pub vhost: String,
    /// Whether some source named the vhost: listings then show only that vhost,
    /// otherwise all of them.
    pub vhost_explicit: bool,
}

/// Combines the sources, first one wins: `flags`, `env`, `file`, then the defaults.
/// Fails when the URL is not a plain `http://` URL.
pub fn resolve(flags: &Partial, env: &Partial, file: &Partial) -> Result<Settings> {
    let pick = |f: fn(&Partial) -> &Option<String>| {
        f(flags)
            .clone()
            .or_else(|| f(env).clone())
            .or_else(|| f(file).clone())
    };
    let url = pick(|p| &p.url).unwrap_or_else(|| DEFAULT_URL.to_string());
    let vhost = pick(|p| &p.vhost);
    Ok(Settings {
        url: normalise_url(&url)?,
        user: pick(|p| &p.user).unwrap_or_else(|| DEFAULT_USER.to_string()),
        password: pick(|p| &p.password).unwrap_or_else(|| DEFAULT_USER.to_string()),
        vhost_explicit: vhost.is_some(),
        vhost: vhost.unwrap_or_else(|| DEFAULT_VHOST.to_string()),
    })
}

/// Checks the base URL and drops trailing slashes. Only `http://` is accepted: this
/// build has no TLS stack (put a TLS-terminating proxy in front for remote brokers).
pub fn normalise_url(url: &str) -> Result<String> {
    let trimmed = url.trim().trim_end_matches('/');
    if let Some(rest) = trimmed.strip_prefix("http://") {
        if rest.is_empty() || rest.starts_with('/') {
            return Err(CliError::Usage(format!("--url '{url}' names no host")));
        }
        return Ok(trimmed.to_string());
    }
    if trimmed.starts_with("https://") {
        return Err(CliError::Usage(format!(
            "--url '{url}': https is not supported by this build (no TLS stack); use http://"
        )));
    }
    Err(CliError::Usage(format!(
        "--url '{url}' is not an http:// URL (e.g. {DEFAULT_URL})"
    )))
}

/// Where the config file lives: `$XDG_CONFIG_HOME/warren/warrenctl.toml`, else
/// `$HOME/.config/warren/warrenctl.toml`; `None` when neither variable is set.
pub fn file_path(var: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let base = match var("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(xdg) => PathBuf::from(xdg),
        None => PathBuf::from(var("HOME").filter(|v| !v.is_empty())?).join(".config"),
    };
    Some(base.join("warren").join("warrenctl.toml"))
}

/// Reads the config file; a missing file is an empty [`Partial`], a malformed one an
/// error naming the file.
pub fn load_file(path: &Path) -> Result<Partial> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Partial::default()),
        Err(e) => {
            return Err(CliError::Config {
                path: path.display().to_string(),
                reason: e.to_string(),
            })
        }
    };
    parse_file(&text).map_err(|reason| CliError::Config {
        path: path.display().to_string(),
        reason,
    })
}

/// Parses the config file's text; the error is toml's message on one line.
pub fn parse_file(text: &str) -> std::result::Result<Partial, String> {
    toml::from_str(text).map_err(|e| {
        e.to_string()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial(url: Option<&str>, user: Option<&str>, vhost: Option<&str>) -> Partial {
        Partial {
            url: url.map(String::from),
            user: user.map(String::from),
            password: None,
            vhost: vhost.map(String::from),
        }
    }

    #[test]
    fn defaults_when_every_source_is_silent() {
        let none = Partial::default();
        let s = resolve(&none, &none, &none).unwrap();
        assert_eq!(s.url, "http://127.0.0.1:15672");
        assert_eq!((s.user.as_str(), s.password.as_str()), ("guest", "guest"));
        assert_eq!(s.vhost, "/");
        assert!(!s.vhost_explicit);
    }

    #[test]
    fn flag_beats_env_beats_file() {
        let flags = partial(Some("http://flag:1"), None, None);
        let env = partial(Some("http://env:1"), Some("env-user"), None);
        let file = partial(Some("http://file:1"), Some("file-user"), Some("file-vh"));
        let s = resolve(&flags, &env, &file).unwrap();
        assert_eq!(s.url, "http://flag:1");
        assert_eq!(s.user, "env-user");
        assert_eq!(s.vhost, "file-vh");
        assert!(s.vhost_explicit);
        let s = resolve(&Partial::default(), &Partial::default(), &file).unwrap();
        assert_eq!(s.url, "http://file:1");
        assert_eq!(s.user, "file-user");
    }

    #[test]
    fn empty_env_values_are_unset() {
        let env = Partial::from_env(|k| match k {
            "WARREN_URL" => Some(String::new()),
            "WARREN_USER" => Some("u".into()),
            _ => None,
        });
        assert_eq!(env, partial(None, Some("u"), None));
    }

    #[test]
    fn urls_lose_trailing_slashes_and_must_be_http() {
        assert_eq!(normalise_url("http://h:1/").unwrap(), "http://h:1");
        assert_eq!(
            normalise_url("http://h:1/prefix/").unwrap(),
            "http://h:1/prefix"
        );
        assert!(matches!(normalise_url("https://h"), Err(CliError::Usage(m)) if m.contains("TLS")));
        assert!(normalise_url("h:15672").is_err());
        assert!(normalise_url("http://").is_err());
    }

    #[test]
    fn file_path_prefers_xdg_config_home() {
        let p = file_path(|k| match k {
            "XDG_CONFIG_HOME" => Some("/x".into()),
            "HOME" => Some("/home/u".into()),
            _ => None,
        });
        assert_eq!(p, Some(PathBuf::from("/x/warren/warrenctl.toml")));
        let p = file_path(|k| (k == "HOME").then(|| "/home/u".to_string()));
        assert_eq!(
            p,
            Some(PathBuf::from("/home/u/.config/warren/warrenctl.toml"))
        );
        assert_eq!(file_path(|_| None), None);
    }

    #[test]
    fn config_file_keys_and_unknown_keys() {
        let p = parse_file("url = \"http://h:2\"\nvhost = \"v\"\n").unwrap();
        assert_eq!(p, partial(Some("http://h:2"), None, Some("v")));
        let err = parse_file("uri = \"x\"").unwrap_err();
        assert!(err.contains("uri"), "{err}");
        assert!(!err.contains('\n'));
    }
}

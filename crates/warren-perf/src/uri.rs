//! `amqp://user:pass@host:port/vhost` parsing, with percent-decoding as RabbitMQ's
//! clients do it (`%2f` is the vhost `/`).

use crate::error::{PerfError, Result};
use crate::tls::TlsClient;

/// The default URI: guest on the local broker's default vhost.
pub const DEFAULT_URI: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Where and as whom to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmqpUri {
    /// User name for PLAIN authentication.
    pub user: String,
    /// Password for PLAIN authentication.
    pub password: String,
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Virtual host.
    pub vhost: String,
    /// `amqps://`: TLS over TCP (default port 5671).
    pub secure: bool,
    /// The TLS client configuration for `amqps://` (from `--cacert`).
    pub tls: Option<TlsClient>,
}

impl AmqpUri {
    /// Parses an `amqp://` or `amqps://` URI. Missing parts take RabbitMQ's defaults:
    /// guest/guest, port 5672 (5671 for amqps), vhost `/`. An `amqps://` URI needs
    /// [`AmqpUri::tls`] set before connecting.
    pub fn parse(uri: &str) -> Result<Self> {
        let bad = |reason| PerfError::Uri {
            uri: uri.to_owned(),
            reason,
        };
        let (secure, rest) = match (uri.strip_prefix("amqps://"), uri.strip_prefix("amqp://")) {
            (Some(rest), _) => (true, rest),
            (None, Some(rest)) => (false, rest),
            (None, None) => return Err(bad("only amqp:// and amqps:// are supported")),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            Some(ui) => match ui.find(':') {
                Some(i) => (
                    decode(&ui[..i]).ok_or_else(|| bad("bad percent-escape"))?,
                    decode(&ui[i + 1..]).ok_or_else(|| bad("bad percent-escape"))?,
                ),
                None => (
                    decode(ui).ok_or_else(|| bad("bad percent-escape"))?,
                    String::new(),
                ),
            },
            None => ("guest".to_owned(), "guest".to_owned()),
        };
        let (host, port) = match hostport.rfind(':') {
            Some(i) if !hostport.ends_with(']') => (
                &hostport[..i],
                hostport[i + 1..].parse().map_err(|_| bad("bad port"))?,
            ),
            _ => (hostport, if secure { 5671 } else { 5672 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let vhost = match path {
            None | Some("") => "/".to_owned(),
            Some(p) => decode(p).ok_or_else(|| bad("bad percent-escape"))?,
        };
        Ok(AmqpUri {
            user,
            password,
            host: host.to_owned(),
            port,
            vhost,
            secure,
            tls: None,
        })
    }
}

/// Percent-decodes `s`; `None` for a malformed escape or invalid UTF-8.
fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_uri() {
        let u = AmqpUri::parse(DEFAULT_URI).unwrap();
        assert_eq!(u.user, "guest");
        assert_eq!(u.password, "guest");
        assert_eq!(u.host, "127.0.0.1");
        assert_eq!(u.port, 5672);
        assert_eq!(u.vhost, "/");
    }

    #[test]
    fn defaults_and_escapes() {
        let u = AmqpUri::parse("amqp://a%40b:p%3Aw@h:5673/my%2Fvh").unwrap();
        assert_eq!((u.user.as_str(), u.password.as_str()), ("a@b", "p:w"));
        assert_eq!((u.host.as_str(), u.port), ("h", 5673));
        assert_eq!(u.vhost, "my/vh");
        let u = AmqpUri::parse("amqp://localhost").unwrap();
        assert_eq!(
            (u.user.as_str(), u.port, u.vhost.as_str()),
            ("guest", 5672, "/")
        );
        assert!(AmqpUri::parse("http://x").is_err());
        let s = AmqpUri::parse("amqps://localhost").unwrap();
        assert!(s.secure && s.tls.is_none());
        assert_eq!(s.port, 5671);
        assert!(!u.secure);
        assert!(AmqpUri::parse("amqp://h:notaport/").is_err());
        assert!(AmqpUri::parse("amqp://h/%zz").is_err());
    }
}

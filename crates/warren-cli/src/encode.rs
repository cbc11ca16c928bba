//! Percent-encoding of management API path segments and query values.
//!
//! RabbitMQ's API puts vhost, queue, exchange and user names in the path, so each is
//! encoded as one segment: `/` becomes `%2F` (the default vhost is `%2F`), and every
//! byte outside RFC 3986's unreserved set is escaped.

use std::fmt::Write;

/// Encodes one path segment or query value: unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`) stay, every other UTF-8 byte becomes `%XX`.
/// A segment of only dots (`.`, `..`) is escaped too, so no HTTP stack normalises it away.
pub fn segment(raw: &str) -> String {
    if !raw.is_empty() && raw.bytes().all(|b| b == b'.') {
        return "%2E".repeat(raw.len());
    }
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Decodes `%XX` escapes (the inverse of [`segment`]); malformed escapes stay as they are.
pub fn decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `/api/` followed by the encoded segments joined with `/`:
/// `api_path(&["queues", "/", "a b"])` is `/api/queues/%2F/a%20b`.
pub fn api_path(segments: &[&str]) -> String {
    let mut path = String::from("/api");
    for s in segments {
        path.push('/');
        path.push_str(&segment(s));
    }
    path
}

/// The name RabbitMQ's API uses in paths for an exchange: the default exchange (`""`)
/// is addressed as `amq.default`.
pub fn exchange_in_path(name: &str) -> &str {
    if name.is_empty() {
        "amq.default"
    } else {
        name
    }
}

/// A query string (`?a=1&b=x%2Fy`) from key/value pairs; empty when there are none.
pub fn query(pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", segment(k), segment(v)))
        .collect();
    format!("?{}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_vhost_is_percent_2f() {
        assert_eq!(segment("/"), "%2F");
        assert_eq!(api_path(&["queues", "/", "tasks"]), "/api/queues/%2F/tasks");
    }

    #[test]
    fn names_with_reserved_characters_stay_one_segment() {
        assert_eq!(segment("a/b c#?%"), "a%2Fb%20c%23%3F%25");
        assert_eq!(segment("orders.created-v1_x~"), "orders.created-v1_x~");
        assert_eq!(segment("é"), "%C3%A9");
        assert_eq!(segment("."), "%2E");
        assert_eq!(segment(".."), "%2E%2E");
        assert_eq!(segment(""), "");
    }

    #[test]
    fn decode_inverts_segment() {
        for raw in ["/", "a.%23~8IXMRA", "é x", "100%"] {
            assert_eq!(decode(&segment(raw)), raw);
        }
        assert_eq!(decode("a.%2523~8IXMRA"), "a.%23~8IXMRA");
        assert_eq!(decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn default_exchange_is_amq_default_in_paths() {
        assert_eq!(exchange_in_path(""), "amq.default");
        assert_eq!(exchange_in_path("amq.topic"), "amq.topic");
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(query(&[]), "");
        assert_eq!(
            query(&[("name", "^a.*|b$".into()), ("use_regex", "true".into())]),
            "?name=%5Ea.%2A%7Cb%24&use_regex=true"
        );
    }
}

//! Where in a config file a problem is: the line, and the dotted key path
//! (`limits.channel_max`, `queues[1].durable`), so an error reads
//! `warren.toml:12: unknown key `limits.chanel_max` (expected one of ...)`.
//!
//! The toml crate reports a byte span and serde's message; the key path is rebuilt from
//! the text around the span: the table header above it (`[limits]`, the n-th
//! `[[queues]]`), the key left of `=` on its line, and the unknown field's name.

/// A toml parse or schema error as one line: `line`, and the message naming the key.
pub fn describe(text: &str, error: &toml::de::Error) -> (Option<usize>, String) {
    let message = error.message().trim();
    let Some(span) = error.span() else {
        return (None, message.to_owned());
    };
    let offset = span.start.min(text.len());
    let line = line_at(text, offset);
    let unknown = unknown_field(message);
    let path = key_path(
        text,
        offset,
        unknown.as_ref().map(|(name, _)| name.as_str()),
    );
    let message = match (unknown, path) {
        (Some((_, expected)), Some(path)) if expected.is_empty() => {
            format!("unknown key `{path}`")
        }
        (Some((_, expected)), Some(path)) => format!("unknown key `{path}` ({expected})"),
        (None, Some(path)) => format!("`{path}`: {message}"),
        (_, None) => message.to_owned(),
    };
    (Some(line), message)
}

/// The 1-based line of the first `key = ...` line (any table) whose key is `key`.
pub fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| key_of_line(l) == Some(key))
        .map(|i| i + 1)
}

/// The 1-based line holding byte `offset`.
fn line_at(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

/// serde's `unknown field `x`, expected one of ...`: the field and the rest.
fn unknown_field(message: &str) -> Option<(String, String)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (name, rest) = rest.split_once('`')?;
    let expected = rest.trim_start_matches(',').trim();
    Some((name.to_owned(), expected.to_owned()))
}

/// The key a `key = value` line sets (unquoted), if it is one.
fn key_of_line(line: &str) -> Option<&str> {
    let line = line.trim_start();
    if line.starts_with('[') || line.starts_with('#') {
        return None;
    }
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"').trim_matches('\'');
    (!key.is_empty()).then_some(key)
}

/// The table a line belongs to: `[name]` gives `name`, the n-th `[[name]]` gives
/// `name[n-1]`; `None` at the top level.
fn table_at(text: &str, line_index: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().take(line_index + 1).collect();
    let (at, header) = lines
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, l)| header_of(l).map(|h| (i, h)))?;
    match header {
        Header::Table(name) => Some(name.to_owned()),
        Header::Array(name) => {
            let index = lines[..at]
                .iter()
                .filter(|l| matches!(header_of(l), Some(Header::Array(n)) if n == name))
                .count();
            Some(format!("{name}[{index}]"))
        }
    }
}

enum Header<'a> {
    Table(&'a str),
    Array(&'a str),
}

fn header_of(line: &str) -> Option<Header<'_>> {
    let line = line.split('#').next().unwrap_or("").trim();
    if let Some(name) = line.strip_prefix("[[").and_then(|l| l.strip_suffix("]]")) {
        return Some(Header::Array(name.trim()));
    }
    let name = line.strip_prefix('[')?.strip_suffix(']')?;
    Some(Header::Table(name.trim()))
}

/// The dotted path of the key at `offset` (`unknown`: the field serde did not know,
/// which may sit inside an inline table on that line).
fn key_path(text: &str, offset: usize, unknown: Option<&str>) -> Option<String> {
    let line_index = line_at(text, offset) - 1;
    let lines: Vec<&str> = text.lines().collect();
    // A value continued over several lines (a list): the key is on the line that
    // opened it.
    let line_key = lines
        .get(..=line_index.min(lines.len().saturating_sub(1)))?
        .iter()
        .rev()
        .take_while(|l| header_of(l).is_none())
        .find_map(|l| key_of_line(l));
    let mut parts: Vec<String> = table_at(text, line_index).into_iter().collect();
    parts.extend(line_key.map(str::to_owned));
    if let Some(field) = unknown {
        if line_key != Some(field) {
            parts.push(field.to_owned());
        }
    }
    (!parts.is_empty()).then(|| parts.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> (Option<usize>, String) {
        let e = toml::from_str::<crate::config::file::ConfigFile>(text).unwrap_err();
        describe(text, &e)
    }

    #[test]
    fn an_unknown_key_is_named_with_its_table() {
        let (line, m) = error("data_dir = \"d\"\n\n[limits]\nchanel_max = 5\n");
        assert_eq!(line, Some(4));
        assert!(
            m.starts_with("unknown key `limits.chanel_max` (expected one of `channel_max`"),
            "{m}"
        );
        let (line, m) = error("chanel_max = 5\n");
        assert_eq!(line, Some(1));
        assert!(m.starts_with("unknown key `chanel_max`"), "{m}");
    }

    #[test]
    fn array_tables_are_numbered_and_inline_tables_named() {
        let (line, m) =
            error("[[queues]]\nname = \"a\"\n[[queues]]\nname = \"q\"\ndurabel = true\n");
        assert_eq!(line, Some(5));
        assert!(m.starts_with("unknown key `queues[1].durabel`"), "{m}");
        let (_, m) =
            error("default_permissions = { configure = \".*\", wrte = \"\", read = \"\" }");
        assert!(
            m.starts_with("unknown key `default_permissions.wrte`"),
            "{m}"
        );
    }

    #[test]
    fn a_bad_value_is_named_by_its_key() {
        let (line, m) = error("# c\n[limits]\nchannel_max = \"x\"\n");
        assert_eq!(line, Some(3));
        assert!(m.starts_with("`limits.channel_max`: invalid type"), "{m}");
        let (line, m) = error("[listeners]\namqp = [\n  \"a\",\n  5,\n]\n");
        assert_eq!(line, Some(4));
        assert!(m.starts_with("`listeners.amqp`:"), "{m}");
    }

    #[test]
    fn the_first_line_setting_a_key_is_found() {
        let text = "# channel_max = 1\n[limits]\n  channel_max=2\n";
        assert_eq!(line_of(text, "channel_max"), Some(3));
        assert_eq!(line_of(text, "frame_max_bytes"), None);
    }
}

//! Tab-separated values for scripts: a header row, then one line per row, with tabs,
//! newlines and backslashes inside values escaped as `\t`, `\n`, `\\`.

/// Escapes one value so it stays one field on one line.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// Renders the header row and the rows.
pub fn render(headers: &[String], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    let line = |fields: &[String]| -> String {
        let escaped: Vec<String> = fields.iter().map(|f| escape(f)).collect();
        escaped.join("\t") + "\n"
    };
    out.push_str(&line(headers));
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_then_rows_tab_separated() {
        let headers = vec!["name".to_string(), "messages".to_string()];
        let rows = vec![vec!["a".to_string(), "1".to_string()]];
        assert_eq!(render(&headers, &rows), "name\tmessages\na\t1\n");
    }

    #[test]
    fn separators_inside_values_are_escaped() {
        assert_eq!(escape("a\tb\nc\\d"), "a\\tb\\nc\\\\d");
    }
}

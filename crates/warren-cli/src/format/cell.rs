//! From a JSON field to a table cell, a TSV field or a sort key.

use std::cmp::Ordering;

use serde_json::Value;

use super::human;
use super::table::Cell;

/// How a column's values are shown in a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Strings as they are; anything else as [`Kind::Auto`].
    Text,
    /// A count of things (messages, consumers).
    Count,
    /// A size in bytes: `1.2 MiB`.
    Bytes,
    /// A message rate: `12.3/s`.
    Rate,
    /// A byte rate: `1.2 KiB/s`.
    ByteRate,
    /// An exchange name: the default exchange (`""`) shows as `(default)`.
    Exchange,
    /// Whatever the value is: strings as is, numbers as counts, lists joined by commas,
    /// objects as compact JSON.
    Auto,
}

/// The value at a dotted `path` (`message_stats.publish_details.rate`) in `item`.
pub fn lookup<'a>(item: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(v) = item.get(path) {
        return Some(v);
    }
    path.split('.').try_fold(item, |v, key| v.get(key))
}

/// The table cell for `value` (`None`: the field is absent, an empty cell).
pub fn table_cell(kind: Kind, value: Option<&Value>) -> Cell {
    let Some(value) = value else {
        return Cell::left("");
    };
    let number = value.as_f64();
    match (kind, number) {
        (Kind::Bytes, Some(n)) => Cell::right(human::bytes(n)),
        (Kind::Rate, Some(n)) => Cell::right(human::rate(n)),
        (Kind::ByteRate, Some(n)) => Cell::right(human::byte_rate(n)),
        (_, Some(n)) => Cell::right(human::count(n)),
        (Kind::Exchange, None) if value.as_str() == Some("") => Cell::left("(default)"),
        _ => Cell::left(plain(value)),
    }
}

/// The value as plain text: strings unquoted, `null` empty, lists joined with `,`,
/// objects as compact JSON. TSV fields and `show` use this.
pub fn plain(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// Orders two rows' values for `--sort`: numbers numerically, text lexically, absent
/// or `null` values last.
pub fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (present(a), present(b)) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(m), Some(n)) => m.partial_cmp(&n).unwrap_or(Ordering::Equal),
            _ => plain(x).cmp(&plain(y)),
        },
    }
}

fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dotted_paths_reach_nested_fields() {
        let q = json!({"name": "q", "message_stats": {"publish_details": {"rate": 1.5}}});
        assert_eq!(
            lookup(&q, "message_stats.publish_details.rate"),
            Some(&json!(1.5))
        );
        assert_eq!(lookup(&q, "message_stats.ack_details.rate"), None);
        let p = json!({"apply-to": "queues"});
        assert_eq!(lookup(&p, "apply-to"), Some(&json!("queues")));
    }

    #[test]
    fn cells_are_humanised_by_kind() {
        let v = json!(1_258_291);
        assert_eq!(table_cell(Kind::Bytes, Some(&v)), Cell::right("1.2 MiB"));
        assert_eq!(
            table_cell(Kind::Rate, Some(&json!(12.34))),
            Cell::right("12.3/s")
        );
        assert_eq!(table_cell(Kind::Count, Some(&json!(3))), Cell::right("3"));
        assert_eq!(
            table_cell(Kind::Text, Some(&json!("running"))),
            Cell::left("running")
        );
        assert_eq!(table_cell(Kind::Rate, None), Cell::left(""));
        assert_eq!(
            table_cell(Kind::Exchange, Some(&json!(""))),
            Cell::left("(default)")
        );
        assert_eq!(
            table_cell(Kind::Exchange, Some(&json!("amq.topic"))),
            Cell::left("amq.topic")
        );
        assert_eq!(
            table_cell(Kind::Auto, Some(&json!(["administrator", "monitoring"]))),
            Cell::left("administrator,monitoring")
        );
        assert_eq!(
            table_cell(Kind::Auto, Some(&json!({"x-max-length": 10}))),
            Cell::left(r#"{"x-max-length":10}"#)
        );
    }

    #[test]
    fn sorting_is_numeric_for_numbers_and_puts_absent_last() {
        assert_eq!(compare(Some(&json!(9)), Some(&json!(10))), Ordering::Less);
        assert_eq!(
            compare(Some(&json!("b")), Some(&json!("a"))),
            Ordering::Greater
        );
        assert_eq!(compare(None, Some(&json!(1))), Ordering::Greater);
        assert_eq!(compare(Some(&json!(null)), None), Ordering::Equal);
    }
}

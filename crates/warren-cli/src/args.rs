//! Parsers for argument values that clap cannot type by itself: `key=value` pairs whose
//! value is typed (integer, boolean, JSON, else string), JSON documents and regexes.

use serde_json::{Map, Value};

/// A value as typed on the command line: an integer (`60000`), a boolean (`true`), any
/// JSON (`1.5`, `{"a":1}`, `["x"]`, `"123"` to force a string), else the text itself.
pub fn typed_value(raw: &str) -> Value {
    if let Ok(n) = raw.parse::<i64>() {
        return Value::from(n);
    }
    match raw {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(v) => v,
        Err(_) => Value::String(raw.to_string()),
    }
}

/// Splits `key=value` at the first `=`; the key must not be empty.
pub fn key_value(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected key=value, got '{raw}'")),
    }
}

/// A `key=value` pair with a [`typed_value`], for `--arg` and `--header`.
pub fn typed_pair(raw: &str) -> Result<(String, Value), String> {
    let (k, v) = key_value(raw)?;
    Ok((k, typed_value(&v)))
}

/// Collects pairs into a JSON object (a repeated key keeps its last value).
pub fn to_object(pairs: &[(String, Value)]) -> Map<String, Value> {
    pairs.iter().cloned().collect()
}

/// A JSON object (for `--definition`).
pub fn json_object(raw: &str) -> Result<Value, String> {
    match serde_json::from_str::<Value>(raw) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err("expected a JSON object, e.g. '{\"max-length\":1000}'".to_string()),
        Err(e) => Err(format!("not JSON: {e}")),
    }
}

/// A regular expression, checked when the command line is parsed.
pub fn regex(raw: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(raw).map_err(|e| {
        e.to_string()
            .lines()
            .last()
            .unwrap_or("")
            .trim()
            .to_string()
    })
}

/// Message properties of `publish --property k=v`: `delivery_mode`, `priority` and
/// `timestamp` are integers, every other property (`content_type`, `message_id`,
/// `correlation_id`, `expiration`...) a string, as AMQP types them.
pub fn property(raw: &str) -> Result<(String, Value), String> {
    let (k, v) = key_value(raw)?;
    let value = match k.as_str() {
        "delivery_mode" | "priority" | "timestamp" => v
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("property {k} takes an integer, got '{v}'"))?,
        "headers" => return Err("use --header k=v for headers".to_string()),
        _ => Value::String(v),
    };
    Ok((k, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_typed_int_bool_json_then_string() {
        assert_eq!(typed_value("60000"), json!(60000));
        assert_eq!(typed_value("-1"), json!(-1));
        assert_eq!(typed_value("true"), json!(true));
        assert_eq!(typed_value("1.5"), json!(1.5));
        assert_eq!(typed_value(r#"{"a":[1]}"#), json!({"a": [1]}));
        assert_eq!(typed_value(r#""123""#), json!("123"));
        assert_eq!(typed_value("quorum"), json!("quorum"));
        assert_eq!(typed_value(""), json!(""));
        assert_eq!(typed_value("orders.dlx"), json!("orders.dlx"));
    }

    #[test]
    fn pairs_split_at_the_first_equals() {
        assert_eq!(
            typed_pair("x-match=all").unwrap(),
            ("x-match".to_string(), json!("all"))
        );
        assert_eq!(
            key_value("a=b=c").unwrap(),
            ("a".to_string(), "b=c".to_string())
        );
        assert!(key_value("novalue").is_err());
        assert!(key_value("=v").is_err());
    }

    #[test]
    fn properties_are_typed_as_amqp_types_them() {
        assert_eq!(property("delivery_mode=2").unwrap().1, json!(2));
        assert_eq!(property("message_id=123").unwrap().1, json!("123"));
        assert!(property("priority=high").is_err());
    }

    #[test]
    fn definitions_must_be_json_objects() {
        assert!(json_object(r#"{"max-length":1}"#).is_ok());
        assert!(json_object("[1]").is_err());
        assert!(json_object("{").is_err());
    }

    #[test]
    fn bad_regexes_are_refused() {
        assert!(regex("^orders\\.").is_ok());
        assert!(regex("(").is_err());
    }
}

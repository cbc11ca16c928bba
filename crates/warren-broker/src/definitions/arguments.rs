//! Argument tables between JSON (definitions, the HTTP API) and AMQP field tables,
//! typed as RabbitMQ converts them: integers become signed 64-bit (`l`), other numbers
//! doubles (`d`), strings long strings (`S`), objects tables, lists arrays, `null` void.

use bytes::Bytes;
use serde_json::{Number, Value};
use warren_protocol::{FieldTable, FieldValue};

use super::JsonMap;

/// A JSON object as a field table.
pub fn table_from_json(map: &JsonMap) -> FieldTable {
    map.iter()
        .map(|(k, v)| (k.clone(), value_from_json(v)))
        .collect()
}

/// A JSON value as a field value.
pub fn value_from_json(v: &Value) -> FieldValue {
    match v {
        Value::Null => FieldValue::Void,
        Value::Bool(b) => FieldValue::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => FieldValue::I64(i),
            (None, Some(u)) => FieldValue::U64(u),
            _ => FieldValue::F64(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => FieldValue::LongString(Bytes::from(s.clone())),
        Value::Array(items) => FieldValue::Array(items.iter().map(value_from_json).collect()),
        Value::Object(map) => FieldValue::Table(table_from_json(map)),
    }
}

/// A field table as a JSON object.
pub fn table_to_json(table: &FieldTable) -> JsonMap {
    table
        .iter()
        .map(|(k, v)| (k.to_owned(), value_to_json(v)))
        .collect()
}

/// A field value as JSON. Byte strings that are not UTF-8 are written lossily (as
/// RabbitMQ's management API does); decimals as numbers.
pub fn value_to_json(v: &FieldValue) -> Value {
    match v {
        FieldValue::Bool(b) => Value::Bool(*b),
        FieldValue::F32(f) => float(f64::from(*f)),
        FieldValue::F64(f) => float(*f),
        FieldValue::Decimal(d) => float(f64::from(d.value) / 10f64.powi(i32::from(d.scale))),
        FieldValue::U64(u) => Value::Number(Number::from(*u)),
        FieldValue::Timestamp(t) => Value::Number(Number::from(*t)),
        FieldValue::LongString(b) | FieldValue::Bytes(b) => {
            Value::String(String::from_utf8_lossy(b).into_owned())
        }
        FieldValue::Table(t) => Value::Object(table_to_json(t)),
        FieldValue::Array(items) => Value::Array(items.iter().map(value_to_json).collect()),
        FieldValue::Void => Value::Null,
        other => other
            .as_i64()
            .map_or(Value::Null, |i| Value::Number(Number::from(i))),
    }
}

fn float(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_arguments_become_rabbitmq_typed_fields_and_back() {
        let json: JsonMap = serde_json::from_str(
            r#"{"x-max-priority":5,"x-dead-letter-exchange":"dlx","x-single-active-consumer":true,
                "ratio":0.5,"nested":{"a":[1,"b"]},"none":null}"#,
        )
        .unwrap();
        let table = table_from_json(&json);
        assert_eq!(table.get("x-max-priority"), Some(&FieldValue::I64(5)));
        assert_eq!(
            table
                .get("x-dead-letter-exchange")
                .and_then(FieldValue::as_str),
            Some("dlx")
        );
        assert_eq!(
            table.get("x-single-active-consumer"),
            Some(&FieldValue::Bool(true))
        );
        assert_eq!(table.get("ratio"), Some(&FieldValue::F64(0.5)));
        assert_eq!(table.get("none"), Some(&FieldValue::Void));
        assert_eq!(table_to_json(&table), json);
    }

    #[test]
    fn every_integer_width_exports_as_a_json_number() {
        let mut t = FieldTable::new();
        t.insert("a", FieldValue::U8(7));
        t.insert("b", FieldValue::I32(-3));
        t.insert("c", FieldValue::Timestamp(9));
        let json = table_to_json(&t);
        assert_eq!(json["a"], 7);
        assert_eq!(json["b"], -3);
        assert_eq!(json["c"], 9);
    }
}

//! Field tables for queue and exchange arguments, and readers for the headers of a
//! delivered message (`x-death` and friends).

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::BasicProperties;

/// A field table from `(key, value)` pairs.
pub fn table(entries: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in entries {
        t.insert(ShortString::from(*k), v.clone());
    }
    t
}

/// A long-string value.
pub fn s(v: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(v))
}

/// A signed 32-bit value (what pika sends for small integers: type `I`).
pub fn int(v: i32) -> AMQPValue {
    AMQPValue::LongInt(v)
}

/// A signed 64-bit value (type `l`).
pub fn long(v: i64) -> AMQPValue {
    AMQPValue::LongLongInt(v)
}

/// A boolean value.
pub fn boolean(v: bool) -> AMQPValue {
    AMQPValue::Boolean(v)
}

/// A header of a delivered message.
pub fn header<'a>(props: &'a BasicProperties, key: &str) -> Option<&'a AMQPValue> {
    props.headers().as_ref()?.inner().get(key)
}

/// A string value as text (long or short string).
pub fn text_of(v: &AMQPValue) -> Option<String> {
    match v {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.to_string()),
        _ => None,
    }
}

/// An integer value of any width.
pub fn int_of(v: &AMQPValue) -> Option<i64> {
    match *v {
        AMQPValue::ShortShortInt(n) => Some(n.into()),
        AMQPValue::ShortShortUInt(n) => Some(n.into()),
        AMQPValue::ShortInt(n) => Some(n.into()),
        AMQPValue::ShortUInt(n) => Some(n.into()),
        AMQPValue::LongInt(n) => Some(n.into()),
        AMQPValue::LongUInt(n) => Some(n.into()),
        AMQPValue::LongLongInt(n) => Some(n),
        _ => None,
    }
}

/// A string header of a delivered message.
pub fn header_text(props: &BasicProperties, key: &str) -> Option<String> {
    header(props, key).and_then(text_of)
}

/// The `x-death` entries of a message, most recent first.
pub fn deaths(props: &BasicProperties) -> Vec<FieldTable> {
    match header(props, "x-death") {
        Some(AMQPValue::FieldArray(a)) => a
            .as_slice()
            .iter()
            .map(|e| match e {
                AMQPValue::FieldTable(t) => t.clone(),
                other => panic!("x-death entry is not a table: {other:?}"),
            })
            .collect(),
        other => panic!("x-death should be an array, got {other:?}"),
    }
}

/// A string field of an `x-death` entry.
pub fn death_text(entry: &FieldTable, key: &str) -> Option<String> {
    entry.inner().get(key).and_then(text_of)
}

/// The `count` of an `x-death` entry.
pub fn death_count(entry: &FieldTable) -> i64 {
    entry
        .inner()
        .get("count")
        .and_then(int_of)
        .expect("x-death count")
}

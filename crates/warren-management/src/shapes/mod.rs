//! The JSON objects of RabbitMQ 3.10's management API, built from the broker's state.
//! One file per kind of object; the helpers here format what they share (message
//! stats with their `_details.rate`, timestamps, argument tables).

pub mod access;
pub mod binding;
pub mod connection;
pub mod exchange;
pub mod message;
pub mod queue;

use serde_json::{json, Map, Value};
use warren_broker::definitions::arguments::table_to_json;
use warren_protocol::FieldTable;

/// `{name: value, name_details: {rate: r}}` for each sampled value.
pub fn stats_object(names: &[&str], values: &[u64], rates: Option<&[f64]>) -> Map<String, Value> {
    let mut out = Map::new();
    for (i, name) in names.iter().enumerate() {
        out.insert(
            (*name).to_owned(),
            values.get(i).copied().unwrap_or(0).into(),
        );
        let rate = rates.and_then(|r| r.get(i)).copied().unwrap_or(0.0);
        out.insert(format!("{name}_details"), details(rate));
    }
    out
}

/// `{"rate": r}`.
pub fn details(rate: f64) -> Value {
    json!({ "rate": round(rate) })
}

fn round(rate: f64) -> f64 {
    (rate * 10.0).round() / 10.0
}

/// An argument table as JSON.
pub fn arguments(table: &FieldTable) -> Value {
    Value::Object(table_to_json(table))
}

/// Milliseconds since the epoch as RabbitMQ writes a time: `2026-12-05T17:58:57.069+00:00`.
pub fn iso_time(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// Days since 1970-01-01 to a (year, month, day) of the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_formatted_as_rabbitmq_does() {
        assert_eq!(iso_time(0), "1970-01-01T00:00:00.000+00:00");
        assert_eq!(iso_time(1_796_493_537_069), "2026-12-05T17:58:57.069+00:00");
        assert_eq!(iso_time(951_782_400_000), "2000-02-29T00:00:00.000+00:00");
    }

    #[test]
    fn stats_carry_a_rate_per_value() {
        let s = stats_object(&["publish", "ack"], &[5, 2], Some(&[1.25, 0.0]));
        assert_eq!(s["publish"], 5);
        assert_eq!(s["publish_details"]["rate"], 1.3);
        assert_eq!(s["ack_details"]["rate"], 0.0);
    }
}

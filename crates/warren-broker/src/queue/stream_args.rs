//! Declare arguments of stream queues (`x-queue-type: stream`), checked as RabbitMQ 3.10
//! checks them: the stream's own arguments' values (`x-max-age`,
//! `x-stream-max-segment-size-bytes`), then the arguments streams do not support, in
//! the order the declare gives them, then the properties (a stream is durable, not
//! exclusive, not auto-delete). Texts checked against RabbitMQ 3.10.8.

use warren_protocol::{FieldTable, FieldValue};

use super::args::{check_replicated_properties, refused_arg, type_name};
use crate::error::{AmqpError, AmqpResult};

/// RabbitMQ's default `x-stream-max-segment-size-bytes` (500 MB).
pub const DEFAULT_SEGMENT_BYTES: u64 = 500_000_000;

/// Arguments RabbitMQ knows and refuses for streams ("invalid arg … of queue type
/// rabbit_stream_queue"). Unknown `x-` arguments are accepted and ignored, as there.
pub const REFUSED_FOR_STREAMS: &[&str] = &[
    "x-expires",
    "x-message-ttl",
    "x-dead-letter-exchange",
    "x-dead-letter-routing-key",
    "x-dead-letter-strategy",
    "x-max-length",
    "x-max-in-memory-length",
    "x-max-in-memory-bytes",
    "x-max-priority",
    "x-overflow",
    "x-queue-mode",
    "x-queue-version",
    "x-single-active-consumer",
    "x-quorum-initial-group-size",
    "x-delivery-limit",
    "x-queue-master-locator",
];

/// A stream's own settings (its `x-max-length-bytes` is [`QueueArgs::max_length_bytes`](super::QueueArgs)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamArgs {
    /// `x-max-age`: segments whose newest message is older are deleted.
    pub max_age_ms: Option<u64>,
    /// `x-stream-max-segment-size-bytes`: a segment file rolls past this size.
    pub segment_bytes: u64,
}

impl Default for StreamArgs {
    fn default() -> Self {
        StreamArgs {
            max_age_ms: None,
            segment_bytes: DEFAULT_SEGMENT_BYTES,
        }
    }
}

/// Parses an `x-max-age` value as RabbitMQ does: a positive integer and one unit of
/// `Y` (365 days), `M` (30 days), `D`, `h`, `m`, `s`, case-sensitive. Milliseconds.
pub fn parse_max_age(text: &str) -> Option<u64> {
    let unit = text.chars().last()?;
    let digits = &text[..text.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok().filter(|n| *n > 0)?;
    let seconds: u64 = match unit {
        'Y' => 365 * 86_400,
        'M' => 30 * 86_400,
        'D' => 86_400,
        'h' => 3_600,
        'm' => 60,
        's' => 1,
        _ => return None,
    };
    Some(n.saturating_mul(seconds).saturating_mul(1_000))
}

/// Checks a stream declaration (after the generic argument checks) and returns its
/// settings.
pub fn parse_stream(
    queue: &str,
    vhost: &str,
    args: &FieldTable,
    durable: bool,
    exclusive: bool,
    auto_delete: bool,
) -> AmqpResult<StreamArgs> {
    let invalid = |key: &str, detail: String| {
        AmqpError::precondition_failed(format!(
            "invalid arg '{key}' for queue '{queue}' in vhost '{vhost}': {detail}"
        ))
    };
    let max_age_ms = match args.get("x-max-age") {
        None => None,
        Some(FieldValue::LongString(b)) => Some(
            parse_max_age(&String::from_utf8_lossy(b))
                .ok_or_else(|| invalid("x-max-age", "invalid_max_age".into()))?,
        ),
        Some(v) => {
            let detail = format!("{{unacceptable_type,{}}}", type_name(v));
            return Err(invalid("x-max-age", detail));
        }
    };
    let segment_bytes = match args.get("x-stream-max-segment-size-bytes") {
        None => DEFAULT_SEGMENT_BYTES,
        Some(v) => {
            let n = v.as_i64().ok_or_else(|| {
                invalid(
                    "x-stream-max-segment-size-bytes",
                    format!("\"expected integer, got {}\"", type_name(v)),
                )
            })?;
            if n < 0 {
                let detail = format!("{{value_negative,{n}}}");
                return Err(invalid("x-stream-max-segment-size-bytes", detail));
            }
            // RabbitMQ accepts 0; a segment per message would help nobody: the default.
            if n == 0 {
                DEFAULT_SEGMENT_BYTES
            } else {
                n as u64
            }
        }
    };
    for (key, _) in args.iter() {
        if REFUSED_FOR_STREAMS.contains(&key) {
            return Err(refused_arg(key, queue, vhost, "rabbit_stream_queue"));
        }
    }
    check_replicated_properties(queue, vhost, durable, exclusive, auto_delete)?;
    Ok(StreamArgs {
        max_age_ms,
        segment_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_units_as_rabbitmq() {
        assert_eq!(parse_max_age("10s"), Some(10_000));
        assert_eq!(parse_max_age("30m"), Some(1_800_000));
        assert_eq!(parse_max_age("1h"), Some(3_600_000));
        assert_eq!(parse_max_age("7D"), Some(7 * 86_400_000));
        assert_eq!(parse_max_age("1M"), Some(30 * 86_400_000));
        assert_eq!(parse_max_age("1Y"), Some(365 * 86_400_000));
        for bad in ["0D", "5d", "1.5h", "10S", "1W", "D", "", "-1h", "h1"] {
            assert_eq!(parse_max_age(bad), None, "{bad}");
        }
    }

    fn err(args: &[(&str, FieldValue)], durable: bool, exclusive: bool, auto: bool) -> String {
        let t: FieldTable = args.iter().cloned().collect();
        parse_stream("s", "/", &t, durable, exclusive, auto)
            .unwrap_err()
            .reply_text()
    }

    #[test]
    fn refusals_in_rabbitmq_order_and_texts() {
        assert_eq!(
            err(&[("x-max-age", FieldValue::I32(10))], true, false, false),
            "PRECONDITION_FAILED - invalid arg 'x-max-age' for queue 's' in vhost '/': {unacceptable_type,signedint}"
        );
        assert_eq!(
            err(&[("x-max-age", FieldValue::string("0D"))], true, false, false),
            "PRECONDITION_FAILED - invalid arg 'x-max-age' for queue 's' in vhost '/': invalid_max_age"
        );
        assert_eq!(
            err(&[("x-stream-max-segment-size-bytes", FieldValue::I32(-5))], true, false, false),
            "PRECONDITION_FAILED - invalid arg 'x-stream-max-segment-size-bytes' for queue 's' in vhost '/': {value_negative,-5}"
        );
        // Values first, then refused arguments in the declare's order, then properties.
        assert_eq!(
            err(
                &[
                    ("x-message-ttl", FieldValue::I32(1)),
                    ("x-max-length", FieldValue::I32(1)),
                    ("x-max-age", FieldValue::string("1X")),
                ],
                false,
                false,
                false
            ),
            "PRECONDITION_FAILED - invalid arg 'x-max-age' for queue 's' in vhost '/': invalid_max_age"
        );
        assert_eq!(
            err(
                &[
                    ("x-message-ttl", FieldValue::I32(1)),
                    ("x-max-length", FieldValue::I32(1))
                ],
                false,
                false,
                false
            ),
            "PRECONDITION_FAILED - invalid arg 'x-message-ttl' for queue 's' in vhost '/' of queue type rabbit_stream_queue"
        );
        assert_eq!(
            err(&[], false, true, true),
            "PRECONDITION_FAILED - invalid property 'auto-delete' for queue 's' in vhost '/'"
        );
        assert_eq!(
            err(&[], false, true, false),
            "PRECONDITION_FAILED - invalid property 'exclusive-owner' for queue 's' in vhost '/'"
        );
        assert_eq!(
            err(&[], false, false, false),
            "PRECONDITION_FAILED - invalid property 'non-durable' for queue 's' in vhost '/'"
        );
    }
}

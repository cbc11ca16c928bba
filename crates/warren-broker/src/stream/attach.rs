//! Where a stream consumer starts and whether it receives: the consume arguments
//! (`x-stream-offset`, `x-stream-consumer-name`), RabbitMQ's refusals of consumers a
//! stream cannot serve, and the seam for single-active-consumer groups.
//!
//! The seam: a [`ConsumerGate`] installed on a stream ([`StreamQueue::set_gate`]) decides,
//! when a consumer attaches, whether it is active (receives deliveries) and, when one
//! leaves, which waiting consumer to activate ([`StreamQueue::set_active`]). Without a
//! gate every consumer is active. An activated named consumer that gave no explicit
//! offset resumes after its name's last acknowledged offset, so a group hands over
//! where the previous member stopped.

use std::sync::Arc;

use warren_protocol::{FieldTable, FieldValue};

use super::StreamQueue;
use crate::consumer::Consumer;
use crate::error::{AmqpError, AmqpResult};
use crate::queue::args::{type_name, value_text};
use warren_store::stream::StreamLog;

/// Where a consumer asked to start (`x-stream-offset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The oldest retained message.
    First,
    /// The newest message (the next one if the stream is empty).
    Last,
    /// Only messages published from now on.
    Next,
    /// This offset (clamped to the retained range; negative means first).
    Offset(i64),
    /// The first message published at or after this time (ms since the epoch).
    Timestamp(u64),
}

/// A stream consumer's arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamConsume {
    /// `x-stream-offset`, if given.
    pub offset: Option<OffsetSpec>,
    /// `x-stream-consumer-name` (Warren's extension): its last acknowledged offset is
    /// stored, and it resumes after it when it attaches without `x-stream-offset`.
    pub name: Option<Arc<str>>,
}

/// Decides which consumers of a stream are active (single active consumer groups,
/// implemented by [`super::group::ConsumerGroups`]).
// Seam for the consumer groups (helper "superstream"): `attached` runs once the
// consumer's reader is registered, inactive, and the gate activates it (choosing where
// it starts); `parked` and `acked` let a hand-over wait until the previous member has
// stopped and its deliveries are acknowledged.
pub trait ConsumerGate: Send + Sync {
    /// `consumer` attached with these consume arguments; its reader is registered and
    /// inactive until the gate activates it.
    fn attached(&self, stream: &StreamQueue, consumer: &Arc<Consumer>, args: &FieldTable);
    /// `consumer` left (cancelled, channel closed): the gate may activate another.
    fn detached(&self, stream: &StreamQueue, consumer: &Arc<Consumer>);
    /// `consumer`'s reader found itself inactive and stopped delivering (it is called
    /// again on every wake-up while inactive, so this must be cheap).
    fn parked(&self, _stream: &StreamQueue, _consumer: &Arc<Consumer>) {}
    /// `consumer` had a delivery acknowledged (after its offset was tracked); called on
    /// every acknowledgement, so this must be cheap.
    fn acked(&self, _stream: &StreamQueue, _consumer: &Arc<Consumer>) {}
}

impl StreamConsume {
    /// Parses the consume arguments for stream `queue` in `vhost`.
    pub fn parse(args: &FieldTable, queue: &str, vhost: &str) -> AmqpResult<StreamConsume> {
        let invalid = |key: &str, detail: String| {
            AmqpError::precondition_failed(format!(
                "invalid arg '{key}' for queue '{queue}' in vhost '{vhost}': {detail}"
            ))
        };
        let offset = match args.get("x-stream-offset") {
            None => None,
            Some(FieldValue::LongString(b)) => Some(match &b[..] {
                b"first" => OffsetSpec::First,
                b"last" => OffsetSpec::Last,
                b"next" => OffsetSpec::Next,
                other => {
                    let text = String::from_utf8_lossy(other);
                    return Err(invalid(
                        "x-stream-offset",
                        format!("{{invalid_stream_offset_arg,{{longstr,<<\"{text}\">>}}}}"),
                    ));
                }
            }),
            Some(FieldValue::Timestamp(secs)) => {
                Some(OffsetSpec::Timestamp(secs.saturating_mul(1_000)))
            }
            Some(FieldValue::U64(n)) => Some(OffsetSpec::Offset((*n).min(i64::MAX as u64) as i64)),
            Some(v) => match v.as_i64() {
                Some(n) if !matches!(v, FieldValue::Bool(_)) => Some(OffsetSpec::Offset(n)),
                _ => {
                    return Err(invalid(
                        "x-stream-offset",
                        format!(
                            "{{invalid_stream_offset_arg,{{{},{}}}}}",
                            type_name(v),
                            value_text(v)
                        ),
                    ))
                }
            },
        };
        let name = match args.get("x-stream-consumer-name") {
            None => None,
            Some(FieldValue::LongString(b)) if b.is_empty() => None,
            Some(FieldValue::LongString(b)) => Some(Arc::from(String::from_utf8_lossy(b).as_ref())),
            Some(v) => {
                let detail = format!("{{unacceptable_type,{}}}", type_name(v));
                return Err(invalid("x-stream-consumer-name", detail));
            }
        };
        Ok(StreamConsume { offset, name })
    }
}

/// The offset a consumer starts reading at: its explicit `x-stream-offset`, else
/// after its name's last acknowledged offset (`tracked`), else the next message.
pub fn start_offset(log: &StreamLog, spec: Option<OffsetSpec>, tracked: Option<u64>) -> u64 {
    let (first, next) = (log.first_offset(), log.next_offset());
    let spec = match (spec, tracked) {
        (Some(spec), _) => spec,
        (None, Some(acked)) => return acked.saturating_add(1).clamp(first, next),
        (None, None) => OffsetSpec::Next,
    };
    match spec {
        OffsetSpec::First => first,
        OffsetSpec::Last => next.saturating_sub(1).max(first),
        OffsetSpec::Next => next,
        OffsetSpec::Offset(n) => (n.max(0) as u64).clamp(first, next),
        OffsetSpec::Timestamp(ms) => log.offset_at_time(ms).clamp(first, next),
    }
}

/// RabbitMQ's refusals of a consumer a stream cannot serve: automatic acknowledgement
/// (540, a connection error) and no per-consumer prefetch (406).
pub fn check_consumer(consumer: &Consumer, queue: &str, vhost: &str) -> AmqpResult<()> {
    if consumer.spec.no_ack {
        return Err(AmqpError::not_implemented(format!(
            "automatic acknowledgement not supported by stream queues queue '{queue}' in vhost '{vhost}'"
        )));
    }
    if consumer.spec.prefetch == 0 {
        return Err(AmqpError::precondition_failed(format!(
            "consumer prefetch count is not set for 'queue '{queue}' in vhost '{vhost}''"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: FieldValue) -> AmqpResult<StreamConsume> {
        let t: FieldTable = [("x-stream-offset", v)].into_iter().collect();
        StreamConsume::parse(&t, "s", "/")
    }

    #[test]
    fn offset_specs_and_their_refusals() {
        assert_eq!(
            parse(FieldValue::string("first")).unwrap().offset,
            Some(OffsetSpec::First)
        );
        assert_eq!(
            parse(FieldValue::I8(2)).unwrap().offset,
            Some(OffsetSpec::Offset(2))
        );
        assert_eq!(
            parse(FieldValue::Timestamp(1_600_000_000)).unwrap().offset,
            Some(OffsetSpec::Timestamp(1_600_000_000_000))
        );
        assert_eq!(
            parse(FieldValue::string("2")).unwrap_err().reply_text(),
            "PRECONDITION_FAILED - invalid arg 'x-stream-offset' for queue 's' in vhost '/': {invalid_stream_offset_arg,{longstr,<<\"2\">>}}"
        );
        assert_eq!(
            parse(FieldValue::Bool(true)).unwrap_err().reply_text(),
            "PRECONDITION_FAILED - invalid arg 'x-stream-offset' for queue 's' in vhost '/': {invalid_stream_offset_arg,{bool,true}}"
        );
    }

    #[test]
    fn start_offsets() {
        let log = StreamLog::in_memory(1 << 20);
        assert_eq!(
            start_offset(&log, Some(OffsetSpec::Last), None),
            0,
            "empty: next"
        );
        for t in 0..5u64 {
            log.append(t * 1_000, &[b"m"]).unwrap();
        }
        assert_eq!(start_offset(&log, Some(OffsetSpec::First), None), 0);
        assert_eq!(start_offset(&log, Some(OffsetSpec::Last), None), 4);
        assert_eq!(start_offset(&log, Some(OffsetSpec::Next), None), 5);
        assert_eq!(start_offset(&log, Some(OffsetSpec::Offset(-1)), None), 0);
        assert_eq!(start_offset(&log, Some(OffsetSpec::Offset(100)), None), 5);
        assert_eq!(
            start_offset(&log, Some(OffsetSpec::Timestamp(2_000)), None),
            2
        );
        assert_eq!(start_offset(&log, None, None), 5, "default: next");
        assert_eq!(
            start_offset(&log, None, Some(2)),
            3,
            "tracked: after the last ack"
        );
        assert_eq!(
            start_offset(&log, Some(OffsetSpec::First), Some(2)),
            0,
            "explicit wins"
        );
    }
}

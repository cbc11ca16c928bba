//! Queue arguments (`x-…`): parsing and validation with RabbitMQ's reply texts, and the
//! equivalence check a redeclaration must pass.
//!
//! One idea (the queue-argument parser) with its unit tests below it, which are most of the
//! file's length beyond ~400 lines; kept together so the cases sit next to the rules.

use std::sync::Arc;

use warren_protocol::{FieldTable, FieldValue};

use crate::error::{AmqpError, AmqpResult};

/// Longest TTL or expiry RabbitMQ accepts, in milliseconds.
pub const MAX_EXPIRY_MS: i64 = u32::MAX as i64;

/// Delivery limit of quorum queues when the declaration gives none (as in RabbitMQ 4).
pub const QUORUM_DEFAULT_DELIVERY_LIMIT: u32 = 20;

/// Arguments compared when a queue is redeclared; others (unknown `x-` keys included)
/// are ignored, as RabbitMQ does.
pub const EQUIVALENCE_CHECKED: &[&str] = &[
    "x-expires",
    "x-message-ttl",
    "x-dead-letter-exchange",
    "x-dead-letter-routing-key",
    "x-max-length",
    "x-max-length-bytes",
    "x-max-priority",
    "x-overflow",
    "x-queue-mode",
    "x-queue-version",
    "x-queue-type",
    "x-single-active-consumer",
    "x-queue-master-locator",
    "x-delivery-limit",
    "x-consumer-timeout",
    "x-message-deduplication",
    "x-cache-size",
    "x-cache-ttl",
    "x-deduplication-header",
    "x-max-age",
    "x-stream-max-segment-size-bytes",
];

/// What happens when a publish would exceed `x-max-length` or `x-max-length-bytes`.
///
/// Ordered only so the policy merge table can treat every setting alike (the order,
/// drop-head < reject-publish < reject-publish-dlx, decides nothing there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Overflow {
    /// Drop (dead-letter) the oldest messages.
    #[default]
    DropHead,
    /// Refuse the new message (nack it under confirms).
    RejectPublish,
    /// Refuse the new message and dead-letter it.
    RejectPublishDlx,
}

/// `x-queue-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueType {
    /// A classic queue.
    #[default]
    Classic,
    /// Accepted for compatibility: durable, with a default delivery limit.
    Quorum,
    /// A stream: an append-only log read from offsets (see `crate::stream`).
    Stream,
}

/// Message deduplication settings (`x-message-deduplication`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DedupConfig {
    /// Most ids remembered (`x-cache-size`); oldest are forgotten first.
    pub cache_size: usize,
    /// How long an id is remembered in ms (`x-cache-ttl`), if limited.
    pub cache_ttl_ms: Option<u64>,
    /// Header carrying the id (`x-deduplication-header`).
    pub header: String,
}

impl DedupConfig {
    /// The settings an exchange's `x-message-deduplication` arguments ask for (invalid
    /// or missing values fall back to the defaults), or None if not enabled.
    pub fn from_exchange_arguments(args: &FieldTable) -> Option<DedupConfig> {
        if args
            .get("x-message-deduplication")
            .and_then(FieldValue::as_bool)
            != Some(true)
        {
            return None;
        }
        let positive = |key: &str| {
            args.get(key)
                .and_then(FieldValue::as_i64)
                .filter(|n| *n > 0)
                .map(|n| n as u64)
        };
        Some(DedupConfig {
            cache_size: positive("x-cache-size").map_or(DEFAULT_DEDUP_CACHE_SIZE, |n| n as usize),
            cache_ttl_ms: positive("x-cache-ttl"),
            header: args
                .get("x-deduplication-header")
                .and_then(FieldValue::as_str)
                .unwrap_or(DEFAULT_DEDUP_HEADER)
                .to_owned(),
        })
    }
}

/// Default header carrying a deduplication id.
pub const DEFAULT_DEDUP_HEADER: &str = "x-deduplication-header";
/// Default number of remembered ids.
pub const DEFAULT_DEDUP_CACHE_SIZE: usize = 10_000;

/// A queue's parsed arguments.
#[derive(Debug, Clone, Default)]
pub struct QueueArgs {
    /// `x-message-ttl`.
    pub message_ttl_ms: Option<u64>,
    /// `x-expires`: delete the queue after this long unused.
    pub expires_ms: Option<u64>,
    /// `x-max-length`.
    pub max_length: Option<u64>,
    /// `x-max-length-bytes`.
    pub max_length_bytes: Option<u64>,
    /// `x-overflow`.
    pub overflow: Overflow,
    /// `x-dead-letter-exchange`.
    pub dead_letter_exchange: Option<Arc<str>>,
    /// `x-dead-letter-routing-key`.
    pub dead_letter_routing_key: Option<Arc<str>>,
    /// `x-max-priority` (None or 0: priorities ignored).
    pub max_priority: Option<u8>,
    /// `x-single-active-consumer`.
    pub single_active_consumer: bool,
    /// `x-delivery-limit`.
    pub delivery_limit: Option<u32>,
    /// `x-consumer-timeout`, ms.
    pub consumer_timeout_ms: Option<u64>,
    /// `x-queue-type`.
    pub queue_type: QueueType,
    /// `x-message-deduplication` and its settings.
    pub dedup: Option<DedupConfig>,
    /// A stream's own settings (`x-queue-type: stream` only).
    pub stream: Option<super::stream_args::StreamArgs>,
}

/// RabbitMQ's name for a field value's type, as it appears in reply texts.
pub fn type_name(v: &FieldValue) -> &'static str {
    match v {
        FieldValue::Bool(_) => "bool",
        FieldValue::I8(_) => "byte",
        FieldValue::U8(_) => "unsignedbyte",
        FieldValue::I16(_) => "short",
        FieldValue::U16(_) => "unsignedshort",
        FieldValue::I32(_) => "signedint",
        FieldValue::U32(_) => "unsignedint",
        FieldValue::I64(_) => "long",
        FieldValue::U64(_) => "unsignedlong",
        FieldValue::F32(_) => "float",
        FieldValue::F64(_) => "double",
        FieldValue::Decimal(_) => "decimal",
        FieldValue::LongString(_) => "longstr",
        FieldValue::Bytes(_) => "binary",
        FieldValue::Timestamp(_) => "timestamp",
        FieldValue::Table(_) => "table",
        FieldValue::Array(_) => "array",
        FieldValue::Void => "void",
    }
}

/// A value as RabbitMQ prints it inside quotes in reply texts.
pub fn value_text(v: &FieldValue) -> String {
    match v {
        FieldValue::LongString(b) | FieldValue::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        FieldValue::Bool(b) => b.to_string(),
        FieldValue::F32(f) => f.to_string(),
        FieldValue::F64(f) => f.to_string(),
        FieldValue::Timestamp(t) => t.to_string(),
        other => match other.as_i64() {
            Some(i) => i.to_string(),
            None => format!("{other:?}"),
        },
    }
}

/// Whether two argument values are equivalent: integers of any width compare by value
/// (RabbitMQ accepts `I` 1000 where `l` 1000 was declared), everything else exactly.
pub fn values_equivalent(a: &FieldValue, b: &FieldValue) -> bool {
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Checks a redeclaration's arguments against the current ones for `keys`, with
/// RabbitMQ's reply texts. `what` is `queue` or `exchange`.
pub fn check_equivalent(
    what: &str,
    name: &str,
    vhost: &str,
    current: &FieldTable,
    received: &FieldTable,
    keys: &[&str],
) -> AmqpResult<()> {
    for &key in keys {
        if key == "x-queue-type" && is_classic(received.get(key)) && is_classic(current.get(key)) {
            // A missing queue type means classic: RabbitMQ accepts either spelling.
            continue;
        }
        let describe = |v: Option<&FieldValue>| match v {
            None => "none".to_owned(),
            Some(v) => format!("the value '{}' of type '{}'", value_text(v), type_name(v)),
        };
        let detail = match (received.get(key), current.get(key)) {
            (None, None) => continue,
            (Some(r), Some(c)) if values_equivalent(r, c) => continue,
            (Some(r), Some(c)) => format!(
                "received '{}' but current is '{}'",
                value_text(r),
                value_text(c)
            ),
            (r, c) => format!("received {} but current is {}", describe(r), describe(c)),
        };
        return Err(AmqpError::precondition_failed(format!(
            "inequivalent arg '{key}' for {what} '{name}' in vhost '{vhost}': {detail}"
        )));
    }
    Ok(())
}

/// Whether an `x-queue-type` value (or its absence) names a classic queue.
/// RabbitMQ's refusal (406) of an argument that queues of `queue_type` (its internal
/// name, e.g. `rabbit_quorum_queue`) do not take.
pub(super) fn refused_arg(key: &str, queue: &str, vhost: &str, queue_type: &str) -> AmqpError {
    AmqpError::precondition_failed(format!(
        "invalid arg '{key}' for queue '{queue}' in vhost '{vhost}' of queue type {queue_type}"
    ))
}

/// Quorum queues and streams must be durable, and neither exclusive nor auto-delete:
/// RabbitMQ's 406 naming the first property that is wrong, in its order.
pub(super) fn check_replicated_properties(
    queue: &str,
    vhost: &str,
    durable: bool,
    exclusive: bool,
    auto_delete: bool,
) -> AmqpResult<()> {
    let bad = if auto_delete {
        Some("auto-delete")
    } else if exclusive {
        Some("exclusive-owner")
    } else if !durable {
        Some("non-durable")
    } else {
        None
    };
    match bad {
        Some(prop) => Err(AmqpError::precondition_failed(format!(
            "invalid property '{prop}' for queue '{queue}' in vhost '{vhost}'"
        ))),
        None => Ok(()),
    }
}

fn is_classic(v: Option<&FieldValue>) -> bool {
    match v {
        None => true,
        Some(v) => v.as_str() == Some("classic"),
    }
}

struct Parser<'a> {
    queue: &'a str,
    vhost: &'a str,
    args: &'a FieldTable,
}

impl Parser<'_> {
    fn invalid(&self, key: &str, detail: impl std::fmt::Display) -> AmqpError {
        AmqpError::precondition_failed(format!(
            "invalid arg '{key}' for queue '{}' in vhost '{}': {detail}",
            self.queue, self.vhost
        ))
    }

    /// An integer argument in `min..=max`.
    fn int(&self, key: &str, zero_ok: bool, max: i64) -> AmqpResult<Option<i64>> {
        let Some(v) = self.args.get(key) else {
            return Ok(None);
        };
        let n = v.as_i64().ok_or_else(|| {
            self.invalid(key, format!("\"expected integer, got {}\"", type_name(v)))
        })?;
        if n < 0 {
            return Err(self.invalid(key, format!("{{value_negative,{n}}}")));
        }
        if n == 0 && !zero_ok {
            return Err(self.invalid(key, "{value_zero,0}"));
        }
        if n > max {
            return Err(self.invalid(key, format!("{{value_too_large,{n}}}")));
        }
        Ok(Some(n))
    }

    fn string(&self, key: &str) -> AmqpResult<Option<String>> {
        match self.args.get(key) {
            None => Ok(None),
            Some(FieldValue::LongString(b)) => Ok(Some(String::from_utf8_lossy(b).into_owned())),
            Some(v) => Err(AmqpError::precondition_failed(format!(
                "invalid type '{}' for arg '{key}' in queue '{}' in vhost '{}'",
                type_name(v),
                self.queue,
                self.vhost
            ))),
        }
    }

    fn bool(&self, key: &str) -> AmqpResult<Option<bool>> {
        match self.args.get(key) {
            None => Ok(None),
            Some(FieldValue::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.invalid(key, format!("{{unacceptable_type,{}}}", type_name(v)))),
        }
    }
}

impl QueueArgs {
    /// Parses and validates `args` for queue `queue` in `vhost`.
    pub fn parse(
        queue: &str,
        vhost: &str,
        args: &FieldTable,
        durable: bool,
        exclusive: bool,
        auto_delete: bool,
    ) -> AmqpResult<QueueArgs> {
        let p = Parser { queue, vhost, args };
        let queue_type = match args.get("x-queue-type") {
            None => QueueType::Classic,
            Some(FieldValue::LongString(t)) => match &t[..] {
                b"classic" => QueueType::Classic,
                b"quorum" => QueueType::Quorum,
                b"stream" => QueueType::Stream,
                other => {
                    let other = String::from_utf8_lossy(other);
                    return Err(p.invalid(
                        "x-queue-type",
                        format!("\"unsupported queue type '{other}'\""),
                    ));
                }
            },
            Some(v) => {
                let detail = format!("{{unacceptable_type,{}}}", type_name(v));
                return Err(p.invalid("x-queue-type", detail));
            }
        };
        if queue_type == QueueType::Quorum {
            // RabbitMQ's order: arguments quorum queues refuse, then properties.
            for key in ["x-max-priority", "x-queue-mode"] {
                if args.get(key).is_some() {
                    return Err(refused_arg(key, queue, vhost, "rabbit_quorum_queue"));
                }
            }
            check_replicated_properties(queue, vhost, durable, exclusive, auto_delete)?;
        }
        if let Some(mode) = p.string("x-queue-mode")? {
            if mode != "default" && mode != "lazy" {
                return Err(p.invalid(
                    "x-queue-mode",
                    format!("\"unsupported queue mode '{mode}'\""),
                ));
            }
        }
        let overflow = match p.string("x-overflow")?.as_deref() {
            None | Some("drop-head") => Overflow::DropHead,
            Some("reject-publish") => Overflow::RejectPublish,
            Some("reject-publish-dlx") => Overflow::RejectPublishDlx,
            Some(_) => return Err(p.invalid("x-overflow", "invalid_overflow")),
        };
        let max_priority = match p.args.get("x-max-priority") {
            Some(v) => {
                let n = v.as_i64().ok_or_else(|| {
                    p.invalid(
                        "x-max-priority",
                        format!("\"expected integer, got {}\"", type_name(v)),
                    )
                })?;
                if n < 0 {
                    return Err(p.invalid("x-max-priority", format!("{{value_negative,{n}}}")));
                }
                if n > 255 {
                    return Err(p.invalid("x-max-priority", format!("{{max_value_exceeded,{n}}}")));
                }
                (n > 0).then_some(n as u8)
            }
            None => None,
        };
        let dead_letter_exchange = p.string("x-dead-letter-exchange")?.map(Arc::from);
        let dead_letter_routing_key = p.string("x-dead-letter-routing-key")?.map(Arc::from);
        if dead_letter_routing_key.is_some() && dead_letter_exchange.is_none() {
            return Err(p.invalid(
                "x-dead-letter-routing-key",
                "routing_key_but_no_dlx_defined",
            ));
        }
        let delivery_limit = p
            .int("x-delivery-limit", true, i64::from(u32::MAX))?
            .map(|n| n as u32)
            .or((queue_type == QueueType::Quorum).then_some(QUORUM_DEFAULT_DELIVERY_LIMIT));
        let dedup = match p.bool("x-message-deduplication")? {
            Some(true) => Some(DedupConfig {
                cache_size: p
                    .int("x-cache-size", false, i64::from(u32::MAX))?
                    .map_or(DEFAULT_DEDUP_CACHE_SIZE, |n| n as usize),
                cache_ttl_ms: p
                    .int("x-cache-ttl", false, MAX_EXPIRY_MS)?
                    .map(|n| n as u64),
                header: p
                    .string("x-deduplication-header")?
                    .unwrap_or_else(|| DEFAULT_DEDUP_HEADER.to_owned()),
            }),
            _ => None,
        };
        let stream = match queue_type {
            QueueType::Stream => Some(super::stream_args::parse_stream(
                queue,
                vhost,
                args,
                durable,
                exclusive,
                auto_delete,
            )?),
            _ => None,
        };
        Ok(QueueArgs {
            stream,
            message_ttl_ms: p
                .int("x-message-ttl", true, MAX_EXPIRY_MS)?
                .map(|n| n as u64),
            expires_ms: p.int("x-expires", false, MAX_EXPIRY_MS)?.map(|n| n as u64),
            max_length: p.int("x-max-length", true, i64::MAX)?.map(|n| n as u64),
            max_length_bytes: p
                .int("x-max-length-bytes", true, i64::MAX)?
                .map(|n| n as u64),
            overflow,
            dead_letter_exchange,
            dead_letter_routing_key,
            max_priority,
            single_active_consumer: p.bool("x-single-active-consumer")?.unwrap_or(false),
            delivery_limit,
            consumer_timeout_ms: p
                .int("x-consumer-timeout", false, i64::MAX)?
                .map(|n| n as u64),
            queue_type,
            dedup,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(entries: &[(&str, FieldValue)]) -> FieldTable {
        entries.iter().cloned().collect()
    }

    fn err(args: &[(&str, FieldValue)]) -> String {
        QueueArgs::parse("q", "/", &table(args), false, false, false)
            .unwrap_err()
            .reply_text()
    }

    #[test]
    fn rabbitmq_texts_for_invalid_arguments() {
        assert_eq!(
            err(&[("x-max-priority", FieldValue::I32(256))]),
            "PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 'q' in vhost '/': {max_value_exceeded,256}"
        );
        assert_eq!(
            err(&[("x-message-ttl", FieldValue::I32(-1))]),
            "PRECONDITION_FAILED - invalid arg 'x-message-ttl' for queue 'q' in vhost '/': {value_negative,-1}"
        );
        assert_eq!(
            err(&[("x-message-ttl", FieldValue::string("abc"))]),
            "PRECONDITION_FAILED - invalid arg 'x-message-ttl' for queue 'q' in vhost '/': \"expected integer, got longstr\""
        );
        assert_eq!(
            err(&[("x-expires", FieldValue::I32(0))]),
            "PRECONDITION_FAILED - invalid arg 'x-expires' for queue 'q' in vhost '/': {value_zero,0}"
        );
        assert_eq!(
            err(&[("x-queue-type", FieldValue::string("foo"))]),
            "PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue 'q' in vhost '/': \"unsupported queue type 'foo'\""
        );
        assert_eq!(
            err(&[("x-queue-type", FieldValue::string("quorum"))]),
            "PRECONDITION_FAILED - invalid property 'non-durable' for queue 'q' in vhost '/'"
        );
        assert_eq!(
            err(&[("x-dead-letter-exchange", FieldValue::I32(5))]),
            "PRECONDITION_FAILED - invalid type 'signedint' for arg 'x-dead-letter-exchange' in queue 'q' in vhost '/'"
        );
        assert_eq!(
            err(&[("x-dead-letter-routing-key", FieldValue::string("rk"))]),
            "PRECONDITION_FAILED - invalid arg 'x-dead-letter-routing-key' for queue 'q' in vhost '/': routing_key_but_no_dlx_defined"
        );
        assert_eq!(
            err(&[("x-single-active-consumer", FieldValue::string("yes"))]),
            "PRECONDITION_FAILED - invalid arg 'x-single-active-consumer' for queue 'q' in vhost '/': {unacceptable_type,longstr}"
        );
        assert_eq!(
            err(&[("x-overflow", FieldValue::string("foo"))]),
            "PRECONDITION_FAILED - invalid arg 'x-overflow' for queue 'q' in vhost '/': invalid_overflow"
        );
    }

    #[test]
    fn quorum_refusals_follow_rabbitmq_order_and_texts() {
        let quorum = |extra: &[(&str, FieldValue)], durable, exclusive, auto_delete| {
            let mut t = table(&[("x-queue-type", FieldValue::string("quorum"))]);
            for (k, v) in extra {
                t.insert(*k, v.clone());
            }
            QueueArgs::parse("q", "/", &t, durable, exclusive, auto_delete)
                .unwrap_err()
                .text()
                .to_owned()
        };
        assert_eq!(
            quorum(&[("x-max-priority", FieldValue::I32(5))], false, false, false),
            "invalid arg 'x-max-priority' for queue 'q' in vhost '/' of queue type rabbit_quorum_queue"
        );
        assert_eq!(
            quorum(&[], false, true, true),
            "invalid property 'auto-delete' for queue 'q' in vhost '/'"
        );
        assert_eq!(
            quorum(&[], false, true, false),
            "invalid property 'exclusive-owner' for queue 'q' in vhost '/'"
        );
        assert_eq!(
            err(&[("x-queue-type", FieldValue::I32(5))]),
            "PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue 'q' in vhost '/': {unacceptable_type,signedint}"
        );
    }

    #[test]
    fn quorum_queues_get_a_default_delivery_limit() {
        let a = QueueArgs::parse(
            "q",
            "/",
            &table(&[("x-queue-type", FieldValue::string("quorum"))]),
            true,
            false,
            false,
        )
        .unwrap();
        assert_eq!(a.delivery_limit, Some(QUORUM_DEFAULT_DELIVERY_LIMIT));
        let a = QueueArgs::parse(
            "q",
            "/",
            &table(&[("x-max-priority", FieldValue::I32(0))]),
            false,
            false,
            false,
        )
        .unwrap();
        assert_eq!(a.max_priority, None);
    }

    #[test]
    fn equivalence_texts_match_rabbitmq() {
        let cur = table(&[("x-message-ttl", FieldValue::I32(1000))]);
        let none = FieldTable::new();
        let e = check_equivalent("queue", "q", "/", &cur, &none, EQUIVALENCE_CHECKED).unwrap_err();
        assert_eq!(e.text(), "inequivalent arg 'x-message-ttl' for queue 'q' in vhost '/': received none but current is the value '1000' of type 'signedint'");
        let other = table(&[("x-message-ttl", FieldValue::I32(2000))]);
        let e = check_equivalent("queue", "q", "/", &cur, &other, EQUIVALENCE_CHECKED).unwrap_err();
        assert_eq!(e.text(), "inequivalent arg 'x-message-ttl' for queue 'q' in vhost '/': received '2000' but current is '1000'");
        let wider = table(&[("x-message-ttl", FieldValue::I64(1000))]);
        assert!(check_equivalent("queue", "q", "/", &cur, &wider, EQUIVALENCE_CHECKED).is_ok());
        let classic = table(&[("x-queue-type", FieldValue::string("classic"))]);
        assert!(check_equivalent("queue", "q", "/", &classic, &none, EQUIVALENCE_CHECKED).is_ok());
        assert!(check_equivalent("queue", "q", "/", &none, &classic, EQUIVALENCE_CHECKED).is_ok());
        let quorum = table(&[("x-queue-type", FieldValue::string("quorum"))]);
        let e =
            check_equivalent("queue", "q", "/", &quorum, &none, EQUIVALENCE_CHECKED).unwrap_err();
        assert_eq!(e.text(), "inequivalent arg 'x-queue-type' for queue 'q' in vhost '/': received none but current is the value 'quorum' of type 'longstr'");
        let e = check_equivalent("queue", "q", "/", &quorum, &classic, EQUIVALENCE_CHECKED)
            .unwrap_err();
        assert_eq!(e.text(), "inequivalent arg 'x-queue-type' for queue 'q' in vhost '/': received 'classic' but current is 'quorum'");
        let unknown = table(&[
            ("x-message-ttl", FieldValue::I32(1000)),
            ("x-foo", FieldValue::Bool(true)),
        ]);
        assert!(check_equivalent("queue", "q", "/", &cur, &unknown, EQUIVALENCE_CHECKED).is_ok());
    }
}

//! What a queue or exchange runs with: its declare arguments merged with the policy and
//! the operator policy that apply to it, by one per-key table ([`Setting::rule`]).
//!
//! Sources (RabbitMQ 3.10):
//! - argument vs policy, classic queues: `rabbit_amqqueue_process:process_args_policy/1`
//!   through `rabbit_queue_type_util:args_policy_lookup/3` — `res_min` (the smaller) for
//!   `expires`, `message-ttl`, `max-length`, `max-length-bytes`; `res_arg` (the argument
//!   if declared, else the policy) for `dead-letter-exchange`, `dead-letter-routing-key`,
//!   `overflow` (and `queue-mode`, which Warren ignores);
//! - `delivery-limit`: quorum queues take the smaller (`rabbit_quorum_queue`, the same
//!   `args_policy_lookup` with `min`); Warren applies it to classic queues too, the same
//!   way, and `consumer-timeout` likewise (a later RabbitMQ's lookup takes the smaller);
//! - streams: `max-age` takes the smaller of `x-max-age` and the policies'
//!   (`rabbit_stream_queue:update_stream_conf/2`, `args_policy_lookup` with `max_age/2`,
//!   a `min`); operator policies cannot set it;
//! - exchanges: `alternate-exchange` is the argument if declared, else the policy
//!   (`rabbit_policy:get_arg/3`);
//! - policy vs operator policy: `rabbit_policy:get0/3` takes the one that is set, and
//!   when both are, `rabbit_policies:merge_policy_value/3` — the smaller, for every key
//!   an operator policy may set. Other keys cannot be in an operator policy.

use std::sync::Arc;

use serde_json::Value;
use warren_protocol::FieldTable;

use super::definition::PolicyDefinition;
use crate::definitions::JsonMap;
use crate::queue::args::{QueueArgs, QueueType, QUORUM_DEFAULT_DELIVERY_LIMIT};

/// How a declare argument and the policies' value combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithArgument {
    /// The argument if declared, else the policies' value (RabbitMQ's `res_arg`).
    ArgumentWins,
    /// The smaller of the two, the stricter limit (RabbitMQ's `res_min`).
    Smaller,
}

/// How a policy's and an operator policy's values combine when both set a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithOperator {
    /// The smaller, the stricter limit.
    Smaller,
    /// The policy's (operator policies cannot set these keys, so this never decides).
    PolicyWins,
}

/// A key's merge rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Declare argument vs the policies.
    pub with_argument: WithArgument,
    /// Policy vs operator policy.
    pub with_operator: WithOperator,
}

/// A setting a policy can change on a live entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// `message-ttl` / `x-message-ttl`.
    MessageTtl,
    /// `expires` / `x-expires`.
    Expires,
    /// `max-length` / `x-max-length`.
    MaxLength,
    /// `max-length-bytes` / `x-max-length-bytes`.
    MaxLengthBytes,
    /// `delivery-limit` / `x-delivery-limit`.
    DeliveryLimit,
    /// `consumer-timeout` / `x-consumer-timeout`.
    ConsumerTimeout,
    /// `overflow` / `x-overflow`.
    Overflow,
    /// `dead-letter-exchange` / `x-dead-letter-exchange`.
    DeadLetterExchange,
    /// `dead-letter-routing-key` / `x-dead-letter-routing-key`.
    DeadLetterRoutingKey,
    /// `alternate-exchange` (exchanges; the argument has no `x-`).
    AlternateExchange,
    /// `max-age` / `x-max-age` (streams).
    MaxAge,
}

impl Setting {
    /// Every setting.
    pub const ALL: [Setting; 11] = [
        Setting::MessageTtl,
        Setting::Expires,
        Setting::MaxLength,
        Setting::MaxLengthBytes,
        Setting::DeliveryLimit,
        Setting::ConsumerTimeout,
        Setting::Overflow,
        Setting::DeadLetterExchange,
        Setting::DeadLetterRoutingKey,
        Setting::AlternateExchange,
        Setting::MaxAge,
    ];

    /// The merge table: how each setting's argument, policy and operator policy values
    /// combine (sources in the module documentation).
    pub const fn rule(self) -> Rule {
        use WithArgument::{ArgumentWins, Smaller as Min};
        use WithOperator::{PolicyWins, Smaller as OpMin};
        let (with_argument, with_operator) = match self {
            Setting::MessageTtl => (Min, OpMin),
            Setting::Expires => (Min, OpMin),
            Setting::MaxLength => (Min, OpMin),
            Setting::MaxLengthBytes => (Min, OpMin),
            Setting::DeliveryLimit => (Min, OpMin),
            Setting::ConsumerTimeout => (Min, PolicyWins),
            Setting::Overflow => (ArgumentWins, PolicyWins),
            Setting::DeadLetterExchange => (ArgumentWins, PolicyWins),
            Setting::DeadLetterRoutingKey => (ArgumentWins, PolicyWins),
            Setting::AlternateExchange => (ArgumentWins, PolicyWins),
            Setting::MaxAge => (Min, PolicyWins),
        };
        Rule {
            with_argument,
            with_operator,
        }
    }

    /// The policy definition key.
    pub const fn key(self) -> &'static str {
        match self {
            Setting::MessageTtl => "message-ttl",
            Setting::Expires => "expires",
            Setting::MaxLength => "max-length",
            Setting::MaxLengthBytes => "max-length-bytes",
            Setting::DeliveryLimit => "delivery-limit",
            Setting::ConsumerTimeout => "consumer-timeout",
            Setting::Overflow => "overflow",
            Setting::DeadLetterExchange => "dead-letter-exchange",
            Setting::DeadLetterRoutingKey => "dead-letter-routing-key",
            Setting::AlternateExchange => "alternate-exchange",
            Setting::MaxAge => "max-age",
        }
    }

    /// The setting a policy definition key names, if it is one of these.
    pub fn from_key(key: &str) -> Option<Setting> {
        Setting::ALL.into_iter().find(|s| s.key() == key)
    }

    /// Combines the declared value and the two policies' values by [`Setting::rule`].
    pub fn resolve<T: Ord>(
        self,
        argument: Option<T>,
        policy: Option<T>,
        operator: Option<T>,
    ) -> Option<T> {
        let rule = self.rule();
        let from_policies = match (policy, operator) {
            (Some(p), Some(o)) => Some(match rule.with_operator {
                WithOperator::Smaller => p.min(o),
                WithOperator::PolicyWins => p,
            }),
            (p, o) => p.or(o),
        };
        match (argument, from_policies) {
            (Some(a), Some(p)) => Some(match rule.with_argument {
                WithArgument::ArgumentWins => a,
                WithArgument::Smaller => a.min(p),
            }),
            (a, p) => a.or(p),
        }
    }
}

/// The arguments a queue runs with: `declared` (parsed from the declare `arguments`)
/// with the policy's and the operator policy's settings merged in. Without either it is
/// `declared` unchanged. A quorum queue declared without `x-delivery-limit` gets its
/// default limit only if no policy sets one.
pub fn queue_args(
    declared: &QueueArgs,
    arguments: &FieldTable,
    policy: Option<&PolicyDefinition>,
    operator: Option<&PolicyDefinition>,
) -> QueueArgs {
    let mut out = declared.clone();
    if policy.is_none() && operator.is_none() {
        return out;
    }
    macro_rules! merge {
        ($setting:expr, $field:ident, $argument:expr) => {
            out.$field = $setting.resolve(
                $argument,
                policy.and_then(|d| d.$field.clone()),
                operator.and_then(|d| d.$field.clone()),
            )
        };
    }
    let given = |key: &str| arguments.get(key).is_some();
    merge!(Setting::MessageTtl, message_ttl_ms, declared.message_ttl_ms);
    merge!(Setting::Expires, expires_ms, declared.expires_ms);
    merge!(Setting::MaxLength, max_length, declared.max_length);
    merge!(
        Setting::MaxLengthBytes,
        max_length_bytes,
        declared.max_length_bytes
    );
    merge!(
        Setting::ConsumerTimeout,
        consumer_timeout_ms,
        declared.consumer_timeout_ms
    );
    merge!(
        Setting::DeadLetterExchange,
        dead_letter_exchange,
        declared.dead_letter_exchange.clone()
    );
    merge!(
        Setting::DeadLetterRoutingKey,
        dead_letter_routing_key,
        declared.dead_letter_routing_key.clone()
    );
    merge!(
        Setting::DeliveryLimit,
        delivery_limit,
        declared
            .delivery_limit
            .filter(|_| given("x-delivery-limit"))
    );
    if out.delivery_limit.is_none() && declared.queue_type == QueueType::Quorum {
        out.delivery_limit = Some(QUORUM_DEFAULT_DELIVERY_LIMIT);
    }
    let overflow = Setting::Overflow.resolve(
        given("x-overflow").then_some(declared.overflow),
        policy.and_then(|d| d.overflow),
        operator.and_then(|d| d.overflow),
    );
    out.overflow = overflow.unwrap_or_default();
    if let Some(stream) = out.stream.as_mut() {
        stream.max_age_ms = Setting::MaxAge.resolve(
            stream.max_age_ms,
            policy.and_then(|d| d.max_age_ms),
            operator.and_then(|d| d.max_age_ms),
        );
    }
    out
}

/// The alternate exchange an exchange routes unroutable messages to: its
/// `alternate-exchange` argument, else the policies'.
pub fn alternate_exchange(
    argument: Option<&Arc<str>>,
    policy: Option<&PolicyDefinition>,
    operator: Option<&PolicyDefinition>,
) -> Option<Arc<str>> {
    Setting::AlternateExchange.resolve(
        argument.cloned(),
        policy.and_then(|d| d.alternate_exchange.clone()),
        operator.and_then(|d| d.alternate_exchange.clone()),
    )
}

/// The policy's and the operator policy's definitions merged, as RabbitMQ shows them
/// (`effective_policy_definition`, `rabbit_policy:merge_operator_definitions/2`): every
/// key of either, and for a key both set, the merged value (the smaller, for every key
/// an operator policy may set). Empty without policies.
pub fn merged_definition(
    policy: Option<&PolicyDefinition>,
    operator: Option<&PolicyDefinition>,
) -> JsonMap {
    let mut out = policy.map(|d| d.raw().clone()).unwrap_or_default();
    for (key, op_value) in operator.map(|d| d.raw().iter()).into_iter().flatten() {
        let merged = match out.get(key) {
            Some(value) => merge_values(key, value, op_value),
            None => op_value.clone(),
        };
        out.insert(key.clone(), merged);
    }
    out
}

fn merge_values(key: &str, policy: &Value, operator: &Value) -> Value {
    let rule = Setting::from_key(key).map_or(WithOperator::Smaller, |s| s.rule().with_operator);
    match (rule, policy.as_u64(), operator.as_u64()) {
        (WithOperator::Smaller, Some(p), Some(o)) => Value::from(p.min(o)),
        _ => policy.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::args::Overflow;
    use serde_json::json;
    use warren_protocol::FieldValue;

    fn definition(v: Value, operator: bool) -> PolicyDefinition {
        PolicyDefinition::parse(v.as_object().unwrap(), operator).unwrap()
    }

    fn declared(args: &[(&str, FieldValue)]) -> (QueueArgs, FieldTable) {
        let table: FieldTable = args.iter().cloned().collect();
        let parsed = QueueArgs::parse("q", "/", &table, true, false, false).unwrap();
        (parsed, table)
    }

    #[test]
    fn the_table_follows_rabbitmq() {
        use WithArgument::*;
        let arg = |s: Setting| s.rule().with_argument;
        for s in [
            Setting::MessageTtl,
            Setting::Expires,
            Setting::MaxLength,
            Setting::MaxLengthBytes,
            Setting::DeliveryLimit,
            Setting::ConsumerTimeout,
            Setting::MaxAge,
        ] {
            assert_eq!(arg(s), Smaller, "{}", s.key());
        }
        for s in [
            Setting::Overflow,
            Setting::DeadLetterExchange,
            Setting::DeadLetterRoutingKey,
            Setting::AlternateExchange,
        ] {
            assert_eq!(arg(s), ArgumentWins, "{}", s.key());
        }
        for s in Setting::ALL {
            assert_eq!(Setting::from_key(s.key()), Some(s));
        }
    }

    #[test]
    fn numeric_limits_take_the_smallest_of_argument_policy_and_operator() {
        let (args, table) = declared(&[
            ("x-max-length", FieldValue::I32(10)),
            ("x-message-ttl", FieldValue::I32(1000)),
            ("x-expires", FieldValue::I32(5000)),
            ("x-max-length-bytes", FieldValue::I32(100)),
            ("x-delivery-limit", FieldValue::I32(3)),
            ("x-consumer-timeout", FieldValue::I32(9000)),
        ]);
        let policy = definition(
            json!({"max-length": 2, "message-ttl": 5000, "expires": 100,
                   "max-length-bytes": 1000, "delivery-limit": 1, "consumer-timeout": 10}),
            false,
        );
        let e = queue_args(&args, &table, Some(&policy), None);
        assert_eq!(e.max_length, Some(2), "policy smaller");
        assert_eq!(e.message_ttl_ms, Some(1000), "argument smaller");
        assert_eq!(e.expires_ms, Some(100));
        assert_eq!(e.max_length_bytes, Some(100));
        assert_eq!(e.delivery_limit, Some(1));
        assert_eq!(e.consumer_timeout_ms, Some(10));
        let op = definition(json!({"max-length": 1, "message-ttl": 9000}), true);
        let e = queue_args(&args, &table, Some(&policy), Some(&op));
        assert_eq!(e.max_length, Some(1), "operator stricter");
        assert_eq!(e.message_ttl_ms, Some(1000));
        let e = queue_args(&args, &table, None, Some(&op));
        assert_eq!(e.max_length, Some(1), "operator alone");
        let (none, empty) = declared(&[]);
        let e = queue_args(&none, &empty, Some(&policy), Some(&op));
        assert_eq!(e.max_length, Some(1), "policy 2 vs operator 1");
        assert_eq!(e.message_ttl_ms, Some(5000), "policy 5000 vs operator 9000");
        assert_eq!(e.expires_ms, Some(100), "policy alone");
    }

    #[test]
    fn arguments_win_for_dead_lettering_and_overflow() {
        let (args, table) = declared(&[
            ("x-dead-letter-exchange", FieldValue::string("arg-dlx")),
            ("x-overflow", FieldValue::string("reject-publish")),
        ]);
        let policy = definition(
            json!({"dead-letter-exchange": "pol-dlx", "dead-letter-routing-key": "pol-rk",
                   "overflow": "reject-publish-dlx"}),
            false,
        );
        let e = queue_args(&args, &table, Some(&policy), None);
        assert_eq!(e.dead_letter_exchange.as_deref(), Some("arg-dlx"));
        assert_eq!(e.dead_letter_routing_key.as_deref(), Some("pol-rk"));
        assert_eq!(e.overflow, Overflow::RejectPublish);
        let (none, empty) = declared(&[]);
        let e = queue_args(&none, &empty, Some(&policy), None);
        assert_eq!(e.dead_letter_exchange.as_deref(), Some("pol-dlx"));
        assert_eq!(e.overflow, Overflow::RejectPublishDlx);
        // x-overflow=drop-head declared explicitly still beats the policy.
        let (args, table) = declared(&[("x-overflow", FieldValue::string("drop-head"))]);
        let e = queue_args(&args, &table, Some(&policy), None);
        assert_eq!(e.overflow, Overflow::DropHead);
    }

    #[test]
    fn without_policies_the_declared_arguments_stand() {
        let (args, table) = declared(&[("x-max-length", FieldValue::I32(10))]);
        let e = queue_args(&args, &table, None, None);
        assert_eq!(e.max_length, Some(10));
        assert_eq!(e.overflow, Overflow::DropHead);
    }

    #[test]
    fn quorum_default_delivery_limit_yields_to_a_policy() {
        let table: FieldTable = [("x-queue-type", FieldValue::string("quorum"))]
            .into_iter()
            .collect();
        let args = QueueArgs::parse("q", "/", &table, true, false, false).unwrap();
        assert_eq!(args.delivery_limit, Some(QUORUM_DEFAULT_DELIVERY_LIMIT));
        let policy = definition(json!({"delivery-limit": 50}), false);
        let e = queue_args(&args, &table, Some(&policy), None);
        assert_eq!(e.delivery_limit, Some(50));
        let other = definition(json!({"max-length": 5}), false);
        let e = queue_args(&args, &table, Some(&other), None);
        assert_eq!(e.delivery_limit, Some(QUORUM_DEFAULT_DELIVERY_LIMIT));
    }

    #[test]
    fn alternate_exchange_argument_wins() {
        let policy = definition(json!({"alternate-exchange": "pol-ae"}), false);
        let arg: Arc<str> = Arc::from("arg-ae");
        assert_eq!(
            alternate_exchange(Some(&arg), Some(&policy), None).as_deref(),
            Some("arg-ae")
        );
        assert_eq!(
            alternate_exchange(None, Some(&policy), None).as_deref(),
            Some("pol-ae")
        );
        assert_eq!(alternate_exchange(None, None, None), None);
    }

    #[test]
    fn merged_definition_is_the_union_with_operator_limits_applied() {
        let policy = definition(
            json!({"max-length": 10, "dead-letter-exchange": "d"}),
            false,
        );
        let op = definition(
            json!({"max-length": 3, "expires": 7, "max-in-memory-length": 1}),
            true,
        );
        let m = merged_definition(Some(&policy), Some(&op));
        assert_eq!(
            Value::Object(m),
            json!({"max-length": 3, "dead-letter-exchange": "d", "expires": 7,
                   "max-in-memory-length": 1})
        );
        let looser = definition(json!({"max-length": 30}), true);
        let m = merged_definition(Some(&policy), Some(&looser));
        assert_eq!(m.get("max-length"), Some(&json!(10)));
        assert!(merged_definition(None, None).is_empty());
    }
}

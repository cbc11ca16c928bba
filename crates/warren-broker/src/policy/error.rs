//! Why a policy was refused, with RabbitMQ's texts (`rabbit_policy`, `rabbit_policies`
//! and `rabbit_parameter_validation` validators, prefixed the way
//! `rabbit_runtime_parameters` reports a failed validation).

use serde_json::Value;

/// A policy or operator policy that cannot be set. Nothing changes when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The definition sets keys that are not policy settings (or, in an operator policy,
    /// not operator policy settings): `[{<<"max-priority">>,5}]`, as RabbitMQ prints the
    /// unvalidated terms.
    #[error("Validation failed\n\n{terms} are not recognised policy settings")]
    Unrecognised {
        /// The keys refused, in key order.
        keys: Vec<String>,
        /// The keys with their values, as an Erlang term list.
        terms: String,
    },
    /// A known key with a value of the wrong type or out of range.
    #[error("Validation failed\n\n{value} is not a valid {what}")]
    InvalidValue {
        /// The definition key (`message-ttl`).
        key: String,
        /// The value as an Erlang term (`-1`, `<<"x">>`).
        value: String,
        /// What the key should hold (`message TTL`).
        what: &'static str,
    },
    /// An empty definition.
    #[error("Validation failed\n\nno policy provided")]
    Empty,
    /// The pattern is not a regular expression Warren can compile.
    #[error("Validation failed\n\n<<\"pattern\">> is not a valid regular expression: {reason}")]
    Pattern {
        /// Why it did not compile.
        reason: String,
    },
    /// `apply-to` is not one of the accepted values.
    #[error(
        "Validation failed\n\napply-to '{0}' unrecognised; should be 'queues', 'exchanges' or 'all'"
    )]
    ApplyTo(String),
    /// A policy of another virtual host was handed to this one.
    #[error("policy '{name}' belongs to vhost '{policy_vhost}', not '{vhost}'")]
    WrongVHost {
        /// The policy's name.
        name: String,
        /// The vhost the policy names.
        policy_vhost: String,
        /// The vhost it was set in.
        vhost: String,
    },
    /// An operator policy set as a policy, or the other way round.
    #[error("'{name}' is {} and cannot be set as {}", article(*.operator), article(!*.operator))]
    WrongKind {
        /// The policy's name.
        name: String,
        /// Whether it is an operator policy.
        operator: bool,
    },
}

fn article(operator: bool) -> &'static str {
    if operator {
        "an operator policy"
    } else {
        "a policy"
    }
}

/// `value` printed the way Erlang's `~p` prints the term RabbitMQ decodes it to: strings
/// as binaries (`<<"x">>`), objects as maps.
pub fn erlang_term(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("<<{}>>", Value::String(s.clone())),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(erlang_term).collect();
            format!("[{}]", items.join(","))
        }
        Value::Object(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("<<{}>> => {}", Value::String(k.clone()), erlang_term(v)))
                .collect();
            format!("#{{{}}}", entries.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn terms_print_as_erlang_does() {
        assert_eq!(erlang_term(&json!(5)), "5");
        assert_eq!(erlang_term(&json!(-1)), "-1");
        assert_eq!(erlang_term(&json!("x\"y")), r#"<<"x\"y">>"#);
        assert_eq!(erlang_term(&json!([1, "a"])), r#"[1,<<"a">>]"#);
        assert_eq!(erlang_term(&json!({"k": true})), r#"#{<<"k">> => true}"#);
    }

    #[test]
    fn kind_texts_name_both_kinds() {
        let e = PolicyError::WrongKind {
            name: "p".into(),
            operator: true,
        };
        assert_eq!(
            e.to_string(),
            "'p' is an operator policy and cannot be set as a policy"
        );
    }
}

//! Exchange objects (`/api/exchanges`).

use serde_json::{json, Value};
use warren_broker::Exchange;

use super::arguments;

/// An exchange as `GET /api/exchanges` lists it.
pub fn exchange(e: &Exchange, vhost: &str) -> Value {
    let c = e.config();
    let mut out = json!({
        "name": c.name.as_ref(),
        "vhost": vhost,
        "type": c.type_name(),
        "durable": c.durable,
        "auto_delete": c.auto_delete,
        "internal": c.internal,
        "arguments": arguments(&c.arguments),
        "user_who_performed_action": "",
    });
    // RabbitMQ has the key only while a policy applies.
    if let Some(policy) = e.policy_name() {
        out["policy"] = policy.to_string().into();
    }
    out
}

/// The default exchange, which every vhost has and which is not an [`Exchange`] object.
pub fn default_exchange(vhost: &str) -> Value {
    json!({
        "name": "",
        "vhost": vhost,
        "type": "direct",
        "durable": true,
        "auto_delete": false,
        "internal": false,
        "arguments": {},
        "user_who_performed_action": "rmq-internal",
    })
}

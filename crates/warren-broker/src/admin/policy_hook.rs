//! Where the admin layer hands a validated policy to its vhost, which applies it at
//! once to the matching queues and exchanges (`vhost/policies.rs`).

use crate::definitions::PolicyDef;
use crate::policy::Policy;
use crate::vhost::VHost;

use super::{AdminError, AdminResult};

/// Validates a policy definition (RabbitMQ's keys, values and texts).
pub(crate) fn compile(def: &PolicyDef, operator: bool) -> AdminResult<Policy> {
    Policy::from_def(def, operator).map_err(|e| {
        AdminError::Invalid(format!(
            "{} '{}' in vhost '{}': {e}",
            if operator {
                "operator policy"
            } else {
                "policy"
            },
            def.name,
            def.vhost
        ))
    })
}

/// Sets a policy on its vhost.
pub(crate) fn apply(vhost: &VHost, policy: Policy, operator: bool) -> AdminResult<()> {
    let set = if operator {
        vhost.set_operator_policy(policy)
    } else {
        vhost.set_policy(policy)
    };
    set.map_err(|e| AdminError::Invalid(e.to_string()))
}

/// Clears a policy from its vhost.
pub(crate) fn remove(vhost: &VHost, name: &str, operator: bool) {
    if operator {
        vhost.clear_operator_policy(name);
    } else {
        vhost.clear_policy(name);
    }
}

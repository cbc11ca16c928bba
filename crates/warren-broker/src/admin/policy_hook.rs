//! Where the admin layer hands a validated policy to its vhost. (Interim: until the
//! policy module lands, every policy is refused as unsupported.)

use crate::definitions::PolicyDef;
use crate::vhost::VHost;

use super::{AdminError, AdminResult};

/// A validated policy.
pub(crate) struct Compiled;

/// Validates a policy definition.
pub(crate) fn compile(def: &PolicyDef, _operator: bool) -> AdminResult<Compiled> {
    Err(AdminError::Invalid(format!(
        "policy '{}': policies are not supported yet",
        def.name
    )))
}

/// Applies a policy to a vhost's queues and exchanges.
pub(crate) fn apply(_vhost: &VHost, _policy: Compiled, _operator: bool) {}

/// Removes a policy from a vhost.
pub(crate) fn remove(_vhost: &VHost, _name: &str, _operator: bool) {}

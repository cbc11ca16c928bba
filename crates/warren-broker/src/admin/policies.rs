//! Setting and clearing policies and operator policies: the admin layer validates and
//! stores them; the vhost holds the compiled policies and applies them at once to its
//! queues and exchanges (`vhost/policies.rs`), and is where they are read back from.

use std::sync::Arc;

use crate::applied::Applied;
use crate::definitions::{Definitions, ParameterDef, PolicyDef};
use crate::policy::Policy;
use crate::vhost::VHost;
use crate::Broker;

use super::records::{self, key};
use super::{AdminError, AdminResult};

fn kind(operator: bool) -> &'static str {
    if operator {
        records::OPERATOR_POLICY
    } else {
        records::POLICY
    }
}

fn noun(operator: bool) -> &'static str {
    if operator {
        "operator policy"
    } else {
        "policy"
    }
}

/// Validates a policy definition (RabbitMQ's keys, values and texts).
fn compile(def: &PolicyDef, operator: bool) -> AdminResult<Policy> {
    Policy::from_def(def, operator).map_err(|e| {
        AdminError::Invalid(format!(
            "{} '{}' in vhost '{}': {e}",
            noun(operator),
            def.name,
            def.vhost
        ))
    })
}

/// The vhost's policies (or operator policies), by name.
fn policies_of(vhost: &VHost, operator: bool) -> Vec<Arc<Policy>> {
    if operator {
        vhost.operator_policies()
    } else {
        vhost.policies()
    }
}

impl Broker {
    /// The policy (or operator policy) `name` of `vhost`, as it was set.
    pub fn policy_def(&self, vhost: &str, name: &str, operator: bool) -> Option<PolicyDef> {
        let v = self.vhost(vhost)?;
        let p = if operator {
            v.operator_policy(name)
        } else {
            v.policy(name)
        };
        p.map(|p| p.to_def())
    }

    /// Every policy (or operator policy), by vhost then name.
    pub fn policy_defs(&self, operator: bool) -> Vec<PolicyDef> {
        self.vhosts()
            .iter()
            .flat_map(|v| policies_of(v, operator))
            .map(|p| p.to_def())
            .collect()
    }

    /// Sets a policy (or operator policy), applying it at once to the matching queues
    /// and exchanges of its vhost. An invalid definition changes nothing.
    pub fn set_policy(&self, def: &PolicyDef, operator: bool) -> AdminResult<Applied<()>> {
        let Some(vhost) = self.vhost(&def.vhost) else {
            return Err(AdminError::NotFound(format!(
                "vhost '{}' not found",
                def.vhost
            )));
        };
        let policy = compile(def, operator)?;
        let commit = self.write_record(kind(operator), key(&[&def.vhost, &def.name]), def)?;
        apply(&vhost, policy, operator)?;
        Ok(Applied::written((), commit))
    }

    /// Clears a policy (or operator policy); the queues and exchanges it applied to go
    /// back to their arguments (or the next matching policy).
    pub fn clear_policy(
        &self,
        vhost: &str,
        name: &str,
        operator: bool,
    ) -> AdminResult<Applied<()>> {
        let v = self
            .vhost(vhost)
            .filter(|v| policies_of(v, operator).iter().any(|p| **p.name() == *name))
            .ok_or_else(|| {
                AdminError::NotFound(format!("no {} '{name}' in vhost '{vhost}'", noun(operator)))
            })?;
        let commit = self.delete_record(kind(operator), &key(&[vhost, name]))?;
        if operator {
            v.clear_operator_policy(name);
        } else {
            v.clear_policy(name);
        }
        Ok(Applied::written((), commit))
    }

    /// Deletes the records of every policy of a vhost being deleted.
    pub(crate) fn delete_vhost_policies(&self, vhost: &VHost) -> AdminResult<()> {
        for operator in [false, true] {
            for p in policies_of(vhost, operator) {
                self.delete_record(kind(operator), &key(&[vhost.name(), p.name()]))?;
            }
        }
        Ok(())
    }

    /// Adds the vhost's policies and operator policies to an export (operator policies
    /// as `operator_policy` parameters, as RabbitMQ exports them).
    pub(crate) fn export_policies(&self, vhost: &VHost, d: &mut Definitions) {
        d.policies
            .extend(policies_of(vhost, false).iter().map(|p| p.to_def()));
        for p in policies_of(vhost, true) {
            let mut value = serde_json::to_value(p.to_def()).expect("policies serialize");
            if let Some(map) = value.as_object_mut() {
                map.remove("vhost");
                map.remove("name");
            }
            d.parameters.push(ParameterDef {
                vhost: vhost.name().to_string(),
                component: "operator_policy".into(),
                name: p.name().to_string(),
                value,
            });
        }
    }

    /// Brings a stored policy back at start-up (before the queues it applies to).
    pub(crate) fn restore_policy(&self, def: PolicyDef, operator: bool) -> Result<(), String> {
        let vhost = self
            .vhost(&def.vhost)
            .ok_or_else(|| format!("vhost '{}' not found", def.vhost))?;
        let policy = compile(&def, operator).map_err(|e| e.to_string())?;
        apply(&vhost, policy, operator).map_err(|e| e.to_string())
    }
}

/// Sets a compiled policy on its vhost.
fn apply(vhost: &VHost, policy: Policy, operator: bool) -> AdminResult<()> {
    let set = if operator {
        vhost.set_operator_policy(policy)
    } else {
        vhost.set_policy(policy)
    };
    set.map_err(|e| AdminError::Invalid(e.to_string()))
}

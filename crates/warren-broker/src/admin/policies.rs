//! Setting and clearing policies and operator policies. The admin layer keeps each
//! policy's definition as given (for export and for the boot import's equality check)
//! and the vhost applies the compiled policy to its queues and exchanges.

use std::collections::BTreeMap;

use parking_lot::RwLock;

use crate::applied::Applied;
use crate::definitions::PolicyDef;
use crate::vhost::VHost;
use crate::Broker;

use super::records::{self, key};
use super::{AdminError, AdminResult};

/// Policy definitions by (operator?, vhost, name).
#[derive(Debug, Default)]
pub(crate) struct PolicyDefs(RwLock<BTreeMap<(bool, String, String), PolicyDef>>);

fn kind(operator: bool) -> &'static str {
    if operator {
        records::OPERATOR_POLICY
    } else {
        records::POLICY
    }
}

impl Broker {
    /// The policy (or operator policy) `name` of `vhost`, as it was set.
    pub fn policy_def(&self, vhost: &str, name: &str, operator: bool) -> Option<PolicyDef> {
        self.policy_defs
            .0
            .read()
            .get(&(operator, vhost.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Every policy (or operator policy), by vhost then name.
    pub fn policy_defs(&self, operator: bool) -> Vec<PolicyDef> {
        self.policy_defs
            .0
            .read()
            .iter()
            .filter(|((op, _, _), _)| *op == operator)
            .map(|(_, d)| d.clone())
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
        let policy = super::policy_hook::compile(def, operator)?;
        let commit = self.write_record(kind(operator), key(&[&def.vhost, &def.name]), def)?;
        super::policy_hook::apply(&vhost, policy, operator)?;
        self.policy_defs
            .0
            .write()
            .insert((operator, def.vhost.clone(), def.name.clone()), def.clone());
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
        let k = (operator, vhost.to_owned(), name.to_owned());
        if !self.policy_defs.0.read().contains_key(&k) {
            return Err(AdminError::NotFound(format!(
                "no {} '{name}' in vhost '{vhost}'",
                if operator {
                    "operator policy"
                } else {
                    "policy"
                }
            )));
        }
        let commit = self.delete_record(kind(operator), &key(&[vhost, name]))?;
        self.policy_defs.0.write().remove(&k);
        if let Some(v) = self.vhost(vhost) {
            super::policy_hook::remove(&v, name, operator);
        }
        Ok(Applied::written((), commit))
    }

    /// Deletes the records of every policy of a vhost being deleted.
    pub(crate) fn delete_vhost_policies(&self, vhost: &VHost) -> AdminResult<()> {
        let name = vhost.name().to_string();
        let doomed: Vec<_> = self
            .policy_defs
            .0
            .read()
            .keys()
            .filter(|(_, v, _)| *v == name)
            .cloned()
            .collect();
        for (operator, v, n) in doomed {
            self.delete_record(kind(operator), &key(&[&v, &n]))?;
            self.policy_defs.0.write().remove(&(operator, v, n));
        }
        Ok(())
    }

    /// Adds the vhost's policies and operator policies to an export.
    pub(crate) fn export_policies(&self, vhost: &VHost, d: &mut crate::definitions::Definitions) {
        let name = vhost.name().to_string();
        for ((operator, v, n), def) in self.policy_defs.0.read().iter() {
            if *v != name {
                continue;
            }
            if *operator {
                let mut value = serde_json::to_value(def).expect("policies serialize");
                if let Some(map) = value.as_object_mut() {
                    map.remove("vhost");
                    map.remove("name");
                }
                d.parameters.push(crate::definitions::ParameterDef {
                    vhost: v.clone(),
                    component: "operator_policy".into(),
                    name: n.clone(),
                    value,
                });
            } else {
                d.policies.push(def.clone());
            }
        }
    }

    /// Brings a stored policy back at start-up (before the queues it applies to).
    pub(crate) fn restore_policy(&self, def: PolicyDef, operator: bool) -> Result<(), String> {
        let vhost = self
            .vhost(&def.vhost)
            .ok_or_else(|| format!("vhost '{}' not found", def.vhost))?;
        let policy = super::policy_hook::compile(&def, operator).map_err(|e| e.to_string())?;
        super::policy_hook::apply(&vhost, policy, operator).map_err(|e| e.to_string())?;
        self.policy_defs
            .0
            .write()
            .insert((operator, def.vhost.clone(), def.name.clone()), def);
        Ok(())
    }
}

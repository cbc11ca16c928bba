//! A virtual host's policies and operator policies: setting and clearing them, and
//! re-applying the selection to every queue and exchange whose choice changed. New
//! queues and exchanges take the current selection when they are declared (`queues.rs`,
//! `exchanges.rs`), under the same lock, so none is declared between a change and its
//! re-application.
//!
//! Policies are validated when built ([`Policy::from_def`]); a policy that does not
//! belong here leaves the set unchanged. This is the in-memory half: keeping policies
//! in the store is the caller's.

use std::sync::Arc;

use super::queues::REPLY_TO_QUEUE_PREFIX;
use super::VHost;
use crate::policy::{Policy, PolicyError, PolicySet};

impl VHost {
    /// Sets (adds or replaces) a policy and applies it to what it matches now.
    pub fn set_policy(&self, policy: Policy) -> Result<(), PolicyError> {
        self.put_policy(policy, false)
    }

    /// Sets (adds or replaces) an operator policy and applies it to what it matches now.
    pub fn set_operator_policy(&self, policy: Policy) -> Result<(), PolicyError> {
        self.put_policy(policy, true)
    }

    /// Removes a policy; false if there was none of that name.
    pub fn clear_policy(&self, name: &str) -> bool {
        self.remove_policy(name, false)
    }

    /// Removes an operator policy; false if there was none of that name.
    pub fn clear_operator_policy(&self, name: &str) -> bool {
        self.remove_policy(name, true)
    }

    /// The policies, by name.
    pub fn policies(&self) -> Vec<Arc<Policy>> {
        self.policies.read().list(false)
    }

    /// The operator policies, by name.
    pub fn operator_policies(&self) -> Vec<Arc<Policy>> {
        self.policies.read().list(true)
    }

    /// The policy called `name`, if any.
    pub fn policy(&self, name: &str) -> Option<Arc<Policy>> {
        self.policies.read().get(name, false)
    }

    /// The operator policy called `name`, if any.
    pub fn operator_policy(&self, name: &str) -> Option<Arc<Policy>> {
        self.policies.read().get(name, true)
    }

    fn put_policy(&self, policy: Policy, operator: bool) -> Result<(), PolicyError> {
        if policy.vhost() != &self.name {
            return Err(PolicyError::WrongVHost {
                name: policy.name().to_string(),
                policy_vhost: policy.vhost().to_string(),
                vhost: self.name.to_string(),
            });
        }
        if policy.is_operator() != operator {
            return Err(PolicyError::WrongKind {
                name: policy.name().to_string(),
                operator: policy.is_operator(),
            });
        }
        for key in policy.definition().ignored_keys() {
            tracing::warn!(
                vhost = %self.name,
                policy = %policy.name(),
                key,
                "policy key accepted but ignored: Warren has no such setting"
            );
        }
        let mut set = self.policies.write();
        set.put(Arc::new(policy));
        self.reapply(&set);
        Ok(())
    }

    fn remove_policy(&self, name: &str, operator: bool) -> bool {
        let mut set = self.policies.write();
        let removed = set.remove(name, operator).is_some();
        if removed {
            self.reapply(&set);
        }
        removed
    }

    /// Applies `set`'s selection to every queue and exchange whose selection changed
    /// (not to direct reply-to queues, which get none at declaration either). Called with
    /// the set locked, so declarations wait for it.
    fn reapply(&self, set: &PolicySet) {
        let queues = self.queues().into_iter();
        for q in queues.filter(|q| !q.name().starts_with(REPLY_TO_QUEUE_PREFIX)) {
            let selected = set.for_queue(q.name(), q.declared_args().queue_type);
            if !selected.same_as(&q.selected_policies()) {
                q.apply_policy(selected.policy, selected.operator_policy);
            }
        }
        for x in self.exchanges() {
            let selected = set.for_exchange(x.name());
            if !selected.same_as(&x.selected_policies()) {
                x.apply_policy(selected.policy, selected.operator_policy);
            }
        }
    }
}

//! Policies on a live queue: applying a new selection at once, and what the management
//! API shows of it.
//!
//! What takes effect at once follows RabbitMQ's classic queue
//! (`rabbit_amqqueue_process:process_args_policy/1` and its `init_*` functions):
//! - a lower `max-length` / `max-length-bytes` drops (dead-letters, reason `maxlen`) head
//!   messages right away when the overflow in effect is `drop-head` (`maybe_drop_head`);
//! - `expires` restarts the expiry countdown from now with the period in effect, on
//!   every change of policy (`init_exp` → `ensure_expiry_timer`); a removed one stops it;
//! - a new `message-ttl` applies to messages enqueued from then on: expiry is stamped at
//!   enqueue (`init_ttl` keeps the stamps, then drops what has expired);
//! - a new dead-letter exchange or routing key is used by the next dead-lettering;
//! - without policies the declared arguments apply again.

use std::sync::Arc;

use super::{AfterUnlock, Queue, QueueArgs};
use crate::clock::now_ms;
use crate::definitions::JsonMap;
use crate::policy::effective::queue_args;
use crate::policy::{Policy, Selected};

/// The policies a queue runs with and the arguments they give it.
#[derive(Debug)]
pub(super) struct AppliedPolicy {
    policy: Option<Arc<Policy>>,
    operator_policy: Option<Arc<Policy>>,
    /// The effective arguments (the same object as `QueueState::args`).
    pub(super) args: Arc<QueueArgs>,
}

impl AppliedPolicy {
    /// No policies: the declared arguments, `args`, apply.
    pub(super) fn none(args: Arc<QueueArgs>) -> Self {
        AppliedPolicy {
            policy: None,
            operator_policy: None,
            args,
        }
    }
}

impl Queue {
    /// Runs the queue with `policy` and `operator_policy` (None: none of that kind) from
    /// now on, enforcing at once what RabbitMQ enforces at once (see the module
    /// documentation). `(None, None)` goes back to the declared arguments.
    pub fn apply_policy(&self, policy: Option<Arc<Policy>>, operator_policy: Option<Arc<Policy>>) {
        let args = Arc::new(queue_args(
            &self.declared,
            &self.config.arguments,
            policy.as_deref().map(Policy::definition),
            operator_policy.as_deref().map(Policy::definition),
        ));
        let mut after = AfterUnlock::default();
        {
            let mut st = self.state.lock();
            st.args = args.clone();
            *self.policy.write() = AppliedPolicy {
                policy,
                operator_policy,
                args: args.clone(),
            };
            let now = now_ms();
            if let Some(expires) = args.expires_ms {
                // As RabbitMQ's init_exp on every policy change: the countdown restarts
                // from now with the period in effect.
                st.last_used_ms = now;
                if st.consumers.is_empty() {
                    self.arm_timer(&mut st, now.saturating_add(expires));
                }
            }
            self.enforce_limits(&mut st, &mut after);
            self.expire_locked(&mut st, now, &mut after);
        }
        self.finish(after);
    }

    /// The name of the policy applied, if any.
    pub fn policy_name(&self) -> Option<Arc<str>> {
        self.selected_policies().policy_name()
    }

    /// The name of the operator policy applied, if any.
    pub fn operator_policy_name(&self) -> Option<Arc<str>> {
        self.selected_policies().operator_policy_name()
    }

    /// The policy and the operator policy applied.
    pub fn selected_policies(&self) -> Selected {
        let applied = self.policy.read();
        Selected {
            policy: applied.policy.clone(),
            operator_policy: applied.operator_policy.clone(),
        }
    }

    /// The policy's and operator policy's definitions merged, as RabbitMQ's
    /// `/api/queues` shows `effective_policy_definition` (empty without policies).
    pub fn effective_policy_definition(&self) -> JsonMap {
        self.selected_policies().effective_definition()
    }
}

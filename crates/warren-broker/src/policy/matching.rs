//! Policies and their selection: a [`Policy`] is a validated [`PolicyDef`] with its
//! pattern compiled; a [`PolicySet`] holds a virtual host's policies and operator
//! policies and picks, for a queue or an exchange, the one of each kind that applies.
//!
//! As in RabbitMQ (`rabbit_policy:match_all/3`, `matches/3`, `priority_comparator/2`):
//! - a policy applies when its `apply-to` covers the entity's kind and its pattern is
//!   found anywhere in the name (an unanchored search, like `re:run/3`: `^`/`$` anchor);
//! - names starting `amq.` and exclusive queues get policies like any other (RabbitMQ has
//!   no exception for either; only its mirroring keys skipped exclusive queues);
//! - a queue type that does not support a key the definition sets is not matched at
//!   all (`rabbit_amqqueue:is_policy_applicable/2`): for Warren, quorum queues refuse
//!   `queue-mode`, as RabbitMQ's do;
//! - the highest priority wins. RabbitMQ's sort is stable, so a tie goes to whichever
//!   policy its store lists first, an order it does not define; Warren gives a tie to
//!   the name that sorts first, so the choice is deterministic.
//!
//! Patterns are Rust `regex` syntax, not PCRE: the common subset (classes, anchors,
//! alternation, repetition) is the same, but look-around and back-references are
//! refused as invalid patterns.

use std::collections::BTreeMap;
use std::sync::Arc;

use regex::Regex;

use super::definition::PolicyDefinition;
use super::error::PolicyError;
use crate::definitions::PolicyDef;
use crate::queue::QueueType;

/// What kinds of entity a policy applies to (`apply-to`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyTo {
    /// `queues`.
    Queues,
    /// `exchanges`.
    Exchanges,
    /// `all` (the default).
    All,
}

impl ApplyTo {
    /// Parses an `apply-to` value.
    pub fn parse(s: &str) -> Result<ApplyTo, PolicyError> {
        match s {
            "queues" => Ok(ApplyTo::Queues),
            "exchanges" => Ok(ApplyTo::Exchanges),
            "all" => Ok(ApplyTo::All),
            other => Err(PolicyError::ApplyTo(other.to_owned())),
        }
    }

    /// The value as written in a definition.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplyTo::Queues => "queues",
            ApplyTo::Exchanges => "exchanges",
            ApplyTo::All => "all",
        }
    }

    fn queues(self) -> bool {
        matches!(self, ApplyTo::Queues | ApplyTo::All)
    }

    fn exchanges(self) -> bool {
        matches!(self, ApplyTo::Exchanges | ApplyTo::All)
    }
}

/// A validated policy or operator policy.
#[derive(Debug)]
pub struct Policy {
    name: Arc<str>,
    vhost: Arc<str>,
    pattern: Regex,
    apply_to: ApplyTo,
    priority: i64,
    definition: PolicyDefinition,
    operator: bool,
}

impl Policy {
    /// Validates `def` as a policy, or as an operator policy when `operator` is set
    /// (which accepts only the numeric limits).
    pub fn from_def(def: &PolicyDef, operator: bool) -> Result<Policy, PolicyError> {
        let pattern = Regex::new(&def.pattern).map_err(|e| PolicyError::Pattern {
            reason: e.to_string(),
        })?;
        let apply_to = ApplyTo::parse(&def.apply_to)?;
        let definition = PolicyDefinition::parse(&def.definition, operator)?;
        Ok(Policy {
            name: Arc::from(def.name.as_str()),
            vhost: Arc::from(def.vhost.as_str()),
            pattern,
            apply_to,
            priority: def.priority,
            definition,
            operator,
        })
    }

    /// The policy as a definitions element (for export and listing).
    pub fn to_def(&self) -> PolicyDef {
        PolicyDef {
            vhost: self.vhost.to_string(),
            name: self.name.to_string(),
            pattern: self.pattern.as_str().to_owned(),
            apply_to: self.apply_to.as_str().to_owned(),
            definition: self.definition.raw().clone(),
            priority: self.priority,
        }
    }

    /// Its name, unique among the policies (or operator policies) of its vhost.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// The virtual host it belongs to.
    pub fn vhost(&self) -> &Arc<str> {
        &self.vhost
    }

    /// The pattern as given.
    pub fn pattern(&self) -> &str {
        self.pattern.as_str()
    }

    /// What it applies to.
    pub fn apply_to(&self) -> ApplyTo {
        self.apply_to
    }

    /// Its priority: among matching policies the highest wins.
    pub fn priority(&self) -> i64 {
        self.priority
    }

    /// Its validated definition.
    pub fn definition(&self) -> &PolicyDefinition {
        &self.definition
    }

    /// Whether it is an operator policy.
    pub fn is_operator(&self) -> bool {
        self.operator
    }

    /// Whether it applies to a queue of this name and type.
    pub fn applies_to_queue(&self, name: &str, queue_type: QueueType) -> bool {
        let supported = match queue_type {
            QueueType::Classic => true,
            QueueType::Quorum => self.definition.queue_mode.is_none(),
            // Of a policy, a stream uses only what streams support (max-length-bytes).
            QueueType::Stream => true,
        };
        self.apply_to.queues() && supported && self.pattern.is_match(name)
    }

    /// Whether it applies to an exchange of this name.
    pub fn applies_to_exchange(&self, name: &str) -> bool {
        self.apply_to.exchanges() && self.pattern.is_match(name)
    }
}

/// The policy and the operator policy that apply to one entity.
#[derive(Debug, Clone, Default)]
pub struct Selected {
    /// The policy, if one matches.
    pub policy: Option<Arc<Policy>>,
    /// The operator policy, if one matches.
    pub operator_policy: Option<Arc<Policy>>,
}

impl Selected {
    /// The name of the policy, if any.
    pub fn policy_name(&self) -> Option<Arc<str>> {
        self.policy.as_ref().map(|p| p.name().clone())
    }

    /// The name of the operator policy, if any.
    pub fn operator_policy_name(&self) -> Option<Arc<str>> {
        self.operator_policy.as_ref().map(|p| p.name().clone())
    }

    /// Both definitions merged, as RabbitMQ's management API shows
    /// `effective_policy_definition` (empty without policies).
    pub fn effective_definition(&self) -> crate::definitions::JsonMap {
        super::effective::merged_definition(
            self.policy.as_deref().map(Policy::definition),
            self.operator_policy.as_deref().map(Policy::definition),
        )
    }
}

fn same(a: &Option<Arc<Policy>>, b: &Option<Arc<Policy>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    }
}

impl Selected {
    /// Whether both selections hold the same policies (the same objects: a policy set
    /// again under its name is a new one, even with the same content).
    pub fn same_as(&self, other: &Selected) -> bool {
        same(&self.policy, &other.policy) && same(&self.operator_policy, &other.operator_policy)
    }

    /// Whether neither kind matched.
    pub fn is_empty(&self) -> bool {
        self.policy.is_none() && self.operator_policy.is_none()
    }
}

/// A virtual host's policies and operator policies, by name.
#[derive(Debug, Default)]
pub struct PolicySet {
    policies: BTreeMap<Arc<str>, Arc<Policy>>,
    operator_policies: BTreeMap<Arc<str>, Arc<Policy>>,
}

impl PolicySet {
    fn kind(&self, operator: bool) -> &BTreeMap<Arc<str>, Arc<Policy>> {
        if operator {
            &self.operator_policies
        } else {
            &self.policies
        }
    }

    /// Adds `policy` (to the operator policies if it is one), replacing and returning
    /// the one of the same name and kind.
    pub fn put(&mut self, policy: Arc<Policy>) -> Option<Arc<Policy>> {
        let map = if policy.is_operator() {
            &mut self.operator_policies
        } else {
            &mut self.policies
        };
        map.insert(policy.name().clone(), policy)
    }

    /// Removes and returns the policy (operator policy if `operator`) called `name`.
    pub fn remove(&mut self, name: &str, operator: bool) -> Option<Arc<Policy>> {
        if operator {
            self.operator_policies.remove(name)
        } else {
            self.policies.remove(name)
        }
    }

    /// The policy (operator policy if `operator`) called `name`.
    pub fn get(&self, name: &str, operator: bool) -> Option<Arc<Policy>> {
        self.kind(operator).get(name).cloned()
    }

    /// The policies (operator policies if `operator`), by name.
    pub fn list(&self, operator: bool) -> Vec<Arc<Policy>> {
        self.kind(operator).values().cloned().collect()
    }

    /// What applies to a queue called `name` of type `queue_type`.
    pub fn for_queue(&self, name: &str, queue_type: QueueType) -> Selected {
        let applies = |p: &Policy| p.applies_to_queue(name, queue_type);
        Selected {
            policy: best(&self.policies, applies),
            operator_policy: best(&self.operator_policies, applies),
        }
    }

    /// What applies to an exchange called `name`.
    pub fn for_exchange(&self, name: &str) -> Selected {
        let applies = |p: &Policy| p.applies_to_exchange(name);
        Selected {
            policy: best(&self.policies, applies),
            operator_policy: best(&self.operator_policies, applies),
        }
    }
}

/// The highest-priority policy that applies; of equal priorities, the first by name.
fn best(
    policies: &BTreeMap<Arc<str>, Arc<Policy>>,
    applies: impl Fn(&Policy) -> bool,
) -> Option<Arc<Policy>> {
    let mut best: Option<&Arc<Policy>> = None;
    for p in policies.values().filter(|p| applies(p)) {
        best = match best {
            Some(b) if b.priority >= p.priority => Some(b),
            _ => Some(p),
        };
    }
    best.cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def(name: &str, pattern: &str, apply_to: &str, priority: i64) -> PolicyDef {
        PolicyDef {
            vhost: "/".into(),
            name: name.into(),
            pattern: pattern.into(),
            apply_to: apply_to.into(),
            definition: json!({"max-length": 1}).as_object().unwrap().clone(),
            priority,
        }
    }

    fn policy(name: &str, pattern: &str, apply_to: &str, priority: i64) -> Arc<Policy> {
        Arc::new(Policy::from_def(&def(name, pattern, apply_to, priority), false).unwrap())
    }

    fn name(p: &Option<Arc<Policy>>) -> Option<&str> {
        p.as_ref().map(|p| p.name().as_ref())
    }

    #[test]
    fn the_highest_priority_wins_and_ties_go_to_the_first_name() {
        let mut set = PolicySet::default();
        set.put(policy("b", ".*", "all", 1));
        set.put(policy("a", "^orders", "queues", 5));
        set.put(policy("c", "^orders", "queues", 5));
        let q = |set: &PolicySet, n| {
            name(&set.for_queue(n, QueueType::Classic).policy).map(str::to_owned)
        };
        assert_eq!(q(&set, "orders.eu").as_deref(), Some("a"));
        assert_eq!(q(&set, "billing").as_deref(), Some("b"));
        set.put(policy("d", "^orders", "queues", 6));
        assert_eq!(q(&set, "orders.eu").as_deref(), Some("d"));
        set.remove("d", false);
        set.remove("a", false);
        assert_eq!(q(&set, "orders.eu").as_deref(), Some("c"));
    }

    #[test]
    fn apply_to_decides_the_kind() {
        let mut set = PolicySet::default();
        set.put(policy("q", ".*", "queues", 0));
        assert_eq!(
            name(&set.for_queue("x", QueueType::Classic).policy),
            Some("q")
        );
        assert!(set.for_exchange("x").is_empty());
        set.put(policy("e", ".*", "exchanges", 0));
        assert_eq!(name(&set.for_exchange("x").policy), Some("e"));
        set.put(policy("all", ".*", "all", 1));
        assert_eq!(name(&set.for_exchange("x").policy), Some("all"));
        assert_eq!(
            name(&set.for_queue("x", QueueType::Classic).policy),
            Some("all")
        );
        assert_eq!(
            ApplyTo::parse("streams").unwrap_err().to_string(),
            "Validation failed\n\napply-to 'streams' unrecognised; should be 'queues', 'exchanges' or 'all'"
        );
    }

    #[test]
    fn patterns_are_searched_unanchored() {
        let p = policy("p", "ord", "all", 0);
        assert!(p.applies_to_queue("my-orders", QueueType::Classic));
        assert!(p.applies_to_exchange("amq.orders"));
        let anchored = policy("p", "^ord", "all", 0);
        assert!(!anchored.applies_to_queue("my-orders", QueueType::Classic));
        let e = Policy::from_def(&def("p", "(", "all", 0), false).unwrap_err();
        assert!(matches!(e, PolicyError::Pattern { .. }), "{e}");
    }

    #[test]
    fn kinds_are_selected_separately() {
        let mut set = PolicySet::default();
        set.put(policy("p", ".*", "all", 0));
        let mut d = def("p", "^q", "queues", -3);
        d.definition = json!({"max-length": 2}).as_object().unwrap().clone();
        set.put(Arc::new(Policy::from_def(&d, true).unwrap()));
        let s = set.for_queue("q1", QueueType::Classic);
        assert_eq!(name(&s.policy), Some("p"));
        assert!(s.operator_policy.as_ref().is_some_and(|p| p.is_operator()));
        assert_eq!(set.list(true).len(), 1);
        assert!(set.remove("p", true).is_some());
        assert!(set.get("p", false).is_some());
        assert!(set
            .for_queue("q1", QueueType::Classic)
            .operator_policy
            .is_none());
    }

    #[test]
    fn quorum_queues_skip_policies_setting_queue_mode() {
        let mut d = def("lazy", ".*", "queues", 0);
        d.definition = json!({"queue-mode": "lazy"}).as_object().unwrap().clone();
        let p = Policy::from_def(&d, false).unwrap();
        assert!(p.applies_to_queue("q", QueueType::Classic));
        assert!(!p.applies_to_queue("q", QueueType::Quorum));
    }

    #[test]
    fn a_policy_round_trips_to_its_definition() {
        let d = def("p", "^a", "exchanges", 7);
        assert_eq!(Policy::from_def(&d, false).unwrap().to_def(), d);
    }

    #[test]
    fn selections_compare_by_identity() {
        let p = policy("p", ".*", "all", 0);
        let a = Selected {
            policy: Some(p.clone()),
            operator_policy: None,
        };
        assert!(a.same_as(&a.clone()));
        let b = Selected {
            policy: Some(policy("p", ".*", "all", 0)),
            operator_policy: None,
        };
        assert!(!a.same_as(&b));
        assert!(!a.same_as(&Selected::default()));
    }
}

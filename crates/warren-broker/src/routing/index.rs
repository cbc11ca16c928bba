//! The bindings of one exchange indexed by destination: the source of truth for binding
//! identity, listing, counting and removing a deleted queue's bindings.
//!
//! [`RoutingTable`](super::RoutingTable) keeps one of these next to its kind's routing
//! structure and tells the structure about every change. The direct and topic structures
//! only need to know about (destination, routing key) pairs, so the index reports when
//! the first binding for a pair appears ([`Added::NewKey`]) and when the last one goes
//! ([`Removed::LastForKey`]).

use std::collections::HashMap;
use std::sync::Arc;

use warren_protocol::FieldTable;

use super::{same_arguments, Binding, Destination};

/// What [`BindingIndex::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Added {
    /// An identical binding already existed; nothing changed.
    Duplicate,
    /// New binding; the (destination, key) pair already had bindings with other arguments.
    NewArguments,
    /// New binding, and the first for its (destination, key) pair.
    NewKey,
}

impl Added {
    /// Whether a binding was added.
    pub(crate) fn is_new(self) -> bool {
        self != Added::Duplicate
    }
}

/// What [`BindingIndex::remove`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Removed {
    /// No such binding.
    Missing,
    /// Removed; the (destination, key) pair still has bindings with other arguments.
    OtherArgumentsRemain,
    /// Removed the last binding of its (destination, key) pair.
    LastForKey,
}

impl Removed {
    /// Whether a binding was removed.
    pub(crate) fn is_removed(self) -> bool {
        self != Removed::Missing
    }
}

/// Argument tables of the bindings of one (destination, key) pair.
type ArgumentSets = Vec<FieldTable>;

/// Bindings grouped by destination, then routing key.
#[derive(Debug, Default)]
pub(crate) struct BindingIndex {
    by_destination: HashMap<Destination, HashMap<Arc<str>, ArgumentSets>>,
    len: usize,
}

impl BindingIndex {
    /// Records a binding.
    pub(crate) fn insert(&mut self, binding: &Binding) -> Added {
        let keys = self
            .by_destination
            .entry(binding.destination.clone())
            .or_default();
        let added = match keys.get_mut(&*binding.routing_key) {
            Some(sets) => {
                if sets.iter().any(|a| same_arguments(a, &binding.arguments)) {
                    return Added::Duplicate;
                }
                sets.push(binding.arguments.clone());
                Added::NewArguments
            }
            None => {
                keys.insert(binding.routing_key.clone(), vec![binding.arguments.clone()]);
                Added::NewKey
            }
        };
        self.len += 1;
        added
    }

    /// Forgets a binding.
    pub(crate) fn remove(
        &mut self,
        destination: &Destination,
        routing_key: &str,
        arguments: &FieldTable,
    ) -> Removed {
        let Some(keys) = self.by_destination.get_mut(destination) else {
            return Removed::Missing;
        };
        let Some(sets) = keys.get_mut(routing_key) else {
            return Removed::Missing;
        };
        let Some(pos) = sets.iter().position(|a| same_arguments(a, arguments)) else {
            return Removed::Missing;
        };
        sets.swap_remove(pos);
        self.len -= 1;
        if !sets.is_empty() {
            return Removed::OtherArgumentsRemain;
        }
        keys.remove(routing_key);
        if keys.is_empty() {
            self.by_destination.remove(destination);
        }
        Removed::LastForKey
    }

    /// Forgets every binding to `destination`; returns the distinct routing keys it was
    /// bound with and the number of bindings removed.
    pub(crate) fn remove_destination(
        &mut self,
        destination: &Destination,
    ) -> (Vec<Arc<str>>, usize) {
        let Some(keys) = self.by_destination.remove(destination) else {
            return (Vec::new(), 0);
        };
        let removed: usize = keys.values().map(Vec::len).sum();
        self.len -= removed;
        (keys.into_keys().collect(), removed)
    }

    /// Whether any binding delivers to `destination`.
    pub(crate) fn contains_destination(&self, destination: &Destination) -> bool {
        self.by_destination.contains_key(destination)
    }

    /// The distinct destinations, in no particular order.
    pub(crate) fn destinations(&self) -> impl Iterator<Item = &Destination> {
        self.by_destination.keys()
    }

    /// Every binding, sorted by destination then routing key (bindings differing only in
    /// arguments keep their insertion order, give or take removals).
    pub(crate) fn bindings(&self) -> Vec<Binding> {
        let mut out = Vec::with_capacity(self.len);
        for (destination, keys) in &self.by_destination {
            for (key, sets) in keys {
                out.extend(sets.iter().map(|arguments| Binding {
                    destination: destination.clone(),
                    routing_key: key.clone(),
                    arguments: arguments.clone(),
                }));
            }
        }
        out.sort_by(|a, b| (&a.destination, &a.routing_key).cmp(&(&b.destination, &b.routing_key)));
        out
    }

    /// Number of bindings.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warren_protocol::FieldValue;

    fn b(dest: &str, key: &str, args: &[(&str, i32)]) -> Binding {
        Binding::new(
            Destination::Queue(dest.into()),
            key,
            args.iter().map(|&(k, v)| (k, FieldValue::I32(v))).collect(),
        )
    }

    #[test]
    fn insert_reports_key_transitions() {
        let mut ix = BindingIndex::default();
        assert_eq!(ix.insert(&b("q", "k", &[])), Added::NewKey);
        assert_eq!(ix.insert(&b("q", "k", &[])), Added::Duplicate);
        assert_eq!(ix.insert(&b("q", "k", &[("a", 1)])), Added::NewArguments);
        assert_eq!(ix.insert(&b("q", "k2", &[("a", 1)])), Added::NewKey);
        assert_eq!(ix.len(), 3);
        let q = Destination::Queue("q".into());
        let one: FieldTable = [("a", FieldValue::I32(1))].into_iter().collect();
        assert_eq!(ix.remove(&q, "k", &one), Removed::OtherArgumentsRemain);
        assert_eq!(ix.remove(&q, "k", &one), Removed::Missing);
        assert_eq!(ix.remove(&q, "k", &FieldTable::new()), Removed::LastForKey);
        assert_eq!(ix.len(), 1);
        assert!(ix.contains_destination(&q));
        let (keys, n) = ix.remove_destination(&q);
        assert_eq!((keys, n), (vec![Arc::from("k2")], 1));
        assert!(!ix.contains_destination(&q));
        assert_eq!(ix.len(), 0);
        assert_eq!(ix.destinations().count(), 0);
    }
}

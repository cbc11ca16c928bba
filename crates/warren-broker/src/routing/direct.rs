//! Direct exchanges: a message goes to the bindings whose key equals its routing key.

use std::collections::HashMap;
use std::sync::Arc;

use warren_protocol::FieldTable;

use super::index::{Added, BindingIndex, Removed};
use super::{Binding, Destination};

/// Routing table of a direct exchange: a hash map from binding key to destinations, so
/// routing costs one lookup whatever the number of bindings.
#[derive(Debug, Default)]
pub struct DirectTable {
    index: BindingIndex,
    /// Each destination appears once per key, however many argument sets it is bound with.
    routes: HashMap<Arc<str>, Vec<Destination>>,
}

impl DirectTable {
    /// Adds a binding; `true` if it is new.
    pub fn bind(&mut self, binding: Binding) -> bool {
        let added = self.index.insert(&binding);
        if added == Added::NewKey {
            self.routes
                .entry(binding.routing_key)
                .or_default()
                .push(binding.destination);
        }
        added.is_new()
    }

    /// Removes a binding; `true` if it existed.
    pub fn unbind(
        &mut self,
        destination: &Destination,
        routing_key: &str,
        arguments: &FieldTable,
    ) -> bool {
        let removed = self.index.remove(destination, routing_key, arguments);
        if removed == Removed::LastForKey {
            self.forget(destination, routing_key);
        }
        removed.is_removed()
    }

    /// Removes every binding to `destination`; returns how many there were.
    pub fn remove_destination(&mut self, destination: &Destination) -> usize {
        let (keys, removed) = self.index.remove_destination(destination);
        for key in keys {
            self.forget(destination, &key);
        }
        removed
    }

    /// Appends the destinations bound with exactly `routing_key`.
    pub fn route(&self, routing_key: &str, out: &mut Vec<Destination>) {
        if let Some(destinations) = self.routes.get(routing_key) {
            out.extend_from_slice(destinations);
        }
    }

    /// Every binding, sorted by destination then key.
    pub fn bindings(&self) -> Vec<Binding> {
        self.index.bindings()
    }

    /// Number of bindings.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether there are no bindings.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether some binding delivers to `destination`.
    pub fn has_destination(&self, destination: &Destination) -> bool {
        self.index.contains_destination(destination)
    }

    /// Drops `destination` from the route of `routing_key`.
    fn forget(&mut self, destination: &Destination, routing_key: &str) {
        if let Some(destinations) = self.routes.get_mut(routing_key) {
            if let Some(pos) = destinations.iter().position(|d| d == destination) {
                destinations.swap_remove(pos);
            }
            if destinations.is_empty() {
                self.routes.remove(routing_key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warren_protocol::FieldValue;

    fn q(name: &str) -> Destination {
        Destination::Queue(name.into())
    }

    fn route(t: &DirectTable, key: &str) -> Vec<Destination> {
        let mut out = Vec::new();
        t.route(key, &mut out);
        out.sort();
        out
    }

    #[test]
    fn exact_key_only() {
        let mut t = DirectTable::default();
        t.bind(Binding::new(q("a"), "k", FieldTable::new()));
        t.bind(Binding::new(q("b"), "k", FieldTable::new()));
        t.bind(Binding::new(q("c"), "k.x", FieldTable::new()));
        t.bind(Binding::new(q("e"), "", FieldTable::new()));
        assert_eq!(route(&t, "k"), vec![q("a"), q("b")]);
        assert_eq!(route(&t, "k.x"), vec![q("c")]);
        assert_eq!(route(&t, ""), vec![q("e")]);
        assert!(route(&t, "K").is_empty());
        assert!(route(&t, "k.*").is_empty());
        assert!(route(&t, "#").is_empty());
    }

    #[test]
    fn one_route_per_destination_and_key() {
        let mut t = DirectTable::default();
        let args: FieldTable = [("x", FieldValue::Bool(true))].into_iter().collect();
        assert!(t.bind(Binding::new(q("a"), "k", FieldTable::new())));
        assert!(t.bind(Binding::new(q("a"), "k", args.clone())));
        assert_eq!(route(&t, "k"), vec![q("a")]);
        assert!(t.unbind(&q("a"), "k", &FieldTable::new()));
        assert_eq!(route(&t, "k"), vec![q("a")]);
        assert!(t.unbind(&q("a"), "k", &args));
        assert!(route(&t, "k").is_empty());
        assert!(t.routes.is_empty());
    }

    #[test]
    fn remove_destination_clears_routes() {
        let mut t = DirectTable::default();
        for i in 0..10 {
            t.bind(Binding::new(q("a"), format!("k{i}"), FieldTable::new()));
            t.bind(Binding::new(q("b"), format!("k{i}"), FieldTable::new()));
        }
        assert_eq!(t.remove_destination(&q("a")), 10);
        assert_eq!(route(&t, "k3"), vec![q("b")]);
        assert_eq!(t.remove_destination(&q("b")), 10);
        assert!(t.routes.is_empty());
        assert!(t.is_empty());
    }
}

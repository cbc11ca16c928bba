//! Direct exchanges: a message goes to the bindings whose key equals its routing key.

use std::collections::HashMap;
use std::sync::Arc;

use super::index::{Added, Removed};
use super::{Binding, Destination};

/// Routing structure of a direct exchange: a hash map from binding key to destinations,
/// so routing costs one lookup whatever the number of bindings.
#[derive(Debug, Default)]
pub(super) struct DirectRoutes {
    /// Each destination appears once per key, however many argument sets it is bound with.
    routes: HashMap<Arc<str>, Vec<Destination>>,
}

impl DirectRoutes {
    /// Follows a binding the index has just added.
    pub(super) fn bound(&mut self, binding: Binding, added: Added) {
        if added == Added::NewKey {
            self.routes
                .entry(binding.routing_key)
                .or_default()
                .push(binding.destination);
        }
    }

    /// Follows a binding the index has just removed.
    pub(super) fn unbound(
        &mut self,
        destination: &Destination,
        routing_key: &str,
        removed: Removed,
    ) {
        if removed == Removed::LastForKey {
            self.forget(destination, routing_key);
        }
    }

    /// Follows the removal of every binding to `destination`, which was bound with `keys`.
    pub(super) fn destination_removed(&mut self, destination: &Destination, keys: &[Arc<str>]) {
        for key in keys {
            self.forget(destination, key);
        }
    }

    /// Appends the destinations bound with exactly `routing_key`.
    pub(super) fn route(&self, routing_key: &str, out: &mut Vec<Destination>) {
        if let Some(destinations) = self.routes.get(routing_key) {
            out.extend_from_slice(destinations);
        }
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
    use crate::routing::{ExchangeKind, Routes, RoutingTable};
    use warren_protocol::{FieldTable, FieldValue};

    fn q(name: &str) -> Destination {
        Destination::Queue(name.into())
    }

    fn new_table() -> RoutingTable {
        RoutingTable::new(ExchangeKind::Direct)
    }

    /// The table's key → destinations map.
    fn routes(t: &RoutingTable) -> &HashMap<Arc<str>, Vec<Destination>> {
        match &t.routes {
            Routes::Direct(r) => &r.routes,
            other => panic!("not a direct table: {other:?}"),
        }
    }

    fn route(t: &RoutingTable, key: &str) -> Vec<Destination> {
        let mut out = Vec::new();
        t.route(key, None, &mut out);
        out.sort();
        out
    }

    #[test]
    fn exact_key_only() {
        let mut t = new_table();
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
        let mut t = new_table();
        let args: FieldTable = [("x", FieldValue::Bool(true))].into_iter().collect();
        assert!(t.bind(Binding::new(q("a"), "k", FieldTable::new())));
        assert!(t.bind(Binding::new(q("a"), "k", args.clone())));
        assert_eq!(route(&t, "k"), vec![q("a")]);
        assert!(t.unbind(&q("a"), "k", &FieldTable::new()));
        assert_eq!(route(&t, "k"), vec![q("a")]);
        assert!(t.unbind(&q("a"), "k", &args));
        assert!(route(&t, "k").is_empty());
        assert!(routes(&t).is_empty());
    }

    #[test]
    fn remove_destination_clears_routes() {
        let mut t = new_table();
        for i in 0..10 {
            t.bind(Binding::new(q("a"), format!("k{i}"), FieldTable::new()));
            t.bind(Binding::new(q("b"), format!("k{i}"), FieldTable::new()));
        }
        assert_eq!(t.remove_destination(&q("a")), 10);
        assert_eq!(route(&t, "k3"), vec![q("b")]);
        assert_eq!(t.remove_destination(&q("b")), 10);
        assert!(routes(&t).is_empty());
        assert!(t.is_empty());
    }
}

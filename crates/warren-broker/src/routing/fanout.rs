//! Fanout exchanges: a message goes to every bound destination; keys are ignored.

use warren_protocol::FieldTable;

use super::index::BindingIndex;
use super::{Binding, Destination};

/// Routing table of a fanout exchange.
///
/// The binding key still identifies a binding (as in RabbitMQ), but routing reports each
/// destination once however many times it is bound.
#[derive(Debug, Default)]
pub struct FanoutTable {
    index: BindingIndex,
}

impl FanoutTable {
    /// Adds a binding; `true` if it is new.
    pub fn bind(&mut self, binding: Binding) -> bool {
        self.index.insert(&binding).is_new()
    }

    /// Removes a binding; `true` if it existed.
    pub fn unbind(
        &mut self,
        destination: &Destination,
        routing_key: &str,
        arguments: &FieldTable,
    ) -> bool {
        self.index
            .remove(destination, routing_key, arguments)
            .is_removed()
    }

    /// Removes every binding to `destination`; returns how many there were.
    pub fn remove_destination(&mut self, destination: &Destination) -> usize {
        self.index.remove_destination(destination).1
    }

    /// Appends every bound destination, each once, in no particular order.
    pub fn route(&self, out: &mut Vec<Destination>) {
        out.extend(self.index.destinations().cloned());
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(name: &str) -> Destination {
        Destination::Queue(name.into())
    }

    fn route(t: &FanoutTable) -> Vec<Destination> {
        let mut out = Vec::new();
        t.route(&mut out);
        out.sort();
        out
    }

    #[test]
    fn every_destination_once() {
        let mut t = FanoutTable::default();
        assert!(route(&t).is_empty());
        t.bind(Binding::new(q("a"), "", FieldTable::new()));
        t.bind(Binding::new(q("a"), "other", FieldTable::new()));
        t.bind(Binding::new(q("b"), "x.y", FieldTable::new()));
        t.bind(Binding::new(
            Destination::Exchange("e".into()),
            "",
            FieldTable::new(),
        ));
        assert_eq!(t.len(), 4);
        assert_eq!(
            route(&t),
            vec![q("a"), q("b"), Destination::Exchange("e".into())]
        );
    }

    #[test]
    fn unbind_keeps_other_keys() {
        let mut t = FanoutTable::default();
        t.bind(Binding::new(q("a"), "", FieldTable::new()));
        t.bind(Binding::new(q("a"), "other", FieldTable::new()));
        assert!(t.unbind(&q("a"), "", &FieldTable::new()));
        assert_eq!(route(&t), vec![q("a")]);
        assert!(!t.unbind(&q("a"), "", &FieldTable::new()));
        assert!(t.unbind(&q("a"), "other", &FieldTable::new()));
        assert!(route(&t).is_empty());
        assert!(t.is_empty());
    }

    #[test]
    fn remove_destination() {
        let mut t = FanoutTable::default();
        t.bind(Binding::new(q("a"), "1", FieldTable::new()));
        t.bind(Binding::new(q("a"), "2", FieldTable::new()));
        t.bind(Binding::new(q("b"), "1", FieldTable::new()));
        assert_eq!(t.remove_destination(&q("a")), 2);
        assert!(!t.has_destination(&q("a")));
        assert_eq!(route(&t), vec![q("b")]);
    }
}

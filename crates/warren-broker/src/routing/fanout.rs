//! Fanout exchanges: a message goes to every bound destination; keys are ignored.

use super::index::BindingIndex;
use super::Destination;

/// Appends every bound destination, each once, in no particular order.
///
/// The binding key still identifies a binding (as in RabbitMQ), but routing reports each
/// destination once however many times it is bound; the binding index already knows the
/// distinct destinations, so a fanout exchange needs no routing structure of its own.
pub(super) fn route(index: &BindingIndex, out: &mut Vec<Destination>) {
    out.extend(index.destinations().cloned());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::{Binding, ExchangeKind, RoutingTable};
    use warren_protocol::FieldTable;

    fn q(name: &str) -> Destination {
        Destination::Queue(name.into())
    }

    fn route(t: &RoutingTable) -> Vec<Destination> {
        let mut out = Vec::new();
        t.route("ignored", None, &mut out);
        out.sort();
        out
    }

    #[test]
    fn every_destination_once() {
        let mut t = RoutingTable::new(ExchangeKind::Fanout);
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
        let mut t = RoutingTable::new(ExchangeKind::Fanout);
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
        let mut t = RoutingTable::new(ExchangeKind::Fanout);
        t.bind(Binding::new(q("a"), "1", FieldTable::new()));
        t.bind(Binding::new(q("a"), "2", FieldTable::new()));
        t.bind(Binding::new(q("b"), "1", FieldTable::new()));
        assert_eq!(t.remove_destination(&q("a")), 2);
        assert!(!t.has_destination(&q("a")));
        assert_eq!(route(&t), vec![q("b")]);
    }
}

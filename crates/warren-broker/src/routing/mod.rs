//! Exchange routing tables: which queues and exchanges a message published to an
//! exchange goes to.
//!
//! Each exchange owns one [`RoutingTable`]: an index of its bindings (`index.rs`: binding
//! identity, duplicate checks, listing, removing a destination's bindings) plus the
//! routing structure of its [`ExchangeKind`]:
//!
//! * direct (`direct.rs`): exact routing-key match, one hash lookup per message;
//! * fanout (`fanout.rs`): every bound destination, whatever the routing key;
//! * topic (`topic.rs`): a trie over `.`-separated words with `*` and `#` wildcards;
//! * headers (`headers.rs`): RabbitMQ's headers exchange, matching message headers
//!   against binding arguments (`x-match` = `all`, `any`, `all-with-x`, `any-with-x`);
//! * consistent hash (`consistent_hash.rs`, over the ring of `ring.rs`): RabbitMQ's
//!   `x-consistent-hash` plugin type, one destination per message chosen by a hash of its
//!   routing key, a header or a property, binding keys being weights.
//!
//! A binding is identified, as in RabbitMQ, by its destination, its routing (binding)
//! key and its arguments compared as a map (entry order does not matter, value types
//! do: a signed 32-bit `1` and a signed 64-bit `1` are different arguments). Binding the
//! same triple twice is a no-op; the same destination may be bound several times with
//! different keys or arguments, in which case [`RoutingTable::route`] may report it
//! more than once: callers deduplicate.
//!
//! One idea (the routing tables) with its unit tests below it, which are most of the
//! file's length beyond ~400 lines; kept together so the cases sit next to the rules.

mod consistent_hash;
mod direct;
mod fanout;
mod fields;
mod headers;
mod index;
pub mod ring;
mod topic;

use std::fmt;
use std::sync::Arc;

use warren_protocol::{FieldTable, FieldValue};

pub use consistent_hash::{
    validate_binding_key as validate_consistent_hash_binding, HashOn, HashProperty,
    CONSISTENT_HASH_EXCHANGE_TYPE, HASH_HEADER_ARG, HASH_PROPERTY_ARG,
};
pub use fields::MessageFields;
pub use headers::validate_headers_binding;

use consistent_hash::ConsistentHashRoutes;
use direct::DirectRoutes;
use headers::HeadersRoutes;
use index::BindingIndex;
use topic::TopicRoutes;

/// Where a binding delivers: a queue or another exchange (exchange-to-exchange binding).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Destination {
    /// A queue, by name.
    Queue(Arc<str>),
    /// An exchange, by name.
    Exchange(Arc<str>),
}

impl Destination {
    /// The queue or exchange name.
    pub fn name(&self) -> &str {
        match self {
            Destination::Queue(name) | Destination::Exchange(name) => name,
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Queue(name) => write!(f, "queue '{name}'"),
            Destination::Exchange(name) => write!(f, "exchange '{name}'"),
        }
    }
}

/// One binding of an exchange to a destination.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// The bound queue or exchange.
    pub destination: Destination,
    /// The binding key (a pattern for topic exchanges, ignored by fanout and headers).
    pub routing_key: Arc<str>,
    /// The binding arguments (the match specification for headers exchanges).
    pub arguments: FieldTable,
}

impl Binding {
    /// A binding from its three parts.
    pub fn new(
        destination: Destination,
        routing_key: impl Into<Arc<str>>,
        arguments: FieldTable,
    ) -> Self {
        Binding {
            destination,
            routing_key: routing_key.into(),
            arguments,
        }
    }
}

/// The routing algorithm of an exchange type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExchangeKind {
    /// `direct`: exact routing-key match.
    Direct,
    /// `fanout`: every binding.
    Fanout,
    /// `topic`: `.`-separated words with `*` (one word) and `#` (zero or more words).
    Topic,
    /// `headers`: message headers against binding arguments.
    Headers,
    /// `x-consistent-hash`: one destination per message, by a consistent hash of its
    /// routing key (or a header or property); binding keys are weights.
    ConsistentHash,
}

impl ExchangeKind {
    /// The kind named by an `exchange.declare` type string, if it is one of the four
    /// AMQP types or `x-consistent-hash`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "direct" => Some(ExchangeKind::Direct),
            "fanout" => Some(ExchangeKind::Fanout),
            "topic" => Some(ExchangeKind::Topic),
            "headers" => Some(ExchangeKind::Headers),
            CONSISTENT_HASH_EXCHANGE_TYPE => Some(ExchangeKind::ConsistentHash),
            _ => None,
        }
    }

    /// The type string, as used in `exchange.declare`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeKind::Direct => "direct",
            ExchangeKind::Fanout => "fanout",
            ExchangeKind::Topic => "topic",
            ExchangeKind::Headers => "headers",
            ExchangeKind::ConsistentHash => CONSISTENT_HASH_EXCHANGE_TYPE,
        }
    }
}

impl fmt::Display for ExchangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The bindings of one exchange, organised for its routing algorithm.
///
/// The [`BindingIndex`] is the record of every binding (identity, duplicates, listing,
/// counting, removing a destination's bindings); the per-kind routing structure only
/// mirrors what routing needs and is told about every change the index makes.
#[derive(Debug)]
pub struct RoutingTable {
    /// Every binding, by destination.
    index: BindingIndex,
    /// The kind's routing structure, kept in step with `index`.
    routes: Routes,
}

/// The routing structure of each exchange kind.
#[derive(Debug)]
enum Routes {
    /// Destinations by exact binding key.
    Direct(DirectRoutes),
    /// Nothing: a fanout exchange routes to the index's destinations.
    Fanout,
    /// A trie of binding patterns.
    Topic(TopicRoutes),
    /// One compiled matcher per binding.
    Headers(HeadersRoutes),
    /// Weights per destination and the ring built from them.
    ConsistentHash(ConsistentHashRoutes),
}

impl RoutingTable {
    /// An empty table for an exchange of `kind` declared without arguments.
    pub fn new(kind: ExchangeKind) -> Self {
        Self::for_exchange(kind, &FieldTable::new())
    }

    /// An empty table for an exchange of `kind` declared with `arguments` (a
    /// consistent-hash exchange reads `hash-header` / `hash-property` from them; invalid
    /// ones, which declaring refuses, fall back to the routing key).
    pub fn for_exchange(kind: ExchangeKind, arguments: &FieldTable) -> Self {
        let routes = match kind {
            ExchangeKind::Direct => Routes::Direct(DirectRoutes::default()),
            ExchangeKind::Fanout => Routes::Fanout,
            ExchangeKind::Topic => Routes::Topic(TopicRoutes::default()),
            ExchangeKind::Headers => Routes::Headers(HeadersRoutes::default()),
            ExchangeKind::ConsistentHash => Routes::ConsistentHash(ConsistentHashRoutes::new(
                HashOn::from_arguments(arguments).unwrap_or(HashOn::RoutingKey),
            )),
        };
        RoutingTable {
            index: BindingIndex::default(),
            routes,
        }
    }

    /// The exchange kind this table routes for.
    pub fn kind(&self) -> ExchangeKind {
        match self.routes {
            Routes::Direct(_) => ExchangeKind::Direct,
            Routes::Fanout => ExchangeKind::Fanout,
            Routes::Topic(_) => ExchangeKind::Topic,
            Routes::Headers(_) => ExchangeKind::Headers,
            Routes::ConsistentHash(_) => ExchangeKind::ConsistentHash,
        }
    }

    /// Adds a binding. Returns `true` if it is new, `false` if an identical binding
    /// (same destination, routing key, and arguments as a map) already existed, in
    /// which case nothing changes.
    ///
    /// Headers bindings are not validated here: call [`validate_headers_binding`] first;
    /// nor are consistent-hash binding keys ([`validate_consistent_hash_binding`]; a key
    /// that is no weight counts 0).
    pub fn bind(&mut self, binding: Binding) -> bool {
        let added = self.index.insert(&binding);
        if !added.is_new() {
            return false;
        }
        match &mut self.routes {
            Routes::Direct(r) => r.bound(binding, added),
            Routes::Fanout => {}
            Routes::Topic(r) => r.bound(binding, added),
            Routes::Headers(r) => r.bound(binding),
            Routes::ConsistentHash(r) => r.bound(&binding),
        }
        true
    }

    /// Removes the binding identified by `destination`, `routing_key` and `arguments`
    /// (compared as a map). Returns `true` if it existed.
    pub fn unbind(
        &mut self,
        destination: &Destination,
        routing_key: &str,
        arguments: &FieldTable,
    ) -> bool {
        let removed = self.index.remove(destination, routing_key, arguments);
        if !removed.is_removed() {
            return false;
        }
        match &mut self.routes {
            Routes::Direct(r) => r.unbound(destination, routing_key, removed),
            Routes::Fanout => {}
            Routes::Topic(r) => r.unbound(destination, routing_key, removed),
            Routes::Headers(r) => r.unbound(destination, routing_key, arguments),
            Routes::ConsistentHash(r) => r.unbound(destination, routing_key),
        }
        true
    }

    /// Removes every binding to `destination` (for a deleted queue or exchange) and
    /// returns how many there were.
    pub fn remove_destination(&mut self, destination: &Destination) -> usize {
        let (keys, removed) = self.index.remove_destination(destination);
        if removed == 0 {
            return 0;
        }
        match &mut self.routes {
            Routes::Direct(r) => r.destination_removed(destination, &keys),
            Routes::Fanout => {}
            Routes::Topic(r) => r.destination_removed(destination, &keys),
            Routes::Headers(r) => r.destination_removed(destination),
            Routes::ConsistentHash(r) => r.destination_removed(destination),
        }
        removed
    }

    /// Appends to `out` the destinations a message with `routing_key` and `headers`
    /// (`None` is treated as an empty table) is routed to.
    ///
    /// A destination bound several times (with different keys or arguments) may be
    /// appended once per matching binding, and `out` is not cleared first: callers
    /// deduplicate (for example with `sort` + `dedup`).
    pub fn route(
        &self,
        routing_key: &str,
        headers: Option<&FieldTable>,
        out: &mut Vec<Destination>,
    ) {
        self.route_message(routing_key, &MessageFields::headers(headers), out);
    }

    /// [`route`](Self::route) for a message whose properties are known (a
    /// consistent-hash exchange may hash one of them).
    pub fn route_message(
        &self,
        routing_key: &str,
        fields: &MessageFields<'_>,
        out: &mut Vec<Destination>,
    ) {
        match &self.routes {
            Routes::Direct(r) => r.route(routing_key, out),
            Routes::Fanout => fanout::route(&self.index, out),
            Routes::Topic(r) => r.route(routing_key, out),
            Routes::Headers(r) => r.route(fields.headers, out),
            Routes::ConsistentHash(r) => r.route(routing_key, fields, out),
        }
    }

    /// Every binding, sorted by destination then routing key.
    pub fn bindings(&self) -> Vec<Binding> {
        self.index.bindings()
    }

    /// Number of bindings.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether the table has no bindings.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether at least one binding delivers to `destination`.
    pub fn has_destination(&self, destination: &Destination) -> bool {
        self.index.contains_destination(destination)
    }
}

/// Whether two argument tables identify the same binding: same keys with identical
/// values, in any order at the top level (RabbitMQ sorts binding arguments by key but
/// compares nested tables as written). Floats compare by bit pattern so that every
/// table, even one holding a NaN, is identical to itself.
pub(crate) fn same_arguments(a: &FieldTable, b: &FieldTable) -> bool {
    a.len() == b.len()
        && a.iter()
            .all(|(k, v)| b.get(k).is_some_and(|w| identical(v, w)))
        && b.iter()
            .all(|(k, v)| a.get(k).is_some_and(|w| identical(v, w)))
}

/// Exact (type and value) equality of two field values; floats by bit pattern, nested
/// tables in order.
fn identical(a: &FieldValue, b: &FieldValue) -> bool {
    match (a, b) {
        (FieldValue::F32(x), FieldValue::F32(y)) => x.to_bits() == y.to_bits(),
        (FieldValue::F64(x), FieldValue::F64(y)) => x.to_bits() == y.to_bits(),
        (FieldValue::Table(x), FieldValue::Table(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((xk, xv), (yk, yv))| xk == yk && identical(xv, yv))
        }
        (FieldValue::Array(x), FieldValue::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(xv, yv)| identical(xv, yv))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn q(name: &str) -> Destination {
        Destination::Queue(name.into())
    }

    fn binding(dest: &str, key: &str) -> Binding {
        Binding::new(q(dest), key, FieldTable::new())
    }

    fn routed(t: &RoutingTable, key: &str, headers: Option<&FieldTable>) -> Vec<Destination> {
        let mut out = Vec::new();
        t.route(key, headers, &mut out);
        out.sort();
        out.dedup();
        out
    }

    const KINDS: [ExchangeKind; 5] = [
        ExchangeKind::Direct,
        ExchangeKind::Fanout,
        ExchangeKind::Topic,
        ExchangeKind::Headers,
        ExchangeKind::ConsistentHash,
    ];

    #[test]
    fn kind_names_round_trip() {
        for kind in KINDS {
            assert_eq!(ExchangeKind::parse(kind.as_str()), Some(kind));
            assert_eq!(RoutingTable::new(kind).kind(), kind);
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(
            ExchangeKind::parse("x-consistent-hash"),
            Some(ExchangeKind::ConsistentHash)
        );
        assert_eq!(ExchangeKind::parse("x-super-stream"), None);
        assert_eq!(ExchangeKind::parse("Direct"), None);
    }

    #[test]
    fn destination_order_and_display() {
        let e = Destination::Exchange("e".into());
        assert!(q("z") < e);
        assert_eq!(e.name(), "e");
        assert_eq!(q("a").to_string(), "queue 'a'");
        assert_eq!(e.to_string(), "exchange 'e'");
    }

    #[test]
    fn bind_is_idempotent_for_every_kind() {
        for kind in KINDS {
            let mut t = RoutingTable::new(kind);
            assert!(t.is_empty());
            assert!(t.bind(binding("q1", "k")), "{kind}");
            assert!(!t.bind(binding("q1", "k")), "{kind}");
            assert_eq!(t.len(), 1);
            assert!(t.bind(binding("q1", "k2")), "{kind}");
            assert!(t.bind(binding("q2", "k")), "{kind}");
            assert_eq!(t.len(), 3);
            assert!(t.has_destination(&q("q1")));
            assert!(!t.has_destination(&q("q3")));
        }
    }

    #[test]
    fn arguments_identify_bindings_as_a_map() {
        let args_ab: FieldTable = [("a", FieldValue::I32(1)), ("b", FieldValue::string("x"))]
            .into_iter()
            .collect();
        let args_ba: FieldTable = [("b", FieldValue::string("x")), ("a", FieldValue::I32(1))]
            .into_iter()
            .collect();
        let args_other_type: FieldTable =
            [("a", FieldValue::I64(1)), ("b", FieldValue::string("x"))]
                .into_iter()
                .collect();
        for kind in KINDS {
            let mut t = RoutingTable::new(kind);
            assert!(t.bind(Binding::new(q("q"), "k", args_ab.clone())));
            assert!(
                !t.bind(Binding::new(q("q"), "k", args_ba.clone())),
                "{kind}"
            );
            assert!(
                t.bind(Binding::new(q("q"), "k", args_other_type.clone())),
                "{kind}"
            );
            assert!(
                t.bind(Binding::new(q("q"), "k", FieldTable::new())),
                "{kind}"
            );
            assert_eq!(t.len(), 3);
            assert!(!t.unbind(
                &q("q"),
                "k",
                &[("a", FieldValue::I32(1))].into_iter().collect()
            ));
            assert!(t.unbind(&q("q"), "k", &args_ba), "{kind}");
            assert!(!t.unbind(&q("q"), "k", &args_ab), "{kind}");
            assert_eq!(t.len(), 2);
            assert!(t.has_destination(&q("q")));
        }
    }

    #[test]
    fn nan_arguments_can_be_unbound() {
        let nan: FieldTable = [("f", FieldValue::F64(f64::NAN))].into_iter().collect();
        let mut t = RoutingTable::new(ExchangeKind::Direct);
        assert!(t.bind(Binding::new(q("q"), "k", nan.clone())));
        assert!(!t.bind(Binding::new(q("q"), "k", nan.clone())));
        assert!(t.unbind(&q("q"), "k", &nan));
        assert!(t.is_empty());
    }

    #[test]
    fn unbind_and_remove_destination_for_every_kind() {
        for kind in KINDS {
            let mut t = RoutingTable::new(kind);
            for key in ["a", "b", "c"] {
                t.bind(binding("q1", key));
                t.bind(binding("q2", key));
            }
            t.bind(Binding::new(
                Destination::Exchange("q1".into()),
                "a",
                FieldTable::new(),
            ));
            assert_eq!(t.len(), 7);
            assert!(t.unbind(&q("q1"), "a", &FieldTable::new()));
            assert!(!t.unbind(&q("q1"), "a", &FieldTable::new()));
            assert!(!t.unbind(&q("nope"), "a", &FieldTable::new()));
            assert_eq!(t.len(), 6);
            assert_eq!(t.remove_destination(&q("q1")), 2, "{kind}");
            assert_eq!(t.remove_destination(&q("q1")), 0);
            assert!(!t.has_destination(&q("q1")));
            assert!(t.has_destination(&Destination::Exchange("q1".into())));
            assert_eq!(t.len(), 4);
            let keys: Vec<_> = t
                .bindings()
                .into_iter()
                .map(|b| (b.destination, b.routing_key))
                .collect();
            assert_eq!(
                keys,
                vec![
                    (q("q2"), "a".into()),
                    (q("q2"), "b".into()),
                    (q("q2"), "c".into()),
                    (Destination::Exchange("q1".into()), "a".into()),
                ]
            );
            assert_eq!(t.remove_destination(&q("q2")), 3);
            assert_eq!(t.remove_destination(&Destination::Exchange("q1".into())), 1);
            assert!(t.is_empty());
            assert!(t.bindings().is_empty());
            assert!(routed(&t, "a", None).is_empty());
        }
    }

    #[test]
    fn route_per_kind() {
        let mut direct = RoutingTable::new(ExchangeKind::Direct);
        let mut fanout = RoutingTable::new(ExchangeKind::Fanout);
        let mut topic = RoutingTable::new(ExchangeKind::Topic);
        let mut headers = RoutingTable::new(ExchangeKind::Headers);
        for t in [&mut direct, &mut fanout, &mut topic] {
            t.bind(binding("q1", "a.b"));
            t.bind(binding("q2", "a.*"));
        }
        let h: FieldTable = [("x", FieldValue::I32(1))].into_iter().collect();
        headers.bind(Binding::new(q("q1"), "", h.clone()));
        headers.bind(Binding::new(q("q2"), "", FieldTable::new()));

        assert_eq!(routed(&direct, "a.b", None), vec![q("q1")]);
        assert_eq!(routed(&direct, "a.*", None), vec![q("q2")]);
        assert_eq!(routed(&fanout, "zzz", None), vec![q("q1"), q("q2")]);
        assert_eq!(routed(&topic, "a.b", None), vec![q("q1"), q("q2")]);
        assert_eq!(routed(&topic, "a.c", None), vec![q("q2")]);
        assert_eq!(
            routed(&headers, "ignored", Some(&h)),
            vec![q("q1"), q("q2")]
        );
        assert_eq!(routed(&headers, "ignored", None), vec![q("q2")]);
    }

    #[test]
    fn route_appends_without_clearing() {
        let mut t = RoutingTable::new(ExchangeKind::Fanout);
        t.bind(binding("q1", ""));
        let mut out = vec![q("already")];
        t.route("", None, &mut out);
        assert_eq!(out, vec![q("already"), q("q1")]);
    }
}

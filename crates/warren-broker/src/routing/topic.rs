//! Topic exchanges: binding keys are patterns of `.`-separated words in which `*`
//! matches exactly one word and `#` matches zero or more words.
//!
//! Word splitting follows RabbitMQ: an empty key has no words, otherwise the key is
//! split on every `.`, so `"a..b"` has an empty middle word and `"a."` ends with one.
//! An empty word is a word like any other (`*` matches it). Only a whole word `*` or
//! `#` is a wildcard; `"a*"` is a literal word. (Checked against RabbitMQ 3.10.8.)
//!
//! Bindings live in a trie whose edges are words, with separate slots for `*` and `#`.
//! Routing simulates the trie as a nondeterministic automaton: it keeps the set of
//! nodes reachable after each word of the routing key (deduplicated), so its cost is
//! bounded by `words × reachable nodes` whatever the patterns, never exponential (as a
//! naive backtracking matcher is on keys like `"#.#.#.#.#"`).
//!
//! One idea (the topic trie) with its unit tests below it, which are most of the
//! file's length beyond ~400 lines; kept together so the cases sit next to the rules.

use std::collections::HashMap;
use std::mem;
use std::sync::Arc;

use super::index::{Added, Removed};
use super::{Binding, Destination};

/// Routing structure of a topic exchange: the trie of binding patterns.
#[derive(Debug, Default)]
pub(super) struct TopicRoutes {
    root: Node,
}

/// One trie node: the pattern prefix spelled by the path from the root.
#[derive(Debug, Default)]
struct Node {
    /// Children by literal word.
    words: HashMap<Box<str>, Node>,
    /// Child for a `*` word.
    star: Option<Box<Node>>,
    /// Child for a `#` word.
    hash: Option<Box<Node>>,
    /// Destinations bound with exactly this pattern, each once.
    destinations: Vec<Destination>,
}

/// A trie edge: one word of a binding key.
#[derive(Debug, Clone, Copy)]
enum Edge<'a> {
    Word(&'a str),
    Star,
    Hash,
}

impl<'a> Edge<'a> {
    fn of(word: &'a str) -> Self {
        match word {
            "*" => Edge::Star,
            "#" => Edge::Hash,
            w => Edge::Word(w),
        }
    }
}

/// The words of a routing or binding key, RabbitMQ style: none for `""`, otherwise
/// every `.`-separated piece, empty ones included.
fn words(key: &str) -> impl Iterator<Item = &str> {
    (!key.is_empty())
        .then(|| key.split('.'))
        .into_iter()
        .flatten()
}

impl Node {
    fn child(&self, edge: Edge<'_>) -> Option<&Node> {
        match edge {
            Edge::Word(w) => self.words.get(w),
            Edge::Star => self.star.as_deref(),
            Edge::Hash => self.hash.as_deref(),
        }
    }

    fn child_mut(&mut self, edge: Edge<'_>) -> Option<&mut Node> {
        match edge {
            Edge::Word(w) => self.words.get_mut(w),
            Edge::Star => self.star.as_deref_mut(),
            Edge::Hash => self.hash.as_deref_mut(),
        }
    }

    fn child_or_insert(&mut self, edge: Edge<'_>) -> &mut Node {
        match edge {
            Edge::Word(w) => self.words.entry(w.into()).or_default(),
            Edge::Star => self.star.get_or_insert_with(Box::default),
            Edge::Hash => self.hash.get_or_insert_with(Box::default),
        }
    }

    fn remove_child(&mut self, edge: Edge<'_>) {
        match edge {
            Edge::Word(w) => {
                self.words.remove(w);
            }
            Edge::Star => self.star = None,
            Edge::Hash => self.hash = None,
        }
    }

    /// Number of children.
    fn degree(&self) -> usize {
        self.words.len() + usize::from(self.star.is_some()) + usize::from(self.hash.is_some())
    }

    /// Moves all children out, for the iterative [`Drop`].
    fn take_children(&mut self, into: &mut Vec<Node>) {
        into.extend(mem::take(&mut self.words).into_values());
        into.extend(self.star.take().map(|b| *b));
        into.extend(self.hash.take().map(|b| *b));
    }
}

impl Drop for Node {
    /// Drops the subtree iteratively so that a very deep trie cannot overflow the stack.
    fn drop(&mut self) {
        if self.degree() == 0 {
            return;
        }
        let mut stack = Vec::new();
        self.take_children(&mut stack);
        while let Some(mut node) = stack.pop() {
            node.take_children(&mut stack);
        }
    }
}

/// A routing state: a trie node, and whether it was reached through a `#` edge (such a
/// node stays reachable while `#` swallows further words).
type State<'a> = (&'a Node, bool);

/// Adds to `states[from..]` the `#` children of those states, transitively (`#` may
/// match zero words).
fn close(states: &mut Vec<State<'_>>, from: usize) {
    let mut i = from;
    while i < states.len() {
        if let Some(hash) = states[i].0.hash.as_deref() {
            states.push((hash, true));
        }
        i += 1;
    }
}

impl TopicRoutes {
    /// Follows a binding the index has just added.
    pub(super) fn bound(&mut self, binding: Binding, added: Added) {
        if added == Added::NewKey {
            let mut node = &mut self.root;
            for word in words(&binding.routing_key) {
                node = node.child_or_insert(Edge::of(word));
            }
            node.destinations.push(binding.destination);
        }
    }

    /// Follows a binding the index has just removed. Trie nodes left without bindings
    /// or children are pruned.
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

    /// Appends the destinations of every pattern matching `routing_key`. A destination
    /// bound with several matching patterns is appended once per pattern.
    pub(super) fn route(&self, routing_key: &str, out: &mut Vec<Destination>) {
        let mut current: Vec<State<'_>> = Vec::with_capacity(8);
        let mut next: Vec<State<'_>> = Vec::with_capacity(8);
        current.push((&self.root, false));
        close(&mut current, 0);
        for word in words(routing_key) {
            next.clear();
            // `#` nodes swallow the word and stay; their `#` children are already in
            // `current`, so only nodes entered through a word or `*` need closing.
            next.extend(current.iter().filter(|s| s.1));
            let entered = next.len();
            for &(node, _) in &current {
                if let Some(child) = node.words.get(word) {
                    next.push((child, false));
                }
                if let Some(child) = node.star.as_deref() {
                    next.push((child, false));
                }
            }
            close(&mut next, entered);
            if next.is_empty() {
                return;
            }
            if next.len() > 1 {
                // A `#` node can be both staying and re-entered (`"#.a.#"` on `"a.a"`).
                next.sort_unstable_by_key(|s| s.0 as *const Node);
                next.dedup_by_key(|s| s.0 as *const Node);
            }
            mem::swap(&mut current, &mut next);
        }
        for (node, _) in current {
            out.extend_from_slice(&node.destinations);
        }
    }

    /// Drops `destination` from the node of `pattern` and prunes the branch that no
    /// longer leads to any binding. Iterative, like everything else on the trie.
    fn forget(&mut self, destination: &Destination, pattern: &str) {
        let edges: Vec<Edge<'_>> = words(pattern).map(Edge::of).collect();
        let mut node = &mut self.root;
        for &edge in &edges {
            match node.child_mut(edge) {
                Some(child) => node = child,
                None => return,
            }
        }
        if let Some(pos) = node.destinations.iter().position(|d| d == destination) {
            node.destinations.swap_remove(pos);
        }

        // The deepest node on the path that must stay: the root, a node with bindings,
        // or one with children off the path (the last node has no path child).
        let mut keep = 0;
        let mut node = &self.root;
        for (depth, &edge) in edges.iter().enumerate() {
            let path_children = 1;
            if !node.destinations.is_empty() || node.degree() > path_children {
                keep = depth;
            }
            match node.child(edge) {
                Some(child) => node = child,
                None => return,
            }
        }
        if !node.destinations.is_empty() || node.degree() > 0 {
            return;
        }
        // Everything below `keep` along the path is dead weight: cut its path edge.
        let mut node = &mut self.root;
        for &edge in &edges[..keep] {
            match node.child_mut(edge) {
                Some(child) => node = child,
                None => return,
            }
        }
        if let Some(&edge) = edges.get(keep) {
            node.remove_child(edge);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::{ExchangeKind, Routes, RoutingTable};
    use proptest::prelude::*;
    use std::time::{Duration, Instant};
    use warren_protocol::FieldTable;

    fn q(name: &str) -> Destination {
        Destination::Queue(name.into())
    }

    fn new_table() -> RoutingTable {
        RoutingTable::new(ExchangeKind::Topic)
    }

    /// The root of the table's trie.
    fn root(t: &RoutingTable) -> &Node {
        match &t.routes {
            Routes::Topic(r) => &r.root,
            other => panic!("not a topic table: {other:?}"),
        }
    }

    fn bind(t: &mut RoutingTable, dest: &str, pattern: &str) -> bool {
        t.bind(Binding::new(q(dest), pattern, FieldTable::new()))
    }

    fn unbind(t: &mut RoutingTable, dest: &str, pattern: &str) -> bool {
        t.unbind(&q(dest), pattern, &FieldTable::new())
    }

    fn route(t: &RoutingTable, key: &str) -> Vec<Destination> {
        let mut out = Vec::new();
        t.route(key, None, &mut out);
        out.sort();
        out.dedup();
        out
    }

    /// Whether a single pattern matches a key, through the table.
    fn matches(pattern: &str, key: &str) -> bool {
        let mut t = new_table();
        bind(&mut t, "q", pattern);
        !route(&t, key).is_empty()
    }

    /// Number of nodes in the trie, root included.
    fn node_count(node: &Node) -> usize {
        1 + node.words.values().map(node_count).sum::<usize>()
            + node.star.as_deref().map_or(0, node_count)
            + node.hash.as_deref().map_or(0, node_count)
    }

    #[test]
    fn literal_words() {
        assert!(matches("a.b.c", "a.b.c"));
        assert!(!matches("a.b.c", "a.b"));
        assert!(!matches("a.b", "a.b.c"));
        assert!(!matches("a.b.c", "a.b.d"));
        assert!(matches("a*", "a*"));
        assert!(!matches("a*", "ab"));
        assert!(!matches("a#", "a"));
    }

    #[test]
    fn star_is_exactly_one_word() {
        assert!(matches("*", "a"));
        assert!(!matches("*", ""));
        assert!(!matches("*", "a.b"));
        assert!(matches("a.*", "a."));
        assert!(matches("*.*", "."));
        assert!(matches("a.*.c", "a..c"));
        assert!(!matches("a.*.c", "a.c"));
        assert!(matches("*.b.*", "a.b.c"));
    }

    #[test]
    fn hash_is_zero_or_more_words() {
        for key in ["", "a", "a.b", "a..b", ".", "#", "*"] {
            assert!(matches("#", key), "# vs {key:?}");
            assert!(matches("#.#", key), "#.# vs {key:?}");
        }
        assert!(matches("a.#", "a"));
        assert!(matches("a.#", "a.b.c"));
        assert!(!matches("a.#", "b.a"));
        assert!(matches("#.a", "a"));
        assert!(matches("#.a", "x.y.a"));
        assert!(!matches("#.a", "a.x"));
        assert!(matches("a.#.b", "a.b"));
        assert!(matches("a.#.b", "a.x.y.b"));
        assert!(!matches("a.#.b", "a.x.y.c"));
        assert!(!matches("*.#", ""));
        assert!(matches("*.#", "a"));
        assert!(matches("*.#", "a.b.c"));
        assert!(!matches("#.*", ""));
        assert!(matches("#.*", "a.b"));
        assert!(matches("#.*.#", "x"));
        assert!(matches("#.a.#", "x.a.y"));
        assert!(matches("#.a.#", "a.a"));
        assert!(matches("a.#.#.b", "a.b"));
    }

    #[test]
    fn empty_words_and_keys() {
        assert!(matches("", ""));
        assert!(!matches("", "a"));
        assert!(!matches("a", ""));
        assert!(!matches("", "."));
        assert!(matches(".", "."));
        assert!(matches("a..b", "a..b"));
        assert!(!matches("a..b", "a.b"));
        assert!(matches("a.", "a."));
        assert!(!matches("a.", "a"));
        assert!(matches("#.", "."));
        assert!(matches("#.", "a.b."));
        assert!(!matches("#.", "a.b"));
    }

    #[test]
    fn same_answers_as_rabbitmq() {
        // Observed on RabbitMQ 3.10.8 (publish with `mandatory` to a lone binding).
        let observed = [
            ("", "", true),
            ("#", "", true),
            ("*", "", false),
            ("#.#", "", true),
            ("*.#", "", false),
            ("#.*", "", false),
            ("a.#.b", "a.b", true),
            ("#.", ".", true),
            ("#.", "a", false),
            ("a..b", "a.b", false),
            ("a..b", "a..b", true),
            ("a.*", "a.", true),
            ("*.*", ".", true),
            ("", ".", false),
            (".", "", false),
            ("#.a.#", "a.a", true),
            ("a*", "ab", false),
            ("*", "*", true),
            ("#", "#", true),
            ("a.#", "a", true),
            ("#.a", "a", true),
            ("a.*.#", "a", false),
            ("*", "a..", false),
        ];
        for (pattern, key, expected) in observed {
            assert_eq!(matches(pattern, key), expected, "{pattern:?} vs {key:?}");
        }
    }

    #[test]
    fn overlapping_patterns_report_each_binding() {
        let mut t = new_table();
        bind(&mut t, "q1", "a.*");
        bind(&mut t, "q1", "*.b");
        bind(&mut t, "q2", "#");
        bind(&mut t, "q3", "a.b.#");
        let mut out = Vec::new();
        t.route("a.b", None, &mut out);
        out.sort();
        assert_eq!(out, vec![q("q1"), q("q1"), q("q2"), q("q3")]);
        assert_eq!(route(&t, "x.y"), vec![q("q2")]);
    }

    #[test]
    fn wildcard_chains_do_not_blow_up() {
        let mut t = new_table();
        let many_hashes = vec!["#"; 100].join(".");
        bind(&mut t, "h", &many_hashes);
        bind(&mut t, "h2", &format!("{many_hashes}.z"));
        bind(&mut t, "s", &format!("{}.#", vec!["*.#"; 40].join(".")));
        let key = vec!["a"; 200].join(".");
        let start = Instant::now();
        assert_eq!(route(&t, &key), vec![q("h"), q("s")]);
        assert_eq!(
            route(&t, &format!("{key}.z")),
            vec![q("h"), q("h2"), q("s")]
        );
        assert!(start.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn unbind_prunes_the_trie() {
        let mut t = new_table();
        bind(&mut t, "q1", "a.b.c");
        bind(&mut t, "q1", "a.b");
        bind(&mut t, "q2", "a.*.#");
        assert_eq!(node_count(root(&t)), 6); // root a b c * #
        assert!(unbind(&mut t, "q1", "a.b.c"));
        assert_eq!(node_count(root(&t)), 5);
        assert!(!unbind(&mut t, "q1", "a.b.c"));
        assert!(unbind(&mut t, "q2", "a.*.#"));
        assert_eq!(node_count(root(&t)), 3);
        assert_eq!(route(&t, "a.b"), vec![q("q1")]);
        assert!(unbind(&mut t, "q1", "a.b"));
        assert_eq!(node_count(root(&t)), 1);
        assert!(t.is_empty());
    }

    #[test]
    fn inner_node_with_binding_survives_pruning() {
        let mut t = new_table();
        bind(&mut t, "q1", "a");
        bind(&mut t, "q2", "a.b.c.d");
        assert!(unbind(&mut t, "q2", "a.b.c.d"));
        assert_eq!(node_count(root(&t)), 2);
        assert_eq!(route(&t, "a"), vec![q("q1")]);
        bind(&mut t, "q1", "");
        bind(&mut t, "q2", "");
        assert!(unbind(&mut t, "q1", ""));
        assert_eq!(route(&t, ""), vec![q("q2")]);
    }

    #[test]
    fn shared_pattern_keeps_node_until_last_destination() {
        let mut t = new_table();
        bind(&mut t, "q1", "x.#");
        bind(&mut t, "q2", "x.#");
        assert_eq!(t.remove_destination(&q("q1")), 1);
        assert_eq!(route(&t, "x.y"), vec![q("q2")]);
        assert_eq!(t.remove_destination(&q("q2")), 1);
        assert_eq!(node_count(root(&t)), 1);
        assert!(route(&t, "x.y").is_empty());
    }

    #[test]
    fn deep_trie_drops_without_recursion() {
        let mut t = new_table();
        bind(&mut t, "q", &vec!["w"; 200_000].join("."));
        drop(t);
    }

    // --- Reference model -------------------------------------------------------------

    /// RabbitMQ's key split, written independently of the table: `""` has no words.
    fn split(key: &str) -> Vec<&str> {
        if key.is_empty() {
            Vec::new()
        } else {
            key.split('.').collect()
        }
    }

    /// Plain backtracking matcher.
    fn naive(pattern: &[&str], key: &[&str]) -> bool {
        match pattern.split_first() {
            None => key.is_empty(),
            Some((&"#", rest)) => (0..=key.len()).any(|skip| naive(rest, &key[skip..])),
            Some((&"*", rest)) => !key.is_empty() && naive(rest, &key[1..]),
            Some((word, rest)) => key.first() == Some(word) && naive(rest, &key[1..]),
        }
    }

    fn key_strategy(words: &'static [&'static str]) -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(words), 0..6).prop_map(|w| w.join("."))
    }

    fn pattern() -> impl Strategy<Value = String> {
        key_strategy(&["a", "b", "c", "", "*", "#"])
    }

    fn routing_key() -> impl Strategy<Value = String> {
        key_strategy(&["a", "b", "c", ""])
    }

    #[derive(Debug, Clone)]
    enum Op {
        Bind(u8, String),
        Unbind(u8, String),
        RemoveDestination(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0u8..4, pattern()).prop_map(|(d, p)| Op::Bind(d, p)),
            3 => (0u8..4, pattern()).prop_map(|(d, p)| Op::Unbind(d, p)),
            1 => (0u8..4).prop_map(Op::RemoveDestination),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn single_pattern_matches_reference(p in pattern(), k in routing_key()) {
            prop_assert_eq!(matches(&p, &k), naive(&split(&p), &split(&k)), "{:?} vs {:?}", p, k);
        }

        #[test]
        fn table_matches_reference_under_bind_and_unbind(
            ops in prop::collection::vec(op(), 1..40),
            keys in prop::collection::vec(routing_key(), 1..12),
        ) {
            let mut t = new_table();
            let mut model: Vec<(u8, String)> = Vec::new();
            for op in ops {
                match op {
                    Op::Bind(d, p) => {
                        let new = !model.contains(&(d, p.clone()));
                        if new {
                            model.push((d, p.clone()));
                        }
                        prop_assert_eq!(bind(&mut t, &d.to_string(), &p), new);
                    }
                    Op::Unbind(d, p) => {
                        let existed = model.contains(&(d, p.clone()));
                        model.retain(|b| b != &(d, p.clone()));
                        prop_assert_eq!(unbind(&mut t, &d.to_string(), &p), existed);
                    }
                    Op::RemoveDestination(d) => {
                        let before = model.len();
                        model.retain(|b| b.0 != d);
                        prop_assert_eq!(t.remove_destination(&q(&d.to_string())), before - model.len());
                    }
                }
                prop_assert_eq!(t.len(), model.len());
                for k in &keys {
                    let mut expected: Vec<Destination> = model
                        .iter()
                        .filter(|(_, p)| naive(&split(p), &split(k)))
                        .map(|(d, _)| q(&d.to_string()))
                        .collect();
                    expected.sort();
                    let mut got = Vec::new();
                    t.route(k, None, &mut got);
                    got.sort();
                    // One entry per matching binding: duplicates only across patterns.
                    prop_assert_eq!(&got, &expected, "key {:?}, bindings {:?}", k, model);
                }
            }
            for (d, p) in model.clone() {
                prop_assert!(unbind(&mut t, &d.to_string(), &p));
            }
            prop_assert!(t.is_empty());
            prop_assert_eq!(node_count(root(&t)), 1);
        }
    }
}

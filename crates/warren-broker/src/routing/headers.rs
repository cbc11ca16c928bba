//! Headers exchanges: a message goes to the bindings whose arguments match its headers.
//!
//! This follows RabbitMQ's `rabbit_exchange_type_headers`:
//!
//! * the binding argument `x-match` selects the mode: `all` (the default, also used for
//!   an unrecognised value), `any`, `all-with-x` or `any-with-x`;
//! * `x-match` itself never takes part in matching; other binding keys starting with
//!   `x-` are ignored in `all`/`any` mode and count in the `-with-x` modes;
//! * a binding value of type void matches when the header is present, whatever its
//!   value; any other value must equal the header's value (see [`values_match`]);
//! * with no keys left to match, `all` matches every message and `any` matches none;
//! * a message without headers is matched as if its header table were empty.
//!
//! The routing key plays no part in matching (it still identifies the binding).
//!
//! These rules, the value comparisons of [`values_match`] and the error texts of
//! [`validate_headers_binding`] were checked against RabbitMQ 3.10.8.
//!
//! One idea (the headers matcher) with its unit tests below it, which are most of the
//! file's length beyond ~400 lines; kept together so the cases sit next to the rules.

use std::fmt::Write as _;
use std::sync::Arc;

use warren_protocol::{FieldTable, FieldValue};

use super::{same_arguments, Binding, Destination};

/// The binding argument that selects the match mode.
const X_MATCH: &str = "x-match";

/// Checks a headers-exchange binding's arguments as RabbitMQ does before binding: an
/// `x-match` argument, if present, must be the long string `all`, `any`, `all-with-x`
/// or `any-with-x`.
///
/// The error text is RabbitMQ's (which the server sends with reply code 406
/// `PRECONDITION_FAILED`), for example
/// `Invalid x-match field value <<"some">>; expected all, any, all-with-x, or any-with-x`.
pub fn validate_headers_binding(args: &FieldTable) -> Result<(), String> {
    match args.get(X_MATCH) {
        None => Ok(()),
        Some(FieldValue::LongString(mode)) => {
            if XMatch::parse(mode).is_some() {
                Ok(())
            } else {
                Err(format!(
                    "Invalid x-match field value {}; expected all, any, all-with-x, or any-with-x",
                    erlang_term(&FieldValue::LongString(mode.clone()))
                ))
            }
        }
        Some(other) => Err(format!(
            "Invalid x-match field type {} (value {}); expected longstr",
            erlang_type(other),
            erlang_term(other)
        )),
    }
}

/// Routing structure of a headers exchange: every binding with its compiled matcher, in
/// binding order. Routing tests every binding.
#[derive(Debug, Default)]
pub(super) struct HeadersRoutes {
    bindings: Vec<HeadersBinding>,
}

/// A binding with its arguments compiled into a matcher.
#[derive(Debug)]
struct HeadersBinding {
    destination: Destination,
    routing_key: Arc<str>,
    arguments: FieldTable,
    matcher: Matcher,
}

/// The `x-match` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum XMatch {
    All,
    Any,
    AllWithX,
    AnyWithX,
}

impl XMatch {
    fn parse(value: &[u8]) -> Option<Self> {
        match value {
            b"all" => Some(XMatch::All),
            b"any" => Some(XMatch::Any),
            b"all-with-x" => Some(XMatch::AllWithX),
            b"any-with-x" => Some(XMatch::AnyWithX),
            _ => None,
        }
    }

    /// The mode of a binding; anything but a recognised long string means `all`.
    fn of(args: &FieldTable) -> Self {
        match args.get(X_MATCH) {
            Some(FieldValue::LongString(mode)) => XMatch::parse(mode).unwrap_or(XMatch::All),
            _ => XMatch::All,
        }
    }
}

/// A compiled match specification.
#[derive(Debug)]
struct Matcher {
    /// Every pattern entry must match (`all`), or one is enough (`any`).
    require_all: bool,
    /// The entries that take part, sorted by key bytes (stable, like Erlang's
    /// `lists:keysort`).
    pattern: Vec<(String, FieldValue)>,
}

impl Matcher {
    fn new(args: &FieldTable) -> Self {
        let mode = XMatch::of(args);
        let with_x = matches!(mode, XMatch::AllWithX | XMatch::AnyWithX);
        let mut pattern: Vec<(String, FieldValue)> = args
            .iter()
            .filter(|(k, _)| *k != X_MATCH && (with_x || !k.starts_with("x-")))
            .map(|(k, v)| (k.to_owned(), v.clone()))
            .collect();
        pattern.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        Matcher {
            require_all: matches!(mode, XMatch::All | XMatch::AllWithX),
            pattern,
        }
    }

    /// Matches against headers sorted by key bytes. This is RabbitMQ's merge of the
    /// two sorted lists, so duplicate keys behave the same way too.
    fn matches(&self, headers: &[(&str, &FieldValue)]) -> bool {
        let (mut p, mut h) = (0, 0);
        let (mut all, mut any) = (true, false);
        loop {
            if self.require_all && !all {
                return false;
            }
            if !self.require_all && any {
                return true;
            }
            let Some((key, expected)) = self.pattern.get(p) else {
                return if self.require_all { all } else { any };
            };
            let Some(&(header, actual)) = headers.get(h) else {
                // Pattern entries left but no headers: fails `all`, `any` stays as is.
                return if self.require_all { false } else { any };
            };
            match key.as_bytes().cmp(header.as_bytes()) {
                std::cmp::Ordering::Greater => h += 1,
                std::cmp::Ordering::Less => {
                    all = false;
                    p += 1;
                }
                std::cmp::Ordering::Equal => {
                    if matches!(expected, FieldValue::Void) || values_match(expected, actual) {
                        any = true;
                    } else {
                        all = false;
                    }
                    p += 1;
                    h += 1;
                }
            }
        }
    }
}

/// Whether a header value equals a binding value, as Erlang's `==` on the values
/// RabbitMQ decodes (the wire type itself is not compared at the top level):
///
/// * numbers compare numerically across all integer types, timestamps (decoded as
///   integers), `f32` and `f64`, exactly (`1` equals `1.0`, `0.0` equals `-0.0`);
/// * long strings and byte arrays are both binaries: equal bytes match;
/// * booleans, decimals (scale and value) compare as themselves;
/// * nested tables and arrays compare entry by entry, in order, types included; an
///   empty table equals an empty array (both are Erlang's `[]`);
/// * a void header matches only a void binding value (which matches anything).
pub(crate) fn values_match(expected: &FieldValue, actual: &FieldValue) -> bool {
    use FieldValue as V;
    if let (Some(a), Some(b)) = (Number::of(expected), Number::of(actual)) {
        return a.equals(b);
    }
    match (expected, actual) {
        (V::LongString(a) | V::Bytes(a), V::LongString(b) | V::Bytes(b)) => a == b,
        (V::Bool(a), V::Bool(b)) => a == b,
        (V::Decimal(a), V::Decimal(b)) => a == b,
        (V::Table(a), V::Table(b)) => a == b,
        (V::Array(a), V::Array(b)) => a == b,
        (V::Table(t), V::Array(a)) | (V::Array(a), V::Table(t)) => t.is_empty() && a.is_empty(),
        (V::Void, _) => true,
        _ => false,
    }
}

/// A numeric field value.
#[derive(Debug, Clone, Copy)]
enum Number {
    Int(i128),
    Float(f64),
}

impl Number {
    fn of(v: &FieldValue) -> Option<Self> {
        use FieldValue as V;
        Some(match *v {
            V::I8(x) => Number::Int(x.into()),
            V::U8(x) => Number::Int(x.into()),
            V::I16(x) => Number::Int(x.into()),
            V::U16(x) => Number::Int(x.into()),
            V::I32(x) => Number::Int(x.into()),
            V::U32(x) => Number::Int(x.into()),
            V::I64(x) => Number::Int(x.into()),
            V::U64(x) | V::Timestamp(x) => Number::Int(x.into()),
            V::F32(x) => Number::Float(x.into()),
            V::F64(x) => Number::Float(x),
            _ => return None,
        })
    }

    /// Exact numeric equality.
    fn equals(self, other: Number) -> bool {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            (Number::Float(a), Number::Float(b)) => a == b,
            (Number::Int(i), Number::Float(f)) | (Number::Float(f), Number::Int(i)) => {
                // Every integer-valued f64 below 2^127 converts to i128 exactly.
                f.fract() == 0.0 && f.abs() < 2f64.powi(127) && f as i128 == i
            }
        }
    }
}

impl HeadersRoutes {
    /// Follows a binding the index has just added. The arguments are not validated here
    /// (see [`validate_headers_binding`]); an unrecognised `x-match` behaves as `all`.
    pub(super) fn bound(&mut self, binding: Binding) {
        self.bindings.push(HeadersBinding {
            matcher: Matcher::new(&binding.arguments),
            destination: binding.destination,
            routing_key: binding.routing_key,
            arguments: binding.arguments,
        });
    }

    /// Follows a binding the index has just removed.
    pub(super) fn unbound(
        &mut self,
        destination: &Destination,
        routing_key: &str,
        arguments: &FieldTable,
    ) {
        if let Some(pos) = self.bindings.iter().position(|b| {
            b.destination == *destination
                && *b.routing_key == *routing_key
                && same_arguments(&b.arguments, arguments)
        }) {
            self.bindings.remove(pos);
        }
    }

    /// Follows the removal of every binding to `destination`.
    pub(super) fn destination_removed(&mut self, destination: &Destination) {
        self.bindings.retain(|b| b.destination != *destination);
    }

    /// Appends the destination of every binding whose arguments match `headers`
    /// (`None` counts as an empty table), once per matching binding, in binding order.
    pub(super) fn route(&self, headers: Option<&FieldTable>, out: &mut Vec<Destination>) {
        if self.bindings.is_empty() {
            return;
        }
        let mut sorted: Vec<(&str, &FieldValue)> =
            headers.map_or_else(Vec::new, |h| h.iter().collect());
        sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        out.extend(
            self.bindings
                .iter()
                .filter(|b| b.matcher.matches(&sorted))
                .map(|b| b.destination.clone()),
        );
    }
}

/// RabbitMQ's name for a value's field type, as in its error messages.
fn erlang_type(v: &FieldValue) -> &'static str {
    use FieldValue as V;
    match v {
        V::Bool(_) => "bool",
        V::I8(_) => "byte",
        V::U8(_) => "unsignedbyte",
        V::I16(_) => "short",
        V::U16(_) => "unsignedshort",
        V::I32(_) => "signedint",
        V::U32(_) => "unsignedint",
        V::I64(_) => "long",
        V::U64(_) => "unsignedlong",
        V::F32(_) => "float",
        V::F64(_) => "double",
        V::Decimal(_) => "decimal",
        V::LongString(_) => "longstr",
        V::Bytes(_) => "binary",
        V::Timestamp(_) => "timestamp",
        V::Table(_) => "table",
        V::Array(_) => "array",
        V::Void => "void",
    }
}

/// A value printed roughly as Erlang's `~tp` prints what RabbitMQ decodes it to.
pub(super) fn erlang_term(v: &FieldValue) -> String {
    let mut s = String::new();
    write_erlang_term(&mut s, v);
    s
}

fn write_erlang_term(s: &mut String, v: &FieldValue) {
    use FieldValue as V;
    match v {
        V::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
        V::F32(x) => write_float(s, f64::from(*x)),
        V::F64(x) => write_float(s, *x),
        V::Decimal(d) => {
            let _ = write!(s, "{{{},{}}}", d.scale, d.value);
        }
        V::LongString(b) | V::Bytes(b) => write_binary(s, b),
        V::Table(t) => {
            s.push('[');
            for (i, (k, v)) in t.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                s.push('{');
                write_binary(s, k.as_bytes());
                let _ = write!(s, ",{},", erlang_type(v));
                write_erlang_term(s, v);
                s.push('}');
            }
            s.push(']');
        }
        V::Array(values) => {
            s.push('[');
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                let _ = write!(s, "{{{},", erlang_type(v));
                write_erlang_term(s, v);
                s.push('}');
            }
            s.push(']');
        }
        V::Void => s.push_str("undefined"),
        other => {
            if let Some(Number::Int(i)) = Number::of(other) {
                let _ = write!(s, "{i}");
            }
        }
    }
}

fn write_float(s: &mut String, x: f64) {
    let _ = write!(s, "{x:?}");
}

/// `<<"text">>` for printable ASCII, `<<"text"/utf8>>` for other printable UTF-8,
/// `<<1,2,3>>` otherwise.
fn write_binary(s: &mut String, bytes: &[u8]) {
    let text = std::str::from_utf8(bytes)
        .ok()
        .filter(|t| !t.is_empty() && t.chars().all(|c| !c.is_control()));
    match text {
        Some(t) => {
            s.push_str("<<\"");
            for c in t.chars() {
                if c == '"' || c == '\\' {
                    s.push('\\');
                }
                s.push(c);
            }
            s.push('"');
            if !t.is_ascii() {
                s.push_str("/utf8");
            }
            s.push_str(">>");
        }
        None => {
            s.push_str("<<");
            for (i, b) in bytes.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                let _ = write!(s, "{b}");
            }
            s.push_str(">>");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::{ExchangeKind, Routes, RoutingTable};
    use bytes::Bytes;
    use warren_protocol::Decimal;

    fn q(name: &str) -> Destination {
        Destination::Queue(name.into())
    }

    fn table(entries: &[(&str, FieldValue)]) -> FieldTable {
        entries.iter().cloned().collect()
    }

    fn s(text: &str) -> FieldValue {
        FieldValue::string(text)
    }

    fn new_table() -> RoutingTable {
        RoutingTable::new(ExchangeKind::Headers)
    }

    /// The table's bindings with their matchers.
    fn matchers(t: &RoutingTable) -> &[HeadersBinding] {
        match &t.routes {
            Routes::Headers(r) => &r.bindings,
            other => panic!("not a headers table: {other:?}"),
        }
    }

    /// Whether a single binding with `args` matches `headers`.
    fn matches(args: &FieldTable, headers: Option<&FieldTable>) -> bool {
        let mut t = new_table();
        t.bind(Binding::new(q("q"), "", args.clone()));
        let mut out = Vec::new();
        t.route("", headers, &mut out);
        !out.is_empty()
    }

    fn m(args: &[(&str, FieldValue)], headers: &[(&str, FieldValue)]) -> bool {
        matches(&table(args), Some(&table(headers)))
    }

    #[test]
    fn all_is_the_default() {
        let args = [("a", s("1")), ("b", s("2"))];
        assert!(m(&args, &[("a", s("1")), ("b", s("2"))]));
        assert!(m(&args, &[("b", s("2")), ("c", s("3")), ("a", s("1"))]));
        assert!(!m(&args, &[("a", s("1"))]));
        assert!(!m(&args, &[("a", s("1")), ("b", s("x"))]));
        assert!(!m(&args, &[]));
        let explicit = [("x-match", s("all")), ("a", s("1")), ("b", s("2"))];
        assert!(m(&explicit, &[("a", s("1")), ("b", s("2"))]));
        assert!(!m(&explicit, &[("a", s("1"))]));
    }

    #[test]
    fn any_needs_one_match() {
        let args = [("x-match", s("any")), ("a", s("1")), ("b", s("2"))];
        assert!(m(&args, &[("a", s("1"))]));
        assert!(m(&args, &[("b", s("2")), ("z", s("0"))]));
        assert!(m(&args, &[("a", s("wrong")), ("b", s("2"))]));
        assert!(!m(&args, &[("a", s("wrong"))]));
        assert!(!m(&args, &[("c", s("1"))]));
        assert!(!m(&args, &[]));
        assert!(!matches(&table(&args), None));
    }

    #[test]
    fn empty_specifications() {
        // `all` with nothing to match routes everything; `any` routes nothing.
        assert!(matches(&FieldTable::new(), None));
        assert!(m(&[], &[("a", s("1"))]));
        assert!(m(&[("x-match", s("all"))], &[]));
        assert!(!m(&[("x-match", s("any"))], &[("a", s("1"))]));
        assert!(!matches(&table(&[("x-match", s("any"))]), None));
        // Ignored x- keys leave the specification empty.
        assert!(m(&[("x-match", s("all")), ("x-foo", s("1"))], &[]));
        assert!(!m(
            &[("x-match", s("any")), ("x-foo", s("1"))],
            &[("x-foo", s("1"))]
        ));
    }

    #[test]
    fn x_keys_are_ignored_unless_with_x() {
        let all = [("x-match", s("all")), ("x-k", s("1")), ("a", s("1"))];
        assert!(m(&all, &[("a", s("1"))]));
        let any = [("x-match", s("any")), ("x-k", s("1"))];
        assert!(!m(&any, &[("x-k", s("1"))]));

        let all_x = [("x-match", s("all-with-x")), ("x-k", s("1")), ("a", s("1"))];
        assert!(!m(&all_x, &[("a", s("1"))]));
        assert!(m(&all_x, &[("a", s("1")), ("x-k", s("1"))]));
        // x-match itself never has to be present in the headers.
        assert!(!m(&all_x, &[("a", s("1")), ("x-k", s("2"))]));

        let any_x = [("x-match", s("any-with-x")), ("x-k", s("1")), ("a", s("1"))];
        assert!(m(&any_x, &[("x-k", s("1"))]));
        assert!(m(&any_x, &[("a", s("1"))]));
        assert!(!m(&any_x, &[("x-k", s("2"))]));
        assert!(!m(
            &[("x-match", s("any-with-x"))],
            &[("x-match", s("any-with-x"))]
        ));
        assert!(m(&[("x-match", s("all-with-x"))], &[]));
    }

    #[test]
    fn headers_x_keys_are_ordinary_data() {
        // Only binding keys are filtered; a plain binding key can match a header.
        assert!(m(&[("a", s("1"))], &[("x-other", s("z")), ("a", s("1"))]));
    }

    #[test]
    fn void_means_present() {
        let args = [("a", FieldValue::Void)];
        assert!(m(&args, &[("a", s("anything"))]));
        assert!(m(&args, &[("a", FieldValue::I32(0))]));
        assert!(m(&args, &[("a", FieldValue::Void)]));
        assert!(!m(&args, &[("b", s("1"))]));
        let any = [
            ("x-match", s("any")),
            ("a", FieldValue::Void),
            ("b", s("2")),
        ];
        assert!(m(&any, &[("a", FieldValue::Bool(false))]));
        // A void header only matches a void binding value.
        assert!(!m(&[("a", s(""))], &[("a", FieldValue::Void)]));
    }

    #[test]
    fn integers_compare_numerically_across_types() {
        let ints = [
            FieldValue::I8(42),
            FieldValue::U8(42),
            FieldValue::I16(42),
            FieldValue::U16(42),
            FieldValue::I32(42),
            FieldValue::U32(42),
            FieldValue::I64(42),
            FieldValue::U64(42),
            FieldValue::Timestamp(42),
        ];
        for a in &ints {
            for b in &ints {
                assert!(
                    m(&[("n", a.clone())], &[("n", b.clone())]),
                    "{a:?} vs {b:?}"
                );
            }
        }
        assert!(!m(
            &[("n", FieldValue::I32(42))],
            &[("n", FieldValue::I32(43))]
        ));
        assert!(!m(
            &[("n", FieldValue::I8(-1))],
            &[("n", FieldValue::U64(u64::MAX))]
        ));
        assert!(m(
            &[("n", FieldValue::U64(u64::MAX))],
            &[("n", FieldValue::U64(u64::MAX))]
        ));
    }

    #[test]
    fn floats_compare_numerically_with_numbers() {
        assert!(m(
            &[("f", FieldValue::F32(1.5))],
            &[("f", FieldValue::F64(1.5))]
        ));
        assert!(!m(
            &[("f", FieldValue::F32(0.1))],
            &[("f", FieldValue::F64(0.1))]
        ));
        assert!(m(
            &[("f", FieldValue::F64(0.0))],
            &[("f", FieldValue::F64(-0.0))]
        ));
        // Erlang's == compares integers and floats by value.
        assert!(m(
            &[("f", FieldValue::F64(3.0))],
            &[("f", FieldValue::I32(3))]
        ));
        assert!(m(
            &[("f", FieldValue::I64(3))],
            &[("f", FieldValue::F32(3.0))]
        ));
        assert!(!m(
            &[("f", FieldValue::F64(3.5))],
            &[("f", FieldValue::I32(3))]
        ));
        assert!(!m(
            &[("f", FieldValue::F64(f64::NAN))],
            &[("f", FieldValue::F64(f64::NAN))]
        ));
        let big = 1u64 << 60;
        assert!(m(
            &[("f", FieldValue::F64(big as f64))],
            &[("f", FieldValue::U64(big))]
        ));
        assert!(!m(
            &[("f", FieldValue::F64(big as f64))],
            &[("f", FieldValue::U64(big + 1))]
        ));
        assert!(!m(
            &[("f", FieldValue::F64(1e300))],
            &[("f", FieldValue::I64(i64::MAX))]
        ));
        assert!(!m(
            &[("f", FieldValue::F64(f64::INFINITY))],
            &[("f", FieldValue::I64(0))]
        ));
    }

    #[test]
    fn strings_bools_and_other_classes() {
        assert!(m(&[("k", s("v"))], &[("k", s("v"))]));
        assert!(!m(&[("k", s("v"))], &[("k", s("V"))]));
        // Long strings and byte arrays are both Erlang binaries.
        assert!(m(
            &[("k", s("v"))],
            &[("k", FieldValue::Bytes(Bytes::from_static(b"v")))]
        ));
        assert!(m(
            &[("k", FieldValue::Bool(true))],
            &[("k", FieldValue::Bool(true))]
        ));
        assert!(!m(
            &[("k", FieldValue::Bool(true))],
            &[("k", FieldValue::Bool(false))]
        ));
        assert!(!m(
            &[("k", FieldValue::Bool(true))],
            &[("k", FieldValue::I32(1))]
        ));
        assert!(!m(&[("k", FieldValue::Bool(true))], &[("k", s("true"))]));
        assert!(!m(&[("k", s("1"))], &[("k", FieldValue::I32(1))]));
        let d = FieldValue::Decimal(Decimal {
            scale: 2,
            value: 150,
        });
        assert!(m(&[("k", d.clone())], &[("k", d.clone())]));
        assert!(!m(
            &[("k", d.clone())],
            &[(
                "k",
                FieldValue::Decimal(Decimal {
                    scale: 1,
                    value: 15
                })
            )]
        ));
        assert!(!m(&[("k", d)], &[("k", FieldValue::F64(1.5))]));
    }

    #[test]
    fn nested_values_compare_exactly() {
        let inner = table(&[("x", FieldValue::I32(1)), ("y", s("2"))]);
        let swapped = table(&[("y", s("2")), ("x", FieldValue::I32(1))]);
        let retyped = table(&[("x", FieldValue::I64(1)), ("y", s("2"))]);
        let t = |v: FieldTable| FieldValue::Table(v);
        assert!(m(&[("t", t(inner.clone()))], &[("t", t(inner.clone()))]));
        assert!(!m(&[("t", t(inner.clone()))], &[("t", t(swapped))]));
        assert!(!m(&[("t", t(inner.clone()))], &[("t", t(retyped))]));
        let arr = FieldValue::Array(vec![FieldValue::I32(1), s("a")]);
        assert!(m(&[("a", arr.clone())], &[("a", arr.clone())]));
        assert!(!m(
            &[("a", arr)],
            &[("a", FieldValue::Array(vec![FieldValue::I64(1), s("a")]))]
        ));
        // Both decode to Erlang's [].
        assert!(m(
            &[("e", t(FieldTable::new()))],
            &[("e", FieldValue::Array(vec![]))]
        ));
        assert!(!m(&[("e", t(inner))], &[("e", FieldValue::Array(vec![]))]));
    }

    #[test]
    fn unrecognised_x_match_routes_as_all() {
        let args = [("x-match", s("bogus")), ("a", s("1")), ("b", s("2"))];
        assert!(!m(&args, &[("a", s("1"))]));
        assert!(m(&args, &[("a", s("1")), ("b", s("2"))]));
        let typed = [("x-match", FieldValue::I32(1)), ("a", s("1"))];
        assert!(m(&typed, &[("a", s("1"))]));
    }

    #[test]
    fn duplicate_header_keys_behave_like_rabbitmq() {
        // The merge consumes one header per pattern key: the first duplicate decides.
        let mut headers = FieldTable::new();
        headers.insert("a", s("1"));
        let dup = {
            // FieldTable::insert replaces, so build duplicates through a decoded-like
            // order: pattern sorted, headers sorted stably.
            let sorted = [("a", &s("2")), ("a", &s("1"))];
            let matcher = Matcher::new(&table(&[("a", s("1"))]));
            matcher.matches(&sorted.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>())
        };
        assert!(!dup);
        assert!(matches(&table(&[("a", s("1"))]), Some(&headers)));
    }

    #[test]
    fn validation() {
        assert!(validate_headers_binding(&FieldTable::new()).is_ok());
        for mode in ["all", "any", "all-with-x", "any-with-x"] {
            assert!(validate_headers_binding(&table(&[("x-match", s(mode))])).is_ok());
        }
        assert_eq!(
            validate_headers_binding(&table(&[("x-match", s("some"))])),
            Err("Invalid x-match field value <<\"some\">>; expected all, any, all-with-x, or any-with-x".into())
        );
        assert_eq!(
            validate_headers_binding(&table(&[("x-match", s("ALL"))])).unwrap_err(),
            "Invalid x-match field value <<\"ALL\">>; expected all, any, all-with-x, or any-with-x"
        );
        assert_eq!(
            validate_headers_binding(&table(&[("x-match", FieldValue::I32(1))])),
            Err("Invalid x-match field type signedint (value 1); expected longstr".into())
        );
        assert_eq!(
            validate_headers_binding(&table(&[(
                "x-match",
                FieldValue::Bytes(Bytes::from_static(b"all"))
            )])),
            Err("Invalid x-match field type binary (value <<\"all\">>); expected longstr".into())
        );
    }

    #[test]
    fn erlang_terms() {
        assert_eq!(
            erlang_term(&FieldValue::Bytes(Bytes::from_static(&[1, 2]))),
            "<<1,2>>"
        );
        assert_eq!(erlang_term(&s("é")), "<<\"é\"/utf8>>");
        assert_eq!(erlang_term(&s("")), "<<>>");
        assert_eq!(erlang_term(&FieldValue::F64(1.0)), "1.0");
        assert_eq!(erlang_term(&FieldValue::Void), "undefined");
        assert_eq!(
            erlang_term(&FieldValue::Table(table(&[("k", FieldValue::Bool(true))]))),
            "[{<<\"k\">>,bool,true}]"
        );
        assert_eq!(
            erlang_term(&FieldValue::Array(vec![FieldValue::U8(7)])),
            "[{unsignedbyte,7}]"
        );
    }

    #[test]
    fn table_operations() {
        let mut t = new_table();
        let a = table(&[("k", s("1"))]);
        let b = table(&[("x-match", s("any")), ("k", s("2")), ("j", s("3"))]);
        assert!(t.bind(Binding::new(q("q1"), "", a.clone())));
        assert!(!t.bind(Binding::new(q("q1"), "", a.clone())));
        assert!(t.bind(Binding::new(q("q1"), "other", a.clone())));
        assert!(t.bind(Binding::new(q("q2"), "", b.clone())));
        assert_eq!(t.len(), 3);
        let mut out = Vec::new();
        t.route("", Some(&table(&[("k", s("1"))])), &mut out);
        assert_eq!(out, vec![q("q1"), q("q1")]);
        out.clear();
        t.route("", Some(&table(&[("j", s("3"))])), &mut out);
        assert_eq!(out, vec![q("q2")]);

        assert!(t.unbind(&q("q1"), "other", &a));
        assert!(!t.unbind(&q("q1"), "other", &a));
        let b_reordered = table(&[("j", s("3")), ("k", s("2")), ("x-match", s("any"))]);
        assert!(t.unbind(&q("q2"), "", &b_reordered));
        assert_eq!(matchers(&t).len(), 1);
        assert_eq!(t.remove_destination(&q("q1")), 1);
        assert!(matchers(&t).is_empty());
        assert!(t.is_empty());
    }
}

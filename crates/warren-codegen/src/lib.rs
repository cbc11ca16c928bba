//! Generates `warren-protocol`'s AMQP 0-9-1 method types from the vendored spec XML.
//!
//! The generator reads `spec/amqp0-9-1.extended.xml` (RabbitMQ's extended 0-9-1 spec)
//! and `spec/extensions.xml` (RabbitMQ methods the spec file lacks), resolves every
//! field's domain to its base type, and renders:
//!
//! * `crates/warren-protocol/src/method.rs`: one module per class, one struct per
//!   method with `decode_args`/`encode_args`, and the `Method` enum;
//! * `crates/warren-protocol/tests/method_roundtrip.rs`: a round-trip and truncation
//!   test for every method.
//!
//! Both outputs are piped through `rustfmt --edition 2021` so they pass `cargo fmt`.
//! Run `cargo run -p warren-codegen` to rewrite them, or add `-- --check` to only
//! report whether they are stale.
#![deny(missing_docs)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The command that regenerates the committed outputs, quoted in staleness messages.
pub const REGENERATE: &str = "cargo run -p warren-codegen";

/// An AMQP base type a domain resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseType {
    /// `bit`: one boolean, packed with adjacent bits into octets.
    Bit,
    /// `octet`: unsigned 8-bit.
    Octet,
    /// `short`: unsigned 16-bit.
    Short,
    /// `long`: unsigned 32-bit.
    Long,
    /// `longlong`: unsigned 64-bit.
    LongLong,
    /// `shortstr`: up to 255 bytes of UTF-8.
    ShortStr,
    /// `longstr`: a 32-bit length and that many bytes.
    LongStr,
    /// `timestamp`: 64-bit seconds since the epoch.
    Timestamp,
    /// `table`: a field table.
    Table,
}

impl BaseType {
    fn from_name(name: &str) -> Option<BaseType> {
        Some(match name {
            "bit" => BaseType::Bit,
            "octet" => BaseType::Octet,
            "short" => BaseType::Short,
            "long" => BaseType::Long,
            "longlong" => BaseType::LongLong,
            "shortstr" => BaseType::ShortStr,
            "longstr" => BaseType::LongStr,
            "timestamp" => BaseType::Timestamp,
            "table" => BaseType::Table,
            _ => return None,
        })
    }

    /// The spec's name for this type.
    pub fn name(self) -> &'static str {
        match self {
            BaseType::Bit => "bit",
            BaseType::Octet => "octet",
            BaseType::Short => "short",
            BaseType::Long => "long",
            BaseType::LongLong => "longlong",
            BaseType::ShortStr => "shortstr",
            BaseType::LongStr => "longstr",
            BaseType::Timestamp => "timestamp",
            BaseType::Table => "table",
        }
    }

    fn rust_type(self) -> &'static str {
        match self {
            BaseType::Bit => "bool",
            BaseType::Octet => "u8",
            BaseType::Short => "u16",
            BaseType::Long => "u32",
            BaseType::LongLong | BaseType::Timestamp => "u64",
            BaseType::ShortStr => "String",
            BaseType::LongStr => "Bytes",
            BaseType::Table => "FieldTable",
        }
    }
}

/// The parsed and merged specification.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Classes in document order (extension classes after the spec's).
    pub classes: Vec<Class>,
}

/// One AMQP class.
#[derive(Debug, Clone)]
pub struct Class {
    /// Spec name, e.g. `basic`.
    pub name: String,
    /// Class id.
    pub index: u16,
    /// First sentence of the class's `<doc>`, if any.
    pub doc: Option<String>,
    /// Methods in document order (extension methods after the spec's).
    pub methods: Vec<MethodDef>,
}

/// One AMQP method.
#[derive(Debug, Clone)]
pub struct MethodDef {
    /// Spec name, e.g. `publish`.
    pub name: String,
    /// Method id within the class.
    pub index: u16,
    /// Whether content (a header and body frames) follows the method frame.
    pub content: bool,
    /// Whether the spec marks the method synchronous.
    pub synchronous: bool,
    /// Names of the methods that answer this one.
    pub responses: Vec<String>,
    /// First sentence of the method's `<doc>`, if any.
    pub doc: Option<String>,
    /// Arguments in wire order.
    pub fields: Vec<FieldDef>,
}

/// One method argument.
#[derive(Debug, Clone)]
pub struct FieldDef {
    /// Spec name, e.g. `routing-key`.
    pub name: String,
    /// The domain named by the field, if it used `domain=` rather than `type=`.
    pub domain: Option<String>,
    /// The base type the domain resolves to.
    pub ty: BaseType,
    /// Whether the spec marks the field reserved.
    pub reserved: bool,
    /// First sentence of the field's `<doc>`, if any.
    pub doc: Option<String>,
}

/// Parses the spec and the extensions and merges them into one [`Spec`].
pub fn parse(spec_xml: &str, extensions_xml: &str) -> Result<Spec, String> {
    let spec = roxmltree::Document::parse(spec_xml).map_err(|e| format!("spec XML: {e}"))?;
    let ext =
        roxmltree::Document::parse(extensions_xml).map_err(|e| format!("extensions XML: {e}"))?;

    let mut domains: HashMap<String, String> = HashMap::new();
    for doc in [&spec, &ext] {
        for d in doc
            .root_element()
            .children()
            .filter(|n| n.has_tag_name("domain"))
        {
            let name = attr(d, "name")?;
            let ty = attr(d, "type")?;
            domains.insert(name.to_owned(), ty.to_owned());
        }
    }

    let mut classes: Vec<Class> = Vec::new();
    for (which, doc) in [("spec", &spec), ("extensions", &ext)] {
        for c in doc
            .root_element()
            .children()
            .filter(|n| n.has_tag_name("class"))
        {
            let class = parse_class(c, &domains).map_err(|e| format!("{which}: {e}"))?;
            match classes.iter_mut().find(|k| k.name == class.name) {
                Some(existing) => {
                    if existing.index != class.index {
                        return Err(format!(
                            "{which}: class {} has index {}, but {} elsewhere",
                            class.name, class.index, existing.index
                        ));
                    }
                    existing.methods.extend(class.methods);
                }
                None => classes.push(class),
            }
        }
    }

    for c in &classes {
        for (i, m) in c.methods.iter().enumerate() {
            for other in &c.methods[i + 1..] {
                if other.name == m.name || other.index == m.index {
                    return Err(format!(
                        "{}.{} ({}) clashes with {}.{} ({})",
                        c.name, m.name, m.index, c.name, other.name, other.index
                    ));
                }
            }
        }
    }
    Ok(Spec { classes })
}

fn attr<'a>(n: roxmltree::Node<'a, '_>, name: &str) -> Result<&'a str, String> {
    n.attribute(name).ok_or_else(|| {
        format!(
            "<{}> without {name}= (line {})",
            n.tag_name().name(),
            n.document().text_pos_at(n.range().start).row
        )
    })
}

fn index_attr(n: roxmltree::Node<'_, '_>) -> Result<u16, String> {
    let raw = attr(n, "index")?;
    raw.parse()
        .map_err(|_| format!("index {raw:?} of {:?} is not a u16", n.attribute("name")))
}

fn flag_attr(n: roxmltree::Node<'_, '_>, name: &str) -> bool {
    n.attribute(name) == Some("1")
}

/// The first sentence of a node's first `<doc>` child (ignoring grammar and scenario
/// docs), whitespace collapsed.
fn first_doc_sentence(n: roxmltree::Node<'_, '_>) -> Option<String> {
    let doc = n
        .children()
        .find(|c| c.has_tag_name("doc") && c.attribute("type").is_none())?;
    let text: String = doc
        .descendants()
        .filter(|d| d.is_text())
        .filter_map(|d| d.text())
        .collect();
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return None;
    }
    let mut out = String::new();
    for w in words {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
        if w.ends_with('.') || w.ends_with('!') || w.ends_with('?') {
            break;
        }
    }
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    Some(out)
}

fn resolve(domains: &HashMap<String, String>, name: &str) -> Result<BaseType, String> {
    let mut current = name;
    for _ in 0..16 {
        if let Some(base) = BaseType::from_name(current) {
            return Ok(base);
        }
        current = domains
            .get(current)
            .ok_or_else(|| format!("unknown domain {current:?}"))?;
    }
    Err(format!("domain {name:?} does not resolve to a base type"))
}

fn parse_class(
    c: roxmltree::Node<'_, '_>,
    domains: &HashMap<String, String>,
) -> Result<Class, String> {
    let name = attr(c, "name")?.to_owned();
    let index = index_attr(c)?;
    let mut methods = Vec::new();
    for m in c.children().filter(|n| n.has_tag_name("method")) {
        let mname = attr(m, "name")?.to_owned();
        let mut fields = Vec::new();
        for f in m.children().filter(|n| n.has_tag_name("field")) {
            let fname = attr(f, "name")?.to_owned();
            let domain = f.attribute("domain").map(str::to_owned);
            let ty_name = match (&domain, f.attribute("type")) {
                (Some(d), _) => d.as_str(),
                (None, Some(t)) => t,
                (None, None) => {
                    return Err(format!(
                        "{name}.{mname} field {fname} has no domain or type"
                    ))
                }
            };
            let ty = resolve(domains, ty_name)
                .map_err(|e| format!("{name}.{mname} field {fname}: {e}"))?;
            fields.push(FieldDef {
                name: fname,
                domain,
                ty,
                reserved: flag_attr(f, "reserved"),
                doc: first_doc_sentence(f),
            });
        }
        methods.push(MethodDef {
            name: mname,
            index: index_attr(m)?,
            content: flag_attr(m, "content"),
            synchronous: flag_attr(m, "synchronous"),
            responses: m
                .children()
                .filter(|n| n.has_tag_name("response"))
                .map(|n| attr(n, "name").map(str::to_owned))
                .collect::<Result<_, _>>()?,
            doc: first_doc_sentence(m),
            fields,
        });
    }
    Ok(Class {
        name,
        index,
        doc: first_doc_sentence(c),
        methods,
    })
}

/// `start-ok` → `StartOk`.
pub fn camel_case(name: &str) -> String {
    name.split(['-', '_'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut chars = p.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            first.into_iter().chain(chars).collect::<String>()
        })
        .collect()
}

const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "gen", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield",
];

/// `routing-key` → `routing_key`; `type` → `kind`; other Rust keywords get an `r#`.
pub fn snake_case(name: &str) -> String {
    let s = name.replace('-', "_");
    if s == "type" {
        "kind".to_owned()
    } else if RUST_KEYWORDS.contains(&s.as_str()) {
        format!("r#{s}")
    } else {
        s
    }
}

/// A run of fields that share one piece of wire encoding.
enum Segment<'a> {
    /// Up to eight consecutive `bit` fields packed into one octet, first bit lowest.
    Bits(Vec<&'a FieldDef>),
    /// Any other field.
    Single(&'a FieldDef),
}

/// Groups fields as the wire does: consecutive bits share octets (eight per octet at
/// most); any other field ends the run.
fn segments(fields: &[FieldDef]) -> Vec<Segment<'_>> {
    let mut out: Vec<Segment<'_>> = Vec::new();
    for f in fields {
        if f.ty == BaseType::Bit {
            if let Some(Segment::Bits(bits)) = out.last_mut() {
                if bits.len() < 8 {
                    bits.push(f);
                    continue;
                }
            }
            out.push(Segment::Bits(vec![f]));
        } else {
            out.push(Segment::Single(f));
        }
    }
    out
}

fn doc_line(out: &mut String, indent: &str, text: &str) {
    for line in text.lines() {
        if line.is_empty() {
            let _ = writeln!(out, "{indent}///");
        } else {
            let _ = writeln!(out, "{indent}/// {line}");
        }
    }
}

fn full_name(c: &Class, m: &MethodDef) -> String {
    format!("{}.{}", c.name, m.name)
}

fn variant_name(c: &Class, m: &MethodDef) -> String {
    format!("{}{}", camel_case(&c.name), camel_case(&m.name))
}

fn struct_path(c: &Class, m: &MethodDef) -> String {
    format!("{}::{}", snake_case(&c.name), camel_case(&m.name))
}

fn method_doc(c: &Class, m: &MethodDef) -> String {
    let name = full_name(c, m);
    let mut doc = match &m.doc {
        Some(d) => d.clone(),
        None => format!("The `{name}` method."),
    };
    let _ = write!(doc, "\n\nClass id {}, method id {}", c.index, m.index);
    if m.content {
        doc.push_str("; content (a header frame and body frames) follows it");
    }
    doc.push('.');
    if !m.responses.is_empty() {
        let answers: Vec<String> = m
            .responses
            .iter()
            .map(|r| format!("`{}.{r}`", c.name))
            .collect();
        let _ = write!(doc, " Answered by {}.", answers.join(" or "));
    }
    doc
}

fn field_doc(c: &Class, m: &MethodDef, f: &FieldDef) -> String {
    if let Some(d) = &f.doc {
        return d.clone();
    }
    let owner = full_name(c, m);
    let ty = match &f.domain {
        Some(d) if d != f.ty.name() => format!("domain `{d}`, {}", article(f.ty)),
        _ => article(f.ty),
    };
    if f.reserved {
        format!(
            "Reserved field `{}` of `{owner}` ({ty}); senders leave it zero or empty.",
            f.name
        )
    } else {
        format!("Field `{}` of `{owner}` ({ty}).", f.name)
    }
}

/// "a `short`", "an `octet`".
fn article(ty: BaseType) -> String {
    let a = if ty == BaseType::Octet { "an" } else { "a" };
    format!("{a} `{}`", ty.name())
}

fn reader_call(ty: BaseType) -> &'static str {
    match ty {
        BaseType::Octet => "r.u8()?",
        BaseType::Short => "r.u16()?",
        BaseType::Long => "r.u32()?",
        BaseType::LongLong | BaseType::Timestamp => "r.u64()?",
        BaseType::ShortStr => "r.shortstr()?",
        BaseType::LongStr => "r.longstr()?",
        BaseType::Table => "r.table()?",
        BaseType::Bit => unreachable!("bits are read as packed octets"),
    }
}

fn writer_call(ty: BaseType, field: &str) -> String {
    match ty {
        BaseType::Octet => format!("dst.put_u8(self.{field});"),
        BaseType::Short => format!("dst.put_u16(self.{field});"),
        BaseType::Long => format!("dst.put_u32(self.{field});"),
        BaseType::LongLong | BaseType::Timestamp => format!("dst.put_u64(self.{field});"),
        BaseType::ShortStr => format!("put_shortstr(dst, &self.{field});"),
        BaseType::LongStr => format!("put_longstr(dst, &self.{field});"),
        BaseType::Table => format!("put_table(dst, &self.{field});"),
        BaseType::Bit => unreachable!("bits are written as packed octets"),
    }
}

const HEADER: &str = "\
// This file is generated by warren-codegen from the vendored AMQP 0-9-1 spec
// (crates/warren-codegen/spec/amqp0-9-1.extended.xml and extensions.xml).
// Do not edit it by hand: change the generator or the XML, then regenerate with
// `cargo run -p warren-codegen`. A test in warren-codegen fails when this file is stale.
";

/// Renders `method.rs` without formatting it.
pub fn render_methods(spec: &Spec) -> String {
    let mut out = String::new();
    out.push_str(HEADER);
    out.push_str(
        "\n//! Every AMQP 0-9-1 method as a typed struct, and [`Method`], the enum of them all.
//!
//! There is one module per class and one struct per method, named after the spec
//! (`basic.publish` is [`basic::Publish`]); fields are the spec's arguments in wire
//! order, in snake case (`type` becomes `kind`). Each struct decodes and encodes only
//! its arguments; [`Method::decode`] and [`Method::encode`] add the class and method
//! ids that start a method frame's payload. Consecutive `bit` arguments share octets,
//! the first in the lowest bit, as the spec packs them.

use bytes::{BufMut, BytesMut};

use crate::error::{ProtocolError, Result};
use crate::wire::Reader;
",
    );

    for c in &spec.classes {
        render_class(&mut out, c);
    }
    render_enum(&mut out, spec);
    out
}

fn render_class(out: &mut String, c: &Class) {
    let all_fields = || c.methods.iter().flat_map(|m| m.fields.iter());
    let uses = |t: BaseType| all_fields().any(|f| f.ty == t);
    let any_bits = uses(BaseType::Bit);
    let any_bufmut = all_fields().any(|f| {
        matches!(
            f.ty,
            BaseType::Bit
                | BaseType::Octet
                | BaseType::Short
                | BaseType::Long
                | BaseType::LongLong
                | BaseType::Timestamp
        )
    });

    let _ = writeln!(out);
    let class_doc = match &c.doc {
        Some(d) => format!(
            "{d}\n\nMethods of class `{}` (class id {}).",
            c.name, c.index
        ),
        None => format!("Methods of class `{}` (class id {}).", c.name, c.index),
    };
    doc_line(out, "", &class_doc);
    let _ = writeln!(out, "pub mod {} {{", snake_case(&c.name));
    let mut bytes_imports = vec!["BytesMut"];
    if any_bufmut {
        bytes_imports.insert(0, "BufMut");
    }
    if uses(BaseType::LongStr) {
        bytes_imports.insert(0, "Bytes");
    }
    let _ = writeln!(out, "use bytes::{{{}}};", bytes_imports.join(", "));
    let _ = writeln!(out, "use crate::error::Result;");
    if uses(BaseType::Table) {
        let _ = writeln!(out, "use crate::table::FieldTable;");
    }
    let mut wire_imports = Vec::new();
    if any_bits {
        wire_imports.extend(["bit", "pack_bits"]);
    }
    if uses(BaseType::LongStr) {
        wire_imports.push("put_longstr");
    }
    if uses(BaseType::ShortStr) {
        wire_imports.push("put_shortstr");
    }
    if uses(BaseType::Table) {
        wire_imports.push("put_table");
    }
    wire_imports.push("Reader");
    let _ = writeln!(out, "use crate::wire::{{{}}};", wire_imports.join(", "));

    for m in &c.methods {
        render_struct(out, c, m);
    }
    let _ = writeln!(out, "}}");
}

fn render_struct(out: &mut String, c: &Class, m: &MethodDef) {
    let sname = camel_case(&m.name);
    let name = full_name(c, m);
    let _ = writeln!(out);
    doc_line(out, "", &method_doc(c, m));
    let _ = writeln!(out, "#[derive(Debug, Clone, Default, PartialEq)]");
    if m.fields.is_empty() {
        let _ = writeln!(out, "pub struct {sname};");
    } else {
        let _ = writeln!(out, "pub struct {sname} {{");
        for f in &m.fields {
            doc_line(out, "", &field_doc(c, m, f));
            let _ = writeln!(out, "pub {}: {},", snake_case(&f.name), f.ty.rust_type());
        }
        let _ = writeln!(out, "}}");
    }

    let _ = writeln!(out, "\nimpl {sname} {{");
    let _ = writeln!(out, "/// Class id of `{}`.", c.name);
    let _ = writeln!(out, "pub const CLASS_ID: u16 = {};", c.index);
    let _ = writeln!(out, "/// Method id of `{name}` within its class.");
    let _ = writeln!(out, "pub const METHOD_ID: u16 = {};", m.index);
    let _ = writeln!(out, "/// The spec's name for this method.");
    let _ = writeln!(out, "pub const NAME: &str = \"{name}\";");
    let _ = writeln!(
        out,
        "/// Whether content (a header frame and body frames) follows this method."
    );
    let _ = writeln!(out, "pub const HAS_CONTENT: bool = {};", m.content);

    // decode_args
    let _ = writeln!(
        out,
        "\n/// Decodes the arguments, which follow the class and method ids in a method \
         frame's payload.\n///\n/// Does not check that `r` is exhausted afterwards; \
         [`super::Method::decode`] does."
    );
    let _ = writeln!(out, "#[inline]");
    if m.fields.is_empty() {
        let _ = writeln!(
            out,
            "pub fn decode_args(_r: &mut Reader<'_>) -> Result<Self> {{ Ok(Self) }}"
        );
    } else {
        let _ = writeln!(
            out,
            "pub fn decode_args(r: &mut Reader<'_>) -> Result<Self> {{"
        );
        let segs = segments(&m.fields);
        let bit_octets = segs
            .iter()
            .filter(|s| matches!(s, Segment::Bits(_)))
            .count();
        let mut octet_no = 0;
        for seg in &segs {
            match seg {
                Segment::Single(f) => {
                    let _ = writeln!(out, "let {} = {};", snake_case(&f.name), reader_call(f.ty));
                }
                Segment::Bits(bits) => {
                    let var = if bit_octets == 1 {
                        "bits".to_owned()
                    } else {
                        format!("bits_{octet_no}")
                    };
                    octet_no += 1;
                    let _ = writeln!(out, "let {var} = r.u8()?;");
                    for (i, f) in bits.iter().enumerate() {
                        let _ = writeln!(out, "let {} = bit({var}, {i});", snake_case(&f.name));
                    }
                }
            }
        }
        let names: Vec<String> = m.fields.iter().map(|f| snake_case(&f.name)).collect();
        let _ = writeln!(out, "Ok(Self {{ {} }})", names.join(", "));
        let _ = writeln!(out, "}}");
    }

    // encode_args
    let _ = writeln!(
        out,
        "\n/// Appends the arguments (everything after the class and method ids)."
    );
    let _ = writeln!(out, "#[inline]");
    if m.fields.is_empty() {
        let _ = writeln!(out, "pub fn encode_args(&self, _dst: &mut BytesMut) {{}}");
    } else {
        let _ = writeln!(out, "pub fn encode_args(&self, dst: &mut BytesMut) {{");
        for seg in segments(&m.fields) {
            match seg {
                Segment::Single(f) => {
                    let _ = writeln!(out, "{}", writer_call(f.ty, &snake_case(&f.name)));
                }
                Segment::Bits(bits) => {
                    let list: Vec<String> = bits
                        .iter()
                        .map(|f| format!("self.{}", snake_case(&f.name)))
                        .collect();
                    let _ = writeln!(out, "dst.put_u8(pack_bits(&[{}]));", list.join(", "));
                }
            }
        }
        let _ = writeln!(out, "}}");
    }
    let _ = writeln!(out, "}}");

    let variant = variant_name(c, m);
    let _ = writeln!(
        out,
        "\nimpl From<{sname}> for super::Method {{\n#[inline]\nfn from(m: {sname}) -> Self {{ super::Method::{variant}(m) }}\n}}"
    );
}

fn render_enum(out: &mut String, spec: &Spec) {
    let all: Vec<(&Class, &MethodDef)> = spec
        .classes
        .iter()
        .flat_map(|c| c.methods.iter().map(move |m| (c, m)))
        .collect();

    let _ = writeln!(
        out,
        "\n/// Any AMQP 0-9-1 method, including RabbitMQ's extensions.\n\
         #[derive(Debug, Clone, PartialEq)]\npub enum Method {{"
    );
    for (c, m) in &all {
        let _ = writeln!(out, "/// `{}`.", full_name(c, m));
        let _ = writeln!(out, "{}({}),", variant_name(c, m), struct_path(c, m));
    }
    let _ = writeln!(out, "}}");

    let _ = writeln!(out, "\nimpl Method {{");

    let mut accessor = |doc: &str, sig: &str, konst: &str| {
        let _ = writeln!(out, "{doc}\n#[inline]\npub fn {sig} {{\nmatch self {{");
        for (c, m) in &all {
            let _ = writeln!(
                out,
                "Method::{}(_) => {}::{konst},",
                variant_name(c, m),
                struct_path(c, m)
            );
        }
        let _ = writeln!(out, "}}\n}}\n");
    };
    accessor(
        "/// The class id this method is sent with.",
        "class_id(&self) -> u16",
        "CLASS_ID",
    );
    accessor(
        "/// The method id this method is sent with, within its class.",
        "method_id(&self) -> u16",
        "METHOD_ID",
    );
    accessor(
        "/// The spec's name for this method, such as `\"basic.publish\"`.",
        "name(&self) -> &'static str",
        "NAME",
    );
    accessor(
        "/// Whether content (a header frame and body frames) follows this method: true for\n\
         /// `basic.publish`, `basic.return`, `basic.deliver` and `basic.get-ok`.",
        "has_content(&self) -> bool",
        "HAS_CONTENT",
    );

    let _ = writeln!(
        out,
        "/// Decodes a method frame's payload: class id, method id, then the arguments.
///
/// An id pair this protocol does not define is [`ProtocolError::UnknownMethod`]; a
/// payload that ends early or has bytes left after the last argument is an error that
/// names the method.
pub fn decode(payload: &[u8]) -> Result<Method> {{
let mut head = Reader::new(payload, \"method frame\");
let class_id = head.u16()?;
let method_id = head.u16()?;
let args = &payload[4..];
match (class_id, method_id) {{"
    );
    for (c, m) in &all {
        let path = struct_path(c, m);
        let _ = writeln!(
            out,
            "({}, {}) => decode_with(args, {path}::NAME, {path}::decode_args).map(Method::{}),",
            c.index,
            m.index,
            variant_name(c, m)
        );
    }
    let _ = writeln!(
        out,
        "_ => Err(ProtocolError::UnknownMethod {{ class_id, method_id }}),\n}}\n}}\n"
    );

    let _ = writeln!(
        out,
        "/// Appends a method frame's payload: class id, method id, then the arguments.
pub fn encode(&self, dst: &mut BytesMut) {{
dst.put_u16(self.class_id());
dst.put_u16(self.method_id());
match self {{"
    );
    for (c, m) in &all {
        let _ = writeln!(
            out,
            "Method::{}(m) => m.encode_args(dst),",
            variant_name(c, m)
        );
    }
    let _ = writeln!(out, "}}\n}}\n}}");

    let _ = writeln!(
        out,
        "
/// Decodes one method's arguments from `args` and requires that nothing is left over.
#[inline]
fn decode_with<T>(
    args: &[u8],
    what: &'static str,
    decode_args: impl FnOnce(&mut Reader<'_>) -> Result<T>,
) -> Result<T> {{
    let mut r = Reader::new(args, what);
    let value = decode_args(&mut r)?;
    r.finish()?;
    Ok(value)
}}"
    );
}

/// A non-default test value for field number `i` of a method, as Rust source.
fn test_value(f: &FieldDef, i: usize) -> String {
    let i64_ = i as u64 + 1;
    match f.ty {
        BaseType::Octet => format!("0x{:02X}", (0xA5 + i64_) & 0xFF),
        BaseType::Short => format!("0x{:04X}", 0xA500 + i64_),
        BaseType::Long => format!("0x{:08X}", 0xA5A5_0000 + i64_),
        BaseType::LongLong => format!("0x{:016X}", 0xA5A5_A5A5_0000_0000u64 + i64_),
        BaseType::Timestamp => format!("0x{:016X}", 0x0000_0000_A5A5_0000u64 + i64_),
        BaseType::ShortStr => format!("\"{}\".to_owned()", f.name),
        BaseType::LongStr => format!("Bytes::from_static(b\"{} bytes\")", f.name),
        BaseType::Table => format!("table(\"{}\", {})", f.name, i),
        BaseType::Bit => unreachable!("bits take their value from the case"),
    }
}

#[derive(Clone, Copy)]
enum BitCase {
    Alternating,
    Inverted,
    AllTrue,
}

fn struct_literal(c: &Class, m: &MethodDef, case: BitCase) -> String {
    let path = struct_path(c, m);
    if m.fields.is_empty() {
        return path;
    }
    let mut bit_no = 0usize;
    let fields: Vec<String> = m
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let value = if f.ty == BaseType::Bit {
                let v = match case {
                    BitCase::Alternating => bit_no & 1 == 0,
                    BitCase::Inverted => bit_no & 1 == 1,
                    BitCase::AllTrue => true,
                };
                bit_no += 1;
                v.to_string()
            } else {
                test_value(f, i)
            };
            format!("{}: {value}", snake_case(&f.name))
        })
        .collect();
    format!("{path} {{ {} }}", fields.join(", "))
}

/// Renders `tests/method_roundtrip.rs` without formatting it.
pub fn render_roundtrip_tests(spec: &Spec) -> String {
    let mut out = String::new();
    out.push_str(HEADER);
    out.push_str(
        "
//! Round trip and truncation for every method: each struct is built with a distinct,
//! non-default value in every field, encoded with `Method::encode`, decoded with
//! `Method::decode` and compared; every strict prefix of the encoding must fail to
//! decode (an error, never a panic). Methods with `bit` fields are checked with the bits
//! alternating, inverted, and all set.

use bytes::{Bytes, BytesMut};
use warren_protocol::method::*;
use warren_protocol::{FieldTable, FieldValue, Method};

/// A table with a few typed entries, distinct per field.
fn table(field: &str, index: i32) -> FieldTable {
    [
        (\"field\", FieldValue::LongString(Bytes::copy_from_slice(field.as_bytes()))),
        (\"index\", FieldValue::I32(index)),
        (\"flag\", FieldValue::Bool(true)),
    ]
    .into_iter()
    .collect()
}

/// Encodes `method`, checks the header and the round trip, and checks that every
/// strict prefix of the payload is rejected.
fn roundtrip(method: Method, class_id: u16, method_id: u16, name: &str) {
    assert_eq!(method.class_id(), class_id);
    assert_eq!(method.method_id(), method_id);
    assert_eq!(method.name(), name);
    let mut buf = BytesMut::new();
    method.encode(&mut buf);
    assert_eq!(&buf[..2], &class_id.to_be_bytes()[..], \"{name}: class id\");
    assert_eq!(&buf[2..4], &method_id.to_be_bytes()[..], \"{name}: method id\");
    let decoded = Method::decode(&buf).unwrap_or_else(|e| panic!(\"{name}: {e}\"));
    assert_eq!(decoded, method, \"{name}: round trip\");
    for len in 0..buf.len() {
        assert!(
            Method::decode(&buf[..len]).is_err(),
            \"{name}: a {len}-byte prefix of {} bytes decoded\",
            buf.len()
        );
    }
}
",
    );
    for c in &spec.classes {
        for m in &c.methods {
            let path = struct_path(c, m);
            let has_bits = m.fields.iter().any(|f| f.ty == BaseType::Bit);
            let cases: &[BitCase] = if has_bits {
                &[BitCase::Alternating, BitCase::Inverted, BitCase::AllTrue]
            } else {
                &[BitCase::Alternating]
            };
            let _ = writeln!(
                out,
                "\n#[test]\nfn {}_{}() {{",
                snake_case(&c.name).trim_start_matches("r#"),
                snake_case(&m.name).trim_start_matches("r#")
            );
            for case in cases {
                let _ = writeln!(
                    out,
                    "roundtrip({}.into(), {path}::CLASS_ID, {path}::METHOD_ID, {path}::NAME);",
                    struct_literal(c, m, *case)
                );
            }
            let _ = writeln!(
                out,
                "assert_eq!(({path}::CLASS_ID, {path}::METHOD_ID, {path}::NAME), ({}, {}, \"{}\"));",
                c.index,
                m.index,
                full_name(c, m)
            );
            let _ = writeln!(out, "}}");
        }
    }
    out
}

/// Formats Rust source with `rustfmt --edition 2021` (or `$RUSTFMT`), as `cargo fmt` would.
pub fn rustfmt(source: &str) -> Result<String, String> {
    let program = std::env::var("RUSTFMT").unwrap_or_else(|_| "rustfmt".to_owned());
    let mut child = Command::new(&program)
        .args(["--edition", "2021"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = source.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child
        .wait_with_output()
        .map_err(|e| format!("{program} failed: {e}"))?;
    writer
        .join()
        .map_err(|_| "writer thread panicked".to_owned())?
        .map_err(|e| format!("writing to {program}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{program} rejected the generated code ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8(output.stdout).map_err(|e| format!("{program} printed non-UTF-8: {e}"))
}

fn parse_or_panic(spec_xml: &str, extensions_xml: &str) -> Spec {
    parse(spec_xml, extensions_xml).unwrap_or_else(|e| panic!("invalid spec: {e}"))
}

/// Generates the formatted source of `warren-protocol/src/method.rs`.
///
/// # Panics
///
/// If the XML is invalid or `rustfmt` cannot be run.
pub fn generate(spec_xml: &str, extensions_xml: &str) -> String {
    let spec = parse_or_panic(spec_xml, extensions_xml);
    rustfmt(&render_methods(&spec)).unwrap_or_else(|e| panic!("{e}"))
}

/// Generates the formatted source of `warren-protocol/tests/method_roundtrip.rs`.
///
/// # Panics
///
/// If the XML is invalid or `rustfmt` cannot be run.
pub fn generate_roundtrip_tests(spec_xml: &str, extensions_xml: &str) -> String {
    let spec = parse_or_panic(spec_xml, extensions_xml);
    rustfmt(&render_roundtrip_tests(&spec)).unwrap_or_else(|e| panic!("{e}"))
}

/// Where the generator reads its input and writes its output, relative to this crate.
pub struct Paths {
    /// `spec/amqp0-9-1.extended.xml`.
    pub spec: PathBuf,
    /// `spec/extensions.xml`.
    pub extensions: PathBuf,
    /// `../warren-protocol/src/method.rs`.
    pub methods: PathBuf,
    /// `../warren-protocol/tests/method_roundtrip.rs`.
    pub roundtrip_tests: PathBuf,
}

impl Paths {
    /// The paths inside this source tree.
    pub fn in_tree() -> Paths {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        let crates = here.parent().unwrap_or(here);
        let protocol = crates.join("warren-protocol");
        Paths {
            spec: here.join("spec").join("amqp0-9-1.extended.xml"),
            extensions: here.join("spec").join("extensions.xml"),
            methods: protocol.join("src").join("method.rs"),
            roundtrip_tests: protocol.join("tests").join("method_roundtrip.rs"),
        }
    }
}

/// Every output file with its freshly generated content.
pub fn generate_all(paths: &Paths) -> Result<Vec<(PathBuf, String)>, String> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let spec_xml = read(&paths.spec)?;
    let ext_xml = read(&paths.extensions)?;
    let spec = parse(&spec_xml, &ext_xml)?;
    Ok(vec![
        (paths.methods.clone(), rustfmt(&render_methods(&spec))?),
        (
            paths.roundtrip_tests.clone(),
            rustfmt(&render_roundtrip_tests(&spec))?,
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(camel_case("start-ok"), "StartOk");
        assert_eq!(camel_case("recover-async"), "RecoverAsync");
        assert_eq!(camel_case("return"), "Return");
        assert_eq!(snake_case("reserved-1"), "reserved_1");
        assert_eq!(snake_case("no-wait"), "no_wait");
        assert_eq!(snake_case("type"), "kind");
        assert_eq!(snake_case("match"), "r#match");
    }

    const MINI: &str = r#"<amqp>
      <domain name="flag" type="bit"/>
      <domain name="alias" type="flag"/>
      <class name="demo" index="7">
        <doc>A demonstration class.  It has two sentences.</doc>
        <method name="split-bits" index="1">
          <doc>
            Two bit groups
            split by a short.
          </doc>
          <field name="a" domain="alias"/>
          <field name="b" type="bit"/>
          <field name="n" domain="short"/>
          <field name="c" domain="flag"/>
        </method>
        <method name="nine" index="2">
          <field name="b0" type="bit"/><field name="b1" type="bit"/>
          <field name="b2" type="bit"/><field name="b3" type="bit"/>
          <field name="b4" type="bit"/><field name="b5" type="bit"/>
          <field name="b6" type="bit"/><field name="b7" type="bit"/>
          <field name="b8" type="bit"/>
        </method>
      </class>
    </amqp>"#;

    const EXT: &str = r#"<amqp>
      <class name="demo" index="7">
        <method name="extra" index="3"><field name="s" domain="shortstr"/></method>
      </class>
    </amqp>"#;

    #[test]
    fn domains_resolve_through_aliases_and_extensions_merge() {
        let spec = parse(MINI, EXT).unwrap();
        assert_eq!(spec.classes.len(), 1);
        let demo = &spec.classes[0];
        assert_eq!(demo.doc.as_deref(), Some("A demonstration class."));
        assert_eq!(demo.methods.len(), 3);
        assert_eq!(
            demo.methods[0].doc.as_deref(),
            Some("Two bit groups split by a short.")
        );
        assert_eq!(demo.methods[0].fields[0].ty, BaseType::Bit);
        assert_eq!(demo.methods[2].name, "extra");
        assert_eq!(demo.methods[2].fields[0].ty, BaseType::ShortStr);
    }

    #[test]
    fn bits_split_at_non_bit_fields_and_after_eight() {
        let spec = parse(MINI, "<amqp/>").unwrap();
        let code = render_methods(&spec);
        assert!(code.contains("let bits_0 = r.u8()?;"), "{code}");
        assert!(code.contains("let b = bit(bits_0, 1);"), "{code}");
        assert!(code.contains("let n = r.u16()?;"), "{code}");
        assert!(code.contains("let c = bit(bits_1, 0);"), "{code}");
        assert!(code.contains("dst.put_u8(pack_bits(&[self.a, self.b]));"));
        assert!(code.contains("dst.put_u8(pack_bits(&[self.c]));"));
        assert!(code.contains("let b7 = bit(bits_0, 7);"), "{code}");
        assert!(code.contains("let b8 = bit(bits_1, 0);"), "{code}");
    }

    #[test]
    fn clashing_ids_are_rejected() {
        let ext = r#"<amqp><class name="demo" index="7">
            <method name="other" index="1"/></class></amqp>"#;
        let err = parse(MINI, ext).unwrap_err();
        assert!(err.contains("clashes"), "{err}");
        let ext = r#"<amqp><class name="demo" index="8"/></amqp>"#;
        assert!(parse(MINI, ext).unwrap_err().contains("index"));
    }

    #[test]
    fn unknown_domains_are_rejected() {
        let bad = r#"<amqp><class name="x" index="1"><method name="m" index="1">
            <field name="f" domain="nope"/></method></class></amqp>"#;
        assert!(parse(bad, "<amqp/>").unwrap_err().contains("nope"));
    }
}

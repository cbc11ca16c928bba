//! Rendering `warren-protocol/src/method.rs`: the file prelude and one module per class
//! with its imports; the method structs and the `Method` enum come from
//! [`crate::method_struct`] and [`crate::method_enum`].

use std::fmt::Write as _;

use crate::docs::doc_line;
use crate::method_enum::render_enum;
use crate::method_struct::render_struct;
use crate::model::{BaseType, Class, Spec};
use crate::naming::snake_case;
use crate::HEADER;

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

//! Rendering the `Method` enum: one variant per method, the id/name accessors, and
//! `Method::decode`/`Method::encode` over the whole method frame payload.

use std::fmt::Write as _;

use crate::model::{Class, MethodDef, Spec};
use crate::naming::{full_name, struct_path, variant_name};

pub(crate) fn render_enum(out: &mut String, spec: &Spec) {
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

//! Rendering one method struct: its fields, constants, `decode_args`/`encode_args`
//! (with consecutive `bit` fields packed into octets) and its `From` impl for `Method`.

use std::fmt::Write as _;

use crate::docs::{doc_line, field_doc, method_doc};
use crate::model::{BaseType, Class, FieldDef, MethodDef};
use crate::naming::{camel_case, full_name, snake_case, variant_name};

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

pub(crate) fn render_struct(out: &mut String, c: &Class, m: &MethodDef) {
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

#[cfg(test)]
mod tests {
    use crate::parse::parse;
    use crate::parse::tests::MINI;
    use crate::render_methods;

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
}

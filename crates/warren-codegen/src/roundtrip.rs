//! Rendering `warren-protocol/tests/method_roundtrip.rs`: a round-trip and truncation
//! test per method, with distinct non-default field values and several bit patterns.

use std::fmt::Write as _;

use crate::model::{BaseType, Class, FieldDef, MethodDef, Spec};
use crate::naming::{full_name, snake_case, struct_path};
use crate::HEADER;

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

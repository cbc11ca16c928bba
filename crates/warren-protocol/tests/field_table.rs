//! Field tables and arrays: property-based round trips over all 18 type codes with
//! nesting, a hand-computed byte layout for every type code, and the limits the decoder
//! enforces (nesting depth, unknown type codes, bad lengths, invalid UTF-8 keys).

mod support;

use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;
use support::{table_same, value_same};
use warren_protocol::constants::limits::MAX_TABLE_DEPTH;
use warren_protocol::wire::{put_table, Reader};
use warren_protocol::{Decimal, FieldTable, FieldValue, ProtocolError, ReplyCode};

/// A table key: any text of at most 62 characters (at most 248 UTF-8 bytes, so it fits
/// a short string without being cut).
fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_.-]{0,12}",
        prop::collection::vec(any::<char>(), 0..62).prop_map(|cs| cs.into_iter().collect()),
    ]
}

fn arb_bytes() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..48).prop_map(Bytes::from)
}

/// Every non-nesting value type: `t b B s u I i l L f d D S x T V`.
fn arb_leaf() -> impl Strategy<Value = FieldValue> {
    prop_oneof![
        any::<bool>().prop_map(FieldValue::Bool),
        any::<i8>().prop_map(FieldValue::I8),
        any::<u8>().prop_map(FieldValue::U8),
        any::<i16>().prop_map(FieldValue::I16),
        any::<u16>().prop_map(FieldValue::U16),
        any::<i32>().prop_map(FieldValue::I32),
        any::<u32>().prop_map(FieldValue::U32),
        any::<i64>().prop_map(FieldValue::I64),
        any::<u64>().prop_map(FieldValue::U64),
        any::<f32>().prop_map(FieldValue::F32),
        any::<f64>().prop_map(FieldValue::F64),
        (any::<u8>(), any::<u32>())
            .prop_map(|(scale, value)| FieldValue::Decimal(Decimal { scale, value })),
        arb_bytes().prop_map(FieldValue::LongString),
        arb_bytes().prop_map(FieldValue::Bytes),
        any::<u64>().prop_map(FieldValue::Timestamp),
        Just(FieldValue::Void),
    ]
}

/// Any value, with tables (`F`) and arrays (`A`) nested up to four levels.
fn arb_value() -> impl Strategy<Value = FieldValue> {
    arb_leaf().prop_recursive(4, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec((arb_key(), inner.clone()), 0..8)
                .prop_map(|entries| FieldValue::Table(entries.into_iter().collect())),
            prop::collection::vec(inner, 0..8).prop_map(FieldValue::Array),
        ]
    })
}

fn arb_table() -> impl Strategy<Value = FieldTable> {
    prop::collection::vec((arb_key(), arb_value()), 0..10)
        .prop_map(|entries| entries.into_iter().collect())
}

fn encode(t: &FieldTable) -> BytesMut {
    let mut buf = BytesMut::new();
    put_table(&mut buf, t);
    buf
}

fn decode(bytes: &[u8]) -> Result<FieldTable, ProtocolError> {
    let mut r = Reader::new(bytes, "test table");
    let t = r.table()?;
    r.finish()?;
    Ok(t)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn table_round_trips(table in arb_table()) {
        let bytes = encode(&table);
        let declared = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        prop_assert_eq!(declared, bytes.len() - 4, "length prefix");
        let back = decode(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(table_same(&table, &back), "{:?} != {:?}", table, back);
        // Wire order is kept, so re-encoding what was decoded gives the same bytes.
        prop_assert_eq!(encode(&back), bytes);
    }

    #[test]
    fn value_round_trips_inside_a_table(value in arb_value()) {
        let table: FieldTable = [("v", value.clone())].into_iter().collect();
        let back = decode(&encode(&table)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let got = back.get("v").expect("key survives");
        prop_assert!(value_same(&value, got), "{:?} != {:?}", value, got);
        prop_assert_eq!(value.type_code(), got.type_code());
    }

    #[test]
    fn every_strict_prefix_is_rejected(table in arb_table()) {
        let bytes = encode(&table);
        for len in 0..bytes.len() {
            prop_assert!(decode(&bytes[..len]).is_err(), "{}-byte prefix decoded", len);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(&bytes);
    }
}

/// One entry of every type, laid out by hand from RabbitMQ's type-code table, so that a
/// swapped code (say `i` for `I`) cannot survive by round-tripping consistently.
#[test]
fn every_type_code_has_the_rabbitmq_layout() {
    let nested: FieldTable = [("n", FieldValue::Bool(false))].into_iter().collect();
    let table: FieldTable = [
        ("t", FieldValue::Bool(true)),
        ("b", FieldValue::I8(-2)),
        ("B", FieldValue::U8(0xFE)),
        ("s", FieldValue::I16(-2)),
        ("u", FieldValue::U16(0xFFFE)),
        ("I", FieldValue::I32(-2)),
        ("i", FieldValue::U32(0xFFFF_FFFE)),
        ("l", FieldValue::I64(-2)),
        ("L", FieldValue::U64(u64::MAX - 1)),
        ("f", FieldValue::F32(1.5)),
        ("d", FieldValue::F64(-0.25)),
        (
            "D",
            FieldValue::Decimal(Decimal {
                scale: 2,
                value: 12345,
            }),
        ),
        ("S", FieldValue::string("hi")),
        ("x", FieldValue::Bytes(Bytes::from_static(&[0, 0xFF]))),
        ("T", FieldValue::Timestamp(0x0102_0304_0506_0708)),
        ("F", FieldValue::Table(nested)),
        (
            "A",
            FieldValue::Array(vec![FieldValue::U8(7), FieldValue::Void]),
        ),
        ("V", FieldValue::Void),
    ]
    .into_iter()
    .collect();

    let mut body: Vec<u8> = Vec::new();
    let mut entry = |key: u8, code: u8, value: &[u8]| {
        body.extend_from_slice(&[1, key, code]);
        body.extend_from_slice(value);
    };
    entry(b't', b't', &[1]);
    entry(b'b', b'b', &[0xFE]);
    entry(b'B', b'B', &[0xFE]);
    entry(b's', b's', &[0xFF, 0xFE]);
    entry(b'u', b'u', &[0xFF, 0xFE]);
    entry(b'I', b'I', &[0xFF, 0xFF, 0xFF, 0xFE]);
    entry(b'i', b'i', &[0xFF, 0xFF, 0xFF, 0xFE]);
    entry(
        b'l',
        b'l',
        &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE],
    );
    entry(
        b'L',
        b'L',
        &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE],
    );
    entry(b'f', b'f', &[0x3F, 0xC0, 0x00, 0x00]); // 1.5f32
    entry(b'd', b'd', &[0xBF, 0xD0, 0, 0, 0, 0, 0, 0]); // -0.25f64
    entry(b'D', b'D', &[2, 0x00, 0x00, 0x30, 0x39]); // scale 2, 12345
    entry(b'S', b'S', &[0, 0, 0, 2, b'h', b'i']);
    entry(b'x', b'x', &[0, 0, 0, 2, 0x00, 0xFF]);
    entry(b'T', b'T', &[1, 2, 3, 4, 5, 6, 7, 8]);
    entry(b'F', b'F', &[0, 0, 0, 4, 1, b'n', b't', 0]);
    entry(b'A', b'A', &[0, 0, 0, 3, b'B', 7, b'V']);
    entry(b'V', b'V', &[]);
    let mut expected = (body.len() as u32).to_be_bytes().to_vec();
    expected.extend_from_slice(&body);

    assert_eq!(encode(&table).to_vec(), expected);
    assert!(table_same(&decode(&expected).expect("decodes"), &table));
    // All 18 codes are covered above.
    let codes: std::collections::BTreeSet<u8> = table.iter().map(|(_, v)| v.type_code()).collect();
    assert_eq!(codes.len(), 18);
}

#[test]
fn a_boolean_octet_other_than_one_reads_as_true() {
    let bytes = [0, 0, 0, 4, 1, b'k', b't', 0x02];
    let t = decode(&bytes).expect("decodes");
    assert_eq!(t.get("k"), Some(&FieldValue::Bool(true)));
}

#[test]
fn duplicate_keys_are_kept_in_wire_order_and_get_returns_the_first() {
    let bytes = [0, 0, 0, 8, 1, b'k', b'B', 1, 1, b'k', b'B', 2];
    let t = decode(&bytes).expect("decodes");
    assert_eq!(t.len(), 2);
    assert_eq!(t.get("k"), Some(&FieldValue::U8(1)));
    assert_eq!(encode(&t).to_vec(), bytes);
}

#[test]
fn equivalent_ignores_order_but_eq_does_not() {
    let a: FieldTable = [("x", FieldValue::U8(1)), ("y", FieldValue::U8(2))]
        .into_iter()
        .collect();
    let b: FieldTable = [("y", FieldValue::U8(2)), ("x", FieldValue::U8(1))]
        .into_iter()
        .collect();
    assert!(a.equivalent(&b));
    assert_ne!(a, b);
    let c: FieldTable = [("x", FieldValue::U8(1)), ("y", FieldValue::U8(3))]
        .into_iter()
        .collect();
    assert!(!a.equivalent(&c));
}

#[test]
fn every_unknown_type_code_is_a_frame_error() {
    let known = b"tbBsuIilLfdDSxTFAV";
    for code in 0..=u8::MAX {
        let bytes = [0, 0, 0, 11, 1, b'k', code, 0, 0, 0, 0, 0, 0, 0, 0];
        let result = decode(&bytes);
        if known.contains(&code) {
            // The zero padding may fail to decode after this value, but never as an
            // unknown type of this code.
            assert!(
                !matches!(result, Err(ProtocolError::UnknownFieldType(c)) if c == char::from(code)),
                "known type code {code:#04x} refused"
            );
            continue;
        }
        match result {
            Err(e @ ProtocolError::UnknownFieldType(c)) => {
                assert_eq!(c, char::from(code));
                assert_eq!(e.reply_code(), ReplyCode::FrameError);
            }
            other => panic!("type code {code:#04x}: {other:?}"),
        }
    }
}

#[test]
fn lengths_past_the_end_are_rejected_without_allocating_them() {
    // A table claiming 4 GiB, a long string claiming 4 GiB inside a small table, and an
    // array claiming more than its table holds.
    for bytes in [
        vec![0xFF, 0xFF, 0xFF, 0xFF, 1, b'k', b'V'],
        vec![0, 0, 0, 7, 1, b'k', b'S', 0xFF, 0xFF, 0xFF, 0xFF],
        vec![0, 0, 0, 8, 1, b'k', b'A', 0, 0, 0, 9, b'V'],
    ] {
        let err = decode(&bytes).expect_err("must not decode");
        assert!(
            matches!(err, ProtocolError::Truncated { .. }),
            "{bytes:?}: {err:?}"
        );
        assert_eq!(err.reply_code(), ReplyCode::FrameError);
    }
}

#[test]
fn a_key_that_is_not_utf8_is_a_frame_error() {
    let bytes = [0, 0, 0, 4, 2, 0xC3, 0x28, b'V'];
    let err = decode(&bytes).expect_err("invalid UTF-8 key");
    assert!(matches!(err, ProtocolError::InvalidUtf8 { .. }), "{err:?}");
    assert_eq!(err.reply_code(), ReplyCode::FrameError);
}

/// Encodes a chain of `depth` tables (the outermost included), each holding the next
/// under key `k`, the innermost holding `k: V`; `array_every` > 0 wraps every n-th level
/// in a one-element array. Written front to back in linear time, so a very deep chain is
/// cheap to build.
fn nested_bytes(depth: usize, array_every: usize) -> Vec<u8> {
    let wrapped = |level: usize| level.checked_rem(array_every) == Some(0);
    // content[level]: byte length of the table body at `level` (0 = innermost).
    let mut content = vec![3usize];
    for level in 1..depth {
        let array = if wrapped(level) { 5 } else { 0 };
        content.push(2 + array + 5 + content[level - 1]);
    }
    let mut out = Vec::with_capacity(content[depth - 1] + 4);
    out.extend_from_slice(&(content[depth - 1] as u32).to_be_bytes());
    for level in (1..depth).rev() {
        out.extend_from_slice(&[1, b'k']);
        if wrapped(level) {
            out.push(b'A');
            out.extend_from_slice(&((content[level - 1] + 5) as u32).to_be_bytes());
        }
        out.push(b'F');
        out.extend_from_slice(&(content[level - 1] as u32).to_be_bytes());
    }
    out.extend_from_slice(&[1, b'k', b'V']);
    out
}

#[test]
fn nesting_up_to_the_limit_decodes() {
    let bytes = nested_bytes(MAX_TABLE_DEPTH, 0);
    let mut t = decode(&bytes).expect("the deepest accepted nesting decodes");
    let mut levels = 1;
    while let Some(FieldValue::Table(inner)) = t.get("k").cloned() {
        t = inner;
        levels += 1;
    }
    assert_eq!(levels, MAX_TABLE_DEPTH);
}

#[test]
fn nesting_past_the_limit_is_a_syntax_error() {
    let err = decode(&nested_bytes(MAX_TABLE_DEPTH + 1, 0)).expect_err("too deep");
    assert!(matches!(err, ProtocolError::TableTooDeep(_)), "{err:?}");
    assert_eq!(err.reply_code(), ReplyCode::SyntaxError);
}

#[test]
fn hostile_nesting_is_rejected_without_overflowing_the_stack() {
    // 200 000 levels of tables, and of tables inside arrays: recursing once per level
    // would overflow the test thread's stack long before the end.
    for array_every in [0, 1, 3] {
        let bytes = nested_bytes(200_000, array_every);
        let err = decode(&bytes).expect_err("too deep");
        assert!(
            matches!(err, ProtocolError::TableTooDeep(_)),
            "array_every {array_every}: {err:?}"
        );
    }
}

#[test]
fn arrays_count_towards_the_depth_limit() {
    // A chain of arrays only: A [ A [ ... ] ] inside one table.
    let depth = MAX_TABLE_DEPTH + 5;
    let mut inner: Vec<u8> = vec![b'V'];
    for _ in 0..depth {
        let mut outer = vec![b'A'];
        outer.extend_from_slice(&(inner.len() as u32).to_be_bytes());
        outer.extend_from_slice(&inner);
        inner = outer;
    }
    let mut bytes = BytesMut::new();
    bytes.put_u32(inner.len() as u32 + 2);
    bytes.put_slice(&[1, b'k']);
    bytes.put_slice(&inner);
    let err = decode(&bytes).expect_err("too deep");
    assert!(matches!(err, ProtocolError::TableTooDeep(_)), "{err:?}");
}

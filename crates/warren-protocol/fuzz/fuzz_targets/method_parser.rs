//! The payload parsers on arbitrary bytes: `Method::decode`, `ContentHeader::decode`,
//! `BasicProperties::decode` and field-table reading. None may panic; whatever decodes
//! must re-encode to bytes that decode to the same value and re-encode identically.
//!
//! Input layout: octet 0 picks the parser, the rest is its input.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use warren_protocol::wire::{put_table, Reader};
use warren_protocol::{BasicProperties, ContentHeader, Method};

/// Asserts that `first` (encoded from the first decode) decodes and re-encodes to itself,
/// and that the two decoded values print the same (Debug makes NaN equal to itself).
fn assert_stable<T: std::fmt::Debug>(
    value: &T,
    first: &[u8],
    decode: impl Fn(&[u8]) -> Result<T, warren_protocol::ProtocolError>,
    encode: impl Fn(&T, &mut BytesMut),
) {
    let again = decode(first).unwrap_or_else(|e| panic!("re-encoded value fails to decode: {e}"));
    assert_eq!(format!("{value:?}"), format!("{again:?}"), "value changed");
    let mut second = BytesMut::new();
    encode(&again, &mut second);
    assert_eq!(first, &second[..], "encoding is not stable");
}

fn method(data: &[u8]) {
    if let Ok(m) = Method::decode(data) {
        let mut first = BytesMut::new();
        m.encode(&mut first);
        assert_eq!(&first[..4], &data[..4], "class and method ids change");
        assert_stable(&m, &first, Method::decode, |m, dst| m.encode(dst));
    }
}

fn header(data: &[u8]) {
    if let Ok(h) = ContentHeader::decode(data) {
        let mut first = BytesMut::new();
        h.encode(&mut first);
        assert_stable(&h, &first, ContentHeader::decode, |h, dst| h.encode(dst));
    }
}

fn decode_props(bytes: &[u8]) -> Result<BasicProperties, warren_protocol::ProtocolError> {
    let mut r = Reader::new(bytes, "properties");
    let p = BasicProperties::decode(&mut r)?;
    r.finish()?;
    Ok(p)
}

fn properties(data: &[u8]) {
    let mut r = Reader::new(data, "properties");
    if let Ok(p) = BasicProperties::decode(&mut r) {
        let mut first = BytesMut::new();
        p.encode(&mut first);
        assert_stable(&p, &first, decode_props, |p, dst| p.encode(dst));
    }
}

fn table(data: &[u8]) {
    let mut r = Reader::new(data, "table");
    if let Ok(t) = r.table() {
        let mut first = BytesMut::new();
        put_table(&mut first, &t);
        let decode = |bytes: &[u8]| -> Result<_, warren_protocol::ProtocolError> {
            let mut r = Reader::new(bytes, "table");
            let t = r.table()?;
            r.finish()?;
            Ok(t)
        };
        assert_stable(&t, &first, decode, |t, dst| put_table(dst, t));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 4 {
        0 => method(rest),
        1 => header(rest),
        2 => properties(rest),
        _ => table(rest),
    }
});

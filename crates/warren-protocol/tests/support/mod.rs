//! Helpers shared by the integration tests: fixture loading, raw frame building,
//! whole-buffer decoding and bit-exact comparison of field values.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;

use bytes::{BufMut, BytesMut};
use tokio_util::codec::Decoder;
use warren_protocol::constants::FRAME_END;
use warren_protocol::{BasicProperties, FieldTable, FieldValue, Frame, FrameCodec, ProtocolError};

/// The bytes of `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A raw frame: type, channel, size, `payload`, frame end.
pub fn raw_frame(frame_type: u8, channel: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.push(frame_type);
    out.extend_from_slice(&channel.to_be_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out.push(FRAME_END);
    out
}

/// Decodes every frame in `bytes`; fails if anything is left over.
pub fn decode_all(codec: &mut FrameCodec, bytes: &[u8]) -> Result<Vec<Frame>, ProtocolError> {
    let mut src = BytesMut::from(bytes);
    let mut frames = Vec::new();
    while let Some(frame) = codec.decode(&mut src)? {
        frames.push(frame);
    }
    assert!(src.is_empty(), "{} undecoded bytes left over", src.len());
    Ok(frames)
}

/// Decodes `bytes` fed one octet at a time, checking that the decoder reports "incomplete"
/// until the last octet of every frame has arrived.
pub fn decode_bytewise(codec: &mut FrameCodec, bytes: &[u8]) -> Vec<Frame> {
    let mut src = BytesMut::new();
    let mut frames = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        src.put_u8(b);
        if let Some(frame) = codec.decode(&mut src).expect("valid input") {
            assert!(
                src.is_empty(),
                "a frame completed before octet {i} was consumed"
            );
            frames.push(frame);
        }
    }
    assert!(
        src.is_empty(),
        "{} bytes of an incomplete frame left",
        src.len()
    );
    frames
}

/// Whether two values are equal, with floats compared bit for bit (so NaN equals the
/// same NaN and 0.0 differs from -0.0).
pub fn value_same(a: &FieldValue, b: &FieldValue) -> bool {
    match (a, b) {
        (FieldValue::F32(x), FieldValue::F32(y)) => x.to_bits() == y.to_bits(),
        (FieldValue::F64(x), FieldValue::F64(y)) => x.to_bits() == y.to_bits(),
        (FieldValue::Table(x), FieldValue::Table(y)) => table_same(x, y),
        (FieldValue::Array(x), FieldValue::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| value_same(a, b))
        }
        _ => a == b,
    }
}

/// Whether two tables hold the same entries in the same order (see [`value_same`]).
pub fn table_same(a: &FieldTable, b: &FieldTable) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b.iter())
            .all(|((ka, va), (kb, vb))| ka == kb && value_same(va, vb))
}

/// Whether two property sets are equal (headers compared with [`table_same`]).
pub fn props_same(a: &BasicProperties, b: &BasicProperties) -> bool {
    let headers = match (&a.headers, &b.headers) {
        (Some(x), Some(y)) => table_same(x, y),
        (None, None) => true,
        _ => false,
    };
    let strip = |p: &BasicProperties| BasicProperties {
        headers: None,
        ..p.clone()
    };
    headers && strip(a) == strip(b)
}

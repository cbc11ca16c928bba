//! Arbitrary bytes, fed in arbitrary chunks, through `FrameCodec` with a small
//! `frame_max`. The decoder must never panic, never grow its buffer towards a size the
//! input only claims, decode the same frames (and fail the same way) however the input is
//! chunked, and every decoded frame must re-encode to something that decodes the same.
//!
//! Input layout: octet 0 = how many chunk sizes follow (1 to 8), octet 1 = frame_max
//! selector (4096 + 16 * n), then the chunk sizes (1 to 256 each, cycled), then the
//! stream.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;
use warren_protocol::frame::write_header_raw;
use warren_protocol::properties::BASIC_CLASS_ID;
use warren_protocol::{Frame, FrameCodec};

/// Frames decoded, with the input bytes each came from, and how decoding ended.
struct Run {
    frames: Vec<(Frame, Vec<u8>)>,
    end: Result<usize, String>,
}

fn run(stream: &[u8], frame_max: u32, chunks: &[usize]) -> Run {
    let mut codec = FrameCodec::new(frame_max);
    let mut src = BytesMut::new();
    let mut frames = Vec::new();
    let mut at = 0;
    let mut sizes = chunks.iter().cycle();
    let limit = 64 * 1024 + 4 * stream.len();
    while at < stream.len() {
        let n = sizes.next().copied().unwrap_or(1).min(stream.len() - at);
        src.extend_from_slice(&stream[at..at + n]);
        at += n;
        loop {
            // The bytes of the frame about to be decoded start at `start` in `stream`.
            let start = at - src.len();
            match codec.decode(&mut src) {
                Ok(Some(f)) => {
                    let end = at - src.len();
                    frames.push((f, stream[start..end].to_vec()));
                }
                Ok(None) => break,
                Err(e) => {
                    return Run {
                        frames,
                        end: Err(e.to_string()),
                    }
                }
            }
            assert!(src.capacity() <= limit, "buffer grew to {}", src.capacity());
        }
        assert!(src.capacity() <= limit, "buffer grew to {}", src.capacity());
    }
    Run {
        frames,
        end: Ok(src.len()),
    }
}

fn check_reencoding(frame: &Frame, original: &[u8], frame_max: u32) {
    let mut again = BytesMut::new();
    match frame {
        Frame::Header {
            channel,
            header,
            raw_properties,
        } if header.class_id == BASIC_CLASS_ID => {
            // The pass-through path reproduces the header frame exactly.
            write_header_raw(&mut again, *channel, header.body_size, raw_properties);
            assert_eq!(
                &again[..],
                original,
                "header frame did not re-encode exactly"
            );
        }
        Frame::Body { .. } | Frame::Heartbeat => {
            frame.encode(&mut again);
            assert_eq!(&again[..], original, "frame did not re-encode exactly");
        }
        _ => frame.encode(&mut again),
    }
    // Whatever it encodes to decodes to the same frame (bit packing and booleans may be
    // normalised, so compare values, not bytes; Debug makes NaN equal to itself).
    let mut codec = FrameCodec::new(frame_max.max(again.len() as u32));
    let back = codec
        .decode(&mut again)
        .expect("a re-encoded frame decodes")
        .expect("a re-encoded frame is complete");
    assert!(again.is_empty());
    let (a, b) = match (frame, &back) {
        // raw_properties keeps the original flag bits; compare the decoded header.
        (Frame::Header { header: a, .. }, Frame::Header { header: b, .. }) => {
            (format!("{a:?}"), format!("{b:?}"))
        }
        _ => (format!("{frame:?}"), format!("{back:?}")),
    };
    assert_eq!(a, b, "re-encoded frame decodes differently");
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let n_chunks = usize::from(data[0] % 8) + 1;
    let frame_max = 4096 + 16 * u32::from(data[1]);
    let Some(chunk_bytes) = data.get(2..2 + n_chunks) else {
        return;
    };
    let chunks: Vec<usize> = chunk_bytes.iter().map(|&b| usize::from(b) + 1).collect();
    let stream = &data[2 + n_chunks..];

    let chunked = run(stream, frame_max, &chunks);
    let whole = run(stream, frame_max, &[stream.len().max(1)]);
    assert_eq!(
        format!("{:?}", chunked.frames),
        format!("{:?}", whole.frames),
        "chunking changed the frames"
    );
    assert_eq!(
        chunked.end, whole.end,
        "chunking changed how decoding ended"
    );
    for (frame, original) in &whole.frames {
        check_reencoding(frame, original, frame_max);
    }
});

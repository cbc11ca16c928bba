//! The frame codec: every frame type through the encoder and decoder, streams split at
//! every byte boundary, the `frame_max` limit (never allocating a hostile size), the
//! error and reply code for each kind of bad input, and body splitting at `frame_max`.

mod support;

use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;
use support::{decode_all, decode_bytewise, raw_frame};
use tokio_util::codec::{Decoder, Encoder};
use warren_protocol::constants::{
    FRAME_BODY, FRAME_END, FRAME_HEADER, FRAME_HEARTBEAT, FRAME_METHOD, FRAME_MIN_SIZE,
    FRAME_SIZE_TOLERANCE,
};
use warren_protocol::frame::{max_body_payload, write_body, write_content, write_heartbeat};
use warren_protocol::method::{basic, queue};
use warren_protocol::{
    BasicProperties, ContentHeader, FieldValue, Frame, FrameCodec, Method, ProtocolError,
    ReplyCode, PROTOCOL_HEADER,
};

fn publish() -> Method {
    Method::BasicPublish(basic::Publish {
        reserved_1: 0,
        exchange: "amq.topic".into(),
        routing_key: "a.b.c".into(),
        mandatory: true,
        immediate: false,
    })
}

fn props() -> BasicProperties {
    BasicProperties {
        content_type: Some("application/octet-stream".into()),
        headers: Some([("x-n", FieldValue::I32(-7))].into_iter().collect()),
        delivery_mode: Some(2),
        ..Default::default()
    }
}

/// One frame of every type, on assorted channels.
fn sample_frames() -> Vec<Frame> {
    let props = props();
    let mut raw = BytesMut::new();
    props.encode(&mut raw);
    vec![
        Frame::Method {
            channel: 3,
            method: publish(),
        },
        Frame::Header {
            channel: 3,
            header: Box::new(ContentHeader {
                class_id: 60,
                body_size: 5,
                properties: props,
            }),
            raw_properties: raw.freeze(),
        },
        Frame::Body {
            channel: 3,
            payload: Bytes::from_static(b"hello"),
        },
        Frame::Heartbeat,
        Frame::Body {
            channel: 65_535,
            payload: Bytes::new(),
        },
        Frame::Method {
            channel: 0,
            method: Method::ConnectionCloseOk(Default::default()),
        },
    ]
}

fn encode_frames(frames: &[Frame]) -> BytesMut {
    let mut codec = FrameCodec::default();
    let mut buf = BytesMut::new();
    for f in frames {
        codec.encode(f, &mut buf).expect("encoding cannot fail");
    }
    buf
}

/// Decodes one frame from `bytes` with `codec`, which must be complete.
fn decode_one(codec: &mut FrameCodec, bytes: &[u8]) -> Result<Frame, ProtocolError> {
    let mut src = BytesMut::from(bytes);
    let frame = codec.decode(&mut src)?.expect("a complete frame");
    assert!(src.is_empty(), "the whole frame is consumed");
    Ok(frame)
}

fn decode_err(codec: &mut FrameCodec, bytes: &[u8]) -> ProtocolError {
    let mut src = BytesMut::from(bytes);
    match codec.decode(&mut src) {
        Err(e) => e,
        Ok(other) => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn every_frame_type_round_trips() {
    let frames = sample_frames();
    let bytes = encode_frames(&frames);
    let decoded = decode_all(&mut FrameCodec::default(), &bytes).expect("valid frames");
    assert_eq!(decoded, frames);
    let channels: Vec<u16> = decoded.iter().map(Frame::channel).collect();
    assert_eq!(channels, [3, 3, 3, 0, 65_535, 0]);
    // The owned and borrowed encoders agree with Frame::encode.
    for f in &frames {
        let mut a = BytesMut::new();
        f.encode(&mut a);
        let mut b = BytesMut::new();
        Encoder::<Frame>::encode(&mut FrameCodec::default(), f.clone(), &mut b).expect("encodes");
        assert_eq!(a, b);
    }
}

#[test]
fn frame_type_octets_and_heartbeat_bytes() {
    let bytes = encode_frames(&sample_frames());
    let mut at = 0;
    let mut types = Vec::new();
    while at < bytes.len() {
        types.push(bytes[at]);
        let size = u32::from_be_bytes([bytes[at + 3], bytes[at + 4], bytes[at + 5], bytes[at + 6]]);
        at += size as usize + 8;
        assert_eq!(bytes[at - 1], FRAME_END);
    }
    assert_eq!(
        types,
        [
            FRAME_METHOD,
            FRAME_HEADER,
            FRAME_BODY,
            FRAME_HEARTBEAT,
            FRAME_BODY,
            FRAME_METHOD
        ]
    );
    let mut hb = BytesMut::new();
    write_heartbeat(&mut hb);
    assert_eq!(&hb[..], &[8, 0, 0, 0, 0, 0, 0, 0xCE]);
}

#[test]
fn a_stream_split_at_every_boundary_decodes_the_same() {
    let frames = sample_frames();
    let bytes = encode_frames(&frames);
    // Octet by octet: no frame completes before its last octet.
    assert_eq!(decode_bytewise(&mut FrameCodec::default(), &bytes), frames);
    // Two reads, split at every position.
    for split in 0..=bytes.len() {
        let mut codec = FrameCodec::default();
        let mut src = BytesMut::from(&bytes[..split]);
        let mut got = Vec::new();
        while let Some(f) = codec.decode(&mut src).expect("valid prefix") {
            got.push(f);
        }
        src.extend_from_slice(&bytes[split..]);
        while let Some(f) = codec.decode(&mut src).expect("valid stream") {
            got.push(f);
        }
        assert!(src.is_empty());
        assert_eq!(got, frames, "split at {split}");
    }
}

#[test]
fn every_strict_prefix_of_a_frame_is_incomplete_not_an_error() {
    for frame in sample_frames() {
        let mut bytes = BytesMut::new();
        frame.encode(&mut bytes);
        for len in 0..bytes.len() {
            let mut src = BytesMut::from(&bytes[..len]);
            let got = FrameCodec::default().decode(&mut src);
            assert!(
                matches!(got, Ok(None)),
                "{len}-byte prefix of {frame:?}: {got:?}"
            );
            assert_eq!(src.len(), len, "an incomplete frame consumes nothing");
        }
    }
}

#[test]
fn frame_max_is_enforced_with_rabbitmqs_tolerance() {
    let mut codec = FrameCodec::new(4096);
    // A body frame of exactly frame_max octets, and the 8 octets RabbitMQ tolerates
    // (a payload of frame_max: `{frame_too_large,131073,131064}` only past that).
    assert_eq!(FRAME_SIZE_TOLERANCE, 8);
    for total in [4096usize, 4104] {
        let frame = raw_frame(FRAME_BODY, 1, &vec![0x5A; total - 8]);
        assert!(matches!(
            decode_one(&mut codec, &frame),
            Ok(Frame::Body { .. })
        ));
    }
    let frame = raw_frame(FRAME_BODY, 1, &vec![0x5A; 4097]);
    let err = decode_err(&mut codec, &frame);
    assert!(
        matches!(
            err,
            ProtocolError::FrameTooLarge {
                size: 4105,
                frame_max: 4096
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.reply_code(), ReplyCode::FrameError);
}

#[test]
fn an_oversized_frame_is_refused_from_its_header_without_allocating() {
    for size in [4097u32, 1 << 20, u32::MAX - 8, u32::MAX] {
        let mut src = BytesMut::with_capacity(16);
        src.put_u8(FRAME_BODY);
        src.put_u16(1);
        src.put_u32(size);
        let cap = src.capacity();
        let err = FrameCodec::new(4096)
            .decode(&mut src)
            .expect_err("too large");
        assert!(
            matches!(err, ProtocolError::FrameTooLarge { .. }),
            "{err:?}"
        );
        assert_eq!(err.reply_code(), ReplyCode::FrameError);
        assert_eq!(src.capacity(), cap, "size {size}: the buffer grew");
    }
}

#[test]
fn an_incomplete_frame_reserves_at_most_frame_max() {
    let frame_max = 131_072u32;
    let mut codec = FrameCodec::new(frame_max);
    let mut src = BytesMut::new();
    src.put_u8(FRAME_BODY);
    src.put_u16(1);
    src.put_u32(frame_max); // the largest payload accepted
    assert!(matches!(codec.decode(&mut src), Ok(None)));
    assert!(
        src.capacity() <= 2 * (frame_max as usize + 16),
        "capacity {}",
        src.capacity()
    );
}

#[test]
fn the_protocol_header_is_not_a_frame() {
    // The connection reads the 8-byte header itself; should it reach the frame decoder,
    // "AMQP" reads as a huge frame and is refused at once.
    let err = decode_err(&mut FrameCodec::default(), &PROTOCOL_HEADER);
    assert!(
        matches!(err, ProtocolError::FrameTooLarge { .. }),
        "{err:?}"
    );
}

#[test]
fn frame_max_below_the_minimum_is_raised_to_it() {
    assert_eq!(FrameCodec::new(0).frame_max(), FRAME_MIN_SIZE);
    assert_eq!(FrameCodec::new(512).frame_max(), FRAME_MIN_SIZE);
    assert_eq!(FrameCodec::default().frame_max(), FRAME_MIN_SIZE);
    let mut codec = FrameCodec::default();
    let big = raw_frame(FRAME_BODY, 1, &vec![1; 10_000]);
    assert!(decode_one(&mut codec, &big).is_err());
    codec.set_frame_max(131_072);
    assert_eq!(codec.frame_max(), 131_072);
    assert!(decode_one(&mut codec, &big).is_ok());
    codec.set_frame_max(1);
    assert_eq!(codec.frame_max(), FRAME_MIN_SIZE);
}

/// A valid method payload prefix (class, method) plus `rest`.
fn method_payload(class: u16, method: u16, rest: &[u8]) -> Vec<u8> {
    let mut p = class.to_be_bytes().to_vec();
    p.extend_from_slice(&method.to_be_bytes());
    p.extend_from_slice(rest);
    p
}

#[test]
fn bad_input_maps_to_rabbitmqs_reply_codes() {
    let qos_args = [0, 0, 0, 0, 0, 1, 0];
    // queue.declare: ticket, name, bits, then `table`.
    let declare = |name: &[u8], table: &[u8]| {
        let mut rest = vec![0, 0, name.len() as u8];
        rest.extend_from_slice(name);
        rest.push(0);
        rest.extend_from_slice(table);
        raw_frame(FRAME_METHOD, 1, &method_payload(50, 10, &rest))
    };
    let mut deep = vec![1, b'k', b'V'];
    for _ in 0..100 {
        let mut outer = vec![1, b'k', b'F'];
        outer.extend_from_slice(&(deep.len() as u32).to_be_bytes());
        outer.extend_from_slice(&deep);
        deep = outer;
    }
    let mut deep_table = (deep.len() as u32).to_be_bytes().to_vec();
    deep_table.extend_from_slice(&deep);

    let mut bad_end = raw_frame(FRAME_METHOD, 1, &method_payload(60, 10, &qos_args));
    *bad_end.last_mut().expect("non-empty") = 0x00;

    let cases: Vec<(&str, Vec<u8>, ReplyCode)> = vec![
        ("bad frame end", bad_end, ReplyCode::FrameError),
        ("frame type 0", raw_frame(0, 0, b""), ReplyCode::FrameError),
        (
            "frame type 4 (0-8 oob)",
            raw_frame(4, 1, b""),
            ReplyCode::FrameError,
        ),
        (
            "frame type 7",
            raw_frame(7, 1, b"hello"),
            ReplyCode::FrameError,
        ),
        (
            "frame type 255",
            raw_frame(255, 0, b""),
            ReplyCode::FrameError,
        ),
        (
            "heartbeat on channel 1",
            raw_frame(FRAME_HEARTBEAT, 1, b""),
            ReplyCode::UnexpectedFrame,
        ),
        (
            "heartbeat with a payload",
            raw_frame(FRAME_HEARTBEAT, 0, b"abc"),
            ReplyCode::FrameError,
        ),
        (
            "unknown class 99",
            raw_frame(FRAME_METHOD, 1, &method_payload(99, 1, b"")),
            ReplyCode::NotImplemented,
        ),
        (
            "unknown method basic/999",
            raw_frame(FRAME_METHOD, 1, &method_payload(60, 999, b"")),
            ReplyCode::NotImplemented,
        ),
        (
            "method frame with a 2-byte payload",
            raw_frame(FRAME_METHOD, 1, &[0, 60]),
            ReplyCode::FrameError,
        ),
        (
            "empty method frame",
            raw_frame(FRAME_METHOD, 1, b""),
            ReplyCode::FrameError,
        ),
        (
            "basic.qos without arguments",
            raw_frame(FRAME_METHOD, 1, &method_payload(60, 10, b"")),
            ReplyCode::FrameError,
        ),
        (
            "basic.qos with trailing junk",
            raw_frame(
                FRAME_METHOD,
                1,
                &method_payload(60, 10, &[&qos_args[..], b"junk"].concat()),
            ),
            ReplyCode::FrameError,
        ),
        (
            "queue name not UTF-8",
            declare(&[0xC3, 0x28], &[0, 0, 0, 0]),
            ReplyCode::FrameError,
        ),
        (
            "arguments with an unknown field type",
            declare(b"q", &[0, 0, 0, 4, 1, b'k', b'Z', 0]),
            ReplyCode::FrameError,
        ),
        (
            "arguments table longer than the frame",
            declare(b"q", &[0, 0, 0, 100, 1, b'k', b'V']),
            ReplyCode::FrameError,
        ),
        (
            "arguments nested 101 tables deep",
            declare(b"q", &deep_table),
            ReplyCode::SyntaxError,
        ),
        (
            "header shorter than its fixed fields",
            raw_frame(FRAME_HEADER, 1, &[0, 60, 0, 0, 0]),
            ReplyCode::FrameError,
        ),
        (
            "header with weight 1",
            raw_frame(
                FRAME_HEADER,
                1,
                &[0, 60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0],
            ),
            ReplyCode::UnexpectedFrame,
        ),
    ];
    for (label, bytes, code) in cases {
        let err = decode_err(&mut FrameCodec::new(131_072), &bytes);
        assert_eq!(err.reply_code(), code, "{label}: {err}");
        assert!(err.reply_code().is_hard_error(), "{label}");
    }
}

#[test]
fn unknown_methods_name_their_ids() {
    let err = decode_err(
        &mut FrameCodec::default(),
        &raw_frame(FRAME_METHOD, 1, &method_payload(60, 999, b"")),
    );
    assert!(
        matches!(
            err,
            ProtocolError::UnknownMethod {
                class_id: 60,
                method_id: 999
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "unknown method 60.999");
}

#[test]
fn long_queue_names_are_cut_to_a_short_string() {
    // A name over 255 bytes cannot be sent; the encoder cuts it at the last character
    // boundary that fits rather than writing a corrupt length.
    let declare = |name: String| {
        Method::QueueDeclare(queue::Declare {
            queue: name,
            ..Default::default()
        })
    };
    for (name, expected_len) in [("q".repeat(300), 255), ("é".repeat(200), 254)] {
        let mut buf = BytesMut::new();
        declare(name.clone()).encode(&mut buf);
        let Method::QueueDeclare(back) = Method::decode(&buf).expect("decodes") else {
            panic!("not a queue.declare");
        };
        assert_eq!(back.queue.len(), expected_len);
        assert!(name.starts_with(&back.queue));
    }
}

/// Splits `bytes` into (type, channel, payload) frames, checking each one's framing.
fn frames_raw(bytes: &[u8]) -> Vec<(u8, u16, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let size = u32::from_be_bytes([bytes[at + 3], bytes[at + 4], bytes[at + 5], bytes[at + 6]])
            as usize;
        let channel = u16::from_be_bytes([bytes[at + 1], bytes[at + 2]]);
        assert_eq!(bytes[at + 7 + size], FRAME_END);
        out.push((bytes[at], channel, &bytes[at + 7..at + 7 + size]));
        at += size + 8;
    }
    out
}

#[test]
fn write_content_splits_bodies_at_frame_max() {
    for frame_max in [4096u32, 4097, 131_072] {
        let chunk = max_body_payload(frame_max);
        assert_eq!(chunk, frame_max as usize - 8);
        for len in [
            0,
            1,
            chunk - 1,
            chunk,
            chunk + 1,
            2 * chunk,
            2 * chunk + 1,
            3 * chunk - 1,
        ] {
            let body: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut buf = BytesMut::new();
            write_content(&mut buf, 7, &publish(), &props(), &body, frame_max);
            let raw = frames_raw(&buf);
            assert!(raw.iter().all(|(_, ch, _)| *ch == 7));
            assert!(
                raw.iter()
                    .all(|(_, _, p)| p.len() + 8 <= frame_max as usize),
                "frame_max {frame_max}, body {len}: a frame is over frame_max"
            );
            let bodies: Vec<&[u8]> = raw[2..].iter().map(|(_, _, p)| *p).collect();
            assert_eq!(
                bodies.len(),
                len.div_ceil(chunk),
                "frame_max {frame_max}, body {len}"
            );
            assert!(bodies.iter().all(|p| !p.is_empty()));
            assert!(bodies.iter().rev().skip(1).all(|p| p.len() == chunk));
            assert_eq!(bodies.concat(), body);

            let frames =
                decode_all(&mut FrameCodec::new(frame_max), &buf).expect("decodes under frame_max");
            assert_eq!(
                frames[0],
                Frame::Method {
                    channel: 7,
                    method: publish()
                }
            );
            let Frame::Header { header, .. } = &frames[1] else {
                panic!("second frame is not a header: {:?}", frames[1]);
            };
            assert_eq!(header.body_size, len as u64);
            assert_eq!(header.properties, props());
        }
    }
}

#[test]
fn write_body_without_a_limit_sends_one_frame() {
    let mut buf = BytesMut::new();
    write_body(&mut buf, 1, &[3u8; 100_000], 0);
    assert_eq!(frames_raw(&buf).len(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary bytes in arbitrary chunks never panic, and chunking never changes what
    /// is decoded: the same frames, then the same error (or the same incomplete tail).
    #[test]
    fn garbage_in_any_chunking_decodes_like_the_whole(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        cuts in prop::collection::vec(1usize..64, 1..16),
        valid_prefix in any::<bool>(),
    ) {
        let mut input = if valid_prefix { encode_frames(&sample_frames()).to_vec() } else { Vec::new() };
        input.extend_from_slice(&bytes);

        let whole = run(&input, &[input.len().max(1)]);
        let chunked = run(&input, &cuts);
        prop_assert_eq!(format!("{whole:?}"), format!("{chunked:?}"));
    }
}

/// Feeds `input` in chunks of the given sizes (cycled), returns the frames decoded and
/// how decoding ended.
fn run(input: &[u8], chunks: &[usize]) -> (Vec<Frame>, Result<usize, String>) {
    let mut codec = FrameCodec::default();
    let mut src = BytesMut::new();
    let mut frames = Vec::new();
    let mut at = 0;
    let mut sizes = chunks.iter().cycle();
    while at < input.len() {
        let n = (*sizes.next().expect("cycle")).min(input.len() - at);
        src.extend_from_slice(&input[at..at + n]);
        at += n;
        loop {
            match codec.decode(&mut src) {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(e) => return (frames, Err(e.to_string())),
            }
        }
    }
    (frames, Ok(src.len()))
}

/// `decode_frame` reports a refused frame with its type, channel and payload, and says
/// by what is left in the buffer whether the frame was taken out of it.
#[test]
fn refused_frames_come_with_their_type_channel_and_payload() {
    let mut codec = FrameCodec::default();
    // A payload that does not decode: the frame is taken, the next one is still there.
    let mut src = BytesMut::from(&raw_frame(FRAME_METHOD, 5, &[0, 60, 0, 10, 0, 0, 0])[..]);
    src.extend_from_slice(&raw_frame(7, 2, b"hello"));
    let fault = codec
        .decode_frame(&mut src)
        .expect_err("truncated basic.qos");
    assert!(
        matches!(fault.error, ProtocolError::Truncated { .. }),
        "{fault:?}"
    );
    assert_eq!(
        (fault.frame_type, fault.channel, fault.size),
        (FRAME_METHOD, 5, 7)
    );
    assert_eq!(&fault.payload[..], &[0, 60, 0, 10, 0, 0, 0]);
    let fault = codec.decode_frame(&mut src).expect_err("frame type 7");
    assert!(matches!(fault.error, ProtocolError::UnknownFrameType(7)));
    assert_eq!((fault.channel, &fault.payload[..]), (2, &b"hello"[..]));
    assert!(src.is_empty());
    // A heartbeat on a channel keeps its (empty) payload and names the channel.
    let mut src = BytesMut::from(&raw_frame(FRAME_HEARTBEAT, 1, b"")[..]);
    let fault = codec
        .decode_frame(&mut src)
        .expect_err("heartbeat on channel 1");
    assert!(matches!(fault.error, ProtocolError::HeartbeatOnChannel(1)));
    // Refused on its declared size: nothing read, nothing taken.
    let mut src = BytesMut::new();
    src.put_u8(FRAME_METHOD);
    src.put_u16(3);
    src.put_u32(1 << 20);
    let fault = codec.decode_frame(&mut src).expect_err("too large");
    assert!(matches!(fault.error, ProtocolError::FrameTooLarge { .. }));
    assert_eq!(
        (fault.channel, fault.size, fault.payload.len()),
        (3, 1 << 20, 0)
    );
    assert_eq!(src.len(), 7);
    // A bad frame-end octet: the payload is reported, the frame stays.
    let mut bad = raw_frame(FRAME_BODY, 4, b"abc");
    *bad.last_mut().unwrap() = 0;
    let mut src = BytesMut::from(&bad[..]);
    let fault = codec.decode_frame(&mut src).expect_err("bad frame end");
    assert!(matches!(fault.error, ProtocolError::BadFrameEnd(0)));
    assert_eq!(&fault.payload[..], b"abc");
    assert_eq!(src.len(), bad.len());
}

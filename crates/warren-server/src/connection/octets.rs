//! RabbitMQ's description of a frame it did not expect or could not read, e.g.
//! `type 1, all octets = <<0,20,0,10,0>>`: the frame type and its payload (the first 16
//! octets of a longer one) printed the way Erlang prints a binary; and the
//! `connection.close` it answers a refused frame with.

use bytes::{BufMut, BytesMut};
use warren_broker::{ConnectionCode, ConnectionError};
use warren_protocol::constants::{
    FRAME_BODY, FRAME_HEADER, FRAME_HEARTBEAT, FRAME_METHOD, FRAME_OVERHEAD,
};
use warren_protocol::{Frame, FrameFault, ProtocolError};

/// How much of a payload RabbitMQ prints in a frame's description.
const SNIPPET: usize = 16;
/// Most argument bytes printed after `cannot decode` (the reply text is cut at 255
/// bytes anyway).
const ARGS_SHOWN: usize = 100;

/// `all octets = <<...>>`, or `first 16 octets = <<...>>` for a longer payload, as
/// RabbitMQ's reader prints a frame it refuses.
fn octets(payload: &[u8]) -> String {
    if payload.len() <= SNIPPET {
        format!("all octets = {}", erlang_binary(payload))
    } else {
        format!("first 16 octets = {}", erlang_binary(&payload[..SNIPPET]))
    }
}

/// The `connection.close` (error, class id, method id) RabbitMQ 3.10 answers a frame
/// the codec refused with, or `None` where it drops the connection without one (a
/// method whose class or method id 0-9-1 does not define crashes its connection
/// process). `frame_max` is the limit in force.
pub(crate) fn refused_frame(
    fault: &FrameFault,
    frame_max: u32,
) -> Option<(ConnectionError, u16, u16)> {
    let frame_error = |text: String| ConnectionError::new(ConnectionCode::FrameError, text);
    let t = fault.frame_type;
    let payload = &fault.payload[..];
    Some(match &fault.error {
        ProtocolError::UnknownMethod { .. } => return None,
        ProtocolError::UnknownFrameType(_) | ProtocolError::HeartbeatPayload(_) => (
            frame_error(format!("type {t}, {}: unknown_frame", octets(payload))),
            0,
            0,
        ),
        // RabbitMQ refuses on the declared size before reading the payload, and reports
        // the largest payload it would have taken as frame_max minus the overhead.
        ProtocolError::FrameTooLarge { .. } => (
            frame_error(format!(
                "type {t}, all octets = <<>>: {{frame_too_large,{},{}}}",
                fault.size,
                frame_max.saturating_sub(FRAME_OVERHEAD)
            )),
            0,
            0,
        ),
        ProtocolError::BadFrameEnd(end) => (
            frame_error(format!(
                "type {t}, {}: {{invalid_frame_end_marker,{end}}}",
                octets(payload)
            )),
            0,
            0,
        ),
        ProtocolError::HeartbeatOnChannel(_) => (
            ConnectionError::new(
                ConnectionCode::UnexpectedFrame,
                format!("type {t}, {}", octets(payload)),
            ),
            0,
            0,
        ),
        // A method frame too short to name its method.
        e if t == FRAME_METHOD
            && payload.len() < 4
            && !matches!(e, ProtocolError::TableTooDeep(_)) =>
        {
            (
                frame_error(format!("type {t}, {}: unknown_frame", octets(payload))),
                0,
                0,
            )
        }
        // A method whose arguments do not decode (cut short, bytes left over, a bad
        // short string or field type): RabbitMQ names the method and prints the
        // arguments. Nesting deeper than Warren accepts stays a 502 (RabbitMQ has no
        // such limit).
        e if t == FRAME_METHOD && !matches!(e, ProtocolError::TableTooDeep(_)) => {
            let class_id = u16::from_be_bytes([payload[0], payload[1]]);
            let method_id = u16::from_be_bytes([payload[2], payload[3]]);
            let args = &payload[4..];
            let shown = erlang_binary(&args[..args.len().min(ARGS_SHOWN)]);
            (
                frame_error(format!("cannot decode {shown}")),
                class_id,
                method_id,
            )
        }
        e => (
            ConnectionError::new(ConnectionCode::of_protocol_error(e), e.to_string()),
            0,
            0,
        ),
    })
}

/// `type T, all octets = <<...>>` for `frame`, with its payload re-encoded.
pub(crate) fn describe_frame(frame: &Frame) -> String {
    let mut payload = BytesMut::new();
    let frame_type = match frame {
        Frame::Method { method, .. } => {
            method.encode(&mut payload);
            FRAME_METHOD
        }
        Frame::Header {
            header,
            raw_properties,
            ..
        } => {
            payload.put_u16(header.class_id);
            payload.put_u16(0);
            payload.put_u64(header.body_size);
            payload.put_slice(raw_properties);
            FRAME_HEADER
        }
        Frame::Body { payload: body, .. } => {
            payload.put_slice(body);
            FRAME_BODY
        }
        Frame::Heartbeat => FRAME_HEARTBEAT,
    };
    format!("type {frame_type}, {}", octets(&payload))
}

/// A binary as Erlang's `~p` prints it: `<<"text">>` when every byte is printable
/// Latin-1, `<<1,2,3>>` otherwise.
pub(crate) fn erlang_binary(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "<<>>".to_owned();
    }
    if bytes.iter().all(|&b| printable(b)) {
        let mut s = String::from("<<\"");
        for &b in bytes {
            match b {
                b'"' => s.push_str("\\\""),
                b'\\' => s.push_str("\\\\"),
                b'\n' => s.push_str("\\n"),
                b'\r' => s.push_str("\\r"),
                b'\t' => s.push_str("\\t"),
                0x0B => s.push_str("\\v"),
                0x08 => s.push_str("\\b"),
                0x0C => s.push_str("\\f"),
                0x1B => s.push_str("\\e"),
                _ => s.push(char::from(b)),
            }
        }
        s.push_str("\">>");
        return s;
    }
    let list: Vec<String> = bytes.iter().map(u8::to_string).collect();
    format!("<<{}>>", list.join(","))
}

/// Erlang's Latin-1 printable characters.
fn printable(b: u8) -> bool {
    matches!(b, 0x20..=0x7E | 0xA0..=0xFF | b'\n' | b'\r' | b'\t' | 0x0B | 0x08 | 0x0C | 0x1B)
}

#[cfg(test)]
mod tests {
    use warren_protocol::method::channel;
    use warren_protocol::Method;

    use super::*;

    #[test]
    fn method_frame_as_rabbitmq_prints_it() {
        let f = Frame::Method {
            channel: 1,
            method: Method::ChannelOpen(channel::Open::default()),
        };
        assert_eq!(describe_frame(&f), "type 1, all octets = <<0,20,0,10,0>>");
    }

    #[test]
    fn a_long_payload_shows_its_first_16_octets() {
        let f = Frame::Body {
            channel: 1,
            payload: bytes::Bytes::from_static(&[1; 20]),
        };
        assert_eq!(
            describe_frame(&f),
            "type 3, first 16 octets = <<1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1>>"
        );
    }

    fn fault(error: ProtocolError, frame_type: u8, payload: &'static [u8]) -> FrameFault {
        FrameFault {
            error,
            frame_type,
            channel: 1,
            size: payload.len() as u32,
            payload: bytes::Bytes::from_static(payload),
        }
    }

    fn reply(f: &FrameFault) -> (u16, String, u16, u16) {
        let (e, c, m) = refused_frame(f, 131_072).expect("answered");
        (e.code.reply_code().code(), e.reply_text(), c, m)
    }

    /// The texts measured against RabbitMQ 3.10.8 (docs/probes, tests/hostile_input.rs).
    #[test]
    fn refused_frames_are_answered_with_rabbitmqs_texts() {
        let unknown_type = fault(ProtocolError::UnknownFrameType(7), 7, b"hello");
        assert_eq!(
            reply(&unknown_type),
            (
                501,
                "FRAME_ERROR - type 7, all octets = <<\"hello\">>: unknown_frame".into(),
                0,
                0
            )
        );
        let truncated = fault(
            ProtocolError::Truncated { what: "basic.qos" },
            FRAME_METHOD,
            &[0, 60, 0, 10, 0, 0, 0],
        );
        assert_eq!(
            reply(&truncated),
            (501, "FRAME_ERROR - cannot decode <<0,0,0>>".into(), 60, 10)
        );
        let short = fault(
            ProtocolError::Truncated { what: "method" },
            FRAME_METHOD,
            &[0, 60],
        );
        assert_eq!(
            reply(&short),
            (
                501,
                "FRAME_ERROR - type 1, all octets = <<0,60>>: unknown_frame".into(),
                0,
                0
            )
        );
        let mut too_large = fault(
            ProtocolError::FrameTooLarge {
                size: 1_048_584,
                frame_max: 131_072,
            },
            FRAME_METHOD,
            b"",
        );
        too_large.size = 1_048_576;
        assert_eq!(
            reply(&too_large).1,
            "FRAME_ERROR - type 1, all octets = <<>>: {frame_too_large,1048576,131064}"
        );
        let heartbeat = fault(ProtocolError::HeartbeatOnChannel(1), FRAME_HEARTBEAT, b"");
        assert_eq!(
            reply(&heartbeat),
            (
                505,
                "UNEXPECTED_FRAME - type 8, all octets = <<>>".into(),
                0,
                0
            )
        );
        let bad_end = fault(ProtocolError::BadFrameEnd(0), FRAME_METHOD, &[0, 60, 0, 10]);
        assert_eq!(
            reply(&bad_end).1,
            "FRAME_ERROR - type 1, all octets = <<0,60,0,10>>: {invalid_frame_end_marker,0}"
        );
        let unknown_method = fault(
            ProtocolError::UnknownMethod {
                class_id: 99,
                method_id: 1,
            },
            FRAME_METHOD,
            &[0, 99, 0, 1],
        );
        assert!(refused_frame(&unknown_method, 131_072).is_none());
    }

    #[test]
    fn printable_and_empty_binaries() {
        assert_eq!(erlang_binary(b"abc"), "<<\"abc\">>");
        assert_eq!(erlang_binary(b""), "<<>>");
        assert_eq!(erlang_binary(b"a\"b"), "<<\"a\\\"b\">>");
        assert_eq!(erlang_binary(&[0, 60]), "<<0,60>>");
    }
}

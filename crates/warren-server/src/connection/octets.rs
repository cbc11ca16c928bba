//! RabbitMQ's description of a frame it did not expect, e.g.
//! `type 1, all octets = <<0,20,0,10,0>>`: the frame type and its payload printed the
//! way Erlang prints a binary.

use bytes::{BufMut, BytesMut};
use warren_protocol::constants::{FRAME_BODY, FRAME_HEADER, FRAME_HEARTBEAT, FRAME_METHOD};
use warren_protocol::Frame;

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
    format!(
        "type {frame_type}, all octets = {}",
        erlang_binary(&payload)
    )
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
    fn printable_and_empty_binaries() {
        assert_eq!(erlang_binary(b"abc"), "<<\"abc\">>");
        assert_eq!(erlang_binary(b""), "<<>>");
        assert_eq!(erlang_binary(b"a\"b"), "<<\"a\\\"b\">>");
        assert_eq!(erlang_binary(&[0, 60]), "<<0,60>>");
    }
}

//! The content frame grammar, enforced per channel as RabbitMQ does: a content-carrying
//! method (`basic.publish`) must be followed by one content header of its class, then
//! body frames adding up to exactly the size the header announced. Any other frame in
//! between, or a content frame nobody asked for, is a 505 UNEXPECTED_FRAME connection
//! exception with RabbitMQ's texts and class/method ids.

use std::collections::HashMap;

use warren_broker::{ConnectionCode, ConnectionError};
use warren_protocol::method::basic;
use warren_protocol::properties::BASIC_CLASS_ID;
use warren_protocol::{Frame, Method};

/// What a channel in the middle of receiving a message waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaiting {
    /// The content header of the method just received.
    Header,
    /// More body bytes.
    Body {
        /// Bytes still to come.
        remaining: u64,
    },
}

/// A frame that breaks the grammar: the error and the class/method ids to report it with.
#[derive(Debug)]
pub(crate) struct Violation {
    /// The 505 error.
    pub error: ConnectionError,
    /// Class id for `connection.close`.
    pub class_id: u16,
    /// Method id for `connection.close`.
    pub method_id: u16,
}

impl Violation {
    /// A content frame where a method was expected; RabbitMQ reports no method.
    fn expected_method() -> Self {
        Violation {
            error: ConnectionError::new(
                ConnectionCode::UnexpectedFrame,
                "expected method frame, got non method frame instead",
            ),
            class_id: 0,
            method_id: 0,
        }
    }

    /// A frame that interrupts the content of the pending `basic.publish`.
    fn in_content(text: String) -> Self {
        Violation {
            error: ConnectionError::new(ConnectionCode::UnexpectedFrame, text),
            class_id: basic::Publish::CLASS_ID,
            method_id: basic::Publish::METHOD_ID,
        }
    }
}

/// Per-channel position in the content grammar; channels not listed expect a method.
#[derive(Debug, Default)]
pub(crate) struct ContentGrammar {
    awaiting: HashMap<u16, Awaiting>,
}

impl ContentGrammar {
    /// Checks that `frame`, on an open channel, is allowed next and advances the channel.
    pub fn accept(&mut self, channel: u16, frame: &Frame) -> Result<(), Violation> {
        let state = self.awaiting.get(&channel).copied();
        match (state, frame) {
            (_, Frame::Heartbeat) => Ok(()),
            (None, Frame::Method { method, .. }) => {
                if matches!(method, Method::BasicPublish(_)) {
                    self.awaiting.insert(channel, Awaiting::Header);
                }
                Ok(())
            }
            (None, Frame::Header { .. } | Frame::Body { .. }) => Err(Violation::expected_method()),
            (Some(Awaiting::Header), Frame::Header { header, .. }) => {
                if header.class_id != BASIC_CLASS_ID {
                    return Err(Violation::in_content(format!(
                        "expected content header for class {BASIC_CLASS_ID}, got one for class {} instead",
                        header.class_id
                    )));
                }
                self.advance(channel, header.body_size);
                Ok(())
            }
            (Some(Awaiting::Header), _) => Err(Violation::in_content(format!(
                "expected content header for class {BASIC_CLASS_ID}, got non content header frame instead"
            ))),
            (Some(Awaiting::Body { remaining }), Frame::Body { payload, .. }) => {
                let len = payload.len() as u64;
                if len > remaining {
                    return Err(Violation::expected_method());
                }
                self.advance(channel, remaining - len);
                Ok(())
            }
            (Some(Awaiting::Body { .. }), _) => Err(Violation::in_content(
                "expected content body, got non content body frame instead".to_owned(),
            )),
        }
    }

    /// Records that `remaining` body bytes are still expected on `channel`.
    fn advance(&mut self, channel: u16, remaining: u64) {
        if remaining == 0 {
            self.awaiting.remove(&channel);
        } else {
            self.awaiting.insert(channel, Awaiting::Body { remaining });
        }
    }

    /// Whether `channel` is in the middle of a message (its header or body frames are
    /// still to come).
    pub fn in_content(&self, channel: u16) -> bool {
        self.awaiting.contains_key(&channel)
    }

    /// Forgets a channel that closed.
    pub fn forget(&mut self, channel: u16) {
        self.awaiting.remove(&channel);
    }

    /// Forgets every channel.
    pub fn clear(&mut self) {
        self.awaiting.clear();
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use warren_protocol::method::basic;
    use warren_protocol::properties::{BasicProperties, ContentHeader};

    use super::*;

    fn publish() -> Frame {
        Frame::Method {
            channel: 1,
            method: Method::BasicPublish(basic::Publish::default()),
        }
    }

    fn header(class_id: u16, body_size: u64) -> Frame {
        Frame::Header {
            channel: 1,
            header: Box::new(ContentHeader {
                class_id,
                body_size,
                properties: BasicProperties::default(),
            }),
            raw_properties: Bytes::new(),
        }
    }

    fn body(data: &'static [u8]) -> Frame {
        Frame::Body {
            channel: 1,
            payload: Bytes::from_static(data),
        }
    }

    fn qos() -> Frame {
        Frame::Method {
            channel: 1,
            method: Method::BasicQos(basic::Qos::default()),
        }
    }

    fn text(v: Violation) -> (String, u16, u16) {
        (v.error.text, v.class_id, v.method_id)
    }

    #[test]
    fn a_whole_message_in_several_bodies_is_accepted() {
        let mut g = ContentGrammar::default();
        for f in [
            publish(),
            header(60, 6),
            body(b"abc"),
            body(b""),
            body(b"def"),
            qos(),
        ] {
            assert!(g.accept(1, &f).is_ok());
        }
    }

    #[test]
    fn empty_body_needs_no_body_frame() {
        let mut g = ContentGrammar::default();
        g.accept(1, &publish()).unwrap();
        g.accept(1, &header(60, 0)).unwrap();
        let v = g.accept(1, &body(b"")).unwrap_err();
        assert_eq!(
            text(v),
            (
                "expected method frame, got non method frame instead".into(),
                0,
                0
            )
        );
    }

    #[test]
    fn method_while_header_or_body_expected() {
        let mut g = ContentGrammar::default();
        g.accept(1, &publish()).unwrap();
        let v = g.accept(1, &qos()).unwrap_err();
        assert_eq!(
            text(v),
            (
                "expected content header for class 60, got non content header frame instead".into(),
                60,
                40
            )
        );
        let mut g = ContentGrammar::default();
        g.accept(1, &publish()).unwrap();
        g.accept(1, &header(60, 3)).unwrap();
        let v = g.accept(1, &qos()).unwrap_err();
        assert_eq!(
            text(v),
            (
                "expected content body, got non content body frame instead".into(),
                60,
                40
            )
        );
    }

    #[test]
    fn header_of_another_class_and_overflowing_body() {
        let mut g = ContentGrammar::default();
        g.accept(1, &publish()).unwrap();
        let v = g.accept(1, &header(50, 3)).unwrap_err();
        assert_eq!(
            text(v).0,
            "expected content header for class 60, got one for class 50 instead"
        );
        let mut g = ContentGrammar::default();
        g.accept(1, &publish()).unwrap();
        g.accept(1, &header(60, 3)).unwrap();
        let v = g.accept(1, &body(b"abcdef")).unwrap_err();
        assert_eq!(text(v).1, 0);
    }
}

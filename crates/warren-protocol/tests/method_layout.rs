//! Exact method payloads, worked out by hand from the AMQP 0-9-1 spec, so that the
//! generated encoders and decoders cannot agree with each other on a wrong layout
//! (the generated round-trip tests alone would not notice, say, reversed bit order).
//!
//! A method frame's payload is: class id (short), method id (short), then the
//! arguments in spec order. Integers are big-endian; a shortstr is a length octet and
//! the bytes; a table is a 32-bit byte count and the entries; consecutive `bit`
//! arguments share one octet, the first in the lowest bit, and any other argument ends
//! the run.

use bytes::{Bytes, BytesMut};
use warren_protocol::method::{basic, connection, exchange, queue};
use warren_protocol::{FieldValue, Method, ProtocolError};

fn encode(method: impl Into<Method>) -> Vec<u8> {
    let mut buf = BytesMut::new();
    method.into().encode(&mut buf);
    buf.to_vec()
}

/// Encodes to exactly `expected`, and `expected` decodes back to the same method.
fn pin(method: impl Into<Method>, expected: &[u8]) {
    let method = method.into();
    assert_eq!(
        encode(method.clone()),
        expected,
        "{} encodes differently",
        method.name()
    );
    assert_eq!(
        Method::decode(expected).expect("pinned bytes decode"),
        method
    );
}

#[test]
fn basic_publish_packs_mandatory_then_immediate() {
    let publish = |mandatory, immediate| basic::Publish {
        reserved_1: 0,
        exchange: "ex".into(),
        routing_key: "rk".into(),
        mandatory,
        immediate,
    };
    #[rustfmt::skip]
    let head = [
        0x00, 0x3C, // class 60 (basic)
        0x00, 0x28, // method 40 (publish)
        0x00, 0x00, // reserved-1
        0x02, b'e', b'x', // exchange
        0x02, b'r', b'k', // routing-key
    ];
    for (mandatory, immediate, octet) in [
        (false, false, 0x00),
        (true, false, 0x01),
        (false, true, 0x02),
        (true, true, 0x03),
    ] {
        let mut expected = head.to_vec();
        expected.push(octet);
        pin(publish(mandatory, immediate), &expected);
    }
}

#[test]
fn queue_declare_packs_five_bits_before_the_table() {
    let declare = queue::Declare {
        reserved_1: 0,
        queue: "q".into(),
        passive: false,
        durable: true,
        exclusive: false,
        auto_delete: true,
        no_wait: false,
        arguments: [("a", FieldValue::I32(5))].into_iter().collect(),
    };
    #[rustfmt::skip]
    let expected = [
        0x00, 0x32, // class 50 (queue)
        0x00, 0x0A, // method 10 (declare)
        0x00, 0x00, // reserved-1
        0x01, b'q', // queue
        0b0000_1010, // passive=0 durable=1 exclusive=0 auto-delete=1 no-wait=0
        0x00, 0x00, 0x00, 0x07, // arguments: 7 bytes
        0x01, b'a', b'I', 0x00, 0x00, 0x00, 0x05, // "a" => signed 32-bit 5
    ];
    pin(declare.clone(), &expected);

    // Each bit alone lands in its own position. With the default (empty) queue name the
    // payload is ids (4), reserved-1 (2), the name's length octet (1), so the bit octet
    // is at index 7.
    let bit_octet = |set: fn(&mut queue::Declare)| {
        let mut d = queue::Declare::default();
        set(&mut d);
        encode(d)[7]
    };
    assert_eq!(bit_octet(|d| d.passive = true), 0b0000_0001);
    assert_eq!(bit_octet(|d| d.durable = true), 0b0000_0010);
    assert_eq!(bit_octet(|d| d.exclusive = true), 0b0000_0100);
    assert_eq!(bit_octet(|d| d.auto_delete = true), 0b0000_1000);
    assert_eq!(bit_octet(|d| d.no_wait = true), 0b0001_0000);
    assert_eq!(
        encode(queue::Declare::default()),
        [0x00, 0x32, 0x00, 0x0A, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]
    );
}

#[test]
fn basic_ack() {
    #[rustfmt::skip]
    let expected = [
        0x00, 0x3C, // class 60
        0x00, 0x50, // method 80 (ack)
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // delivery-tag
        0x01, // multiple
    ];
    pin(
        basic::Ack {
            delivery_tag: 0x0102_0304_0506_0708,
            multiple: true,
        },
        &expected,
    );
}

#[test]
fn basic_nack_packs_multiple_then_requeue() {
    let nack = |multiple, requeue| basic::Nack {
        delivery_tag: 1,
        multiple,
        requeue,
    };
    let head = [0x00, 0x3C, 0x00, 0x78, 0, 0, 0, 0, 0, 0, 0, 1];
    let mut expected = head.to_vec();
    expected.push(0x02);
    pin(nack(false, true), &expected);
    expected[12] = 0x01;
    pin(nack(true, false), &expected);
}

#[test]
fn connection_tune() {
    #[rustfmt::skip]
    let expected = [
        0x00, 0x0A, // class 10 (connection)
        0x00, 0x1E, // method 30 (tune)
        0x07, 0xFF, // channel-max 2047
        0x00, 0x02, 0x00, 0x00, // frame-max 131072
        0x00, 0x3C, // heartbeat 60
    ];
    pin(
        connection::Tune {
            channel_max: 2047,
            frame_max: 131_072,
            heartbeat: 60,
        },
        &expected,
    );
}

/// No method in 0-9-1 has two bit runs split by another argument; `basic.deliver` has a
/// bit between non-bit arguments, which shows the run ending: `exchange` starts on the
/// octet after `redelivered` instead of being packed into it.
#[test]
fn basic_deliver_bit_run_ends_at_the_next_argument() {
    #[rustfmt::skip]
    let expected = [
        0x00, 0x3C, // class 60
        0x00, 0x3C, // method 60 (deliver)
        0x03, b'c', b't', b'g', // consumer-tag
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2A, // delivery-tag 42
        0x01, // redelivered, alone in its octet
        0x01, b'x', // exchange
        0x00, // routing-key (empty)
    ];
    pin(
        basic::Deliver {
            consumer_tag: "ctg".into(),
            delivery_tag: 42,
            redelivered: true,
            exchange: "x".into(),
            routing_key: String::new(),
        },
        &expected,
    );
}

#[test]
fn exchange_declare_type_field_is_kind() {
    #[rustfmt::skip]
    let expected = [
        0x00, 0x28, // class 40 (exchange)
        0x00, 0x0A, // method 10 (declare)
        0x00, 0x00, // reserved-1
        0x01, b'e', // exchange
        0x06, b'f', b'a', b'n', b'o', b'u', b't', // type
        0b0001_0010, // passive=0 durable=1 auto-delete=0 internal=0 no-wait=1
        0x00, 0x00, 0x00, 0x00, // arguments: empty table
    ];
    pin(
        exchange::Declare {
            exchange: "e".into(),
            kind: "fanout".into(),
            durable: true,
            no_wait: true,
            ..Default::default()
        },
        &expected,
    );
}

#[test]
fn connection_update_secret_extension() {
    #[rustfmt::skip]
    let expected = [
        0x00, 0x0A, // class 10
        0x00, 0x46, // method 70 (update-secret)
        0x00, 0x00, 0x00, 0x02, b's', b'2', // new-secret (longstr)
        0x03, b'e', b'x', b'p', // reason
    ];
    pin(
        connection::UpdateSecret {
            new_secret: Bytes::from_static(b"s2"),
            reason: "exp".into(),
        },
        &expected,
    );
    pin(
        connection::Blocked {
            reason: "mem".into(),
        },
        &[0, 10, 0, 60, 3, b'm', b'e', b'm'],
    );
    pin(connection::Unblocked, &[0, 10, 0, 61]);
    pin(connection::UpdateSecretOk, &[0, 10, 0, 71]);
}

#[test]
fn unknown_ids_are_unknown_method() {
    for (class_id, method_id) in [(99u16, 1u16), (60, 99), (10, 0), (0, 0)] {
        let mut payload = class_id.to_be_bytes().to_vec();
        payload.extend_from_slice(&method_id.to_be_bytes());
        payload.extend_from_slice(&[1, 2, 3]);
        match Method::decode(&payload) {
            Err(ProtocolError::UnknownMethod {
                class_id: c,
                method_id: m,
            }) => assert_eq!((c, m), (class_id, method_id)),
            other => panic!("{class_id}.{method_id}: expected UnknownMethod, got {other:?}"),
        }
    }
}

#[test]
fn trailing_bytes_are_an_error_that_names_the_method() {
    let mut payload = encode(basic::Ack {
        delivery_tag: 7,
        multiple: false,
    });
    payload.push(0);
    match Method::decode(&payload) {
        Err(ProtocolError::TrailingBytes { what, extra }) => {
            assert_eq!((what, extra), ("basic.ack", 1));
        }
        other => panic!("expected TrailingBytes, got {other:?}"),
    }
    // Even a method without arguments rejects extra bytes.
    match Method::decode(&[0, 90, 0, 10, 0xFF]) {
        Err(ProtocolError::TrailingBytes { what, extra }) => {
            assert_eq!((what, extra), ("tx.select", 1));
        }
        other => panic!("expected TrailingBytes, got {other:?}"),
    }
}

#[test]
fn truncation_is_an_error_that_names_what_was_cut() {
    assert!(matches!(
        Method::decode(&[0x00, 0x3C, 0x00]),
        Err(ProtocolError::Truncated {
            what: "method frame"
        })
    ));
    assert!(matches!(
        Method::decode(&[0x00, 0x3C, 0x00, 0x50, 0x00]),
        Err(ProtocolError::Truncated { what: "basic.ack" })
    ));
    // A shortstr whose length runs past the payload.
    assert!(matches!(
        Method::decode(&[0x00, 0x3C, 0x00, 0x15, 0x09, b'a']),
        Err(ProtocolError::Truncated {
            what: "basic.consume-ok"
        })
    ));
}

#[test]
fn content_methods() {
    let with_content: Vec<&str> = [
        Method::from(basic::Publish::default()),
        basic::Return::default().into(),
        basic::Deliver::default().into(),
        basic::GetOk::default().into(),
        basic::Get::default().into(),
        basic::Ack::default().into(),
        connection::Start::default().into(),
    ]
    .iter()
    .filter(|m| m.has_content())
    .map(Method::name)
    .collect();
    assert_eq!(
        with_content,
        [
            "basic.publish",
            "basic.return",
            "basic.deliver",
            "basic.get-ok"
        ]
    );
}

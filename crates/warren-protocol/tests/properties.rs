//! The 14 basic properties and the content header: property-based round trips over
//! arbitrary subsets, the flag bit of each property, a hand-computed layout with every
//! property present, and rejection of truncated or malformed headers.

mod support;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use support::props_same;
use tokio_util::codec::Decoder;
use warren_protocol::frame::{write_header, write_header_raw};
use warren_protocol::properties::{BASIC_CLASS_ID, CONTENT_HEADER_FIXED_SIZE};
use warren_protocol::wire::Reader;
use warren_protocol::{
    BasicProperties, ContentHeader, FieldTable, FieldValue, Frame, FrameCodec, ProtocolError,
    ReplyCode,
};

/// A short string of at most 63 characters (at most 252 bytes).
fn arb_shortstr() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,40}",
        prop::collection::vec(any::<char>(), 0..63).prop_map(|cs| cs.into_iter().collect()),
    ]
}

fn arb_headers() -> impl Strategy<Value = FieldTable> {
    let value = prop_oneof![
        any::<bool>().prop_map(FieldValue::Bool),
        any::<i64>().prop_map(FieldValue::I64),
        any::<f64>().prop_map(FieldValue::F64),
        prop::collection::vec(any::<u8>(), 0..32)
            .prop_map(|b| FieldValue::LongString(Bytes::from(b))),
        prop::collection::vec(any::<i32>().prop_map(FieldValue::I32), 0..4)
            .prop_map(FieldValue::Array),
        Just(FieldValue::Void),
    ];
    prop::collection::vec(("[a-z-]{1,10}", value), 0..6)
        .prop_map(|entries| entries.into_iter().collect())
}

prop_compose! {
    /// Any subset of the 14 properties, with any values.
    fn arb_props()(
        content_type in prop::option::of(arb_shortstr()),
        content_encoding in prop::option::of(arb_shortstr()),
        headers in prop::option::of(arb_headers()),
        delivery_mode in prop::option::of(any::<u8>()),
        priority in prop::option::of(any::<u8>()),
        correlation_id in prop::option::of(arb_shortstr()),
        reply_to in prop::option::of(arb_shortstr()),
        expiration in prop::option::of(arb_shortstr()),
        message_id in prop::option::of(arb_shortstr()),
        timestamp in prop::option::of(any::<u64>()),
        kind in prop::option::of(arb_shortstr()),
        user_id in prop::option::of(arb_shortstr()),
        app_id in prop::option::of(arb_shortstr()),
        cluster_id in prop::option::of(arb_shortstr()),
    ) -> BasicProperties {
        BasicProperties {
            content_type, content_encoding, headers, delivery_mode, priority,
            correlation_id, reply_to, expiration, message_id, timestamp, kind,
            user_id, app_id, cluster_id,
        }
    }
}

fn present(p: &BasicProperties) -> u32 {
    [
        p.content_type.is_some(),
        p.content_encoding.is_some(),
        p.headers.is_some(),
        p.delivery_mode.is_some(),
        p.priority.is_some(),
        p.correlation_id.is_some(),
        p.reply_to.is_some(),
        p.expiration.is_some(),
        p.message_id.is_some(),
        p.timestamp.is_some(),
        p.kind.is_some(),
        p.user_id.is_some(),
        p.app_id.is_some(),
        p.cluster_id.is_some(),
    ]
    .iter()
    .filter(|&&b| b)
    .count() as u32
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn properties_round_trip(props in arb_props()) {
        let mut buf = BytesMut::new();
        props.encode(&mut buf);
        let flags = u16::from_be_bytes([buf[0], buf[1]]);
        prop_assert_eq!(flags, props.flags());
        prop_assert_eq!(flags.count_ones(), present(&props));
        prop_assert_eq!(flags & 0b11, 0, "bits 1 and 0 are never set");
        let mut r = Reader::new(&buf, "properties");
        let back = BasicProperties::decode(&mut r).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(r.remaining(), 0);
        prop_assert!(props_same(&props, &back), "{:?} != {:?}", props, back);
    }

    #[test]
    fn content_header_round_trips(class_id in any::<u16>(), body_size in any::<u64>(), props in arb_props()) {
        let header = ContentHeader { class_id, body_size, properties: props };
        let mut buf = BytesMut::new();
        header.encode(&mut buf);
        prop_assert_eq!(&buf[2..4], &[0u8, 0][..], "weight is always 0");
        let back = ContentHeader::decode(&buf).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back.class_id, class_id);
        prop_assert_eq!(back.body_size, body_size);
        prop_assert!(props_same(&header.properties, &back.properties));
        for len in 0..buf.len() {
            prop_assert!(ContentHeader::decode(&buf[..len]).is_err(), "{}-byte prefix decoded", len);
        }
    }

    #[test]
    fn header_frames_decode_with_their_raw_properties(body_size in any::<u64>(), props in arb_props()) {
        let mut raw = BytesMut::new();
        props.encode(&mut raw);
        let mut frame = BytesMut::new();
        write_header(&mut frame, 9, body_size, &props);
        let mut same = BytesMut::new();
        write_header_raw(&mut same, 9, body_size, &raw);
        prop_assert_eq!(&frame, &same);
        let mut codec = FrameCodec::new(131_072);
        match codec.decode(&mut frame) {
            Ok(Some(Frame::Header { channel, header, raw_properties })) => {
                prop_assert_eq!(channel, 9);
                prop_assert_eq!(header.class_id, BASIC_CLASS_ID);
                prop_assert_eq!(header.body_size, body_size);
                prop_assert!(props_same(&header.properties, &props));
                prop_assert_eq!(&raw_properties[..], &raw[..]);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn arbitrary_header_payloads_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..128)) {
        if let Ok(h) = ContentHeader::decode(&bytes) {
            let mut again = BytesMut::new();
            h.encode(&mut again);
            let back = ContentHeader::decode(&again).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(props_same(&h.properties, &back.properties));
        }
    }
}

/// Each property alone sets exactly its flag bit, from bit 15 (content-type) down to
/// bit 2 (cluster-id), in the spec's order.
#[test]
fn each_property_has_its_flag_bit() {
    let s = || Some("x".to_string());
    let cases: [(BasicProperties, u16); 14] = [
        (
            BasicProperties {
                content_type: s(),
                ..Default::default()
            },
            15,
        ),
        (
            BasicProperties {
                content_encoding: s(),
                ..Default::default()
            },
            14,
        ),
        (
            BasicProperties {
                headers: Some(FieldTable::new()),
                ..Default::default()
            },
            13,
        ),
        (
            BasicProperties {
                delivery_mode: Some(2),
                ..Default::default()
            },
            12,
        ),
        (
            BasicProperties {
                priority: Some(1),
                ..Default::default()
            },
            11,
        ),
        (
            BasicProperties {
                correlation_id: s(),
                ..Default::default()
            },
            10,
        ),
        (
            BasicProperties {
                reply_to: s(),
                ..Default::default()
            },
            9,
        ),
        (
            BasicProperties {
                expiration: s(),
                ..Default::default()
            },
            8,
        ),
        (
            BasicProperties {
                message_id: s(),
                ..Default::default()
            },
            7,
        ),
        (
            BasicProperties {
                timestamp: Some(1),
                ..Default::default()
            },
            6,
        ),
        (
            BasicProperties {
                kind: s(),
                ..Default::default()
            },
            5,
        ),
        (
            BasicProperties {
                user_id: s(),
                ..Default::default()
            },
            4,
        ),
        (
            BasicProperties {
                app_id: s(),
                ..Default::default()
            },
            3,
        ),
        (
            BasicProperties {
                cluster_id: s(),
                ..Default::default()
            },
            2,
        ),
    ];
    for (props, bit) in cases {
        assert_eq!(props.flags(), 1 << bit, "{props:?}");
    }
}

/// All 14 properties, laid out by hand: flag word 0xFFFC, then each value in spec order.
#[test]
fn all_properties_have_the_spec_layout() {
    let props = BasicProperties {
        content_type: Some("ct".into()),
        content_encoding: Some("ce".into()),
        headers: Some([("h", FieldValue::U8(1))].into_iter().collect()),
        delivery_mode: Some(2),
        priority: Some(9),
        correlation_id: Some("co".into()),
        reply_to: Some("rt".into()),
        expiration: Some("60000".into()),
        message_id: Some("mi".into()),
        timestamp: Some(0x0000_0000_6543_2100),
        kind: Some("ty".into()),
        user_id: Some("guest".into()),
        app_id: Some("ap".into()),
        cluster_id: Some("cl".into()),
    };
    #[rustfmt::skip]
    let expected: &[u8] = &[
        0xFF, 0xFC,                         // every flag but bits 1 and 0
        2, b'c', b't',                      // content-type
        2, b'c', b'e',                      // content-encoding
        0, 0, 0, 4, 1, b'h', b'B', 1,       // headers {h: B 1}
        2,                                  // delivery-mode
        9,                                  // priority
        2, b'c', b'o',                      // correlation-id
        2, b'r', b't',                      // reply-to
        5, b'6', b'0', b'0', b'0', b'0',    // expiration
        2, b'm', b'i',                      // message-id
        0, 0, 0, 0, 0x65, 0x43, 0x21, 0x00, // timestamp
        2, b't', b'y',                      // type
        5, b'g', b'u', b'e', b's', b't',    // user-id
        2, b'a', b'p',                      // app-id
        2, b'c', b'l',                      // cluster-id
    ];
    let mut buf = BytesMut::new();
    props.encode(&mut buf);
    assert_eq!(&buf[..], expected);
    let back = BasicProperties::decode(&mut Reader::new(expected, "props")).expect("decodes");
    assert_eq!(back, props);
}

#[test]
fn content_header_layout() {
    let header = ContentHeader {
        class_id: 60,
        body_size: 0x0102_0304_0506_0708,
        properties: BasicProperties {
            delivery_mode: Some(1),
            ..Default::default()
        },
    };
    let mut buf = BytesMut::new();
    header.encode(&mut buf);
    #[rustfmt::skip]
    let expected = [
        0, 60,                  // class
        0, 0,                   // weight
        1, 2, 3, 4, 5, 6, 7, 8, // body size
        0x10, 0x00,             // flags: delivery-mode
        1,
    ];
    assert_eq!(&buf[..], &expected);
    assert_eq!(CONTENT_HEADER_FIXED_SIZE, 12);
}

#[test]
fn the_two_low_flag_bits_are_ignored_as_rabbitmq_does() {
    for low in [0b01u8, 0b10, 0b11] {
        let payload = [0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x80, low, 1, b'a'];
        let h = ContentHeader::decode(&payload).expect("RabbitMQ 3.10 accepts these bits");
        assert_eq!(h.properties.content_type.as_deref(), Some("a"));
        assert_eq!(h.properties.flags(), 0x8000);
    }
}

#[test]
fn a_non_zero_weight_is_an_unexpected_frame() {
    let payload = [0, 60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0];
    let err = ContentHeader::decode(&payload).expect_err("weight 1");
    assert!(matches!(err, ProtocolError::NonZeroWeight(1)), "{err:?}");
    assert_eq!(err.reply_code(), ReplyCode::UnexpectedFrame);
}

#[test]
fn malformed_headers_are_frame_errors() {
    let fixed = [0u8, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let with = |props: &[u8]| [&fixed[..], props].concat();
    for (label, payload) in [
        ("5-byte payload", vec![0, 60, 0, 0, 0]),
        ("no flag word", fixed.to_vec()),
        ("content-type flag, no string", with(&[0x80, 0])),
        ("string cut short", with(&[0x80, 0, 5, b'a'])),
        ("trailing bytes", with(&[0, 0, b'j', b'u', b'n', b'k'])),
        ("timestamp cut short", with(&[0x00, 0x40, 0, 0, 0])),
        (
            "invalid UTF-8 content-type",
            with(&[0x80, 0, 2, 0xFF, 0xFE]),
        ),
        (
            "headers with an unknown type",
            with(&[0x20, 0, 0, 0, 0, 3, 1, b'k', b'Z']),
        ),
    ] {
        let err = ContentHeader::decode(&payload).expect_err(label);
        assert_eq!(err.reply_code(), ReplyCode::FrameError, "{label}: {err:?}");
    }
}

//! Golden bytes: frames captured from pika 1.4.4 and RabbitMQ 3.10.8 (see
//! `tests/fixtures/README.md`) decode to the values the capture notes describe, decode
//! the same when fed one octet at a time, and re-encode to the very same bytes (our
//! encoding is canonical for all of them: tables keep wire order, booleans are 1).

mod support;

use bytes::{Bytes, BytesMut};
use support::{decode_all, decode_bytewise, fixture};
use warren_protocol::frame::{write_body_frame, write_content, write_header_raw, write_method};
use warren_protocol::method::{basic, connection};
use warren_protocol::{
    BasicProperties, FieldTable, FieldValue, Frame, FrameCodec, Method, PROTOCOL_HEADER,
};

/// Decodes a fixture whole and byte by byte, checks both agree, returns the frames.
fn frames_of(name: &str) -> Vec<Frame> {
    let bytes = fixture(name);
    let whole =
        decode_all(&mut FrameCodec::default(), &bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    let bytewise = decode_bytewise(&mut FrameCodec::default(), &bytes);
    assert_eq!(whole, bytewise, "{name}: chunking changed the result");
    whole
}

fn long(s: &str) -> FieldValue {
    FieldValue::LongString(Bytes::copy_from_slice(s.as_bytes()))
}

fn keys(t: &FieldTable) -> Vec<&str> {
    t.iter().map(|(k, _)| k).collect()
}

fn all_true(t: &FieldTable) -> bool {
    t.iter().all(|(_, v)| *v == FieldValue::Bool(true))
}

#[test]
fn protocol_header() {
    assert_eq!(fixture("pika_protocol_header.bin"), PROTOCOL_HEADER);
}

#[test]
fn pika_connection_start_ok() {
    let frames = frames_of("pika_connection_start_ok.bin");
    let [Frame::Method {
        channel: 0,
        method: Method::ConnectionStartOk(m),
    }] = &frames[..]
    else {
        panic!("expected one start-ok on channel 0: {frames:?}");
    };
    assert_eq!(m.mechanism, "PLAIN");
    assert_eq!(&m.response[..], b"\0guest\0guest");
    assert_eq!(m.locale, "en_US");
    let cp = &m.client_properties;
    assert_eq!(
        keys(cp),
        [
            "product",
            "platform",
            "capabilities",
            "information",
            "version"
        ]
    );
    assert_eq!(cp.get("product"), Some(&long("Pika Python Client Library")));
    assert_eq!(cp.get("platform"), Some(&long("Python 3.11.7")));
    assert_eq!(cp.get("version"), Some(&long("1.4.4")));
    let Some(FieldValue::Table(caps)) = cp.get("capabilities") else {
        panic!("capabilities is not a table: {cp:?}");
    };
    assert_eq!(
        keys(caps),
        [
            "authentication_failure_close",
            "basic.nack",
            "connection.blocked",
            "consumer_cancel_notify",
            "exchange_exchange_bindings",
            "publisher_confirms"
        ]
    );
    assert!(all_true(caps));

    let mut again = BytesMut::new();
    write_method(&mut again, 0, &Method::ConnectionStartOk(m.clone()));
    assert_eq!(&again[..], &fixture("pika_connection_start_ok.bin")[..]);
}

#[test]
fn pika_basic_publish_with_header_and_body() {
    let frames = frames_of("pika_basic_publish.bin");
    let [Frame::Method {
        channel: 1,
        method: Method::BasicPublish(publish),
    }, Frame::Header {
        channel: 1,
        header,
        raw_properties,
    }, Frame::Body {
        channel: 1,
        payload,
    }] = &frames[..]
    else {
        panic!("expected publish, header, body on channel 1: {frames:?}");
    };
    assert_eq!(
        *publish,
        basic::Publish {
            reserved_1: 0,
            exchange: String::new(),
            routing_key: "golden".into(),
            mandatory: false,
            immediate: false,
        }
    );
    assert_eq!(header.class_id, 60);
    assert_eq!(header.body_size, 12);
    let expected_props = BasicProperties {
        content_type: Some("text/plain".into()),
        headers: Some([("k", long("v"))].into_iter().collect()),
        delivery_mode: Some(2),
        ..Default::default()
    };
    assert_eq!(header.properties, expected_props);
    assert_eq!(header.properties.flags(), 0xB000);
    assert!(header.properties.is_persistent());
    assert_eq!(&payload[..], b"hello warren");
    // raw_properties is the flag word onwards, exactly as sent.
    let bytes = fixture("pika_basic_publish.bin");
    let header_frame = &bytes[23..23 + 46]; // after the 23-byte publish frame
    assert_eq!(&raw_properties[..], &header_frame[7 + 12..46 - 1]);

    let mut again = BytesMut::new();
    write_content(
        &mut again,
        1,
        &Method::BasicPublish(publish.clone()),
        &header.properties,
        payload,
        131_072,
    );
    assert_eq!(&again[..], &bytes[..]);
}

#[test]
fn rabbitmq_connection_start() {
    let frames = frames_of("rabbitmq_connection_start.bin");
    let [Frame::Method {
        channel: 0,
        method: Method::ConnectionStart(m),
    }] = &frames[..]
    else {
        panic!("expected one connection.start on channel 0: {frames:?}");
    };
    assert_eq!((m.version_major, m.version_minor), (0, 9));
    assert_eq!(&m.mechanisms[..], b"AMQPLAIN PLAIN");
    assert_eq!(&m.locales[..], b"en_US");
    let sp = &m.server_properties;
    assert_eq!(
        keys(sp),
        [
            "capabilities",
            "cluster_name",
            "copyright",
            "information",
            "platform",
            "product",
            "version"
        ]
    );
    assert_eq!(sp.get("product"), Some(&long("RabbitMQ")));
    assert_eq!(sp.get("version"), Some(&long("3.10.8")));
    assert_eq!(sp.get("platform"), Some(&long("Erlang/OTP 25.2.3")));
    let Some(FieldValue::Table(caps)) = sp.get("capabilities") else {
        panic!("capabilities is not a table: {sp:?}");
    };
    assert_eq!(
        keys(caps),
        [
            "publisher_confirms",
            "exchange_exchange_bindings",
            "basic.nack",
            "consumer_cancel_notify",
            "connection.blocked",
            "consumer_priorities",
            "authentication_failure_close",
            "per_consumer_qos",
            "direct_reply_to"
        ]
    );
    assert!(all_true(caps));

    let mut again = BytesMut::new();
    write_method(&mut again, 0, &Method::ConnectionStart(m.clone()));
    assert_eq!(&again[..], &fixture("rabbitmq_connection_start.bin")[..]);
}

#[test]
fn rabbitmq_connection_tune() {
    let frames = frames_of("rabbitmq_connection_tune.bin");
    let expected = connection::Tune {
        channel_max: 2047,
        frame_max: 131_072,
        heartbeat: 60,
    };
    assert_eq!(
        frames,
        [Frame::Method {
            channel: 0,
            method: Method::ConnectionTune(expected.clone()),
        }]
    );
    let mut again = BytesMut::new();
    write_method(&mut again, 0, &Method::ConnectionTune(expected));
    assert_eq!(&again[..], &fixture("rabbitmq_connection_tune.bin")[..]);
}

#[test]
fn rabbitmq_get_ok_with_the_publishers_header() {
    let frames = frames_of("rabbitmq_basic_deliver_or_get_ok.bin");
    let [Frame::Method {
        channel: 1,
        method: Method::BasicGetOk(get_ok),
    }, Frame::Header {
        channel: 1,
        header,
        raw_properties,
    }, Frame::Body {
        channel: 1,
        payload,
    }] = &frames[..]
    else {
        panic!("expected get-ok, header, body on channel 1: {frames:?}");
    };
    assert_eq!(
        *get_ok,
        basic::GetOk {
            delivery_tag: 1,
            redelivered: false,
            exchange: String::new(),
            routing_key: "golden".into(),
            message_count: 0,
        }
    );
    assert_eq!(header.body_size, 12);
    assert_eq!(&payload[..], b"hello warren");

    // RabbitMQ delivers the header frame byte for byte as the publisher sent it.
    let published = fixture("pika_basic_publish.bin");
    let delivered = fixture("rabbitmq_basic_deliver_or_get_ok.bin");
    assert_eq!(&published[23..69], &delivered[33..79]);

    // The pass-through path: method, raw header, body reproduce RabbitMQ's bytes.
    let mut again = BytesMut::new();
    write_method(&mut again, 1, &Method::BasicGetOk(get_ok.clone()));
    write_header_raw(&mut again, 1, header.body_size, raw_properties);
    write_body_frame(&mut again, 1, payload);
    assert_eq!(&again[..], &delivered[..]);
}

#[test]
fn a_handshake_stream_decodes_frame_by_frame() {
    // The server's side of the conversation, concatenated: start, tune, then get-ok.
    let mut stream = fixture("rabbitmq_connection_start.bin");
    stream.extend(fixture("rabbitmq_connection_tune.bin"));
    stream.extend(fixture("rabbitmq_basic_deliver_or_get_ok.bin"));
    let frames = decode_bytewise(&mut FrameCodec::default(), &stream);
    let names: Vec<_> = frames
        .iter()
        .map(|f| match f {
            Frame::Method { method, .. } => method.name(),
            Frame::Header { .. } => "header",
            Frame::Body { .. } => "body",
            Frame::Heartbeat => "heartbeat",
        })
        .collect();
    assert_eq!(
        names,
        [
            "connection.start",
            "connection.tune",
            "basic.get-ok",
            "header",
            "body"
        ]
    );
}

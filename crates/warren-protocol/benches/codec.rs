//! Encode/decode cost of the frame sets on the hot path: `basic.publish` + header + 1 KiB
//! body (what a producer sends) and `basic.deliver` + header + 1 KiB body (what a
//! consumer receives). Run with `cargo bench -p warren-protocol --bench codec`.

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tokio_util::codec::Decoder;
use warren_protocol::frame::write_content;
use warren_protocol::method::basic;
use warren_protocol::{BasicProperties, FrameCodec, Method};

const FRAME_MAX: u32 = 131_072;

fn props() -> BasicProperties {
    BasicProperties {
        content_type: Some("application/json".into()),
        delivery_mode: Some(2),
        ..Default::default()
    }
}

fn publish() -> Method {
    Method::BasicPublish(basic::Publish {
        exchange: "amq.direct".into(),
        routing_key: "tasks.resize".into(),
        ..Default::default()
    })
}

fn deliver() -> Method {
    Method::BasicDeliver(basic::Deliver {
        consumer_tag: "amq.ctag-JzTY20BRgKO-HjmUJj0wLg".into(),
        delivery_tag: 123_456,
        redelivered: false,
        exchange: "amq.direct".into(),
        routing_key: "tasks.resize".into(),
    })
}

fn bench_set(c: &mut Criterion, name: &str, method: Method) {
    let body = Bytes::from(vec![0xABu8; 1024]);
    let props = props();
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(1));
    let mut buf = BytesMut::with_capacity(4096);
    group.bench_function("encode", |b| {
        b.iter(|| {
            buf.clear();
            write_content(&mut buf, 1, &method, &props, &body, FRAME_MAX);
            std::hint::black_box(&buf);
        })
    });
    let mut encoded = BytesMut::new();
    write_content(&mut encoded, 1, &method, &props, &body, FRAME_MAX);
    let encoded = encoded.freeze();
    let mut codec = FrameCodec::new(FRAME_MAX);
    group.bench_function("decode", |b| {
        b.iter(|| {
            let mut src = BytesMut::from(&encoded[..]);
            let mut frames = 0;
            while let Some(f) = codec.decode(&mut src).expect("valid frames") {
                std::hint::black_box(f);
                frames += 1;
            }
            assert_eq!(frames, 3);
        })
    });
    group.finish();
}

fn codec_benches(c: &mut Criterion) {
    bench_set(c, "publish_1KiB", publish());
    bench_set(c, "deliver_1KiB", deliver());
}

criterion_group!(benches, codec_benches);
criterion_main!(benches);

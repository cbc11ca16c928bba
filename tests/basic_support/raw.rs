//! A bare AMQP 0-9-1 client over a tokio `TcpStream`, for the few checks lapin cannot
//! make: sending what lapin refuses to send (`prefetch_size`), leaving out a client
//! capability, and seeing the exact order of frames on the wire.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use warren_protocol::constants::{FRAME_BODY, FRAME_HEADER, FRAME_METHOD};
use warren_protocol::frame::{write_body, write_header, write_method};
use warren_protocol::method::{basic, channel, connection};
use warren_protocol::{
    BasicProperties, ContentHeader, FieldTable, FieldValue, Method, PROTOCOL_HEADER,
};

/// How long to wait for a frame the test expects.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// One frame as the tests look at it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A method frame on a channel.
    Method(u16, Method),
    /// A content header on a channel, with its body size.
    Header(u16, u64),
    /// A body frame on a channel.
    Body(u16, Bytes),
    /// The server closed the socket.
    Eof,
}

/// A connected, opened raw AMQP connection.
pub struct RawClient {
    stream: TcpStream,
    buf: BytesMut,
    frame_max: u32,
}

impl RawClient {
    /// Connects as guest to vhost `/`, announcing `consumer_cancel_notify` only if asked.
    pub async fn connect(addr: SocketAddr, consumer_cancel_notify: bool) -> RawClient {
        let stream = TcpStream::connect(addr).await.expect("tcp connect");
        let mut c = RawClient {
            stream,
            buf: BytesMut::with_capacity(64 * 1024),
            frame_max: 131_072,
        };
        c.stream.write_all(&PROTOCOL_HEADER).await.expect("header");
        c.expect(0, "connection.start").await;
        let mut caps = FieldTable::new();
        caps.insert(
            "consumer_cancel_notify",
            FieldValue::Bool(consumer_cancel_notify),
        );
        let mut props = FieldTable::new();
        props.insert("capabilities", FieldValue::Table(caps));
        c.send(
            0,
            connection::StartOk {
                client_properties: props,
                mechanism: "PLAIN".into(),
                response: Bytes::from_static(b"\0guest\0guest"),
                locale: "en_US".into(),
            },
        )
        .await;
        let Method::ConnectionTune(tune) = c.expect(0, "connection.tune").await else {
            unreachable!("expect checks the name");
        };
        c.frame_max = tune.frame_max;
        c.send(
            0,
            connection::TuneOk {
                channel_max: tune.channel_max,
                frame_max: tune.frame_max,
                heartbeat: 0,
            },
        )
        .await;
        c.send(
            0,
            connection::Open {
                virtual_host: "/".into(),
                ..Default::default()
            },
        )
        .await;
        c.expect(0, "connection.open-ok").await;
        c
    }

    /// Opens channel `id`.
    pub async fn open_channel(&mut self, id: u16) {
        self.send(id, channel::Open::default()).await;
        self.expect(id, "channel.open-ok").await;
    }

    /// Sends one method frame.
    pub async fn send(&mut self, channel: u16, method: impl Into<Method>) {
        let mut out = BytesMut::new();
        write_method(&mut out, channel, &method.into());
        self.stream.write_all(&out).await.expect("write");
    }

    /// Publishes `body` with `properties`, split into body frames as frame_max requires.
    pub async fn publish(
        &mut self,
        channel: u16,
        publish: basic::Publish,
        properties: &BasicProperties,
        body: &[u8],
    ) {
        let mut out = BytesMut::new();
        write_method(&mut out, channel, &publish.into());
        write_header(&mut out, channel, body.len() as u64, properties);
        write_body(&mut out, channel, body, self.frame_max);
        self.stream.write_all(&out).await.expect("write");
    }

    /// Publishes several messages (default properties) in a single socket write.
    pub async fn publish_batch(&mut self, channel: u16, messages: &[(basic::Publish, &[u8])]) {
        let mut out = BytesMut::new();
        for (publish, body) in messages {
            write_method(&mut out, channel, &publish.clone().into());
            write_header(
                &mut out,
                channel,
                body.len() as u64,
                &BasicProperties::default(),
            );
            write_body(&mut out, channel, body, self.frame_max);
        }
        self.stream.write_all(&out).await.expect("write");
    }

    /// The next frame, or `None` if nothing comes within `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<Event> {
        loop {
            if let Some(event) = self.decode() {
                return Some(event);
            }
            match tokio::time::timeout(timeout, self.stream.read_buf(&mut self.buf)).await {
                Err(_) => return None,
                Ok(Ok(0)) | Ok(Err(_)) => return Some(Event::Eof),
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Takes one complete frame off the read buffer (heartbeats are skipped).
    fn decode(&mut self) -> Option<Event> {
        loop {
            if self.buf.len() < 7 {
                return None;
            }
            let kind = self.buf[0];
            let channel = u16::from_be_bytes([self.buf[1], self.buf[2]]);
            let size = u32::from_be_bytes([self.buf[3], self.buf[4], self.buf[5], self.buf[6]]);
            let total = 8 + size as usize;
            if self.buf.len() < total {
                return None;
            }
            let frame = self.buf.split_to(total).freeze();
            let payload = frame.slice(7..total - 1);
            return Some(match kind {
                FRAME_METHOD => Event::Method(channel, Method::decode(&payload).expect("method")),
                FRAME_HEADER => Event::Header(
                    channel,
                    ContentHeader::decode(&payload).expect("header").body_size,
                ),
                FRAME_BODY => Event::Body(channel, payload),
                _ => continue,
            });
        }
    }

    /// The next method frame, which must be `name` on `channel`.
    pub async fn expect(&mut self, channel: u16, name: &str) -> Method {
        match self.next(REPLY_TIMEOUT).await {
            Some(Event::Method(ch, m)) if ch == channel && m.name() == name => m,
            other => panic!("expected {name} on channel {channel}, got {other:?}"),
        }
    }

    /// Every frame that arrives until the connection has been quiet for `quiet`.
    pub async fn drain(&mut self, quiet: Duration) -> Vec<Event> {
        let mut events = Vec::new();
        while let Some(e) = self.next(quiet).await {
            let eof = e == Event::Eof;
            events.push(e);
            if eof {
                break;
            }
        }
        events
    }
}

/// The method names in `events`, in order, with their channel (`"1:basic.ack"`); content
/// frames appear as `"1:header"` and `"1:body"`.
pub fn names(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            Event::Method(ch, m) => format!("{ch}:{}", m.name()),
            Event::Header(ch, _) => format!("{ch}:header"),
            Event::Body(ch, _) => format!("{ch}:body"),
            Event::Eof => "eof".to_owned(),
        })
        .collect()
}

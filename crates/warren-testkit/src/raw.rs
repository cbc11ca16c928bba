//! The raw-socket AMQP 0-9-1 client, for the inputs a real client library will not send
//! (bad tune values, methods on unopened channels, broken content sequences,
//! `prefetch_size`, a missing client capability) and for reading exactly what the
//! server answers and in which order, including the class/method ids of a close.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use warren_protocol::frame::{
    write_body, write_body_frame, write_header, write_heartbeat, write_method,
};
use warren_protocol::method::{basic, channel, connection as conn};
use warren_protocol::properties::BasicProperties;
use warren_protocol::{ContentHeader, FieldTable, FieldValue, Frame, Method, PROTOCOL_HEADER};

/// How long a test waits for the server's next frame before calling it silence.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// What the server did next.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// It sent a frame.
    Frame(Frame),
    /// It closed the socket.
    Eof,
    /// Nothing within the timeout.
    Silence,
}

/// What `tune-ok` says; `None` fields echo the server's `tune`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TuneOk {
    /// `channel_max`.
    pub channel_max: Option<u16>,
    /// `frame_max`.
    pub frame_max: Option<u32>,
    /// `heartbeat`; 0 unless set.
    pub heartbeat: u16,
}

/// A connected raw client.
pub struct RawClient {
    stream: TcpStream,
    inbuf: BytesMut,
    /// The server's `connection.tune`, once read.
    tune: Option<conn::Tune>,
    /// The frame size agreed in `tune-ok` (bodies are split to fit it).
    frame_max: u32,
}

impl RawClient {
    /// Opens a TCP connection; nothing is sent yet.
    pub async fn tcp(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("tcp connect");
        stream.set_nodelay(true).expect("nodelay");
        RawClient {
            stream,
            inbuf: BytesMut::new(),
            tune: None,
            frame_max: 131_072,
        }
    }

    /// Sends the protocol header and reads `connection.start`.
    pub async fn started(addr: SocketAddr) -> Self {
        let mut c = Self::tcp(addr).await;
        c.send_bytes(&PROTOCOL_HEADER).await;
        c.expect_method(0, "connection.start").await;
        c
    }

    /// Logs in as guest/guest with PLAIN and reads `connection.tune`.
    pub async fn tuning(addr: SocketAddr) -> Self {
        let mut c = Self::started(addr).await;
        c.start_ok("guest", "guest", true).await;
        c.read_tune().await;
        c
    }

    /// A connection opened on vhost `/` with the given `tune-ok`.
    pub async fn open_with(addr: SocketAddr, tune: TuneOk) -> Self {
        let mut c = Self::tuning(addr).await;
        c.finish_opening(tune).await;
        c
    }

    /// A connection opened as guest on vhost `/` that announces only the
    /// `consumer_cancel_notify` capability, with this value; the server's tune values,
    /// no heartbeat.
    pub async fn connect(addr: SocketAddr, consumer_cancel_notify: bool) -> Self {
        let mut c = Self::started(addr).await;
        c.start_ok_with(
            "guest",
            "guest",
            &[("consumer_cancel_notify", consumer_cancel_notify)],
        )
        .await;
        c.read_tune().await;
        c.finish_opening(TuneOk::default()).await;
        c
    }

    /// Reads `connection.tune` and remembers it.
    async fn read_tune(&mut self) {
        match self.expect_method(0, "connection.tune").await {
            Method::ConnectionTune(t) => self.tune = Some(t),
            other => unreachable!("expect_method checked the name: {other:?}"),
        }
    }

    /// Sends `tune-ok` (unset values echo the server's tune) and `connection.open` on
    /// vhost `/`, and expects `open-ok`.
    async fn finish_opening(&mut self, tune: TuneOk) {
        self.finish_opening_in(tune, "/").await
    }

    /// A connection opened as guest on `vhost`, with the server's tune values and no
    /// heartbeat.
    pub async fn open_in(addr: SocketAddr, vhost: &str) -> Self {
        let mut c = Self::tuning(addr).await;
        c.finish_opening_in(TuneOk::default(), vhost).await;
        c
    }

    async fn finish_opening_in(&mut self, tune: TuneOk, vhost: &str) {
        let offered = self.tune.clone().expect("connection.tune was read");
        self.frame_max = tune.frame_max.unwrap_or(offered.frame_max);
        self.send_method(
            0,
            conn::TuneOk {
                channel_max: tune.channel_max.unwrap_or(offered.channel_max),
                frame_max: self.frame_max,
                heartbeat: tune.heartbeat,
            },
        )
        .await;
        self.send_method(
            0,
            conn::Open {
                virtual_host: vhost.into(),
                ..Default::default()
            },
        )
        .await;
        self.expect_method(0, "connection.open-ok").await;
    }

    /// A connection opened with the server's tune values and no heartbeat.
    pub async fn open(addr: SocketAddr) -> Self {
        Self::open_with(addr, TuneOk::default()).await
    }

    /// A connection with channel 1 open.
    pub async fn with_channel(addr: SocketAddr) -> Self {
        let mut c = Self::open(addr).await;
        c.open_channel(1).await;
        c
    }

    /// Sends `connection.start-ok` with PLAIN credentials, announcing the
    /// `authentication_failure_close` capability if asked.
    pub async fn start_ok(&mut self, user: &str, password: &str, auth_failure_close: bool) {
        self.start_ok_with(
            user,
            password,
            &[("authentication_failure_close", auth_failure_close)],
        )
        .await;
    }

    /// Sends `connection.start-ok` with PLAIN credentials, announcing exactly the given
    /// client capabilities.
    pub async fn start_ok_with(
        &mut self,
        user: &str,
        password: &str,
        capabilities: &[(&str, bool)],
    ) {
        let mut caps = FieldTable::new();
        for (name, on) in capabilities {
            caps.insert(*name, FieldValue::Bool(*on));
        }
        let mut props = FieldTable::new();
        props.insert("capabilities", FieldValue::Table(caps));
        self.send_method(
            0,
            conn::StartOk {
                client_properties: props,
                mechanism: "PLAIN".into(),
                response: format!("\0{user}\0{password}").into_bytes().into(),
                locale: "en_US".into(),
            },
        )
        .await;
    }

    /// Opens `channel` and expects `open-ok`.
    pub async fn open_channel(&mut self, ch: u16) {
        self.send_method(ch, channel::Open::default()).await;
        self.expect_method(ch, "channel.open-ok").await;
    }

    /// Writes raw bytes.
    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Writes raw bytes, returning the error instead of panicking: the server may
    /// already have closed the socket on what came before.
    pub async fn try_send_bytes(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// The server's `connection.tune`, once read.
    pub fn tune(&self) -> Option<&conn::Tune> {
        self.tune.as_ref()
    }

    /// Writes one method frame.
    pub async fn send_method(&mut self, ch: u16, method: impl Into<Method>) {
        let mut buf = BytesMut::new();
        write_method(&mut buf, ch, &method.into());
        self.send_bytes(&buf).await;
    }

    /// Writes a `basic` content header announcing `body_size` bytes, with `class_id`.
    pub async fn send_header(&mut self, ch: u16, class_id: u16, body_size: u64) {
        let mut buf = BytesMut::new();
        write_header(&mut buf, ch, body_size, &BasicProperties::default());
        // The class id sits right after the 7-byte frame header.
        buf[7..9].copy_from_slice(&class_id.to_be_bytes());
        self.send_bytes(&buf).await;
    }

    /// Writes one body frame.
    pub async fn send_body(&mut self, ch: u16, payload: &[u8]) {
        let mut buf = BytesMut::new();
        write_body_frame(&mut buf, ch, payload);
        self.send_bytes(&buf).await;
    }

    /// Writes a heartbeat frame.
    pub async fn send_heartbeat(&mut self) {
        let mut buf = BytesMut::new();
        write_heartbeat(&mut buf);
        self.send_bytes(&buf).await;
    }

    /// Writes `basic.publish` to the default exchange.
    pub async fn send_publish(&mut self, ch: u16, routing_key: &str) {
        self.send_method(
            ch,
            basic::Publish {
                routing_key: routing_key.into(),
                ..Default::default()
            },
        )
        .await;
    }

    /// Publishes `body` with `properties`, split into body frames as the agreed
    /// frame_max requires, in one socket write.
    pub async fn publish(
        &mut self,
        ch: u16,
        publish: basic::Publish,
        properties: &BasicProperties,
        body: &[u8],
    ) {
        let mut out = BytesMut::new();
        write_method(&mut out, ch, &publish.into());
        write_header(&mut out, ch, body.len() as u64, properties);
        write_body(&mut out, ch, body, self.frame_max);
        self.send_bytes(&out).await;
    }

    /// Publishes several messages (default properties) in a single socket write.
    pub async fn publish_batch(&mut self, ch: u16, messages: &[(basic::Publish, &[u8])]) {
        let mut out = BytesMut::new();
        for (publish, body) in messages {
            write_method(&mut out, ch, &publish.clone().into());
            write_header(&mut out, ch, body.len() as u64, &BasicProperties::default());
            write_body(&mut out, ch, body, self.frame_max);
        }
        self.send_bytes(&out).await;
    }

    /// The next frame (heartbeats included), end of stream, or silence after `timeout`.
    pub async fn next_event(&mut self, timeout: Duration) -> Event {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(frame) = take_frame(&mut self.inbuf) {
                return Event::Frame(frame);
            }
            let read = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.inbuf));
            match read.await {
                Err(_) => return Event::Silence,
                Ok(Ok(0)) | Ok(Err(_)) => return Event::Eof,
                Ok(Ok(_)) => {}
            }
        }
    }

    /// The next frame that is not a heartbeat.
    pub async fn next_non_heartbeat(&mut self, timeout: Duration) -> Event {
        loop {
            match self.next_event(timeout).await {
                Event::Frame(Frame::Heartbeat) => continue,
                other => return other,
            }
        }
    }

    /// Expects method `name` on channel `ch` next and returns it.
    pub async fn expect_method(&mut self, ch: u16, name: &str) -> Method {
        match self.next_non_heartbeat(REPLY_TIMEOUT).await {
            Event::Frame(Frame::Method { channel, method })
                if channel == ch && method.name() == name =>
            {
                method
            }
            other => panic!("expected {name} on channel {ch}, got {other:?}"),
        }
    }

    /// Expects `connection.close`, answers `close-ok`, and returns
    /// `(reply_code, reply_text, class_id, method_id)`.
    pub async fn expect_connection_close(&mut self) -> (u16, String, u16, u16) {
        match self.expect_method(0, "connection.close").await {
            Method::ConnectionClose(c) => {
                self.send_method(0, conn::CloseOk {}).await;
                (c.reply_code, c.reply_text, c.class_id, c.method_id)
            }
            other => unreachable!("expect_method checked the name: {other:?}"),
        }
    }

    /// Expects `channel.close` on `ch`, answers `close-ok`, and returns
    /// `(reply_code, reply_text, class_id, method_id)`.
    pub async fn expect_channel_close(&mut self, ch: u16) -> (u16, String, u16, u16) {
        match self.expect_method(ch, "channel.close").await {
            Method::ChannelClose(c) => {
                self.send_method(ch, channel::CloseOk {}).await;
                (c.reply_code, c.reply_text, c.class_id, c.method_id)
            }
            other => unreachable!("expect_method checked the name: {other:?}"),
        }
    }

    /// Expects the server to close the socket within `timeout` without sending any
    /// frame but heartbeats first.
    pub async fn expect_silent_close(&mut self, timeout: Duration) {
        match self.next_non_heartbeat(timeout).await {
            Event::Eof => {}
            other => panic!("expected the socket to close without a frame, got {other:?}"),
        }
    }

    /// Every frame but heartbeats that arrives until the connection has been quiet for
    /// `quiet`, ending with [`Event::Eof`] if the server closed the socket (never
    /// [`Event::Silence`]).
    pub async fn frames_until_quiet(&mut self, quiet: Duration) -> Vec<Event> {
        let mut events = Vec::new();
        loop {
            match self.next_non_heartbeat(quiet).await {
                Event::Silence => return events,
                Event::Eof => {
                    events.push(Event::Eof);
                    return events;
                }
                frame => events.push(frame),
            }
        }
    }

    /// Reads raw bytes until the server closes the socket (or `timeout`); returns them
    /// and whether the socket was closed.
    pub async fn read_until_eof(&mut self, timeout: Duration) -> (Vec<u8>, bool) {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut out = self.inbuf.split().to_vec();
        let mut chunk = BytesMut::with_capacity(4096);
        loop {
            chunk.clear();
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut chunk)).await {
                Err(_) => return (out, false),
                Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
                Ok(Ok(_)) => out.put_slice(&chunk),
            }
        }
    }
}

/// The frames in `events`, in order, as `"channel:method"` (`"1:basic.ack"`); content
/// frames appear as `"1:header"` and `"1:body"`, heartbeats as `"heartbeat"`, the end of
/// the stream as `"eof"` and silence as `"silence"`.
pub fn names(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            Event::Frame(Frame::Method { channel, method }) => {
                format!("{channel}:{}", method.name())
            }
            Event::Frame(Frame::Header { channel, .. }) => format!("{channel}:header"),
            Event::Frame(Frame::Body { channel, .. }) => format!("{channel}:body"),
            Event::Frame(Frame::Heartbeat) => "heartbeat".to_owned(),
            Event::Eof => "eof".to_owned(),
            Event::Silence => "silence".to_owned(),
        })
        .collect()
}

/// Splits one whole frame off the front of `buf`, if it holds one. Panics on a frame the
/// server should never send.
fn take_frame(buf: &mut BytesMut) -> Option<Frame> {
    if buf.len() < 7 {
        return None;
    }
    let size = u32::from_be_bytes([buf[3], buf[4], buf[5], buf[6]]) as usize;
    if buf.len() < 7 + size + 1 {
        return None;
    }
    let frame = buf.split_to(7 + size + 1).freeze();
    let (frame_type, channel) = (frame[0], u16::from_be_bytes([frame[1], frame[2]]));
    assert_eq!(frame[7 + size], 0xCE, "frame end octet");
    let payload = frame.slice(7..7 + size);
    Some(match frame_type {
        1 => Frame::Method {
            channel,
            method: Method::decode(&payload).expect("server method decodes"),
        },
        2 => Frame::Header {
            channel,
            header: Box::new(ContentHeader::decode(&payload).expect("server header decodes")),
            raw_properties: payload.slice(12..),
        },
        3 => Frame::Body { channel, payload },
        8 => Frame::Heartbeat,
        other => panic!("server sent frame type {other}"),
    })
}

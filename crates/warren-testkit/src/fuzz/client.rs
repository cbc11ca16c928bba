//! The model client: plays a [`Script`] over in-memory pipes, keeps a model of each
//! channel (delivery tags, unacknowledged deliveries, consumers, transactions, confirms)
//! and checks every frame the server sends against it. A broken invariant panics with
//! what was seen, which libFuzzer records as a crash.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};
use tokio::time::Instant;
use tokio_util::codec::Decoder;
use warren_protocol::frame::{
    write_body, write_body_frame, write_header, write_heartbeat, write_method,
};
use warren_protocol::method::{basic, channel, confirm, connection as conn, exchange, queue, tx};
use warren_protocol::{
    BasicProperties, FieldTable, FieldValue, Frame, FrameCodec, Method, PROTOCOL_HEADER,
};
use warren_server::RunningServer;

use super::script::*;

/// How long a well-formed synchronous method may wait for its reply on a connection
/// that never carried broken bytes. Longer is a hang.
const SYNC_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for a reply once broken bytes were sent: the server may be waiting
/// for the rest of a frame, so silence is allowed.
const DESYNCED_TIMEOUT: Duration = Duration::from_millis(5);
/// Connections one script may use (a connection error ends one; the script goes on
/// with the next).
const MAX_CONNECTIONS: usize = 4;
/// Soft reply codes: the only ones a `channel.close` may carry.
const SOFT_CODES: [u16; 7] = [311, 312, 313, 403, 404, 405, 406];
/// Every reply code of the 0-9-1 specification.
const SPEC_CODES: [u16; 19] = [
    200, 311, 312, 313, 320, 402, 403, 404, 405, 406, 501, 502, 503, 504, 505, 506, 530, 540, 541,
];
/// Bodies of 12 bytes or more start with this and a message number, so a delivery
/// names the publish it came from.
const MAGIC: &[u8; 4] = b"WZfz";

/// Message numbers, unique over the process (messages of earlier inputs can never be
/// mistaken for this one's).
static NEXT_MESSAGE: AtomicU64 = AtomicU64::new(1);

/// A message in a queue: the queue's name and the message number.
type MsgKey = (String, u64);

/// Where a sync wait ended.
#[derive(Debug)]
enum Outcome {
    /// The expected reply.
    Reply,
    /// The server closed the channel.
    ChannelClosed,
    /// The connection ended.
    ConnectionGone,
    /// No reply in time (allowed only on a desynced connection).
    Timeout,
}

/// Content being received on a channel.
struct Incoming {
    /// Delivery tag and whether it awaits an ack; `None` for a `basic.return`.
    delivery: Option<(u64, bool)>,
    /// The queue it came from, when known.
    queue: Option<String>,
    /// Size from the header, once read.
    size: Option<u64>,
    /// Body bytes received so far.
    received: u64,
    /// The first bytes of the body (enough for the magic and the number).
    prefix: Vec<u8>,
}

/// A consumer on a channel, as the client knows it.
#[derive(Clone)]
struct ConsumerModel {
    queue: Option<String>,
    no_ack: bool,
}

/// One acknowledgement the client sent: the tag, the message, and whether it removes
/// the message for good (ack, or nack/reject without requeue).
type SentAck = (u64, Option<MsgKey>, bool);

/// The client's model of an open channel.
#[derive(Default)]
struct ChanModel {
    /// The highest delivery tag the server used.
    last_tag: u64,
    /// Deliveries awaiting acknowledgement, by tag.
    unacked: BTreeMap<u64, Option<MsgKey>>,
    /// Acknowledgements sent, settled at the next positive reply on the channel.
    pending: Vec<SentAck>,
    /// In a transaction: acknowledgements waiting for `tx.commit-ok`.
    tx_acks: Vec<SentAck>,
    tx: bool,
    confirm: bool,
    /// Publishes sent since `confirm.select`.
    published: u64,
    /// Sequence numbers confirmed one by one.
    confirmed: HashSet<u64>,
    consumers: HashMap<String, ConsumerModel>,
    /// Tags whose `cancel-ok` (or the server's `basic.cancel`) was received.
    cancelled: HashSet<String>,
    /// Tags cancelled with no_wait, cancelled for sure at the next reply.
    pending_cancels: Vec<String>,
    /// A consume with no_wait and no tag: the server picked a tag the client never
    /// learns, so deliveries under unknown tags are allowed.
    anonymous: bool,
    /// The consume / get awaiting its reply: queue and no_ack.
    pending_consume: Option<ConsumerModel>,
    pending_get: Option<ConsumerModel>,
    /// The sync reply awaited, if any.
    awaiting: Option<&'static [&'static str]>,
    /// The queue last declared on this channel (what an empty queue name means).
    last_queue: Option<String>,
    content: Option<Incoming>,
    /// The model lost track of the server's view (a reply timed out, or an ack it
    /// expects the server to refuse): nothing is settled on this channel any more.
    unsure: bool,
}

/// A client connection.
struct Conn {
    read: ReadHalf<DuplexStream>,
    write: WriteHalf<DuplexStream>,
    inbuf: BytesMut,
    codec: FrameCodec,
    frame_max: u32,
    channels: HashMap<u16, ChanModel>,
    /// Broken bytes were sent: the server's parse of the stream is unknown, so replies
    /// may never come, and nothing is settled.
    desynced: bool,
    /// The client sent `connection.close`; the server may end the pipe.
    closing: bool,
    /// Channels the client sent `channel.close` on, until its `close-ok`.
    client_closing: HashSet<u16>,
    /// The client sent bytes that may hold an unknown class/method id, on which
    /// RabbitMQ (and so Warren) drops the connection without `connection.close`.
    may_drop: bool,
}

/// One script's run.
pub(super) struct Run<'a> {
    server: &'a RunningServer,
    script: &'a Script,
    /// Server-named queues seen in `declare-ok`.
    generated: Vec<String>,
    /// Messages acknowledged for good (or delivered without ack): never delivered again.
    settled: HashSet<MsgKey>,
    conn: Option<Conn>,
    connections: usize,
    /// Step being run, for failure messages.
    at: usize,
}

fn peer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40_000))
}

impl<'a> Run<'a> {
    pub(super) fn new(server: &'a RunningServer, script: &'a Script) -> Self {
        Run {
            server,
            script,
            generated: Vec::new(),
            settled: HashSet::new(),
            conn: None,
            connections: 0,
            at: 0,
        }
    }

    /// Fails the run: the message says which step and what broke.
    #[track_caller]
    fn violation(&self, what: String) -> ! {
        let step = self.script.steps.get(self.at);
        panic!("invariant broken at step {} ({step:?}): {what}", self.at)
    }

    /// Plays every step, checking the queues after each.
    pub(super) async fn play(&mut self) {
        for (i, step) in self.script.steps.iter().enumerate() {
            self.at = i;
            if self.conn.is_none() {
                if self.connections == MAX_CONNECTIONS {
                    break;
                }
                self.connect().await;
            }
            self.step(step).await;
            self.check_queues();
        }
        self.at = self.script.steps.len();
        // What has arrived meanwhile (deliveries, confirms) is read and checked too.
        self.pump(Duration::ZERO).await;
        self.check_queues();
    }

    /// Closes the pipes (the server sees end of stream).
    pub(super) fn hang_up(&mut self) {
        self.conn = None;
    }

    // ---- connections ------------------------------------------------------------------

    async fn connect(&mut self) {
        self.connections += 1;
        let pipe = self.server.connect_in_memory(peer());
        let (read, write) = tokio::io::split(pipe);
        let frame_max = self.script.frame_max.bytes();
        let mut c = Conn {
            read,
            write,
            inbuf: BytesMut::new(),
            codec: FrameCodec::default(),
            frame_max,
            channels: HashMap::new(),
            desynced: false,
            closing: false,
            client_closing: HashSet::new(),
            may_drop: false,
        };
        let mut out = BytesMut::new();
        out.extend_from_slice(&PROTOCOL_HEADER);
        c.write
            .write_all(&out)
            .await
            .expect("write to a fresh pipe");
        self.conn = Some(c);
        self.expect_handshake_method("connection.start").await;
        let mut caps = FieldTable::new();
        for cap in [
            "publisher_confirms",
            "consumer_cancel_notify",
            "basic.nack",
            "connection.blocked",
            "exchange_exchange_bindings",
        ] {
            caps.insert(cap, FieldValue::Bool(true));
        }
        let mut props = FieldTable::new();
        props.insert("capabilities", FieldValue::Table(caps));
        self.send_method(
            0,
            conn::StartOk {
                client_properties: props,
                mechanism: "PLAIN".into(),
                response: Bytes::from_static(b"\0guest\0guest"),
                locale: "en_US".into(),
            },
        )
        .await;
        let tune = match self.expect_handshake_method("connection.tune").await {
            Method::ConnectionTune(t) => t,
            other => self.violation(format!("expected connection.tune, got {other:?}")),
        };
        if tune.frame_max < frame_max {
            self.violation(format!("server offered frame_max {}", tune.frame_max));
        }
        self.send_method(
            0,
            conn::TuneOk {
                channel_max: tune.channel_max,
                frame_max,
                heartbeat: 0,
            },
        )
        .await;
        if let Some(c) = self.conn.as_mut() {
            c.codec = FrameCodec::new(frame_max);
        }
        self.send_method(
            0,
            conn::Open {
                virtual_host: "/".into(),
                ..Default::default()
            },
        )
        .await;
        self.expect_handshake_method("connection.open-ok").await;
        for ch in 1..=u16::from(self.script.channels) {
            self.open_channel(ch).await;
        }
    }

    /// The handshake of a fresh connection on a well-formed stream must go through.
    async fn expect_handshake_method(&mut self, name: &str) -> Method {
        let deadline = Instant::now() + SYNC_TIMEOUT;
        loop {
            match self.next_frame(deadline).await {
                Some(Frame::Method { channel: 0, method }) if method.name() == name => {
                    return method
                }
                Some(Frame::Heartbeat) => {}
                other => self.violation(format!("handshake: expected {name}, got {other:?}")),
            }
        }
    }

    async fn open_channel(&mut self, ch: u16) -> bool {
        let outcome = self
            .call(ch, channel::Open::default().into(), &["channel.open-ok"])
            .await;
        matches!(outcome, Outcome::Reply)
    }

    // ---- writing ----------------------------------------------------------------------

    async fn send_method(&mut self, ch: u16, method: impl Into<Method>) {
        let mut out = BytesMut::new();
        write_method(&mut out, ch, &method.into());
        self.send(out).await;
    }

    /// Writes `bytes`, reading the server's output meanwhile (a server blocked on a full
    /// pipe would otherwise never read ours).
    async fn send(&mut self, bytes: BytesMut) {
        if !self.write_reading(bytes).await {
            // The server ended the pipe: what it sent before is still read and checked.
            self.drain_to_end().await;
        }
    }

    /// Writes `bytes` while reading into the input buffer; false if the pipe is gone.
    async fn write_reading(&mut self, bytes: BytesMut) -> bool {
        let Some(c) = self.conn.as_mut() else {
            return false;
        };
        let write = c.write.write_all(&bytes);
        tokio::pin!(write);
        let mut eof = false;
        loop {
            tokio::select! {
                r = &mut write => return r.is_ok(),
                n = c.read.read_buf(&mut c.inbuf), if !eof => {
                    if !matches!(n, Ok(k) if k > 0) {
                        eof = true;
                    }
                }
            }
        }
    }

    // ---- reading ----------------------------------------------------------------------

    /// The next frame from the server, or `None` at end of stream or at the deadline.
    /// A frame the client cannot decode is a violation: the server writes only
    /// well-formed frames within the agreed frame_max.
    async fn next_frame(&mut self, deadline: Instant) -> Option<Frame> {
        loop {
            let c = self.conn.as_mut()?;
            match c.codec.decode(&mut c.inbuf) {
                Ok(Some(frame)) => return Some(frame),
                Ok(None) => {}
                Err(e) => {
                    let e = e.to_string();
                    self.violation(format!("the server sent an undecodable frame: {e}"))
                }
            }
            match tokio::time::timeout_at(deadline, c.read.read_buf(&mut c.inbuf)).await {
                Err(_) => return None,
                Ok(Ok(n)) if n > 0 => {}
                Ok(_) => {
                    if !c.inbuf.is_empty() {
                        let left = c.inbuf.len();
                        self.violation(format!("stream ended inside a frame ({left} bytes)"));
                    }
                    self.connection_ended(None).await;
                    return None;
                }
            }
        }
    }

    /// Reads and checks frames for `time`.
    async fn pump(&mut self, time: Duration) {
        let deadline = Instant::now() + time;
        while self.conn.is_some() {
            tokio::task::yield_now().await;
            match self.next_frame(deadline).await {
                Some(frame) => {
                    self.on_frame(frame).await;
                }
                None => break,
            }
        }
    }

    /// After a failed write: reads what the server sent up to its end of stream.
    async fn drain_to_end(&mut self) {
        let deadline = Instant::now() + SYNC_TIMEOUT;
        while self.conn.is_some() {
            match self.next_frame(deadline).await {
                Some(frame) => self.on_frame(frame).await,
                None => {
                    // A deadline with the pipe still open: the server stopped reading
                    // but did not end the connection.
                    if self.conn.is_some() {
                        self.connection_ended(None).await;
                    }
                }
            }
        }
    }

    /// Sends a synchronous method and waits for one of `replies` on its channel,
    /// checking everything else that arrives meanwhile.
    async fn call(&mut self, ch: u16, method: Method, replies: &'static [&'static str]) -> Outcome {
        let name = method.name();
        let mut out = BytesMut::new();
        write_method(&mut out, ch, &method);
        self.wait_for(ch, out, name, replies).await
    }

    async fn wait_for(
        &mut self,
        ch: u16,
        out: BytesMut,
        name: &str,
        replies: &'static [&'static str],
    ) -> Outcome {
        let Some(c) = self.conn.as_mut() else {
            return Outcome::ConnectionGone;
        };
        let desynced = c.desynced;
        if let Some(m) = c.channels.get_mut(&ch) {
            m.awaiting = Some(replies);
        }
        self.send(out).await;
        let timeout = if desynced {
            DESYNCED_TIMEOUT
        } else {
            SYNC_TIMEOUT
        };
        let deadline = Instant::now() + timeout;
        loop {
            let Some(frame) = self.next_frame(deadline).await else {
                let Some(c) = self.conn.as_mut() else {
                    return Outcome::ConnectionGone;
                };
                if !c.desynced {
                    self.violation(format!("no reply to {name} on channel {ch} in {timeout:?}"));
                }
                if let Some(m) = c.channels.get_mut(&ch) {
                    m.unsure = true;
                    m.awaiting = None;
                }
                return Outcome::Timeout;
            };
            let is_reply = matches!(&frame, Frame::Method { channel, method }
                if *channel == ch && replies.contains(&method.name()));
            let closes_channel = matches!(&frame, Frame::Method { channel, method }
                if *channel == ch && method.name() == "channel.close");
            self.on_frame(frame).await;
            if is_reply {
                return Outcome::Reply;
            }
            if closes_channel {
                return Outcome::ChannelClosed;
            }
            if self.conn.is_none() {
                return Outcome::ConnectionGone;
            }
        }
    }

    /// The connection ended: `close` is the server's `connection.close` if it sent one.
    async fn connection_ended(&mut self, close: Option<conn::Close>) {
        let Some(c) = self.conn.as_mut() else { return };
        match close {
            Some(close) => {
                if !SPEC_CODES.contains(&close.reply_code) || close.reply_text.is_empty() {
                    self.violation(format!("connection.close with {close:?}"));
                }
                let mut out = BytesMut::new();
                write_method(&mut out, 0, &conn::CloseOk {}.into());
                // The server may already have gone; either way this connection is over.
                let _ = c.write.write_all(&out).await;
            }
            None => {
                if !c.closing && !c.may_drop {
                    self.violation(
                        "the server ended the connection without connection.close".into(),
                    );
                }
            }
        }
        self.conn = None;
    }

    // ---- what the server sends --------------------------------------------------------

    async fn on_frame(&mut self, frame: Frame) {
        match frame {
            Frame::Heartbeat => {}
            Frame::Method { channel: 0, method } => self.on_connection_method(method).await,
            Frame::Method { channel, method } => self.on_channel_method(channel, method).await,
            Frame::Header {
                channel, header, ..
            } => {
                let Some(m) = self.chan(channel) else {
                    self.violation(format!("content header on channel {channel}, not open"))
                };
                let Some(inc) = m.content.as_mut().filter(|i| i.size.is_none()) else {
                    self.violation(format!("content header on channel {channel} out of order"))
                };
                inc.size = Some(header.body_size);
                if header.body_size == 0 {
                    self.content_done(channel);
                }
            }
            Frame::Body { channel, payload } => {
                let Some(m) = self.chan(channel) else {
                    self.violation(format!("body frame on channel {channel}, not open"))
                };
                let Some(inc) = m.content.as_mut() else {
                    self.violation(format!("body frame on channel {channel} out of order"))
                };
                let Some(size) = inc.size else {
                    self.violation(format!("body frame before the header on {channel}"))
                };
                inc.received += payload.len() as u64;
                let want = 12usize.saturating_sub(inc.prefix.len()).min(payload.len());
                inc.prefix.extend_from_slice(&payload[..want]);
                if inc.received > size {
                    self.violation(format!("body longer than its header on {channel}"));
                }
                if inc.received == size {
                    self.content_done(channel);
                }
            }
        }
    }

    fn chan(&mut self, ch: u16) -> Option<&mut ChanModel> {
        self.conn.as_mut()?.channels.get_mut(&ch)
    }

    async fn on_connection_method(&mut self, method: Method) {
        match method {
            Method::ConnectionClose(close) => self.connection_ended(Some(close)).await,
            Method::ConnectionCloseOk(_) => {
                if self.conn.as_ref().is_some_and(|c| !c.closing) {
                    self.violation("connection.close-ok without a close".into());
                }
                self.conn = None;
            }
            Method::ConnectionBlocked(_) | Method::ConnectionUnblocked(_) => {}
            other => {
                if self.conn.as_ref().is_some_and(|c| !c.desynced) {
                    self.violation(format!("unexpected {} on channel 0", other.name()));
                }
            }
        }
    }

    async fn on_channel_method(&mut self, ch: u16, method: Method) {
        let desynced = self.conn.as_ref().is_some_and(|c| c.desynced);
        let Some(m) = self.chan(ch) else {
            // Only a reply to our channel.open may come on a channel not open yet; the
            // server answers nothing else there.
            if method.name() == "channel.open-ok" {
                if let Some(c) = self.conn.as_mut() {
                    c.channels.insert(ch, ChanModel::default());
                }
                return;
            }
            if let Method::ChannelClose(close) = method {
                self.on_channel_close(ch, close).await;
                return;
            }
            if method.name() == "channel.close-ok"
                && self
                    .conn
                    .as_mut()
                    .is_some_and(|c| c.client_closing.remove(&ch))
            {
                // Our close crossed the server's: it answers ours after its own.
                return;
            }
            if !desynced {
                self.violation(format!(
                    "{} on channel {ch}, which is not open",
                    method.name()
                ));
            }
            return;
        };
        if m.content.is_some() {
            self.violation(format!("{} on channel {ch} inside content", method.name()));
        }
        let name = method.name();
        match method {
            Method::ChannelClose(close) => self.on_channel_close(ch, close).await,
            Method::BasicDeliver(d) => {
                let consumer = m.consumers.get(&d.consumer_tag).cloned();
                if m.cancelled.contains(&d.consumer_tag) && !desynced {
                    self.violation(format!(
                        "delivery for cancelled consumer {}",
                        d.consumer_tag
                    ));
                }
                let unknown_allowed = desynced || m.anonymous;
                let Some(consumer) = consumer.or_else(|| {
                    unknown_allowed.then_some(ConsumerModel {
                        queue: None,
                        no_ack: false,
                    })
                }) else {
                    self.violation(format!("delivery for unknown consumer {}", d.consumer_tag))
                };
                self.delivery(ch, d.delivery_tag, consumer);
            }
            Method::BasicGetOk(g) => {
                let Some(get) = m.pending_get.take() else {
                    if !desynced {
                        self.violation("basic.get-ok without a get".into());
                    }
                    self.delivery(
                        ch,
                        g.delivery_tag,
                        ConsumerModel {
                            queue: None,
                            no_ack: false,
                        },
                    );
                    return;
                };
                m.awaiting = None;
                self.delivery(ch, g.delivery_tag, get);
                self.settle_pending(ch);
            }
            Method::BasicReturn(r) => {
                if ![312, 313].contains(&r.reply_code) || r.reply_text.is_empty() {
                    self.violation(format!("basic.return with {r:?}"));
                }
                m.content = Some(Incoming {
                    delivery: None,
                    queue: None,
                    size: None,
                    received: 0,
                    prefix: Vec::new(),
                });
            }
            Method::BasicAck(a) => self.confirm(ch, a.delivery_tag, a.multiple),
            Method::BasicNack(n) => self.confirm(ch, n.delivery_tag, n.multiple),
            Method::BasicCancel(c) => {
                m.consumers.remove(&c.consumer_tag);
                m.cancelled.insert(c.consumer_tag);
            }
            Method::ChannelFlow(_) => {}
            reply => {
                let expected = m.awaiting.is_some_and(|r| r.contains(&name));
                if !expected && !m.unsure && !desynced {
                    self.violation(format!("unsolicited {name} on channel {ch}"));
                }
                m.awaiting = None;
                self.on_reply(ch, reply);
            }
        }
    }

    async fn on_channel_close(&mut self, ch: u16, close: channel::Close) {
        if !SOFT_CODES.contains(&close.reply_code) || close.reply_text.is_empty() {
            self.violation(format!("channel.close on {ch} with {close:?}"));
        }
        if let Some(c) = self.conn.as_mut() {
            // Unsettled acks on it are void; its deliveries go back to their queues.
            c.channels.remove(&ch);
        }
        let mut out = BytesMut::new();
        write_method(&mut out, ch, &channel::CloseOk {}.into());
        // A failed write shows as the end of stream at the next read.
        self.write_reading(out).await;
    }

    /// A positive reply to a synchronous method.
    fn on_reply(&mut self, ch: u16, reply: Method) {
        let Some(m) = self.chan(ch) else { return };
        for tag in std::mem::take(&mut m.pending_cancels) {
            m.consumers.remove(&tag);
            m.cancelled.insert(tag);
        }
        match &reply {
            Method::QueueDeclareOk(ok) => {
                m.last_queue = Some(ok.queue.clone());
                if ok.queue.starts_with("amq.gen-") && !self.generated.contains(&ok.queue) {
                    self.generated.push(ok.queue.clone());
                }
            }
            Method::BasicConsumeOk(ok) => {
                if let Some(consumer) = m.pending_consume.take() {
                    m.cancelled.remove(&ok.consumer_tag);
                    m.consumers.insert(ok.consumer_tag.clone(), consumer);
                } else if !m.unsure {
                    self.violation("basic.consume-ok without a consume".into());
                }
            }
            Method::BasicCancelOk(ok) => {
                m.consumers.remove(&ok.consumer_tag);
                m.cancelled.insert(ok.consumer_tag.clone());
            }
            Method::BasicGetEmpty(_) => {
                m.pending_get = None;
            }
            Method::BasicRecoverOk(_) => {
                // Every unacknowledged delivery may come again, under a new tag.
                m.unacked.clear();
            }
            Method::TxSelectOk(_) => m.tx = true,
            Method::TxCommitOk(_) => {
                let done = std::mem::take(&mut m.tx_acks);
                self.settle(ch, done);
            }
            Method::TxRollbackOk(_) => {
                for (tag, key, _) in std::mem::take(&mut m.tx_acks) {
                    m.unacked.insert(tag, key);
                }
            }
            Method::ConfirmSelectOk(_) => m.confirm = true,
            _ => {}
        }
        self.settle_pending(ch);
    }

    /// A delivery (deliver or get-ok) with `tag`: tags on a channel only grow.
    fn delivery(&mut self, ch: u16, tag: u64, consumer: ConsumerModel) {
        let Some(m) = self.chan(ch) else { return };
        if tag <= m.last_tag {
            let last = m.last_tag;
            self.violation(format!(
                "delivery tag {tag} on channel {ch} after tag {last}"
            ));
        }
        m.last_tag = tag;
        if !consumer.no_ack {
            m.unacked.insert(tag, None);
        }
        m.content = Some(Incoming {
            delivery: Some((tag, !consumer.no_ack)),
            queue: consumer.queue,
            size: None,
            received: 0,
            prefix: Vec::new(),
        });
    }

    /// A message's content is complete: if it came from a queue, it must not be one
    /// acknowledged for good before.
    fn content_done(&mut self, ch: u16) {
        let Some(m) = self.chan(ch) else { return };
        let Some(inc) = m.content.take() else { return };
        let Some((tag, needs_ack)) = inc.delivery else {
            return;
        };
        let number = (inc.prefix.len() == 12 && inc.prefix.starts_with(MAGIC))
            .then(|| u64::from_be_bytes(inc.prefix[4..12].try_into().expect("8 bytes")));
        let (Some(queue), Some(number)) = (inc.queue, number) else {
            return;
        };
        let key = (queue, number);
        if needs_ack {
            if let Some(slot) = m.unacked.get_mut(&tag) {
                *slot = Some(key.clone());
            }
        }
        if self.settled.contains(&key) {
            self.violation(format!(
                "message {} of queue {} delivered again (tag {tag} on channel {ch}) after it was acknowledged",
                key.1, key.0
            ));
        }
        if !needs_ack {
            self.settled.insert(key);
        }
    }

    /// A publisher confirm: its sequence number was published, and a single confirm is
    /// not repeated.
    fn confirm(&mut self, ch: u16, tag: u64, multiple: bool) {
        let desynced = self.conn.as_ref().is_some_and(|c| c.desynced);
        let Some(m) = self.chan(ch) else { return };
        if desynced {
            return;
        }
        if !m.confirm && !m.unsure {
            self.violation(format!(
                "publisher confirm {tag} on channel {ch} not in confirm mode"
            ));
        }
        if tag > m.published || (tag == 0 && !multiple) {
            let published = m.published;
            self.violation(format!(
                "confirm of {tag} on channel {ch} after {published} publishes"
            ));
        }
        if !multiple && !m.confirmed.insert(tag) {
            self.violation(format!("publish {tag} on channel {ch} confirmed twice"));
        }
    }

    /// The acknowledgements sent before a positive reply were accepted.
    fn settle_pending(&mut self, ch: u16) {
        let Some(m) = self.chan(ch) else { return };
        let done = std::mem::take(&mut m.pending);
        self.settle(ch, done);
    }

    fn settle(&mut self, ch: u16, acks: Vec<SentAck>) {
        let desynced = self.conn.as_ref().is_some_and(|c| c.desynced);
        let Some(m) = self.chan(ch) else { return };
        if m.unsure || desynced {
            return;
        }
        for (_, key, removes) in acks {
            if let (Some(key), true) = (key, removes) {
                self.settled.insert(key);
            }
        }
    }

    // ---- the steps ----------------------------------------------------------------------

    fn queue_name(&self, q: QueueRef) -> String {
        match q {
            QueueRef::Named(n) => format!("fz.q{}", n % 3),
            QueueRef::Empty => String::new(),
            QueueRef::Generated(i) => {
                if self.generated.is_empty() {
                    String::new()
                } else {
                    self.generated[usize::from(i) % self.generated.len()].clone()
                }
            }
            QueueRef::Reserved => "amq.gen-fz".into(),
            QueueRef::ReplyTo => "amq.rabbitmq.reply-to".into(),
        }
    }

    /// The queue the server will use for `name` on channel `ch`.
    fn resolve_queue(&mut self, ch: u16, name: &str) -> Option<String> {
        if name.is_empty() {
            self.chan(ch).and_then(|m| m.last_queue.clone())
        } else {
            Some(name.to_owned())
        }
    }

    fn key(&self, k: Key) -> String {
        match k {
            Key::Fixed(n) => KEYS[usize::from(n) % KEYS.len()].to_owned(),
            Key::Queue(q) => self.queue_name(q),
        }
    }

    fn table(&self, keys: &[&str], args: &[Option<Arg>]) -> FieldTable {
        let mut t = FieldTable::new();
        for a in args.iter().flatten() {
            t.insert(keys[usize::from(a.key) % keys.len()], value(a.value));
        }
        t
    }

    fn tag(&mut self, ch: u16, t: TagRef) -> u64 {
        let Some(m) = self.chan(ch) else { return 1 };
        match t {
            TagRef::Last => m.last_tag,
            TagRef::Outstanding(i) => {
                let n = m.unacked.len();
                if n == 0 {
                    m.last_tag
                } else {
                    *m.unacked.keys().nth(usize::from(i) % n).expect("in range")
                }
            }
            TagRef::Ahead(n) => m.last_tag + 1 + u64::from(n % 4),
            TagRef::Behind(n) => m.last_tag.saturating_sub(1 + u64::from(n % 4)),
            TagRef::Zero => 0,
            TagRef::Raw(v) => v,
        }
    }

    /// Models an ack/nack/reject sent on `ch`: takes the deliveries it covers out of
    /// the unacknowledged set, as RabbitMQ does (`multiple` with 0 means all; otherwise
    /// the tag itself must be outstanding). One the server will refuse makes the
    /// channel's model unsure, so nothing is settled on a guess.
    fn sent_ack(&mut self, ch: u16, tag: u64, multiple: bool, removes: bool) {
        let Some(m) = self.chan(ch) else { return };
        let known = m.unacked.contains_key(&tag) || (multiple && tag == 0);
        if !known {
            m.unsure = true;
            return;
        }
        let taken: Vec<u64> = if multiple {
            m.unacked
                .keys()
                .copied()
                .filter(|&t| tag == 0 || t <= tag)
                .collect()
        } else {
            vec![tag]
        };
        for t in taken {
            let key = m.unacked.remove(&t).flatten();
            if m.tx {
                m.tx_acks.push((t, key, removes));
            } else {
                m.pending.push((t, key, removes));
            }
        }
    }

    async fn step(&mut self, step: &Step) {
        let ch = step.channel_number();
        let open = self.chan(ch).is_some();
        if !open
            && self.script.auto_reopen
            && (1..=4).contains(&ch)
            && !matches!(step.action, Action::ChannelOpen | Action::Broken(_))
            && !self.open_channel(ch).await
        {
            return;
        }
        if self.conn.is_none() {
            return;
        }
        match &step.action {
            Action::QueueDeclare {
                queue: q,
                passive,
                durable,
                exclusive,
                auto_delete,
                no_wait,
                args,
            } => {
                let name = self.queue_name(*q);
                let m = queue::Declare {
                    queue: name,
                    passive: *passive,
                    durable: *durable,
                    exclusive: *exclusive,
                    auto_delete: *auto_delete,
                    no_wait: *no_wait,
                    arguments: self.table(&QUEUE_ARG_KEYS, args),
                    ..Default::default()
                };
                self.sync_or_not(ch, m.into(), *no_wait, &["queue.declare-ok"])
                    .await;
            }
            Action::QueueBind {
                queue: q,
                exchange: x,
                key,
                no_wait,
                args,
            } => {
                let m = queue::Bind {
                    queue: self.queue_name(*q),
                    exchange: x.name(),
                    routing_key: self.key(*key),
                    no_wait: *no_wait,
                    arguments: self.table(&BIND_ARG_KEYS, args),
                    ..Default::default()
                };
                self.sync_or_not(ch, m.into(), *no_wait, &["queue.bind-ok"])
                    .await;
            }
            Action::QueueUnbind {
                queue: q,
                exchange: x,
                key,
                args,
            } => {
                let m = queue::Unbind {
                    queue: self.queue_name(*q),
                    exchange: x.name(),
                    routing_key: self.key(*key),
                    arguments: self.table(&BIND_ARG_KEYS, args),
                    ..Default::default()
                };
                self.sync_or_not(ch, m.into(), false, &["queue.unbind-ok"])
                    .await;
            }
            Action::QueuePurge { queue: q, no_wait } => {
                let m = queue::Purge {
                    queue: self.queue_name(*q),
                    no_wait: *no_wait,
                    ..Default::default()
                };
                self.sync_or_not(ch, m.into(), *no_wait, &["queue.purge-ok"])
                    .await;
            }
            Action::QueueDelete {
                queue: q,
                if_unused,
                if_empty,
                no_wait,
            } => {
                let m = queue::Delete {
                    queue: self.queue_name(*q),
                    if_unused: *if_unused,
                    if_empty: *if_empty,
                    no_wait: *no_wait,
                    ..Default::default()
                };
                self.sync_or_not(ch, m.into(), *no_wait, &["queue.delete-ok"])
                    .await;
            }
            Action::ExchangeDeclare {
                exchange: x,
                kind,
                passive,
                durable,
                auto_delete,
                internal,
                no_wait,
                alternate,
            } => {
                let mut arguments = FieldTable::new();
                if let Some(a) = alternate {
                    arguments.insert("alternate-exchange", FieldValue::string(a.name()));
                }
                if matches!(kind, ExchangeKind::Delayed) {
                    arguments.insert("x-delayed-type", FieldValue::string("direct"));
                }
                let m = exchange::Declare {
                    exchange: x.name(),
                    kind: kind.name().into(),
                    passive: *passive,
                    durable: *durable,
                    auto_delete: *auto_delete,
                    internal: *internal,
                    no_wait: *no_wait,
                    arguments,
                    ..Default::default()
                };
                self.sync_or_not(ch, m.into(), *no_wait, &["exchange.declare-ok"])
                    .await;
            }
            Action::ExchangeDelete {
                exchange: x,
                if_unused,
                no_wait,
            } => {
                let m = exchange::Delete {
                    exchange: x.name(),
                    if_unused: *if_unused,
                    no_wait: *no_wait,
                    ..Default::default()
                };
                self.sync_or_not(ch, m.into(), *no_wait, &["exchange.delete-ok"])
                    .await;
            }
            Action::ExchangeBind {
                destination,
                source,
                key,
                no_wait,
            } => {
                let m = exchange::Bind {
                    destination: destination.name(),
                    source: source.name(),
                    routing_key: self.key(*key),
                    no_wait: *no_wait,
                    ..Default::default()
                };
                self.sync_or_not(ch, m.into(), *no_wait, &["exchange.bind-ok"])
                    .await;
            }
            Action::ExchangeUnbind {
                destination,
                source,
                key,
                no_wait,
            } => {
                let m = exchange::Unbind {
                    destination: destination.name(),
                    source: source.name(),
                    routing_key: self.key(*key),
                    no_wait: *no_wait,
                    ..Default::default()
                };
                self.sync_or_not(ch, m.into(), *no_wait, &["exchange.unbind-ok"])
                    .await;
            }
            Action::Publish {
                exchange: x,
                key,
                mandatory,
                immediate,
                props,
                size,
                count,
            } => {
                let publish: Method = basic::Publish {
                    exchange: x.name(),
                    routing_key: self.key(*key),
                    mandatory: *mandatory,
                    immediate: *immediate,
                    ..Default::default()
                }
                .into();
                let properties = self.properties(props);
                let frame_max = self.conn.as_ref().map_or(4096, |c| c.frame_max);
                let mut out = BytesMut::new();
                let count = 1 + count % 4;
                for _ in 0..count {
                    let body = body(size.bytes());
                    write_method(&mut out, ch, &publish);
                    write_header(&mut out, ch, body.len() as u64, &properties);
                    write_body(&mut out, ch, &body, frame_max);
                }
                if let Some(m) = self.chan(ch) {
                    if m.confirm {
                        m.published += u64::from(count);
                    }
                }
                self.send(out).await;
                self.pump(Duration::ZERO).await;
            }
            Action::Consume {
                queue: q,
                tag,
                no_local,
                no_ack,
                exclusive,
                no_wait,
                args,
            } => {
                let name = self.queue_name(*q);
                let model = ConsumerModel {
                    queue: self.resolve_queue(ch, &name),
                    no_ack: *no_ack,
                };
                let consumer_tag = tag.name();
                if let Some(m) = self.chan(ch) {
                    if *no_wait {
                        // No consume-ok will name it: the tag is known now (a tag in
                        // use is an error that closes the channel).
                        if consumer_tag.is_empty() {
                            m.anonymous = true;
                        } else {
                            m.cancelled.remove(&consumer_tag);
                            let model = if m.consumers.contains_key(&consumer_tag) {
                                // Two consumers under one tag: whose deliveries are
                                // whose is not known (the second is refused).
                                ConsumerModel {
                                    queue: None,
                                    no_ack: model.no_ack,
                                }
                            } else {
                                model
                            };
                            m.consumers.insert(consumer_tag.clone(), model);
                        }
                    } else {
                        m.pending_consume = Some(model);
                    }
                }
                let m = basic::Consume {
                    queue: name,
                    consumer_tag,
                    no_local: *no_local,
                    no_ack: *no_ack,
                    exclusive: *exclusive,
                    no_wait: *no_wait,
                    arguments: self.table(&CONSUME_ARG_KEYS, &[*args]),
                    ..Default::default()
                };
                self.sync_or_not(ch, m.into(), *no_wait, &["basic.consume-ok"])
                    .await;
            }
            Action::Cancel { tag, no_wait } => {
                let consumer_tag = tag.name();
                if *no_wait {
                    if let Some(m) = self.chan(ch) {
                        // Deliveries already on their way may still arrive: the tag
                        // counts as cancelled from the next reply on.
                        m.pending_cancels.push(consumer_tag.clone());
                    }
                }
                let m = basic::Cancel {
                    consumer_tag,
                    no_wait: *no_wait,
                };
                self.sync_or_not(ch, m.into(), *no_wait, &["basic.cancel-ok"])
                    .await;
            }
            Action::Get { queue: q, no_ack } => {
                let name = self.queue_name(*q);
                let model = ConsumerModel {
                    queue: self.resolve_queue(ch, &name),
                    no_ack: *no_ack,
                };
                if let Some(m) = self.chan(ch) {
                    m.pending_get = Some(model);
                }
                let m = basic::Get {
                    queue: name,
                    no_ack: *no_ack,
                    ..Default::default()
                };
                self.sync_or_not(ch, m.into(), false, &["basic.get-ok", "basic.get-empty"])
                    .await;
            }
            Action::Ack { tag, multiple } => {
                let tag = self.tag(ch, *tag);
                self.sent_ack(ch, tag, *multiple, true);
                let m = basic::Ack {
                    delivery_tag: tag,
                    multiple: *multiple,
                };
                self.async_method(ch, m.into()).await;
            }
            Action::Nack {
                tag,
                multiple,
                requeue,
            } => {
                let tag = self.tag(ch, *tag);
                self.sent_ack(ch, tag, *multiple, !requeue);
                let m = basic::Nack {
                    delivery_tag: tag,
                    multiple: *multiple,
                    requeue: *requeue,
                };
                self.async_method(ch, m.into()).await;
            }
            Action::Reject { tag, requeue } => {
                let tag = self.tag(ch, *tag);
                self.sent_ack(ch, tag, false, !requeue);
                let m = basic::Reject {
                    delivery_tag: tag,
                    requeue: *requeue,
                };
                self.async_method(ch, m.into()).await;
            }
            Action::Recover { requeue } => {
                let m = basic::Recover { requeue: *requeue };
                self.sync_or_not(ch, m.into(), false, &["basic.recover-ok"])
                    .await;
            }
            Action::RecoverAsync { requeue } => {
                if let Some(m) = self.chan(ch) {
                    m.unacked.clear();
                }
                let m = basic::RecoverAsync { requeue: *requeue };
                self.async_method(ch, m.into()).await;
            }
            Action::Qos {
                prefetch_size,
                prefetch_count,
                global,
            } => {
                let m = basic::Qos {
                    prefetch_size: prefetch_size.map_or(0, u32::from),
                    prefetch_count: u16::from(*prefetch_count),
                    global: *global,
                };
                self.sync_or_not(ch, m.into(), false, &["basic.qos-ok"])
                    .await;
            }
            Action::ConfirmSelect { no_wait } => {
                if *no_wait {
                    if let Some(m) = self.chan(ch) {
                        m.confirm = true;
                    }
                }
                let m = confirm::Select { nowait: *no_wait };
                self.sync_or_not(ch, m.into(), *no_wait, &["confirm.select-ok"])
                    .await;
            }
            Action::TxSelect => {
                self.sync_or_not(ch, tx::Select {}.into(), false, &["tx.select-ok"])
                    .await;
            }
            Action::TxCommit => {
                self.sync_or_not(ch, tx::Commit {}.into(), false, &["tx.commit-ok"])
                    .await;
            }
            Action::TxRollback => {
                self.sync_or_not(ch, tx::Rollback {}.into(), false, &["tx.rollback-ok"])
                    .await;
            }
            Action::Flow { active } => {
                let m = channel::Flow { active: *active };
                self.sync_or_not(ch, m.into(), false, &["channel.flow-ok"])
                    .await;
            }
            Action::ChannelOpen => {
                self.sync_or_not(
                    ch,
                    channel::Open::default().into(),
                    false,
                    &["channel.open-ok"],
                )
                .await;
            }
            Action::ChannelClose => {
                let m = channel::Close {
                    reply_code: 200,
                    reply_text: "bye".into(),
                    class_id: 0,
                    method_id: 0,
                };
                if let Some(c) = self.conn.as_mut() {
                    c.client_closing.insert(ch);
                }
                if let Outcome::Reply = self
                    .sync_or_not(ch, m.into(), false, &["channel.close-ok"])
                    .await
                {
                    if let Some(c) = self.conn.as_mut() {
                        c.channels.remove(&ch);
                        c.client_closing.remove(&ch);
                    }
                }
            }
            Action::Heartbeat => {
                let mut out = BytesMut::new();
                write_heartbeat(&mut out);
                self.send(out).await;
            }
            Action::Wait { ms } => {
                self.pump(Duration::from_millis(u64::from(ms % 20))).await;
            }
            Action::Broken(b) => self.broken(ch, b).await,
        }
    }

    /// Sends a method; waits for its reply unless `no_wait`.
    async fn sync_or_not(
        &mut self,
        ch: u16,
        method: Method,
        no_wait: bool,
        replies: &'static [&'static str],
    ) -> Outcome {
        if no_wait {
            self.async_method(ch, method).await;
            Outcome::Timeout
        } else {
            self.call(ch, method, replies).await
        }
    }

    async fn async_method(&mut self, ch: u16, method: Method) {
        let mut out = BytesMut::new();
        write_method(&mut out, ch, &method);
        self.send(out).await;
        self.pump(Duration::ZERO).await;
    }

    fn properties(&self, p: &Props) -> BasicProperties {
        let expirations = ["0", "5", "1000", "-1", "x"];
        let headers = p.headers.map(|h| {
            let mut t = FieldTable::new();
            if let Some(d) = h.delay {
                t.insert("x-delay", FieldValue::I32(i32::from(d)));
            }
            if let Some(v) = h.h {
                t.insert("h", FieldValue::string(TEXTS[usize::from(v) % TEXTS.len()]));
            }
            if let Some(v) = h.g {
                t.insert("g", FieldValue::string(TEXTS[usize::from(v) % TEXTS.len()]));
            }
            t
        });
        BasicProperties {
            delivery_mode: p.delivery_mode.map(|d| if d < 200 { 1 + d % 2 } else { d }),
            priority: p.priority,
            expiration: p
                .expiration
                .map(|e| expirations[usize::from(e) % expirations.len()].to_owned()),
            reply_to: p.reply_to.map(|q| self.queue_name(q)),
            user_id: p
                .user_id
                .map(|guest| if guest { "guest" } else { "fz-other" }.to_owned()),
            headers,
            timestamp: p.timestamp.map(u64::from),
            ..Default::default()
        }
    }

    /// Broken input: the connection's stream is no longer known to the model.
    async fn broken(&mut self, ch: u16, b: &Broken) {
        if let Some(c) = self.conn.as_mut() {
            c.desynced = true;
            // Garbage, a cut frame (the stream goes on misaligned), another frame type
            // or an unknown id may reach the method decoder as an unknown method.
            c.may_drop |= matches!(
                b,
                Broken::Raw(_)
                    | Broken::Truncated { .. }
                    | Broken::FrameType { .. }
                    | Broken::UnknownMethod { .. }
            );
        }
        let frame_max = self.conn.as_ref().map_or(4096, |c| c.frame_max);
        let mut out = BytesMut::new();
        let declare: Method = queue::Declare {
            queue: "fz.q0".into(),
            ..Default::default()
        }
        .into();
        match b {
            Broken::Raw(bytes) => out.extend_from_slice(&bytes[..bytes.len().min(MAX_RAW_BYTES)]),
            Broken::Truncated { keep } => {
                write_method(&mut out, ch, &declare);
                out.truncate(usize::from(*keep) % out.len());
            }
            Broken::FrameType { kind } => {
                write_method(&mut out, ch, &declare);
                out[0] = *kind;
            }
            Broken::FrameEnd { end } => {
                write_method(&mut out, ch, &declare);
                let last = out.len() - 1;
                out[last] = if *end == 0xCE { 0 } else { *end };
            }
            Broken::Oversized { extra } => {
                let len = frame_max as usize + 1 + usize::from(*extra % 64);
                write_body_frame(&mut out, ch, &vec![0u8; len]);
            }
            Broken::HeaderFirst { body_size } => {
                write_header(
                    &mut out,
                    ch,
                    u64::from(*body_size),
                    &BasicProperties::default(),
                );
            }
            Broken::BodyFirst { len } => {
                write_body_frame(&mut out, ch, &vec![b'b'; usize::from(*len)]);
            }
            Broken::PublishThenMethod => {
                write_method(&mut out, ch, &basic::Publish::default().into());
                write_method(&mut out, ch, &declare);
            }
            Broken::HeaderClass { class_id } => {
                write_method(&mut out, ch, &basic::Publish::default().into());
                write_header(&mut out, ch, 1, &BasicProperties::default());
                // The class id follows the 7-byte frame header.
                let at = out.len() - 8 - 14 + 7;
                let class = if *class_id == 60 { 50 } else { *class_id };
                out[at..at + 2].copy_from_slice(&class.to_be_bytes());
                write_body_frame(&mut out, ch, b"x");
            }
            Broken::BodyTooLong { announced, extra } => {
                write_method(&mut out, ch, &basic::Publish::default().into());
                write_header(
                    &mut out,
                    ch,
                    u64::from(*announced),
                    &BasicProperties::default(),
                );
                let len = usize::from(*announced) + 1 + usize::from(*extra);
                write_body_frame(&mut out, ch, &vec![b'b'; len]);
            }
            Broken::HugeBodySize { body_size } => {
                write_method(&mut out, ch, &basic::Publish::default().into());
                write_header(&mut out, ch, *body_size, &BasicProperties::default());
            }
            Broken::UnknownMethod {
                class_id,
                method_id,
                payload,
            } => {
                // A method frame by hand: type 1, channel, size, ids, arguments, end.
                let payload = &payload[..payload.len().min(MAX_RAW_BYTES)];
                out.extend_from_slice(&[1]);
                out.extend_from_slice(&ch.to_be_bytes());
                out.extend_from_slice(&(4 + payload.len() as u32).to_be_bytes());
                out.extend_from_slice(&class_id.to_be_bytes());
                out.extend_from_slice(&method_id.to_be_bytes());
                out.extend_from_slice(payload);
                out.extend_from_slice(&[0xCE]);
            }
            Broken::ServerMethod { which } => {
                let m: Method = match which % 6 {
                    0 => basic::Deliver {
                        consumer_tag: "fz.c0".into(),
                        delivery_tag: 1,
                        ..Default::default()
                    }
                    .into(),
                    1 => conn::Start::default().into(),
                    2 => queue::DeclareOk::default().into(),
                    3 => basic::GetEmpty::default().into(),
                    4 => channel::OpenOk::default().into(),
                    _ => conn::Tune::default().into(),
                };
                write_method(&mut out, ch, &m);
            }
            Broken::BadTable { kind } => {
                let mut args = FieldTable::new();
                args.insert("x-max-length", FieldValue::I32(5));
                let m: Method = queue::Declare {
                    queue: "fz.q1".into(),
                    arguments: args,
                    ..Default::default()
                }
                .into();
                write_method(&mut out, ch, &m);
                // The I32 value's type octet sits before its 4 bytes, the table last
                // before the frame end.
                let at = out.len() - 1 - 5;
                out[at] = if *kind == b'I' { b'?' } else { *kind };
            }
            Broken::ConnectionClose { reply_code } => {
                let m = conn::Close {
                    reply_code: *reply_code,
                    reply_text: "client going".into(),
                    class_id: 0,
                    method_id: 0,
                };
                if let Some(c) = self.conn.as_mut() {
                    c.closing = true;
                }
                write_method(&mut out, 0, &m.into());
            }
        }
        self.send(out).await;
        self.pump(DESYNCED_TIMEOUT).await;
    }

    // ---- the broker's state -------------------------------------------------------------

    /// Queue counters never underflow: a wrapped u64 shows up as a huge count.
    fn check_queues(&self) {
        let Some(vhost) = self.server.broker.vhost("/") else {
            self.violation("vhost / is gone".into())
        };
        for q in vhost.queues() {
            let s = q.snapshot();
            let limit = 1u64 << 40;
            if s.messages_ready > limit
                || s.messages_unacknowledged > limit
                || s.message_bytes_ready > limit
                || s.message_bytes_unacknowledged > limit
                || s.messages_persistent > limit
                || s.messages_paged_out > s.messages_ready
            {
                self.violation(format!("queue {} has impossible counts: {s:?}", q.name()));
            }
        }
    }
}

/// A body of `len` bytes; from 12 bytes on it starts with the magic and a fresh
/// message number.
fn body(len: usize) -> Vec<u8> {
    let mut b = vec![b'.'; len];
    if len >= 12 {
        let n = NEXT_MESSAGE.fetch_add(1, Ordering::Relaxed);
        b[..4].copy_from_slice(MAGIC);
        b[4..12].copy_from_slice(&n.to_be_bytes());
    }
    b
}

fn value(v: ArgValue) -> FieldValue {
    match v {
        ArgValue::Int(n) => FieldValue::I32(i32::from(n)),
        ArgValue::Long(n) => FieldValue::I64(n),
        ArgValue::Text(i) => FieldValue::string(TEXTS[usize::from(i) % TEXTS.len()]),
        ArgValue::Bool(b) => FieldValue::Bool(b),
        ArgValue::Double(n) => FieldValue::F64(f64::from(n) / 4.0),
        ArgValue::Void => FieldValue::Void,
        ArgValue::Table => FieldValue::Table(FieldTable::new()),
        ArgValue::Array(i) => FieldValue::Array(vec![FieldValue::string(
            TEXTS[usize::from(i) % TEXTS.len()],
        )]),
    }
}

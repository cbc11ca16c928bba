//! Hostile input at every state (issue 15): for each connection state and each channel
//! state, each kind of bad frame, over a real TCP socket; the answer must be RabbitMQ
//! 3.10's, and another connection, opened before and consuming from a queue, must keep
//! working after every case.
//!
//! States ([`St`]): before the protocol header; after `connection.start` was read; after
//! `tune-ok` was sent, before `connection.open`; open; closing (we read the server's
//! `connection.close` and did not answer it; or we sent `connection.close` and read its
//! `close-ok`); and, on an open connection, channel 1: opening (`channel.open` sent in
//! the same write as the bad frame, `open-ok` not read), open, flow-paused (after the
//! client's `channel.flow active=false`, which RabbitMQ 3.10 does not implement: it
//! closes the connection with 540, so this state is a closing connection), in confirm
//! mode, in tx mode, closing by the client (`channel.close` in the same write as the bad
//! frame) and closing by the server (we read its `channel.close` and did not answer it).
//!
//! Bad frames ([`Bad`]): an unknown frame type, a method on a channel that is not open, a
//! channel-class method on channel 0, a connection-class method on a channel, a frame
//! over `frame_max`, a method whose arguments are cut short, an unknown class/method, a
//! content header without a method, a method in the middle of a message's content, and
//! a heartbeat on a channel other than 0.
//!
//! The expected outcomes ([`rabbitmq`]) were measured against RabbitMQ 3.10.8
//! (`../shared/tools/rabbitmq-up`) by running this same client against it:
//!
//! ```text
//! WARREN_HOSTILE_AGAINST=127.0.0.1:5673 cargo test -p warren-server --test hostile_input -- --nocapture
//! ```
//!
//! That mode, used only by hand, starts no broker, checks every case against the RabbitMQ
//! column and prints what it saw; the project's test run never needs RabbitMQ. All 130
//! cases were cross-checked that way (codes, class/method ids, texts, drops and their
//! timing; docs/rabbitmq-reference.md §1.5 has the table). Where Warren answers
//! differently on purpose, [`warren_differs`] says so and why (and
//! docs/migrating-from-rabbitmq.md lists it): a channel-0 method whose arguments do not
//! decode (RabbitMQ's channel-0 handler crashes: 541, or a silent close during the
//! handshake; Warren answers 501 "cannot decode" as on any other channel), and a method
//! pipelined behind the client's `channel.close` (RabbitMQ drops it while its channel
//! process is still closing; Warren has closed the channel already: 504). The broker
//! under test waits 20 s for `close-ok` instead of its 3 s default (RabbitMQ waits 30 s),
//! so that the closing states show what is done with a frame, not the timeout.
//!
//! Every case runs on its own connection, all at once, so the whole table takes about
//! the quiet period ([`QUIET`], 4.5 s).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use tokio::sync::Mutex;
use warren_protocol::frame::{write_header, write_method};
use warren_protocol::method::{basic, channel, confirm, connection as conn, queue, tx};
use warren_protocol::{BasicProperties, Frame, Method, PROTOCOL_HEADER};
use warren_testkit::raw::{Event, RawClient};
use warren_testkit::TestBroker;

/// How long a connection must stay silent for a bad frame to count as ignored. Longer
/// than the silent-close delay (3 s), so a delayed close is not mistaken for silence.
const QUIET: Duration = Duration::from_millis(4_500);
/// A socket that closes later than this after the bad frame closed "after the delay".
const PROMPT: Duration = Duration::from_millis(1_500);
/// Longest wait for a reply that must come.
const REPLY: Duration = Duration::from_secs(6);

/// Where the connection (or its channel 1) is when the bad frame arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    /// TCP connected, nothing sent.
    BeforeHeader,
    /// Protocol header sent, `connection.start` read.
    AfterStart,
    /// `start-ok` sent, `tune` read, `tune-ok` sent; no `connection.open`.
    AfterTune,
    /// Opened, no channel.
    ConnOpen,
    /// The server sent `connection.close` (504, `queue.declare` on channel 0); not answered.
    ConnServerClosing,
    /// We sent `connection.close` and read `close-ok`.
    ConnClientClosing,
    /// `channel.open` on channel 1 in the same write as the bad frame.
    ChOpening,
    /// Channel 1 open.
    ChOpen,
    /// `channel.flow active=false` sent on channel 1 and its answer read.
    ChFlowPaused,
    /// Channel 1 in confirm mode.
    ChConfirm,
    /// Channel 1 in tx mode.
    ChTx,
    /// `channel.close` on channel 1 in the same write as the bad frame.
    ChClientClosing,
    /// The server sent `channel.close` (404, passive declare of a missing queue) on
    /// channel 1; not answered.
    ChServerClosing,
}

const STATES: [St; 13] = [
    St::BeforeHeader,
    St::AfterStart,
    St::AfterTune,
    St::ConnOpen,
    St::ConnServerClosing,
    St::ConnClientClosing,
    St::ChOpening,
    St::ChOpen,
    St::ChFlowPaused,
    St::ChConfirm,
    St::ChTx,
    St::ChClientClosing,
    St::ChServerClosing,
];

impl St {
    /// Whether this is a state of channel 1 (rather than of the connection).
    fn is_channel(self) -> bool {
        matches!(
            self,
            St::ChOpening
                | St::ChOpen
                | St::ChFlowPaused
                | St::ChConfirm
                | St::ChTx
                | St::ChClientClosing
                | St::ChServerClosing
        )
    }
}

/// The kinds of bad frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bad {
    /// Frame type 7 (not method, header, body or heartbeat).
    FrameType,
    /// `basic.qos` on channel 2, never opened.
    NotOpenChannel,
    /// `basic.qos` on channel 0.
    ChannelMethodOnZero,
    /// `connection.close` on channel 1.
    ConnectionMethodOnChannel,
    /// A method frame declaring a 1 MiB payload (over any `frame_max`).
    Oversized,
    /// `basic.qos` with 3 of its 7 argument bytes.
    Truncated,
    /// Class 99, method 1.
    UnknownMethod,
    /// A content header on channel 1 with no `basic.publish` before it.
    ContentWithoutMethod,
    /// `basic.publish`, a header announcing 10 bytes, then `basic.qos` on channel 1.
    MethodDuringContent,
    /// A heartbeat frame on channel 1.
    HeartbeatOnChannel,
}

const BADS: [Bad; 10] = [
    Bad::FrameType,
    Bad::NotOpenChannel,
    Bad::ChannelMethodOnZero,
    Bad::ConnectionMethodOnChannel,
    Bad::Oversized,
    Bad::Truncated,
    Bad::UnknownMethod,
    Bad::ContentWithoutMethod,
    Bad::MethodDuringContent,
    Bad::HeartbeatOnChannel,
];

/// What the server did about the bad frame.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    /// It wrote its protocol header and closed the socket.
    Header,
    /// `connection.close` (code, class id, method id); after our `close-ok` the socket
    /// closed.
    Conn(u16, u16, u16),
    /// `channel.close` on channel 1 (code, class id, method id); after our `close-ok`
    /// the connection still opens channels.
    Chan(u16, u16, u16),
    /// The socket closed without a frame, at once.
    Drop,
    /// The socket closed without a frame after the 3 s silent-close delay.
    DelayedDrop,
    /// Nothing within [`QUIET`], and the state's next step still works.
    Ignored,
    /// Anything else (described).
    Other(String),
}

use Outcome::{Chan, Conn, DelayedDrop, Drop, Header, Ignored};

/// RabbitMQ 3.10.8's answer, measured (see the module docs).
fn rabbitmq(st: St, bad: Bad) -> Outcome {
    use Bad::*;
    use St::*;
    match (st, bad) {
        // Any 8 bytes that are not a known protocol header.
        (BeforeHeader, _) => Header,
        // Before tune-ok anything but start-ok is refused by closing the socket after
        // the silent-close delay; an unknown class crashes the connection process.
        (AfterStart, UnknownMethod) => Drop,
        (AfterStart, _) => DelayedDrop,
        // After tune-ok, before open: frames are checked against the negotiated
        // frame_max and reported with connection.close; every frame but
        // connection.open is "unexpected".
        (AfterTune, FrameType | Oversized) => Conn(501, 0, 0),
        (AfterTune, ChannelMethodOnZero) => Conn(504, 60, 10),
        (AfterTune, Truncated) => DelayedDrop,
        (AfterTune, UnknownMethod) => Drop,
        (AfterTune, _) => Conn(505, 0, 0),
        // Open, no channel: the bad frame's channel is not open (504 names the method).
        (ConnOpen, NotOpenChannel | ChannelMethodOnZero) => Conn(504, 60, 10),
        (ConnOpen, ConnectionMethodOnChannel) => Conn(504, 10, 50),
        // A channel-0 method that cannot be decoded: RabbitMQ's handler crashes (541).
        (ConnOpen, Truncated) => Conn(541, 0, 0),
        // Closing connections: frames are dropped unread, except that a frame over
        // frame_max still ends the connection (silently, after the delay) and a method
        // on channel 0 is still decoded (an unknown class crashes the process).
        (ConnServerClosing | ConnClientClosing | ChFlowPaused, Oversized) => DelayedDrop,
        (ConnServerClosing | ConnClientClosing, UnknownMethod) => Drop,
        (ConnServerClosing | ConnClientClosing | ChFlowPaused, _) => Ignored,
        // A closing channel ignores methods, but the frame grammar and decoding are the
        // connection's and still apply.
        (ChClientClosing | ChServerClosing, ConnectionMethodOnChannel) => Ignored,
        (ChOpening | ChOpen | ChConfirm | ChTx | ChClientClosing | ChServerClosing, bad) => {
            match bad {
                ConnectionMethodOnChannel => Conn(503, 10, 50),
                Truncated => Conn(501, 60, 10),
                _ => open_connection(bad),
            }
        }
        (ConnOpen, bad) => open_connection(bad),
    }
}

/// What an open connection answers regardless of its channels' states.
fn open_connection(bad: Bad) -> Outcome {
    match bad {
        Bad::FrameType | Bad::Oversized => Conn(501, 0, 0),
        Bad::NotOpenChannel | Bad::ChannelMethodOnZero => Conn(504, 60, 10),
        Bad::UnknownMethod => Drop,
        Bad::ContentWithoutMethod | Bad::HeartbeatOnChannel => Conn(505, 0, 0),
        Bad::MethodDuringContent => Conn(505, 60, 40),
        Bad::ConnectionMethodOnChannel | Bad::Truncated => {
            unreachable!("depends on the state: {bad:?}")
        }
    }
}

/// The reply text of a `connection.close` outcome (RabbitMQ's, measured; Warren sends
/// the same).
fn close_text(st: St, bad: Bad) -> &'static str {
    use Bad::*;
    match (st, bad) {
        (St::AfterTune, NotOpenChannel) => {
            "UNEXPECTED_FRAME - type 1, all octets = <<0,60,0,10,0,0,0,0,0,1,0>>"
        }
        (St::AfterTune, ChannelMethodOnZero) => {
            "CHANNEL_ERROR - unexpected method in connection state opening"
        }
        (St::AfterTune, ConnectionMethodOnChannel) => {
            "UNEXPECTED_FRAME - type 1, all octets = <<0,10,0,50,0,200,3,98,121,101,0,0,0,0>>"
        }
        (St::AfterTune, ContentWithoutMethod) => {
            "UNEXPECTED_FRAME - type 2, all octets = <<0,60,0,0,0,0,0,0,0,0,0,5,0,0>>"
        }
        (St::AfterTune, MethodDuringContent) => {
            "UNEXPECTED_FRAME - type 1, first 16 octets = <<0,60,0,40,0,0,0,21,104,111,115,116,105,108,101,45>>"
        }
        (_, FrameType) => "FRAME_ERROR - type 7, all octets = <<\"hello\">>: unknown_frame",
        (_, NotOpenChannel) => "CHANNEL_ERROR - expected 'channel.open'",
        (_, ChannelMethodOnZero) => "CHANNEL_ERROR - unexpected method in connection state running",
        (St::ConnOpen | St::ChClientClosing, ConnectionMethodOnChannel) => {
            "CHANNEL_ERROR - expected 'channel.open'"
        }
        (_, ConnectionMethodOnChannel) => "COMMAND_INVALID - unimplemented method",
        (_, Oversized) => {
            "FRAME_ERROR - type 1, all octets = <<>>: {frame_too_large,1048576,131064}"
        }
        // RabbitMQ's 541 on channel 0 has no more to say.
        (St::ConnOpen, Truncated) => "INTERNAL_ERROR",
        (_, Truncated) => "FRAME_ERROR - cannot decode <<0,0,0>>",
        (_, UnknownMethod) => "",
        (_, ContentWithoutMethod) => {
            "UNEXPECTED_FRAME - expected method frame, got non method frame instead"
        }
        (_, MethodDuringContent) => {
            "UNEXPECTED_FRAME - expected content body, got non content body frame instead"
        }
        (_, HeartbeatOnChannel) => "UNEXPECTED_FRAME - type 8, all octets = <<>>",
    }
}

/// Where Warren answers differently from RabbitMQ on purpose: its answer, the close's
/// text, and why.
fn warren_differs(st: St, bad: Bad) -> Option<(Outcome, &'static str, &'static str)> {
    match (st, bad) {
        (St::AfterTune | St::ConnOpen, Bad::Truncated) => Some((
            Conn(501, 60, 10),
            "FRAME_ERROR - cannot decode <<0,0,0>>",
            "a channel-0 method that does not decode is answered as on any other channel; \
             RabbitMQ's channel-0 handler crashes on it (541 INTERNAL_ERROR when open, a \
             silent close during the handshake)",
        )),
        (St::ChClientClosing, Bad::ConnectionMethodOnChannel) => Some((
            Conn(504, 10, 50),
            "CHANNEL_ERROR - expected 'channel.open'",
            "Warren has closed the channel when it answers channel.close, so a frame behind \
             it is on a closed channel, as RabbitMQ answers it once its channel process has \
             gone; RabbitMQ drops the frames it reads before then (in the same read)",
        )),
        _ => None,
    }
}

/// The bytes of `bad` for state `st`: frame-level kinds (frame type, size, truncated,
/// unknown method) go to channel 1 in the channel states and to channel 0 in the
/// connection states; the others name their channel.
fn bad_frame(st: St, bad: Bad) -> BytesMut {
    let target: u16 = if st.is_channel() { 1 } else { 0 };
    let mut b = BytesMut::new();
    match bad {
        Bad::FrameType => raw_frame(&mut b, 7, target, b"hello"),
        Bad::NotOpenChannel => write_method(&mut b, 2, &qos()),
        Bad::ChannelMethodOnZero => write_method(&mut b, 0, &qos()),
        Bad::ConnectionMethodOnChannel => write_method(
            &mut b,
            1,
            &conn::Close {
                reply_code: 200,
                reply_text: "bye".into(),
                class_id: 0,
                method_id: 0,
            }
            .into(),
        ),
        Bad::Oversized => {
            b.put_u8(1);
            b.put_u16(target);
            b.put_u32(1 << 20);
            b.put_slice(&[0, 60, 0, 10, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        }
        Bad::Truncated => raw_frame(&mut b, 1, target, &[0, 60, 0, 10, 0, 0, 0]),
        Bad::UnknownMethod => raw_frame(&mut b, 1, target, &[0, 99, 0, 1]),
        Bad::ContentWithoutMethod => write_header(&mut b, 1, 5, &BasicProperties::default()),
        Bad::MethodDuringContent => {
            write_method(
                &mut b,
                1,
                &basic::Publish {
                    routing_key: "hostile-input-nowhere".into(),
                    ..Default::default()
                }
                .into(),
            );
            write_header(&mut b, 1, 10, &BasicProperties::default());
            write_method(&mut b, 1, &qos());
        }
        Bad::HeartbeatOnChannel => raw_frame(&mut b, 8, 1, b""),
    }
    b
}

fn qos() -> Method {
    basic::Qos {
        prefetch_count: 1,
        ..Default::default()
    }
    .into()
}

fn raw_frame(b: &mut BytesMut, frame_type: u8, ch: u16, payload: &[u8]) {
    b.put_u8(frame_type);
    b.put_u16(ch);
    b.put_u32(payload.len() as u32);
    b.put_slice(payload);
    b.put_u8(0xCE);
}

fn method_bytes(ch: u16, m: impl Into<Method>) -> BytesMut {
    let mut b = BytesMut::new();
    write_method(&mut b, ch, &m.into());
    b
}

/// What one case saw: the outcome, the reply text of a close, and notes (frames before
/// the outcome, a failed follow-up).
#[derive(Debug)]
struct Observed {
    outcome: Outcome,
    /// From the bad frame to the outcome.
    elapsed: Duration,
    text: String,
    notes: Vec<String>,
}

/// Brings a fresh connection to `st`. Returns the client and the bytes that must go out
/// in the same write as the bad frame (for the states that are "just sent").
async fn enter(addr: SocketAddr, st: St, notes: &mut Vec<String>) -> (RawClient, BytesMut) {
    let mut prefix = BytesMut::new();
    let c = match st {
        St::BeforeHeader => RawClient::tcp(addr).await,
        St::AfterStart => RawClient::started(addr).await,
        St::AfterTune => {
            let mut c = RawClient::tuning(addr).await;
            let t = c.tune().expect("tune read").clone();
            c.send_method(
                0,
                conn::TuneOk {
                    channel_max: t.channel_max,
                    frame_max: t.frame_max,
                    heartbeat: 0,
                },
            )
            .await;
            c
        }
        St::ConnOpen => RawClient::open(addr).await,
        St::ConnServerClosing => {
            let mut c = RawClient::open(addr).await;
            c.send_method(0, queue::Declare::default()).await;
            c.expect_method(0, "connection.close").await;
            c
        }
        St::ConnClientClosing => {
            let mut c = RawClient::open(addr).await;
            c.send_method(
                0,
                conn::Close {
                    reply_code: 200,
                    reply_text: "bye".into(),
                    class_id: 0,
                    method_id: 0,
                },
            )
            .await;
            c.expect_method(0, "connection.close-ok").await;
            c
        }
        St::ChOpening => {
            prefix = method_bytes(1, channel::Open::default());
            RawClient::open(addr).await
        }
        St::ChOpen => RawClient::with_channel(addr).await,
        St::ChFlowPaused => {
            let mut c = RawClient::with_channel(addr).await;
            c.send_method(1, channel::Flow { active: false }).await;
            // RabbitMQ 3.10 does not pause a channel: it closes the connection with 540.
            match c.next_non_heartbeat(REPLY).await {
                Event::Frame(Frame::Method {
                    channel: 0,
                    method: Method::ConnectionClose(m),
                }) if m.reply_code == 540 => {}
                other => notes.push(format!("channel.flow active=false answered with {other:?}")),
            }
            c
        }
        St::ChConfirm => {
            let mut c = RawClient::with_channel(addr).await;
            c.send_method(1, confirm::Select { nowait: false }).await;
            c.expect_method(1, "confirm.select-ok").await;
            c
        }
        St::ChTx => {
            let mut c = RawClient::with_channel(addr).await;
            c.send_method(1, tx::Select {}).await;
            c.expect_method(1, "tx.select-ok").await;
            c
        }
        St::ChClientClosing => {
            prefix = method_bytes(
                1,
                channel::Close {
                    reply_code: 200,
                    reply_text: "bye".into(),
                    class_id: 0,
                    method_id: 0,
                },
            );
            RawClient::with_channel(addr).await
        }
        St::ChServerClosing => {
            let mut c = RawClient::with_channel(addr).await;
            c.send_method(
                1,
                queue::Declare {
                    queue: "hostile-input-no-such-queue".into(),
                    passive: true,
                    ..Default::default()
                },
            )
            .await;
            c.expect_method(1, "channel.close").await;
            c
        }
    };
    (c, prefix)
}

/// Replies the state itself causes (not the bad frame's doing), skipped when reading.
fn own_reply(st: St, channel: u16, method: &Method) -> bool {
    match st {
        St::ChOpening => channel == 1 && matches!(method, Method::ChannelOpenOk(_)),
        St::ChClientClosing => channel == 1 && matches!(method, Method::ChannelCloseOk(_)),
        _ => false,
    }
}

/// After the bad frame was ignored: the state's next step must still work.
async fn still_works(c: &mut RawClient, st: St) -> Result<(), String> {
    let expect = |ev: Event, what: &str| match ev {
        Event::Frame(Frame::Method { channel, method }) if method.name() == what => {
            Ok((channel, method))
        }
        other => Err(format!("follow-up: expected {what}, got {other:?}")),
    };
    match st {
        St::BeforeHeader => Err("the header was not answered".into()),
        St::AfterStart => {
            c.start_ok("guest", "guest", true).await;
            expect(c.next_non_heartbeat(REPLY).await, "connection.tune").map(|_| ())
        }
        St::AfterTune => {
            c.send_method(0, conn::Open::default()).await;
            expect(c.next_non_heartbeat(REPLY).await, "connection.open-ok").map(|_| ())
        }
        St::ConnServerClosing | St::ChFlowPaused => {
            // Still closing: our close-ok ends it.
            let _ = c.try_send_bytes(&method_bytes(0, conn::CloseOk {})).await;
            match c.next_non_heartbeat(REPLY).await {
                Event::Eof => Ok(()),
                other => Err(format!("follow-up: close-ok, then {other:?}")),
            }
        }
        // The client's side of the close is done; the server waits for the socket.
        St::ConnClientClosing => Ok(()),
        St::ChServerClosing => {
            c.send_method(1, channel::CloseOk {}).await;
            c.send_method(1, channel::Open::default()).await;
            expect(c.next_non_heartbeat(REPLY).await, "channel.open-ok").map(|_| ())
        }
        _ => {
            c.send_method(3, channel::Open::default()).await;
            expect(c.next_non_heartbeat(REPLY).await, "channel.open-ok").map(|_| ())
        }
    }
}

/// Runs one case on a fresh connection.
async fn observe(addr: SocketAddr, st: St, bad: Bad) -> Observed {
    let mut notes = Vec::new();
    let (mut c, mut out) = enter(addr, st, &mut notes).await;
    out.extend_from_slice(&bad_frame(st, bad));
    let sent = Instant::now();
    if let Err(e) = c.try_send_bytes(&out).await {
        notes.push(format!("write failed: {e}"));
    }
    let mut text = String::new();
    if st == St::BeforeHeader {
        let (bytes, closed) = c.read_until_eof(REPLY).await;
        let outcome = if bytes == PROTOCOL_HEADER && closed {
            Header
        } else {
            Outcome::Other(format!("{bytes:?}, closed: {closed}"))
        };
        return Observed {
            outcome,
            elapsed: sent.elapsed(),
            text,
            notes,
        };
    }
    let mut elapsed;
    let outcome = loop {
        let event = c.next_non_heartbeat(QUIET).await;
        elapsed = sent.elapsed();
        match event {
            Event::Frame(Frame::Method { channel, method }) if own_reply(st, channel, &method) => {}
            Event::Frame(Frame::Method {
                channel: 0,
                method: Method::ConnectionClose(m),
            }) => {
                text = m.reply_text;
                let _ = c.try_send_bytes(&method_bytes(0, conn::CloseOk {})).await;
                match c.next_non_heartbeat(REPLY).await {
                    Event::Eof => {}
                    other => notes.push(format!("after close-ok: {other:?}")),
                }
                break Conn(m.reply_code, m.class_id, m.method_id);
            }
            Event::Frame(Frame::Method {
                channel,
                method: Method::ChannelClose(m),
            }) => {
                text = m.reply_text;
                if channel != 1 {
                    notes.push(format!("channel.close on channel {channel}"));
                }
                c.send_method(channel, channel::CloseOk {}).await;
                c.send_method(3, channel::Open::default()).await;
                match c.next_non_heartbeat(REPLY).await {
                    Event::Frame(Frame::Method {
                        channel: 3,
                        method: Method::ChannelOpenOk(_),
                    }) => {}
                    other => notes.push(format!("after channel close-ok: {other:?}")),
                }
                break Chan(m.reply_code, m.class_id, m.method_id);
            }
            Event::Frame(other) => notes.push(format!("frame {other:?}")),
            Event::Eof if sent.elapsed() < PROMPT => break Drop,
            Event::Eof => break DelayedDrop,
            Event::Silence => {
                if let Err(e) = still_works(&mut c, st).await {
                    notes.push(e);
                }
                break Ignored;
            }
        }
    };
    Observed {
        outcome,
        elapsed,
        text,
        notes,
    }
}

/// A connection opened before any case, consuming (no-ack) from its own queue: after
/// each case a message published on it must come back.
struct Sentinel {
    client: RawClient,
    queue: String,
    sent: u64,
}

impl Sentinel {
    async fn open(addr: SocketAddr) -> Self {
        let mut client = RawClient::with_channel(addr).await;
        client
            .send_method(
                1,
                queue::Declare {
                    exclusive: true,
                    ..Default::default()
                },
            )
            .await;
        let queue = match client.expect_method(1, "queue.declare-ok").await {
            Method::QueueDeclareOk(ok) => ok.queue,
            other => unreachable!("{other:?}"),
        };
        client
            .send_method(
                1,
                basic::Consume {
                    queue: queue.clone(),
                    consumer_tag: "sentinel".into(),
                    no_ack: true,
                    ..Default::default()
                },
            )
            .await;
        client.expect_method(1, "basic.consume-ok").await;
        Sentinel {
            client,
            queue,
            sent: 0,
        }
    }

    /// Publishes a message and receives it back; the error says what went wrong.
    async fn round_trip(&mut self) -> Result<(), String> {
        self.sent += 1;
        let body = format!("sentinel-{}", self.sent);
        self.client
            .publish(
                1,
                basic::Publish {
                    routing_key: self.queue.clone(),
                    ..Default::default()
                },
                &BasicProperties::default(),
                body.as_bytes(),
            )
            .await;
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(self.client.next_non_heartbeat(REPLY).await);
        }
        match got.as_slice() {
            [Event::Frame(Frame::Method {
                method: Method::BasicDeliver(_),
                ..
            }), Event::Frame(Frame::Header { .. }), Event::Frame(Frame::Body { payload, .. })]
                if payload[..] == *body.as_bytes() =>
            {
                Ok(())
            }
            other => Err(format!("sentinel round trip {}: {other:?}", self.sent)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_frame_in_every_state_gets_rabbitmqs_answer_and_spares_other_connections() {
    let against = std::env::var("WARREN_HOSTILE_AGAINST").ok();
    let (broker, addr) = match &against {
        Some(a) => (
            None,
            a.parse::<SocketAddr>()
                .expect("WARREN_HOSTILE_AGAINST=host:port"),
        ),
        None => {
            // RabbitMQ waits 30 s for close-ok (or the socket's close after its own
            // close-ok); Warren's close_timeout is 3 s. Longer here than QUIET, so that
            // what is measured is what a closing connection does with a frame.
            let b =
                TestBroker::start_with(|c| c.limits.close_timeout = Duration::from_secs(20)).await;
            let addr = b.addr;
            (Some(b), addr)
        }
    };
    let sentinel = Arc::new(Mutex::new(Sentinel::open(addr).await));
    sentinel
        .lock()
        .await
        .round_trip()
        .await
        .expect("sentinel works before the cases");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for st in STATES {
        for bad in BADS {
            let sentinel = sentinel.clone();
            tasks.push(tokio::spawn(async move {
                let seen = observe(addr, st, bad).await;
                let alive = sentinel.lock().await.round_trip().await;
                (st, bad, seen, alive)
            }));
        }
    }
    let mut failures = Vec::new();
    for t in tasks {
        let (st, bad, seen, alive) = t.await.expect("case task");
        let (expected, text, why) = match (&against, warren_differs(st, bad)) {
            (None, Some(differs)) => differs,
            _ => {
                let outcome = rabbitmq(st, bad);
                let text = match outcome {
                    Conn(..) => close_text(st, bad),
                    _ => "",
                };
                (outcome, text, "")
            }
        };
        let ok =
            seen.outcome == expected && seen.text == text && seen.notes.is_empty() && alive.is_ok();
        println!(
            "{} {st:?} × {bad:?}: {:?} {:?} after {:?}{}{}",
            if ok { "ok  " } else { "FAIL" },
            seen.outcome,
            seen.elapsed,
            seen.text,
            if seen.notes.is_empty() {
                String::new()
            } else {
                format!(" notes {:?}", seen.notes)
            },
            if why.is_empty() {
                String::new()
            } else {
                format!(" (deliberate: {why})")
            }
        );
        if !ok {
            failures.push(format!(
                "{st:?} × {bad:?}: expected {expected:?} {text:?}, saw {:?} {:?} notes {:?} sentinel {:?}",
                seen.outcome, seen.text, seen.notes, alive
            ));
        }
    }
    println!(
        "{} cases in {:?}",
        STATES.len() * BADS.len(),
        started.elapsed()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Closed, or the broker's shutdown would wait close_timeout for its close-ok.
    drop(sentinel);
    if let Some(b) = broker {
        b.stop().await;
    }
}

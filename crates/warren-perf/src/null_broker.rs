//! The null broker: the smallest AMQP peer warren-perf can run against, to measure
//! warren-perf's own ceiling. It completes the handshake, answers every setup method,
//! discards publishes (confirming them when asked) and floods each consumer with
//! timestamped deliveries of a fixed size as fast as the socket and the prefetch
//! allow (with `x-stream-offset` headers when the consumer asked for a stream
//! offset). No routing, no queues: whatever rate warren-perf reaches against it is the
//! most it can generate or absorb on this machine.

use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Decoder;
use warren_protocol::frame::{write_body, write_deliver, write_header, write_method};
use warren_protocol::method::{basic, channel, confirm, connection, exchange, queue};
use warren_protocol::{
    BasicProperties, FieldTable, FieldValue, Frame, FrameCodec, Method, PROTOCOL_HEADER,
};

use crate::confirms::ConfirmTracker;
use crate::error::{PerfError, Result};
use crate::scanner::{Event, Scanner};
use crate::stats::now_nanos;

const FRAME_MAX: u32 = 131_072;
/// Deliveries are encoded until the pending output reaches this many bytes.
const OUTPUT_HIGH_WATER: usize = 64 * 1024;

/// Accepts connections on `listener` forever, each served by its own task with
/// deliveries of `body_size` bytes.
pub async fn serve(listener: TcpListener, body_size: usize) -> Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            // A client that goes away is the normal end of a connection here.
            let _ = NullConnection::new(body_size).run(stream).await;
        });
    }
}

/// The consumer a connection has, if any.
#[derive(Debug)]
struct Subscription {
    tag: String,
    queue: String,
    no_ack: bool,
    prefetch: u64,
    delivered: u64,
    acked: u64,
    acks: ConfirmTracker,
    /// Subscribed with an `x-stream-offset` argument: deliveries carry the header, as a
    /// stream's do, numbered from 0.
    stream: bool,
}

#[derive(Debug)]
struct NullConnection {
    body: Vec<u8>,
    prefetch: u16,
    confirming: bool,
    published: u64,
    confirmed: u64,
    subscription: Option<Subscription>,
    closed: bool,
}

impl NullConnection {
    fn new(body_size: usize) -> Self {
        NullConnection {
            body: vec![0; body_size],
            prefetch: 0,
            confirming: false,
            published: 0,
            confirmed: 0,
            subscription: None,
            closed: false,
        }
    }

    async fn run(mut self, stream: TcpStream) -> Result<()> {
        stream.set_nodelay(true)?;
        let (mut rd, mut wr) = stream.into_split();
        let mut rbuf = BytesMut::with_capacity(256 * 1024);
        let mut wbuf = BytesMut::with_capacity(2 * OUTPUT_HIGH_WATER);
        handshake(&mut rd, &mut wr, &mut rbuf).await?;
        let mut scanner = Scanner::new(FRAME_MAX);
        while !self.closed {
            self.fill_deliveries(&mut wbuf);
            if wbuf.is_empty() {
                if rd.read_buf(&mut rbuf).await? == 0 {
                    return Ok(());
                }
            } else {
                tokio::select! {
                    r = rd.read_buf(&mut rbuf) => if r? == 0 { return Ok(()) },
                    w = wr.write(&wbuf) => wbuf.advance(w?),
                }
            }
            let mut at = 0;
            while let Some((len, event)) = scanner.next(&rbuf[at..])? {
                at += len;
                match event {
                    Event::Publish => self.published += 1,
                    Event::Control(ch, m) => self.answer(ch, m, &mut wbuf),
                    _ => {}
                }
            }
            rbuf.advance(at);
            if self.confirming && self.published > self.confirmed {
                self.confirmed = self.published;
                let ack = basic::Ack {
                    delivery_tag: self.published,
                    multiple: true,
                };
                write_method(&mut wbuf, 1, &ack.into());
            }
            if rbuf.capacity() - rbuf.len() < 64 * 1024 {
                rbuf.reserve(256 * 1024);
            }
        }
        wr.write_all(&wbuf).await?;
        Ok(())
    }

    /// Encodes as many deliveries as the prefetch and the output high-water mark allow.
    fn fill_deliveries(&mut self, wbuf: &mut BytesMut) {
        let Some(s) = &mut self.subscription else {
            return;
        };
        let stamp = now_nanos().to_be_bytes();
        if self.body.len() >= 8 {
            self.body[..8].copy_from_slice(&stamp);
        }
        let mut props = BasicProperties::default();
        while wbuf.len() < OUTPUT_HIGH_WATER {
            if !s.no_ack && s.prefetch > 0 && s.delivered - s.acked >= s.prefetch {
                return;
            }
            if s.stream {
                let mut headers = FieldTable::new();
                headers.insert("x-stream-offset", FieldValue::I64(s.delivered as i64));
                props.headers = Some(headers);
            }
            s.delivered += 1;
            write_deliver(wbuf, 1, &s.tag, s.delivered, false, "", &s.queue);
            write_header(wbuf, 1, self.body.len() as u64, &props);
            write_body(wbuf, 1, &self.body, FRAME_MAX);
        }
    }

    /// Replies to a method the way a broker that has every queue and exchange would.
    fn answer(&mut self, ch: u16, m: Method, out: &mut BytesMut) {
        let reply: Option<Method> = match m {
            Method::ChannelOpen(_) => Some(channel::OpenOk::default().into()),
            Method::ChannelClose(_) => Some(channel::CloseOk.into()),
            Method::ConnectionClose(_) => {
                self.closed = true;
                write_method(out, 0, &connection::CloseOk.into());
                None
            }
            Method::QueueDeclare(q) => Some(
                queue::DeclareOk {
                    queue: q.queue,
                    message_count: 0,
                    consumer_count: 0,
                }
                .into(),
            ),
            Method::QueueDelete(_) => Some(queue::DeleteOk { message_count: 0 }.into()),
            Method::QueueBind(_) => Some(queue::BindOk.into()),
            Method::ExchangeDeclare(_) => Some(exchange::DeclareOk.into()),
            Method::BasicQos(q) => {
                self.prefetch = q.prefetch_count;
                Some(basic::QosOk.into())
            }
            Method::ConfirmSelect(_) => {
                self.confirming = true;
                Some(confirm::SelectOk.into())
            }
            Method::BasicConsume(c) => {
                let tag = if c.consumer_tag.is_empty() {
                    "null-ctag".to_owned()
                } else {
                    c.consumer_tag
                };
                self.subscription = Some(Subscription {
                    tag: tag.clone(),
                    queue: c.queue,
                    no_ack: c.no_ack,
                    prefetch: u64::from(self.prefetch),
                    delivered: 0,
                    acked: 0,
                    acks: ConfirmTracker::default(),
                    stream: c.arguments.get("x-stream-offset").is_some(),
                });
                Some(basic::ConsumeOk { consumer_tag: tag }.into())
            }
            Method::BasicAck(a) => {
                if let Some(s) = &mut self.subscription {
                    s.acked += s.acks.settle(a.delivery_tag, a.multiple);
                }
                None
            }
            _ => None,
        };
        if let Some(r) = reply {
            write_method(out, ch, &r);
        }
    }
}

/// Server side of the handshake: start, tune (heartbeats off), open.
async fn handshake(
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    wr: &mut tokio::net::tcp::OwnedWriteHalf,
    rbuf: &mut BytesMut,
) -> Result<()> {
    let mut header = [0u8; 8];
    tokio::time::timeout(Duration::from_secs(10), rd.read_exact(&mut header))
        .await
        .map_err(|_| PerfError::Timeout("the protocol header"))??;
    if header != PROTOCOL_HEADER {
        wr.write_all(&PROTOCOL_HEADER).await?;
        return Err(PerfError::Unexpected("a bad protocol header".into()));
    }
    let mut out = BytesMut::new();
    let start = connection::Start {
        version_major: 0,
        version_minor: 9,
        server_properties: FieldTable::new(),
        mechanisms: Bytes::from_static(b"PLAIN AMQPLAIN"),
        locales: Bytes::from_static(b"en_US"),
    };
    write_method(&mut out, 0, &start.into());
    wr.write_all(&out).await?;
    let mut codec = FrameCodec::new(FRAME_MAX);
    expect(rd, rbuf, &mut codec, |m| {
        matches!(m, Method::ConnectionStartOk(_))
    })
    .await?;
    out.clear();
    let tune = connection::Tune {
        channel_max: 2047,
        frame_max: FRAME_MAX,
        heartbeat: 0,
    };
    write_method(&mut out, 0, &tune.into());
    wr.write_all(&out).await?;
    expect(rd, rbuf, &mut codec, |m| {
        matches!(m, Method::ConnectionTuneOk(_))
    })
    .await?;
    expect(rd, rbuf, &mut codec, |m| {
        matches!(m, Method::ConnectionOpen(_))
    })
    .await?;
    out.clear();
    write_method(&mut out, 0, &connection::OpenOk::default().into());
    wr.write_all(&out).await?;
    Ok(())
}

async fn expect(
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    rbuf: &mut BytesMut,
    codec: &mut FrameCodec,
    wanted: fn(&Method) -> bool,
) -> Result<()> {
    loop {
        match codec.decode(rbuf)? {
            Some(Frame::Method { method, .. }) if wanted(&method) => return Ok(()),
            Some(Frame::Heartbeat) => continue,
            Some(other) => {
                return Err(PerfError::Unexpected(format!(
                    "{other:?} during the handshake"
                )))
            }
            None => {
                if rd.read_buf(rbuf).await? == 0 {
                    return Err(PerfError::Eof);
                }
            }
        }
    }
}

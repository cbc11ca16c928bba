//! One AMQP connection with channel 1 open: the handshake, synchronous methods for
//! setup, and the hand-over of the socket to a producer or consumer loop.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Decoder;
use warren_protocol::frame::write_method;
use warren_protocol::method::{channel, connection};
use warren_protocol::{FieldTable, FieldValue, Frame, FrameCodec, Method, PROTOCOL_HEADER};

use crate::error::{PerfError, Result};
use crate::tls::Stream;
use crate::uri::AmqpUri;

/// The channel every warren-perf connection works on.
pub const CHANNEL: u16 = 1;
/// Largest frame warren-perf asks for (RabbitMQ's and Warren's default).
const FRAME_MAX: u32 = 131_072;
/// How long a synchronous reply may take.
const RPC_TIMEOUT: Duration = Duration::from_secs(30);

/// An open connection with channel [`CHANNEL`] open.
#[derive(Debug)]
pub struct Connection {
    stream: Stream,
    rbuf: BytesMut,
    wbuf: BytesMut,
    codec: FrameCodec,
}

/// What a producer or consumer loop takes over from a [`Connection`].
#[derive(Debug)]
pub struct Parts {
    /// The socket (or TLS session).
    pub stream: Stream,
    /// Bytes already read but not yet decoded.
    pub rbuf: BytesMut,
    /// The negotiated frame size limit.
    pub frame_max: u32,
}

impl Connection {
    /// Connects, authenticates with PLAIN, tunes (heartbeats off), opens the vhost and
    /// channel 1. `name` becomes the `connection_name` client property.
    pub async fn open(uri: &AmqpUri, name: &str) -> Result<Self> {
        let tcp = TcpStream::connect((uri.host.as_str(), uri.port)).await?;
        tcp.set_nodelay(true)?;
        let stream = match (&uri.tls, uri.secure) {
            (Some(tls), _) => tls.connect(&uri.host, tcp).await?,
            (None, true) => {
                return Err(PerfError::Tls(
                    "amqps:// needs the broker's CA certificate (--cacert FILE)".into(),
                ))
            }
            (None, false) => Stream::Tcp(tcp),
        };
        let mut c = Connection {
            stream,
            rbuf: BytesMut::with_capacity(64 * 1024),
            wbuf: BytesMut::with_capacity(4096),
            codec: FrameCodec::default(),
        };
        tokio::time::timeout(RPC_TIMEOUT, c.handshake(uri, name))
            .await
            .map_err(|_| PerfError::Timeout("the AMQP handshake"))??;
        Ok(c)
    }

    async fn handshake(&mut self, uri: &AmqpUri, name: &str) -> Result<()> {
        self.stream.write_all(&PROTOCOL_HEADER).await?;
        match self.next_method().await? {
            (0, Method::ConnectionStart(_)) => {}
            (_, other) => return Err(unexpected("connection.start", &other)),
        }
        let response = format!("\0{}\0{}", uri.user, uri.password);
        self.write(
            0,
            connection::StartOk {
                client_properties: client_properties(name),
                mechanism: "PLAIN".into(),
                response: Bytes::from(response),
                locale: "en_US".into(),
            }
            .into(),
        )
        .await?;
        let tune = match self.next_method().await? {
            (0, Method::ConnectionTune(t)) => t,
            (_, other) => return Err(unexpected("connection.tune", &other)),
        };
        let frame_max = match tune.frame_max {
            0 => FRAME_MAX,
            n => n.min(FRAME_MAX),
        };
        let channel_max = match tune.channel_max {
            0 => 2047,
            n => n,
        };
        self.write(
            0,
            connection::TuneOk {
                channel_max,
                frame_max,
                heartbeat: 0,
            }
            .into(),
        )
        .await?;
        self.codec.set_frame_max(frame_max);
        self.write(
            0,
            connection::Open {
                virtual_host: uri.vhost.clone(),
                ..Default::default()
            }
            .into(),
        )
        .await?;
        match self.next_method().await? {
            (0, Method::ConnectionOpenOk(_)) => {}
            (_, other) => return Err(unexpected("connection.open-ok", &other)),
        }
        self.rpc(channel::Open::default().into(), |m| {
            matches!(m, Method::ChannelOpenOk(_))
        })
        .await?;
        Ok(())
    }

    /// The negotiated frame size limit.
    pub fn frame_max(&self) -> u32 {
        self.codec.frame_max()
    }

    /// Sends `method` on channel 1 and waits for the reply `is_reply` accepts. A close
    /// from the broker is answered and returned as [`PerfError::Closed`].
    pub async fn rpc(&mut self, method: Method, is_reply: fn(&Method) -> bool) -> Result<Method> {
        self.write(CHANNEL, method).await?;
        tokio::time::timeout(RPC_TIMEOUT, async {
            let (_, m) = self.next_method().await?;
            if is_reply(&m) {
                Ok(m)
            } else {
                Err(unexpected("the reply to a synchronous method", &m))
            }
        })
        .await
        .map_err(|_| PerfError::Timeout("a synchronous reply"))?
    }

    /// Closes the connection politely, waiting briefly for `connection.close-ok`.
    pub async fn close(mut self) -> Result<()> {
        self.write(0, close_method()).await?;
        let wait = async {
            loop {
                match self.next_method().await {
                    Ok((_, Method::ConnectionCloseOk(_))) => return Ok(()),
                    Ok(_) => continue,
                    Err(PerfError::Eof) => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(5), wait)
            .await
            .map_err(|_| PerfError::Timeout("connection.close-ok"))?
    }

    /// Gives the socket and any buffered input to a producer or consumer loop.
    pub fn into_parts(self) -> Parts {
        let frame_max = self.frame_max();
        Parts {
            stream: self.stream,
            rbuf: self.rbuf,
            frame_max,
        }
    }

    async fn write(&mut self, channel: u16, method: Method) -> Result<()> {
        self.wbuf.clear();
        write_method(&mut self.wbuf, channel, &method);
        self.stream.write_all(&self.wbuf).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// The next method frame, skipping heartbeats; a close from the broker becomes an
    /// error after it has been acknowledged.
    async fn next_method(&mut self) -> Result<(u16, Method)> {
        loop {
            match self.next_frame().await? {
                Frame::Method { channel, method } => {
                    return match method {
                        Method::ConnectionClose(c) => {
                            self.write(0, connection::CloseOk.into()).await?;
                            Err(PerfError::Closed {
                                scope: "connection",
                                code: c.reply_code,
                                text: c.reply_text,
                            })
                        }
                        Method::ChannelClose(c) => {
                            self.write(channel, channel::CloseOk.into()).await?;
                            Err(PerfError::Closed {
                                scope: "channel",
                                code: c.reply_code,
                                text: c.reply_text,
                            })
                        }
                        m => Ok((channel, m)),
                    };
                }
                Frame::Heartbeat => continue,
                other => {
                    return Err(PerfError::Unexpected(format!(
                        "a content frame during setup on channel {}",
                        other.channel()
                    )))
                }
            }
        }
    }

    async fn next_frame(&mut self) -> Result<Frame> {
        loop {
            if let Some(f) = self.codec.decode(&mut self.rbuf)? {
                return Ok(f);
            }
            if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                return Err(PerfError::Eof);
            }
        }
    }
}

/// The `connection.close` warren-perf sends when it is done.
pub fn close_method() -> Method {
    connection::Close {
        reply_code: 200,
        reply_text: "warren-perf done".into(),
        class_id: 0,
        method_id: 0,
    }
    .into()
}

fn unexpected(wanted: &str, got: &Method) -> PerfError {
    PerfError::Unexpected(format!("wanted {wanted}, got {got:?}"))
}

fn client_properties(name: &str) -> FieldTable {
    let mut caps = FieldTable::new();
    for cap in [
        "publisher_confirms",
        "basic.nack",
        "consumer_cancel_notify",
        "connection.blocked",
    ] {
        caps.insert(cap, FieldValue::Bool(true));
    }
    let mut t = FieldTable::new();
    t.insert("product", FieldValue::string("warren-perf"));
    t.insert("version", FieldValue::string(env!("CARGO_PKG_VERSION")));
    t.insert("connection_name", FieldValue::string(name));
    t.insert("capabilities", FieldValue::Table(caps));
    t
}

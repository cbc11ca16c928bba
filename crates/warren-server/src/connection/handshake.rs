//! The opening handshake: protocol header, `start`/`start-ok` (authentication),
//! `tune`/`tune-ok`, `open`/`open-ok`.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::codec::Decoder;
use tracing::{info, warn};
use warren_broker::{AmqpError, VHost};
use warren_protocol::constants::FRAME_MIN_SIZE;
use warren_protocol::frame::write_method;
use warren_protocol::method::connection as conn;
use warren_protocol::{FieldTable, FieldValue, Frame, FrameCodec, Method, PROTOCOL_HEADER};

use crate::auth::{self, MECHANISMS};
use crate::channel::ClientCapabilities;
use crate::server::ServerContext;

/// What the handshake settled.
#[derive(Debug)]
pub(crate) struct Negotiated {
    /// The opened virtual host.
    pub vhost: Arc<VHost>,
    /// The authenticated user.
    pub user: String,
    /// Highest channel number allowed.
    pub channel_max: u16,
    /// Largest frame allowed.
    pub frame_max: u32,
    /// Heartbeat interval in seconds (0 = none).
    pub heartbeat_secs: u16,
    /// What the client supports.
    pub caps: ClientCapabilities,
}

/// How a handshake ended without a usable connection.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HandshakeError {
    /// The peer did not send `AMQP 0-9-1`; we answered with our header.
    #[error("bad protocol header {0:?}")]
    BadHeader([u8; 8]),
    /// The peer closed the socket.
    #[error("peer closed the connection during the handshake")]
    Eof,
    /// Reading or writing failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// A protocol error: `connection.close` was sent with this error.
    #[error("{0}")]
    Refused(AmqpError),
    /// The client closed the connection politely during the handshake.
    #[error("client closed the connection during the handshake")]
    ClientClosed,
}

/// The server properties table sent in `connection.start`.
pub(crate) fn server_properties() -> FieldTable {
    let mut caps = FieldTable::new();
    for cap in [
        "publisher_confirms",
        "exchange_exchange_bindings",
        "basic.nack",
        "consumer_cancel_notify",
        "connection.blocked",
        "consumer_priorities",
        "authentication_failure_close",
        "per_consumer_qos",
        "direct_reply_to",
    ] {
        caps.insert(cap, FieldValue::Bool(true));
    }
    let mut props = FieldTable::new();
    props.insert("capabilities", FieldValue::Table(caps));
    props.insert("cluster_name", FieldValue::string("warren@localhost"));
    props.insert(
        "copyright",
        FieldValue::string("Copyright (c) the Warren authors"),
    );
    props.insert(
        "information",
        FieldValue::string("Licensed under the Apache License 2.0"),
    );
    props.insert("platform", FieldValue::string("Rust"));
    props.insert("product", FieldValue::string("Warren"));
    props.insert("version", FieldValue::string(env!("CARGO_PKG_VERSION")));
    props
}

fn client_capabilities(client_properties: &FieldTable) -> ClientCapabilities {
    let caps = match client_properties.get("capabilities") {
        Some(FieldValue::Table(t)) => t.clone(),
        _ => FieldTable::new(),
    };
    let flag = |k: &str| caps.get(k).and_then(FieldValue::as_bool).unwrap_or(false);
    ClientCapabilities {
        consumer_cancel_notify: flag("consumer_cancel_notify"),
        connection_blocked: flag("connection.blocked"),
    }
}

/// Reads the next non-heartbeat frame.
pub(crate) async fn read_frame<S: AsyncRead + Unpin>(
    stream: &mut S,
    inbuf: &mut BytesMut,
    codec: &mut FrameCodec,
) -> Result<Frame, HandshakeError> {
    loop {
        match codec.decode(inbuf) {
            Ok(Some(Frame::Heartbeat)) => continue,
            Ok(Some(frame)) => return Ok(frame),
            Ok(None) => {}
            Err(e) => {
                return Err(HandshakeError::Refused(AmqpError::new(
                    e.reply_code(),
                    e.to_string(),
                )))
            }
        }
        if stream.read_buf(inbuf).await? == 0 {
            return Err(HandshakeError::Eof);
        }
    }
}

async fn send<S: AsyncWrite + Unpin>(
    stream: &mut S,
    method: impl Into<Method>,
) -> std::io::Result<()> {
    let mut buf = BytesMut::new();
    write_method(&mut buf, 0, &method.into());
    stream.write_all(&buf).await
}

/// Sends `connection.close` for `err` and gives up on the handshake.
async fn refuse<S: AsyncWrite + Unpin>(
    stream: &mut S,
    err: AmqpError,
    class_id: u16,
    method_id: u16,
) -> HandshakeError {
    let close = conn::Close {
        reply_code: err.code.code(),
        reply_text: err.reply_text(),
        class_id,
        method_id,
    };
    let _ = send(stream, close).await;
    HandshakeError::Refused(err)
}

/// Expects a method frame on channel 0 and returns it.
async fn expect_method<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    inbuf: &mut BytesMut,
    codec: &mut FrameCodec,
    expected: &str,
) -> Result<Method, HandshakeError> {
    let frame = match read_frame(stream, inbuf, codec).await {
        Err(HandshakeError::Refused(e)) => return Err(refuse(stream, e, 0, 0).await),
        other => other?,
    };
    match frame {
        Frame::Method {
            channel: 0,
            method: Method::ConnectionClose(_),
        } => {
            let _ = send(stream, conn::CloseOk {}).await;
            Err(HandshakeError::ClientClosed)
        }
        Frame::Method { channel: 0, method } if method.name() == expected => Ok(method),
        other => {
            let err = AmqpError::command_invalid(format!(
                "expected '{expected}', got {}",
                describe(&other)
            ));
            Err(refuse(stream, err, 0, 0).await)
        }
    }
}

fn describe(frame: &Frame) -> String {
    match frame {
        Frame::Method { method, .. } => format!("'{}'", method.name()),
        Frame::Header { .. } => "a content header frame".into(),
        Frame::Body { .. } => "a content body frame".into(),
        Frame::Heartbeat => "a heartbeat".into(),
    }
}

/// Runs the handshake on a fresh socket.
pub(crate) async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    inbuf: &mut BytesMut,
    codec: &mut FrameCodec,
    ctx: &ServerContext,
    peer: SocketAddr,
) -> Result<Negotiated, HandshakeError> {
    let mut header = [0u8; 8];
    while inbuf.len() < 8 {
        if stream.read_buf(inbuf).await? == 0 {
            return Err(HandshakeError::Eof);
        }
    }
    header.copy_from_slice(&inbuf.split_to(8));
    if header != PROTOCOL_HEADER {
        let _ = stream.write_all(&PROTOCOL_HEADER).await;
        return Err(HandshakeError::BadHeader(header));
    }

    send(
        stream,
        conn::Start {
            version_major: 0,
            version_minor: 9,
            server_properties: server_properties(),
            mechanisms: MECHANISMS.as_bytes().to_vec().into(),
            locales: b"en_US".to_vec().into(),
        },
    )
    .await?;

    let Method::ConnectionStartOk(start_ok) =
        expect_method(stream, inbuf, codec, "connection.start-ok").await?
    else {
        unreachable!("expect_method checked the name");
    };
    let user = match auth::parse_response(&start_ok.mechanism, &start_ok.response)
        .and_then(|creds| auth::authenticate(&ctx.config.users, &creds, peer.ip()))
    {
        Ok(user) => user.name.clone(),
        Err(e) => {
            warn!(%peer, error = %e, "authentication failed");
            let err = AmqpError::access_refused(format!(
                "Login was refused using authentication mechanism {}. For details see the broker logfile.",
                start_ok.mechanism
            ));
            return Err(refuse(stream, err, 0, 0).await);
        }
    };
    let caps = client_capabilities(&start_ok.client_properties);

    let limits = &ctx.config.limits;
    send(
        stream,
        conn::Tune {
            channel_max: limits.channel_max,
            frame_max: limits.frame_max_bytes,
            heartbeat: limits.heartbeat_secs,
        },
    )
    .await?;
    let Method::ConnectionTuneOk(tune_ok) =
        expect_method(stream, inbuf, codec, "connection.tune-ok").await?
    else {
        unreachable!("expect_method checked the name");
    };
    let frame_max = if tune_ok.frame_max == 0 {
        limits.frame_max_bytes
    } else {
        tune_ok.frame_max
    };
    if frame_max > limits.frame_max_bytes {
        let err = AmqpError::not_allowed(format!(
            "frame_max={frame_max} > {} max size",
            limits.frame_max_bytes
        ));
        return Err(refuse(stream, err, 10, 31).await);
    }
    if frame_max < FRAME_MIN_SIZE {
        let err =
            AmqpError::not_allowed(format!("frame_max={frame_max} < {FRAME_MIN_SIZE} min size"));
        return Err(refuse(stream, err, 10, 31).await);
    }
    let channel_max = if tune_ok.channel_max == 0 {
        limits.channel_max
    } else {
        tune_ok.channel_max.min(limits.channel_max)
    };
    codec.set_frame_max(frame_max);

    let Method::ConnectionOpen(open) =
        expect_method(stream, inbuf, codec, "connection.open").await?
    else {
        unreachable!("expect_method checked the name");
    };
    let Some(vhost) = ctx.broker.vhost(&open.virtual_host) else {
        let err = AmqpError::not_allowed(format!("vhost {} not found", open.virtual_host));
        return Err(refuse(stream, err, 10, 40).await);
    };
    send(stream, conn::OpenOk::default()).await?;
    info!(%peer, %user, vhost = %open.virtual_host, "connection opened");
    Ok(Negotiated {
        vhost,
        user,
        channel_max,
        frame_max,
        heartbeat_secs: tune_ok.heartbeat,
        caps,
    })
}

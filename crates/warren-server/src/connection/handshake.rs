//! The opening handshake: protocol header, `start`/`start-ok` (authentication),
//! `tune`/`tune-ok`, `open`/`open-ok`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::{info, warn};
use warren_broker::access::SessionAccess;
use warren_broker::connections::{ConnectionDetails, ConnectionInfo, Registration};
use warren_broker::{ConnectionCode, ConnectionError, VHost};
use warren_protocol::constants::FRAME_MIN_SIZE;
use warren_protocol::frame::write_method;
use warren_protocol::method::connection as conn;
use warren_protocol::{
    FieldTable, FieldValue, Frame, FrameCodec, Method, ProtocolError, PROTOCOL_HEADER,
};

use crate::auth::{self, AuthError, EXTERNAL, MECHANISMS, MECHANISMS_WITH_EXTERNAL};
use crate::channel::ClientCapabilities;
use crate::server::ServerContext;
use crate::tls::TlsSession;

use super::octets::{describe_frame, refused_frame};

/// The pre-standard 0-9 header (`AMQP 1 1 0 9`), which RabbitMQ still serves as 0-9-1.
const LEGACY_0_9_HEADER: [u8; 8] = *b"AMQP\x01\x01\x00\x09";

/// How long a refused client gets to answer `connection.close` before the socket closes.
const CLOSE_OK_WAIT: Duration = Duration::from_secs(1);

/// How long RabbitMQ keeps the socket of a client whose handshake failed before closing
/// it (its "silent close delay"), so failed logins cannot be retried at full speed.
pub(crate) const SILENT_CLOSE_DELAY: Duration = Duration::from_secs(3);

/// What the handshake settled.
#[derive(Debug)]
pub(crate) struct Negotiated {
    /// The opened virtual host.
    pub vhost: Arc<VHost>,
    /// The connection's id.
    pub id: warren_broker::ConnectionId,
    /// The user's access to the vhost.
    pub access: SessionAccess,
    /// The connection's place among the broker's connections (counted against limits
    /// until dropped).
    pub registration: Registration,
    /// Most channels open at once (0 = no limit).
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
    Refused(ConnectionError),
    /// A frame that could not be read: the error and the class/method ids to report it
    /// with (RabbitMQ's, from `octets::refused_frame`).
    #[error("{0}")]
    Malformed(ConnectionError, u16, u16),
    /// A class or method 0-9-1 does not define: the socket is dropped at once, where
    /// RabbitMQ's connection process crashes.
    #[error("unknown method {class_id}.{method_id}")]
    UnknownMethod {
        /// The class id read.
        class_id: u16,
        /// The method id read.
        method_id: u16,
    },
    /// The client closed the connection politely during the handshake.
    #[error("client closed the connection during the handshake")]
    ClientClosed,
    /// Refused before tuning finished: RabbitMQ closes the socket without a
    /// `connection.close`; the reason is only logged.
    #[error("{0}")]
    Silent(String),
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

/// Whether the client asked to be told about a failed login with `connection.close`
/// (otherwise RabbitMQ just closes the socket).
fn wants_auth_failure_close(client_properties: &FieldTable) -> bool {
    match client_properties.get("capabilities") {
        Some(FieldValue::Table(t)) => t
            .get("authentication_failure_close")
            .and_then(FieldValue::as_bool)
            .unwrap_or(false),
        _ => false,
    }
}

/// The mechanisms `connection.start` offers: EXTERNAL too when the connection can use it.
fn mechanisms(external: Option<&Result<String, String>>) -> &'static str {
    match external {
        Some(_) => MECHANISMS_WITH_EXTERNAL,
        None => MECHANISMS,
    }
}

/// Reads the next non-heartbeat frame.
pub(crate) async fn read_frame<S: AsyncRead + Unpin>(
    stream: &mut S,
    inbuf: &mut BytesMut,
    codec: &mut FrameCodec,
) -> Result<Frame, HandshakeError> {
    loop {
        match codec.decode_frame(inbuf) {
            Ok(Some(Frame::Heartbeat)) => continue,
            Ok(Some(frame)) => return Ok(frame),
            Ok(None) => {}
            Err(fault) => {
                return Err(match refused_frame(&fault, codec.frame_max()) {
                    Some((e, class_id, method_id)) => {
                        HandshakeError::Malformed(e, class_id, method_id)
                    }
                    None => match fault.error {
                        ProtocolError::UnknownMethod {
                            class_id,
                            method_id,
                        } => HandshakeError::UnknownMethod {
                            class_id,
                            method_id,
                        },
                        other => HandshakeError::Silent(other.to_string()),
                    },
                })
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

/// Sends `connection.close` for `err`, waits a little for the client's `close-ok` so the
/// close is read before the socket goes, and gives up on the handshake.
async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    inbuf: &mut BytesMut,
    codec: &mut FrameCodec,
    err: ConnectionError,
    class_id: u16,
    method_id: u16,
) -> HandshakeError {
    let close = conn::Close {
        reply_code: err.code.reply_code().code(),
        reply_text: err.reply_text(),
        class_id,
        method_id,
    };
    if send(stream, close).await.is_ok() {
        let _ = tokio::time::timeout(CLOSE_OK_WAIT, async {
            while let Ok(frame) = read_frame(stream, inbuf, codec).await {
                if matches!(
                    frame,
                    Frame::Method {
                        channel: 0,
                        method: Method::ConnectionCloseOk(_)
                    }
                ) {
                    break;
                }
            }
        })
        .await;
    }
    HandshakeError::Refused(err)
}

/// Expects `expected` on channel 0 before `connection.tune-ok`, where RabbitMQ answers
/// anything else by closing the socket without a word.
async fn expect_method_silently<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    inbuf: &mut BytesMut,
    codec: &mut FrameCodec,
    expected: &str,
) -> Result<Method, HandshakeError> {
    let frame = match read_frame(stream, inbuf, codec).await {
        Err(HandshakeError::Malformed(e, ..)) => {
            return Err(HandshakeError::Silent(e.reply_text()))
        }
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
        other => Err(HandshakeError::Silent(format!(
            "expected '{expected}', got {}",
            describe_frame(&other)
        ))),
    }
}

/// Expects `connection.open`; after tuning RabbitMQ reports an unexpected frame with
/// `connection.close` 505 (another method on channel 0 with 504) before closing.
async fn expect_open<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    inbuf: &mut BytesMut,
    codec: &mut FrameCodec,
) -> Result<conn::Open, HandshakeError> {
    let frame = match read_frame(stream, inbuf, codec).await {
        Err(HandshakeError::Malformed(e, class_id, method_id)) => {
            return Err(refuse(stream, inbuf, codec, e, class_id, method_id).await)
        }
        other => other?,
    };
    match frame {
        Frame::Method {
            channel: 0,
            method: Method::ConnectionOpen(open),
        } => Ok(open),
        Frame::Method {
            channel: 0,
            method: Method::ConnectionClose(_),
        } => {
            let _ = send(stream, conn::CloseOk {}).await;
            Err(HandshakeError::ClientClosed)
        }
        Frame::Method { channel: 0, method } => {
            let err = ConnectionError::new(
                ConnectionCode::ChannelError,
                "unexpected method in connection state opening",
            );
            Err(refuse(
                stream,
                inbuf,
                codec,
                err,
                method.class_id(),
                method.method_id(),
            )
            .await)
        }
        other => {
            let err = ConnectionError::new(ConnectionCode::UnexpectedFrame, describe_frame(&other));
            Err(refuse(stream, inbuf, codec, err, 0, 0).await)
        }
    }
}

/// `connection.open`: the vhost must exist, the user must have permissions in it, and
/// neither the vhost's nor the user's connection limit may be reached (530 NOT_ALLOWED
/// otherwise, with RabbitMQ's texts).
fn open_vhost(
    ctx: &ServerContext,
    user: &Arc<warren_broker::access::User>,
    name: &str,
    peer: SocketAddr,
    details: ConnectionDetails,
) -> Result<(Arc<VHost>, SessionAccess, Registration), ConnectionError> {
    let not_allowed = |text: String| ConnectionError::new(ConnectionCode::NotAllowed, text);
    let broker = &ctx.broker;
    let vhost = broker
        .vhost(name)
        .ok_or_else(|| not_allowed(format!("vhost {name} not found")))?;
    let mut access =
        SessionAccess::new(broker.access().clone(), user.clone(), vhost.name().clone());
    if !access.can_open_vhost() {
        return Err(not_allowed(format!(
            "access to vhost '{name}' refused for user '{}'",
            user.name
        )));
    }
    let registration = broker
        .connections()
        .register(
            ConnectionInfo {
                id: broker.next_connection_id(),
                user: user.name.clone(),
                vhost: name.to_owned(),
                peer,
                connected_at_ms: warren_broker::clock::now_ms(),
                details,
            },
            broker.access().vhost_limits(name),
            user.limits,
        )
        .map_err(|e| not_allowed(e.to_string()))?;
    Ok((vhost, access, registration))
}

/// Checks the client's `tune-ok` against what the server offered, as RabbitMQ does:
/// zero means "no limit", which is only acceptable if the server has none either.
fn negotiate(what: &str, client: u32, server: u32, min: u32) -> Result<u32, HandshakeError> {
    if client != 0 && client < min {
        return Err(HandshakeError::Silent(format!(
            "failed to negotiate connection parameters: negotiated {what} = {client} is lower than the minimum allowed value ({min})"
        )));
    }
    if server != 0 && (client == 0 || client > server) {
        let shown = if client == 0 {
            "0 (no limit)".to_owned()
        } else {
            client.to_string()
        };
        return Err(HandshakeError::Silent(format!(
            "failed to negotiate connection parameters: negotiated {what} = {shown} is higher than the maximum allowed value ({server})"
        )));
    }
    Ok(client)
}

/// Runs the handshake on a fresh socket.
pub(crate) async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    inbuf: &mut BytesMut,
    codec: &mut FrameCodec,
    ctx: &ServerContext,
    peer: SocketAddr,
    local: Option<SocketAddr>,
    tls: Option<&TlsSession>,
) -> Result<Negotiated, HandshakeError> {
    let mut header = [0u8; 8];
    while inbuf.len() < 8 {
        if stream.read_buf(inbuf).await? == 0 {
            return Err(HandshakeError::Eof);
        }
    }
    header.copy_from_slice(&inbuf.split_to(8));
    if header != PROTOCOL_HEADER && header != LEGACY_0_9_HEADER {
        let _ = stream.write_all(&PROTOCOL_HEADER).await;
        return Err(HandshakeError::BadHeader(header));
    }

    // EXTERNAL (the client certificate's name) is offered on TLS connections that verify
    // client certificates, as RabbitMQ's rabbitmq_auth_mechanism_ssl offers it.
    let external = tls.and_then(|t| t.external.as_ref());
    send(
        stream,
        conn::Start {
            version_major: 0,
            version_minor: 9,
            server_properties: server_properties(),
            mechanisms: mechanisms(external).as_bytes().to_vec().into(),
            locales: b"en_US".to_vec().into(),
        },
    )
    .await?;

    let Method::ConnectionStartOk(start_ok) =
        expect_method_silently(stream, inbuf, codec, "connection.start-ok").await?
    else {
        unreachable!("expect_method_silently checked the name");
    };
    let login = match external {
        Some(name) if start_ok.mechanism == EXTERNAL => crate::tls::identity::external_login(
            ctx.broker.access(),
            &ctx.config.loopback_users,
            name,
            peer.ip(),
        ),
        _ => {
            let creds = match auth::parse_response(&start_ok.mechanism, &start_ok.response) {
                Ok(creds) => creds,
                Err(AuthError::UnsupportedMechanism(m)) => {
                    return Err(HandshakeError::Silent(format!(
                        "unknown authentication mechanism '{m}'"
                    )))
                }
                Err(e) => return Err(HandshakeError::Silent(e.to_string())),
            };
            auth::authenticate(
                ctx.broker.access(),
                &ctx.config.loopback_users,
                &creds,
                peer.ip(),
            )
        }
    };
    let user = match login {
        Ok(user) => {
            ctx.failed_logins.succeeded(peer.ip());
            user
        }
        Err(e) => {
            // Logged as RabbitMQ does ("PLAIN login refused: user 'x' - ..."), with which
            // check failed; the password never is.
            let delay = ctx.failed_logins.failed(peer.ip());
            warn!(%peer, delay_ms = delay.as_millis() as u64, "{} login refused: {e}", start_ok.mechanism);
            let Some(_waiting) = ctx.failed_logins.wait_slot() else {
                warn!(%peer, "too many failed logins waiting: closing at once");
                return Err(HandshakeError::Eof);
            };
            tokio::time::sleep(delay).await;
            if !wants_auth_failure_close(&start_ok.client_properties) {
                return Err(HandshakeError::Silent(e.to_string()));
            }
            let err = ConnectionError::new(ConnectionCode::AccessRefused, format!(
                "Login was refused using authentication mechanism {}. For details see the broker logfile.",
                start_ok.mechanism
            ));
            let refused_at = tokio::time::Instant::now();
            let e = refuse(stream, inbuf, codec, err, 0, 0).await;
            // RabbitMQ closes the socket after its silent close delay, close-ok or not.
            tokio::time::sleep_until(refused_at + SILENT_CLOSE_DELAY).await;
            return Err(e);
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
        expect_method_silently(stream, inbuf, codec, "connection.tune-ok").await?
    else {
        unreachable!("expect_method_silently checked the name");
    };
    let frame_max = negotiate(
        "frame_max",
        tune_ok.frame_max,
        limits.frame_max_bytes,
        FRAME_MIN_SIZE,
    )?;
    let channel_max = negotiate(
        "channel_max",
        u32::from(tune_ok.channel_max),
        u32::from(limits.channel_max),
        0,
    )?;
    // Both fit: they are at most the server's values, or 0 ("no limit") when it has none.
    let channel_max = u16::try_from(channel_max).unwrap_or(u16::MAX);
    let frame_max = if frame_max == 0 { u32::MAX } else { frame_max };
    codec.set_frame_max(frame_max);

    let open = expect_open(stream, inbuf, codec).await?;
    let details = ConnectionDetails {
        name: ConnectionDetails::name_for(peer, local),
        local,
        client_properties: start_ok.client_properties.clone(),
        auth_mechanism: start_ok.mechanism.clone(),
        channel_max,
        frame_max,
        heartbeat_secs: tune_ok.heartbeat,
        tls: tls.map(|t| t.details.clone()),
    };
    let (vhost, access, registration) = match open_vhost(
        ctx,
        &user,
        &open.virtual_host,
        peer,
        details,
    ) {
        Ok(opened) => opened,
        Err(err) => {
            warn!(%peer, user = %user.name, vhost = %open.virtual_host, error = %err, "connection.open refused");
            return Err(refuse(stream, inbuf, codec, err, 10, 40).await);
        }
    };
    send(stream, conn::OpenOk::default()).await?;
    info!(%peer, user = %user.name, vhost = %open.virtual_host, "connection opened");
    Ok(Negotiated {
        id: registration.entry().info.id,
        vhost,
        access,
        registration,
        channel_max,
        frame_max,
        heartbeat_secs: tune_ok.heartbeat,
        caps,
    })
}

//! One client connection: the handshake, then a loop that reads frames, hands them to
//! channels, writes what they staged, delivers what queues send, and keeps heartbeats.
//!
//! One task owns the socket and all connection state, so nothing here takes a lock. The
//! loop never blocks on a write while input waits: reading, writing and deliveries are
//! branches of one `select!`, and reading pauses only while too much output is pending.
//!
//! Split by concern: this file has the connection's state and its start and end;
//! `read_loop.rs` the `select!` loop (input, output, deliveries, commits, timers);
//! `dispatch.rs` the routing of frames to channels and the closes; `alarm.rs` the pauses
//! of reading (memory alarm, publisher flow control).

mod alarm;
mod content;
mod dispatch;
pub(crate) mod flow;
pub(crate) mod handshake;
mod octets;
pub(crate) mod out_buffer;
mod read_loop;
pub mod stream;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{debug, info, warn};
use warren_broker::Outbound;
use warren_protocol::FrameCodec;

use crate::channel::confirms::SyncDone;
use crate::channel::{Channel, ConnCtx};
use crate::server::ServerContext;
use crate::tls::TlsSession;
use content::ContentGrammar;
use flow::PublishFlow;
use handshake::{handshake, HandshakeError, Negotiated, SILENT_CLOSE_DELAY};
use out_buffer::OutBuffer;
use stream::ClientStream;

/// How often channels are checked for deliveries past their acknowledgement timeout.
const MAINTENANCE_TICK: Duration = Duration::from_secs(1);
/// Most queue events handled before the loop looks at the socket again.
const OUTBOUND_BATCH: usize = 256;
/// Read buffer growth step.
const READ_CHUNK: usize = 64 * 1024;
/// The read buffer until the handshake is done: a socket that never sends its header
/// (one of thousands, in a flood of half-open sockets) holds this, not a read chunk; the
/// connection loop reserves `READ_CHUNK` before each read.
const HANDSHAKE_BUF: usize = 1024;

/// Where the connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// We sent `connection.close`; only `close-ok` (or `close`) matters now.
    Closing,
    /// Done: flush and drop the socket.
    Closed,
}

/// Serves one accepted stream until it closes. `local` is the address the client
/// connected to (reported to the management API), when there is one; `tls` what the
/// TLS session established (for EXTERNAL), on a TLS connection.
pub(crate) async fn serve<S: ClientStream>(
    stream: &mut S,
    peer: SocketAddr,
    local: Option<SocketAddr>,
    tls: Option<TlsSession>,
    ctx: Arc<ServerContext>,
    shutdown: watch::Receiver<bool>,
) {
    let mut inbuf = BytesMut::with_capacity(HANDSHAKE_BUF);
    let mut codec = FrameCodec::default();
    let mut stop = shutdown.clone();
    let negotiated = tokio::select! {
        n = tokio::time::timeout(
            ctx.config.limits.handshake_timeout,
            handshake(stream, &mut inbuf, &mut codec, &ctx, peer, local, tls.as_ref()),
        ) => n,
        _ = stop.wait_for(|s| *s) => {
            debug!(%peer, "shutting down during the handshake");
            return;
        }
    };
    let negotiated = match negotiated {
        Ok(Ok(n)) => n,
        Ok(Err(HandshakeError::Eof | HandshakeError::ClientClosed)) => {
            debug!(%peer, "client left during handshake");
            return;
        }
        Ok(Err(HandshakeError::Silent(reason))) => {
            warn!(%peer, %reason, "handshake refused, closing the socket");
            // Like RabbitMQ, make a failing client wait before it can try again (but do
            // not hold up a shutdown).
            tokio::select! {
                _ = tokio::time::sleep(SILENT_CLOSE_DELAY) => {}
                _ = stop.wait_for(|s| *s) => {}
            }
            return;
        }
        Ok(Err(e)) => {
            warn!(%peer, error = %e, "handshake failed");
            return;
        }
        Err(_) => {
            warn!(%peer, "handshake timed out");
            return;
        }
    };
    let mut connection = Connection::new(ctx, peer, negotiated, codec, inbuf);
    // After the client's connection.close the loop answers close-ok and goes on reading
    // (and dropping) until the client closes the socket, within close_timeout, so the
    // TIME_WAIT is on its side as with RabbitMQ.
    connection.run(stream, shutdown).await;
    connection.cleanup();
}

struct Connection {
    ctx: Arc<ServerContext>,
    peer: SocketAddr,
    cx: ConnCtx,
    channels: HashMap<u16, Channel>,
    /// Channels we sent `channel.close` on, awaiting `close-ok`.
    closing_channels: HashSet<u16>,
    /// Where each channel is in the method/header/body frame sequence.
    content: ContentGrammar,
    /// The client sent `connection.close`: we answered and wait for it to hang up.
    client_closed: bool,
    /// Framing was lost while closing (a frame over `frame_max`, a bad frame end): reads
    /// stop and the socket closes at this time, RabbitMQ's silent-close delay later.
    drop_at: Option<Instant>,
    /// Most channels open at once (0 = no limit).
    channel_max: u16,
    heartbeat: Option<Duration>,
    codec: FrameCodec,
    inbuf: BytesMut,
    outbound_rx: mpsc::UnboundedReceiver<Outbound>,
    /// Group commits the channels waited for (confirms, `tx.commit`).
    syncs_rx: mpsc::UnboundedReceiver<SyncDone>,
    state: State,
    last_read: Instant,
    last_write: Instant,
    /// A publish arrived since the last memory check.
    saw_publish: bool,
    /// Reading is paused because the memory alarm is on and this connection publishes.
    blocked: bool,
    /// Reading is paused by publisher flow control (see `flow.rs`) until this time, when
    /// the queues it waits for are looked at again.
    flow_poll_at: Option<Instant>,
}

impl Connection {
    fn new(
        ctx: Arc<ServerContext>,
        peer: SocketAddr,
        n: Negotiated,
        codec: FrameCodec,
        inbuf: BytesMut,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let (sync_tx, sync_rx) = mpsc::unbounded_channel();
        let cx = ConnCtx {
            id: n.id,
            vhost: n.vhost,
            user: n.access.user().name.clone(),
            access: n.access,
            registration: n.registration,
            out: OutBuffer::default(),
            outbound: tx,
            frame_max: n.frame_max,
            limits: Arc::new(ctx.config.limits.clone()),
            caps: n.caps,
            unsent: Vec::new(),
            pending_commit: None,
            syncs: sync_tx,
            flow: PublishFlow::new(&ctx.config.limits),
        };
        let now = Instant::now();
        Connection {
            ctx,
            peer,
            cx,
            channels: HashMap::new(),
            closing_channels: HashSet::new(),
            content: ContentGrammar::default(),
            client_closed: false,
            drop_at: None,
            channel_max: n.channel_max,
            heartbeat: (n.heartbeat_secs > 0)
                .then(|| Duration::from_secs(u64::from(n.heartbeat_secs))),
            codec,
            inbuf,
            outbound_rx: rx,
            syncs_rx: sync_rx,
            state: State::Open,
            last_read: now,
            last_write: now,
            saw_publish: false,
            blocked: false,
            flow_poll_at: None,
        }
    }

    /// Gives back everything the connection held: unacked messages are requeued,
    /// consumers cancelled, exclusive queues deleted, undelivered messages requeued.
    fn cleanup(&mut self) {
        self.cx.flow.clear();
        self.release_channels();
        self.outbound_rx.close();
        while let Ok(event) = self.outbound_rx.try_recv() {
            if let Outbound::Deliver(d) = event {
                return_undelivered(d);
            }
        }
        self.cx.vhost.connection_closed(self.cx.id);
        info!(peer = %self.peer, "connection closed");
    }
}

/// Puts a delivery that never reached its client back in its queue.
fn return_undelivered(d: warren_broker::Delivery) {
    d.consumer.written(1);
    d.consumer.settled(1);
    if let Some(queue) = d.consumer.queue() {
        queue.return_undelivered(d.message, !d.consumer.spec.no_ack);
    }
}

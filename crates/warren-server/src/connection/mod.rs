//! One client connection: the handshake, then a loop that reads frames, hands them to
//! channels, writes what they staged, delivers what queues send, and keeps heartbeats.
//!
//! One task owns the socket and all connection state, so nothing here takes a lock. The
//! loop never blocks on a write while input waits: reading, writing and deliveries are
//! branches of one `select!`, and reading pauses only while too much output is pending.

mod content;
pub(crate) mod flow;
pub(crate) mod handshake;
mod octets;
pub(crate) mod out_buffer;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::{interval_at, Instant, MissedTickBehavior};
use tokio_util::codec::Decoder;
use tracing::{debug, error, info, warn};
use warren_broker::applied::store_failed;
use warren_broker::{AmqpError, ErrorScope, Outbound};
use warren_protocol::frame::write_heartbeat;
use warren_protocol::method::{basic, channel as chm, connection as conn};
use warren_protocol::{Frame, FrameCodec, Method, ProtocolError, ReplyCode};

use crate::channel::confirms::SyncDone;
use crate::channel::context::PendingCommit;
use crate::channel::{Channel, ConnCtx};
use crate::server::ServerContext;
use content::ContentGrammar;
use flow::PublishFlow;
use handshake::{handshake, HandshakeError, Negotiated, SILENT_CLOSE_DELAY};
use octets::describe_frame;
use out_buffer::OutBuffer;

/// How often channels are checked for deliveries past their acknowledgement timeout.
const MAINTENANCE_TICK: Duration = Duration::from_secs(1);
/// Most queue events handled before the loop looks at the socket again.
const OUTBOUND_BATCH: usize = 256;
/// Read buffer growth step.
const READ_CHUNK: usize = 64 * 1024;

/// Where the connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// We sent `connection.close`; only `close-ok` (or `close`) matters now.
    Closing,
    /// Done: flush and drop the socket.
    Closed,
}

/// Serves one accepted socket until it closes.
pub(crate) async fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    ctx: Arc<ServerContext>,
    shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let mut inbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut codec = FrameCodec::default();
    let mut stop = shutdown.clone();
    let negotiated = tokio::select! {
        n = tokio::time::timeout(
            ctx.config.limits.handshake_timeout,
            handshake(&mut stream, &mut inbuf, &mut codec, &ctx, peer),
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
    connection.run(&mut stream, shutdown).await;
    connection.cleanup();
    if connection.client_closed {
        // As RabbitMQ does, leave closing the socket to the client after close-ok
        // (within limits), so the TIME_WAIT is on its side.
        let _ = tokio::time::timeout(connection.ctx.config.limits.close_timeout, async {
            let mut sink = [0u8; 512];
            while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
        })
        .await;
    }
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
            id: ctx.broker.next_connection_id(),
            vhost: n.vhost,
            user: n.user,
            out: OutBuffer::default(),
            outbound: tx,
            frame_max: n.frame_max,
            limits: Arc::new(ctx.config.limits.clone()),
            caps: n.caps,
            unsent: Vec::new(),
            pending_commit: None,
            syncs: sync_tx,
            flow: PublishFlow::new(ctx.config.limits.publish_flow_backlog),
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

    async fn run(&mut self, stream: &mut TcpStream, mut shutdown: watch::Receiver<bool>) {
        let (mut rd, mut wr) = stream.split();
        // Frames that arrived with the handshake's last read.
        self.process_input();
        let tick = self
            .heartbeat
            .map(heartbeat_check_interval)
            .unwrap_or(Duration::from_secs(3600));
        let mut ticker = interval_at(Instant::now() + tick, tick);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut maintenance = interval_at(Instant::now() + MAINTENANCE_TICK, MAINTENANCE_TICK);
        maintenance.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut close_deadline: Option<Instant> = None;
        loop {
            if self.state == State::Closed {
                break;
            }
            if self.state == State::Closing && close_deadline.is_none() {
                close_deadline = Some(Instant::now() + self.ctx.config.limits.close_timeout);
            }
            let can_read = !self.blocked
                && self.flow_poll_at.is_none()
                && self.cx.pending_commit.is_none()
                && self.cx.out.len() < self.ctx.config.limits.max_pending_write_bytes;
            let has_output = !self.cx.out.is_empty();
            if self.inbuf.capacity() - self.inbuf.len() < 4096 {
                self.inbuf.reserve(READ_CHUNK);
            }
            tokio::select! {
                read = rd.read_buf(&mut self.inbuf), if can_read => match read {
                    Ok(0) => {
                        debug!(peer = %self.peer, "client closed the socket");
                        break;
                    }
                    Ok(_) => {
                        self.last_read = Instant::now();
                        self.process_input();
                        // A flooding publisher's socket is always readable, so without
                        // this the task would process up to tokio's budget of 128 reads
                        // (~200k publishes) per poll and starve the consumers' connection
                        // tasks on the same worker (issue 6 scenario d: 450 msg/s delivered).
                        tokio::task::yield_now().await;
                    }
                    Err(e) => {
                        debug!(peer = %self.peer, error = %e, "read failed");
                        break;
                    }
                },
                written = self.cx.out.write_to(&mut wr), if has_output => match written {
                    Ok(_) => {
                        self.last_write = Instant::now();
                        if self.cx.out.is_empty() {
                            self.cx.release_unsent();
                        }
                    }
                    Err(e) => {
                        debug!(peer = %self.peer, error = %e, "write failed");
                        break;
                    }
                },
                Some(done) = self.syncs_rx.recv() => self.handle_sync_done(done),
                committed = commit_of(&mut self.cx.pending_commit) => self.commit_done(committed),
                event = self.outbound_rx.recv() => {
                    if let Some(event) = event {
                        self.handle_outbound(event);
                        for _ in 0..OUTBOUND_BATCH {
                            match self.outbound_rx.try_recv() {
                                Ok(event) => self.handle_outbound(event),
                                Err(_) => break,
                            }
                        }
                    }
                },
                _ = ticker.tick() => self.heartbeat_tick(),
                _ = maintenance.tick() => self.maintenance_tick(),
                _ = tokio::time::sleep(crate::memory::SAMPLE_INTERVAL), if self.blocked => self.check_unblock(),
                _ = sleep_until_opt(self.flow_poll_at), if self.flow_poll_at.is_some() => self.poll_flow(),
                _ = shutdown.changed(), if self.state == State::Open => {
                    self.close_connection(
                        AmqpError::new(ReplyCode::ConnectionForced, "broker forced connection closure with reason 'shutdown'"),
                        0,
                        0,
                    );
                },
                _ = sleep_until_opt(close_deadline) => {
                    debug!(peer = %self.peer, "no connection.close-ok in time");
                    break;
                },
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), self.cx.out.flush_all(&mut wr)).await;
    }

    fn heartbeat_tick(&mut self) {
        let Some(h) = self.heartbeat else { return };
        let now = Instant::now();
        // A connection that is not reading cannot see the client's heartbeats.
        let reading = !self.blocked && self.flow_poll_at.is_none();
        if reading && now.duration_since(self.last_read) > h * 2 {
            warn!(peer = %self.peer, timeout_secs = h.as_secs(), "missed heartbeats from client, closing");
            self.state = State::Closed;
            return;
        }
        // Like RabbitMQ, send one every half interval unless something else went out
        // meanwhile; the slack absorbs timer jitter against our own last heartbeat.
        let tick = heartbeat_check_interval(h);
        if now.duration_since(self.last_write) + tick / 4 >= tick && self.cx.out.is_empty() {
            write_heartbeat(self.cx.out.staging());
        }
    }

    /// Decodes and handles every complete frame in the read buffer, then sends the
    /// confirms they produced.
    fn process_input(&mut self) {
        // A method waiting for its commit holds back every later frame.
        while self.state != State::Closed && self.cx.pending_commit.is_none() {
            match self.codec.decode(&mut self.inbuf) {
                Ok(Some(frame)) => self.handle_frame(frame),
                Ok(None) => break,
                Err(e @ ProtocolError::UnknownMethod { .. }) => {
                    // RabbitMQ's connection process crashes on these: no close, just EOF.
                    warn!(peer = %self.peer, error = %e, "unknown method, dropping the connection");
                    self.inbuf.clear();
                    self.state = State::Closed;
                }
                Err(e) => {
                    warn!(peer = %self.peer, error = %e, code = e.reply_code().code(), "malformed input");
                    if self.state == State::Open {
                        self.close_connection(AmqpError::new(e.reply_code(), e.to_string()), 0, 0);
                    }
                    // Nothing after a framing error can be trusted.
                    self.inbuf.clear();
                    self.state = if self.state == State::Closing {
                        State::Closing
                    } else {
                        State::Closed
                    };
                    break;
                }
            }
        }
        for channel in self.channels.values_mut() {
            channel.flush_confirms(&mut self.cx);
        }
        if std::mem::take(&mut self.saw_publish)
            && self.ctx.memory.is_on()
            && self.state == State::Open
        {
            self.block();
        }
        if self.flow_poll_at.is_none() && self.state == State::Open {
            let now = Instant::now();
            if self.cx.flow.check(now) {
                debug!(peer = %self.peer, "publisher flow control: pausing reads");
                self.flow_poll_at = Some(now + flow::POLL_INTERVAL);
            }
        }
    }

    /// The commit a method waited for resolved: its `-ok` goes out (541 closes the
    /// connection if the change could not be made durable), then the frames that
    /// arrived meanwhile are handled.
    fn commit_done(&mut self, committed: warren_store::StoreResult<()>) {
        let Some(pending) = self.cx.pending_commit.take() else {
            return;
        };
        let open = self.state == State::Open && self.channels.contains_key(&pending.channel);
        match committed {
            Ok(()) => {
                if let (true, Some(reply)) = (open, pending.reply) {
                    self.cx.send(pending.channel, reply);
                }
            }
            Err(e) => {
                error!(peer = %self.peer, error = %e, "store: a change could not be made durable");
                if self.state == State::Open {
                    let (class_id, method_id) = pending.method;
                    self.close_connection(store_failed(e), class_id, method_id);
                }
            }
        }
        self.process_input();
    }

    /// A connection paused by publisher flow control looks at its queues again and
    /// resumes reading once they have drained (or it is closing).
    fn poll_flow(&mut self) {
        let now = Instant::now();
        if self.state == State::Open && self.cx.flow.poll(now) {
            self.flow_poll_at = Some(now + flow::POLL_INTERVAL);
            return;
        }
        debug!(peer = %self.peer, "publisher flow control: resuming reads");
        self.flow_poll_at = None;
        // The client's heartbeats waited in the socket meanwhile.
        self.last_read = now;
    }

    /// Stops reading from a publishing connection while the memory alarm is on.
    fn block(&mut self) {
        self.blocked = true;
        info!(peer = %self.peer, "blocking publisher: memory alarm");
        if self.cx.caps.connection_blocked {
            self.cx.send(
                0,
                conn::Blocked {
                    reason: "low on memory".into(),
                },
            );
        }
    }

    /// Resumes a blocked connection once the memory alarm has cleared.
    fn check_unblock(&mut self) {
        if self.ctx.memory.is_on() {
            return;
        }
        self.blocked = false;
        info!(peer = %self.peer, "unblocking publisher");
        if self.cx.caps.connection_blocked {
            self.cx.send(0, conn::Unblocked {});
        }
        self.process_input();
    }

    /// Periodic checks: the consumer acknowledgement timeout of every channel.
    fn maintenance_tick(&mut self) {
        if self.state != State::Open {
            return;
        }
        let now = Instant::now();
        let default = self.ctx.config.limits.consumer_timeout;
        let timed_out: Vec<(u16, warren_broker::AmqpError)> = self
            .channels
            .iter()
            .filter_map(|(id, ch)| ch.check_ack_timeout(now, default).err().map(|e| (*id, e)))
            .collect();
        for (id, e) in timed_out {
            self.exception(id, e, 0, 0);
        }
    }

    fn handle_frame(&mut self, frame: Frame) {
        if let Frame::Method {
            method: Method::BasicPublish(_),
            ..
        } = &frame
        {
            self.saw_publish = true;
        }
        let channel_id = frame.channel();
        if self.state == State::Closing {
            if let Frame::Method { channel: 0, method } = frame {
                match method {
                    Method::ConnectionCloseOk(_) => self.state = State::Closed,
                    Method::ConnectionClose(_) => {
                        self.cx.send(0, conn::CloseOk {});
                        self.client_closed = true;
                        self.state = State::Closed;
                    }
                    _ => {}
                }
            }
            return;
        }
        if channel_id == 0 {
            return self.handle_connection_frame(frame);
        }
        if self.closing_channels.contains(&channel_id) {
            // Everything but the close handshake is dropped until the client confirms.
            if let Frame::Method { method, .. } = frame {
                match method {
                    Method::ChannelCloseOk(_) => {
                        self.closing_channels.remove(&channel_id);
                    }
                    Method::ChannelClose(_) => {
                        self.closing_channels.remove(&channel_id);
                        self.cx.send(channel_id, chm::CloseOk {});
                    }
                    _ => {}
                }
            }
            return;
        }
        if !self.channels.contains_key(&channel_id) {
            return self.handle_unopened_channel_frame(channel_id, frame);
        }
        if let Err(v) = self.content.accept(channel_id, &frame) {
            return self.close_connection(v.error, v.class_id, v.method_id);
        }
        let (class_id, method_id) = match &frame {
            Frame::Method { method, .. } => (method.class_id(), method.method_id()),
            _ => (basic::Publish::CLASS_ID, basic::Publish::METHOD_ID),
        };
        let result = match frame {
            Frame::Method { method, .. } => self.handle_channel_method(channel_id, method),
            Frame::Header {
                header,
                raw_properties,
                ..
            } => match self.channels.get_mut(&channel_id) {
                Some(ch) => ch.handle_header(&mut self.cx, header, raw_properties),
                None => Err(not_open()),
            },
            Frame::Body { payload, .. } => match self.channels.get_mut(&channel_id) {
                Some(ch) => ch.handle_body(&mut self.cx, payload),
                None => Err(not_open()),
            },
            Frame::Heartbeat => Ok(()),
        };
        if let Err(e) = result {
            self.exception(channel_id, e, class_id, method_id);
        }
    }

    /// A frame on a channel number that is not open. As in RabbitMQ, it first counts as
    /// a new channel against `channel_max`; then only `channel.open` is acceptable.
    fn handle_unopened_channel_frame(&mut self, channel_id: u16, frame: Frame) {
        let open = self.channels.len() + self.closing_channels.len();
        if self.channel_max != 0 && open >= usize::from(self.channel_max) {
            let e = AmqpError::not_allowed(format!(
                "number of channels opened ({open}) has reached the negotiated channel_max ({})",
                self.channel_max
            ));
            return self.close_connection(e, 0, 0);
        }
        match frame {
            Frame::Method {
                method: Method::ChannelOpen(_),
                ..
            } => {
                self.channels.insert(channel_id, Channel::new(channel_id));
                self.cx.send(channel_id, chm::OpenOk::default());
            }
            Frame::Method { method, .. } => {
                self.close_connection(not_open(), method.class_id(), method.method_id())
            }
            Frame::Header { .. } | Frame::Body { .. } | Frame::Heartbeat => self.close_connection(
                AmqpError::unexpected_frame("expected method frame, got non method frame instead"),
                0,
                0,
            ),
        }
    }

    /// A method on an open channel: the channel lifecycle is handled here, the rest by
    /// the channel.
    fn handle_channel_method(&mut self, channel_id: u16, method: Method) -> Result<(), AmqpError> {
        match method {
            Method::ChannelOpen(_) => Err(AmqpError::channel_error("second 'channel.open' seen")),
            Method::ChannelClose(_) => {
                self.close_channel_by_client(channel_id);
                Ok(())
            }
            Method::ChannelFlow(m) if !m.active => Err(AmqpError::not_implemented("active=false")),
            m if m.class_id() == conn::Close::CLASS_ID => {
                Err(AmqpError::command_invalid("unimplemented method"))
            }
            m => match self.channels.get_mut(&channel_id) {
                Some(ch) => ch.handle_method(&mut self.cx, m),
                None => Err(not_open()),
            },
        }
    }

    fn handle_connection_frame(&mut self, frame: Frame) {
        match frame {
            Frame::Heartbeat => {}
            Frame::Method {
                method: Method::ConnectionClose(m),
                ..
            } => {
                info!(peer = %self.peer, code = m.reply_code, text = %m.reply_text, "client closed the connection");
                self.cx.send(0, conn::CloseOk {});
                self.client_closed = true;
                self.state = State::Closed;
            }
            Frame::Method {
                method: Method::ConnectionUpdateSecret(_),
                ..
            } => {
                self.cx.send(0, conn::UpdateSecretOk {});
            }
            Frame::Method { method, .. } => {
                let (c, m) = (method.class_id(), method.method_id());
                self.close_connection(
                    AmqpError::channel_error("unexpected method in connection state running"),
                    c,
                    m,
                );
            }
            other @ (Frame::Header { .. } | Frame::Body { .. }) => {
                self.close_connection(AmqpError::unexpected_frame(describe_frame(&other)), 0, 0);
            }
        }
    }

    fn close_channel_by_client(&mut self, id: u16) {
        if let Some(mut ch) = self.channels.remove(&id) {
            ch.release(&self.cx);
        }
        self.content.forget(id);
        self.cx.send(id, chm::CloseOk {});
    }

    /// Turns a handler error into `channel.close` or `connection.close`.
    fn exception(&mut self, channel_id: u16, e: AmqpError, class_id: u16, method_id: u16) {
        match e.scope() {
            ErrorScope::Channel if self.channels.contains_key(&channel_id) => {
                warn!(peer = %self.peer, channel = channel_id, code = e.code.code(), text = %e.text, "channel exception");
                if let Some(mut ch) = self.channels.remove(&channel_id) {
                    ch.release(&self.cx);
                }
                self.content.forget(channel_id);
                self.closing_channels.insert(channel_id);
                self.cx.send(
                    channel_id,
                    chm::Close {
                        reply_code: e.code.code(),
                        reply_text: e.reply_text(),
                        class_id,
                        method_id,
                    },
                );
            }
            _ => self.close_connection(e, class_id, method_id),
        }
    }

    fn close_connection(&mut self, e: AmqpError, class_id: u16, method_id: u16) {
        warn!(peer = %self.peer, code = e.code.code(), text = %e.text, "connection exception");
        self.cx.send(
            0,
            conn::Close {
                reply_code: e.code.code(),
                reply_text: e.reply_text(),
                class_id,
                method_id,
            },
        );
        self.release_channels();
        self.state = State::Closing;
    }

    fn release_channels(&mut self) {
        for (_, mut ch) in self.channels.drain() {
            ch.release(&self.cx);
        }
        self.content.clear();
    }

    /// A group commit a channel waited for completed: its confirms or `commit-ok` go out.
    fn handle_sync_done(&mut self, done: SyncDone) {
        let id = done.channel;
        if self.closing_channels.contains(&id) {
            return;
        }
        let Some(channel) = self.channels.get_mut(&id) else {
            return;
        };
        if let Err(e) = channel.sync_done(&mut self.cx, done) {
            // tx.commit (class 90, method 20) could not be made durable.
            self.exception(id, e, 90, 20);
        }
    }

    fn handle_outbound(&mut self, event: Outbound) {
        match event {
            Outbound::Deliver(d) => {
                let undelivered = match self.channels.get_mut(&d.consumer.spec.channel_id) {
                    Some(ch) if self.state == State::Open => ch.deliver(&mut self.cx, d).err(),
                    _ => Some(d),
                };
                if let Some(d) = undelivered {
                    return_undelivered(d);
                }
            }
            Outbound::Cancelled(consumer) => {
                let id = consumer.spec.channel_id;
                if let Some(ch) = self.channels.get_mut(&id) {
                    if ch.consumer_cancelled(&consumer) && self.cx.caps.consumer_cancel_notify {
                        self.cx.send(
                            id,
                            basic::Cancel {
                                consumer_tag: consumer.tag().to_owned(),
                                no_wait: true,
                            },
                        );
                    }
                }
            }
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

/// How often the connection checks heartbeats: half the negotiated interval, as RabbitMQ
/// sends them, but not more often than twice a second.
fn heartbeat_check_interval(interval: Duration) -> Duration {
    (interval / 2).max(Duration::from_millis(500))
}

/// Puts a delivery that never reached its client back in its queue.
fn return_undelivered(d: warren_broker::Delivery) {
    d.consumer.written(1);
    d.consumer.settled(1);
    if let Some(queue) = d.consumer.queue() {
        queue.return_undelivered(d.message, !d.consumer.spec.no_ack);
    }
}

/// A method on a channel that was never opened, or already closed.
fn not_open() -> AmqpError {
    AmqpError::channel_error("expected 'channel.open'")
}

/// Resolves when the pending commit does (never, with none pending).
async fn commit_of(pending: &mut Option<PendingCommit>) -> warren_store::StoreResult<()> {
    match pending {
        Some(p) => (&mut p.ticket).await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

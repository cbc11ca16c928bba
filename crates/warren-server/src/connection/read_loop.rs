//! The connection's loop: one `select!` over reading the socket, writing pending output,
//! queue deliveries, completed group commits (confirms, `tx.commit`, and the commit a
//! durable declare waits for), heartbeats, the maintenance tick, the memory alarm and
//! publisher flow control. Nothing here blocks: a wait is always a branch.

use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::sync::watch;
use tokio::time::{interval_at, Instant, MissedTickBehavior};
use tracing::{debug, error, warn};
use warren_broker::{ConnectionCode, ConnectionError, Outbound};
use warren_protocol::frame::write_heartbeat;
use warren_protocol::method::basic;
use warren_protocol::{FrameFault, ProtocolError};

use super::handshake::SILENT_CLOSE_DELAY;
use super::octets::refused_frame;
use super::stream::ClientStream;
use super::{
    flow, return_undelivered, Connection, State, MAINTENANCE_TICK, OUTBOUND_BATCH, READ_CHUNK,
};
use crate::channel::confirms::SyncDone;
use crate::channel::context::PendingCommit;

impl Connection {
    pub(super) async fn run<S: ClientStream>(
        &mut self,
        stream: &mut S,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let (mut rd, mut wr) = stream.halves();
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
        let mut forced = self.cx.registration.entry().forced_close();
        loop {
            if self.state == State::Closed {
                break;
            }
            if self.state == State::Closing && close_deadline.is_none() {
                close_deadline = Some(Instant::now() + self.ctx.config.limits.close_timeout);
            }
            let can_read = !self.blocked
                && self.drop_at.is_none()
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
                    Ok(n) => {
                        let stats = &self.cx.registration.entry().stats;
                        stats.recv_oct.add(n as u64);
                        stats.recv_cnt.bump();
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
                    Ok(n) => {
                        let stats = &self.cx.registration.entry().stats;
                        stats.send_oct.add(n as u64);
                        stats.send_cnt.bump();
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
                        ConnectionError::new(ConnectionCode::ConnectionForced, "broker forced connection closure with reason 'shutdown'"),
                        0,
                        0,
                    );
                },
                Ok(()) = forced.changed(), if self.state == State::Open => {
                    let reason = forced.borrow().clone().unwrap_or_default();
                    self.close_connection(ConnectionError::new(ConnectionCode::ConnectionForced, reason), 0, 0);
                },
                _ = sleep_until_opt(close_deadline) => {
                    debug!(peer = %self.peer, "no connection.close-ok (or socket close) in time");
                    break;
                },
                _ = sleep_until_opt(self.drop_at), if self.drop_at.is_some() => {
                    debug!(peer = %self.peer, "closing the socket after a framing error while closing");
                    break;
                },
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), self.cx.out.flush_all(&mut wr)).await;
    }

    pub(super) fn heartbeat_tick(&mut self) {
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
    pub(super) fn process_input(&mut self) {
        // A method waiting for its commit holds back every later frame.
        while self.state != State::Closed && self.cx.pending_commit.is_none() {
            match self.codec.decode_frame(&mut self.inbuf) {
                Ok(Some(frame)) => self.handle_frame(frame),
                Ok(None) => break,
                Err(fault) => {
                    if !self.refused_frame(fault) {
                        break;
                    }
                }
            }
        }
        for channel in self.channels.values_mut() {
            channel.settle_acks();
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

    /// A frame the codec refused, answered as RabbitMQ 3.10 does (measured by
    /// `tests/hostile_input.rs`). Returns whether decoding can go on after it.
    ///
    /// On an open connection: `connection.close` with RabbitMQ's code, text and ids, or,
    /// for a class/method 0-9-1 does not define, the socket dropped without a word (where
    /// RabbitMQ's connection process crashes). While closing, refused frames are dropped
    /// unread like every other frame but `close-ok`, except that an unknown method on
    /// channel 0 (RabbitMQ still reads channel 0's methods) drops the socket at once, and
    /// lost framing (a frame over `frame_max`, a bad frame end) closes it after the
    /// silent-close delay.
    fn refused_frame(&mut self, fault: FrameFault) -> bool {
        let framing_lost = matches!(
            fault.error,
            ProtocolError::FrameTooLarge { .. } | ProtocolError::BadFrameEnd(_)
        );
        match self.state {
            State::Open => {
                match refused_frame(&fault, self.codec.frame_max()) {
                    None => {
                        // RabbitMQ's connection process crashes on these: no close, just EOF.
                        warn!(peer = %self.peer, error = %fault.error, "unknown method, dropping the connection");
                        self.inbuf.clear();
                        self.state = State::Closed;
                        return false;
                    }
                    Some((error, class_id, method_id)) => {
                        warn!(peer = %self.peer, error = %fault.error, code = error.code.reply_code().code(), "malformed input");
                        self.close_connection(error, class_id, method_id);
                    }
                }
                if framing_lost {
                    // The rest of the stream cannot be split into frames.
                    self.inbuf.clear();
                    return false;
                }
                true
            }
            State::Closing if framing_lost => {
                debug!(peer = %self.peer, error = %fault.error, "framing lost while closing");
                self.inbuf.clear();
                self.drop_at = Some(Instant::now() + SILENT_CLOSE_DELAY);
                false
            }
            State::Closing
                if fault.channel == 0
                    && matches!(fault.error, ProtocolError::UnknownMethod { .. }) =>
            {
                warn!(peer = %self.peer, error = %fault.error, "unknown method while closing, dropping the connection");
                self.inbuf.clear();
                self.state = State::Closed;
                false
            }
            State::Closing => true,
            State::Closed => false,
        }
    }

    /// The commit a method waited for resolved: its `-ok` goes out (541 closes the
    /// connection if the change could not be made durable), then the frames that
    /// arrived meanwhile are handled.
    pub(super) fn commit_done(&mut self, committed: warren_store::StoreResult<()>) {
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
                    self.close_connection(ConnectionError::store_failed(&e), class_id, method_id);
                }
            }
        }
        self.process_input();
    }

    /// Periodic checks: the consumer acknowledgement timeout of every channel.
    pub(super) fn maintenance_tick(&mut self) {
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

    /// A group commit a channel waited for completed: its confirms or `commit-ok` go out.
    pub(super) fn handle_sync_done(&mut self, done: SyncDone) {
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

    pub(super) fn handle_outbound(&mut self, event: Outbound) {
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
}

/// How often the connection checks heartbeats: half the negotiated interval, as RabbitMQ
/// sends them, but not more often than twice a second.
fn heartbeat_check_interval(interval: Duration) -> Duration {
    (interval / 2).max(Duration::from_millis(500))
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

//! What a channel needs from its connection while handling a method.

use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;
use warren_broker::{ConnectionId, Consumer, Outbound, VHost};
use warren_protocol::frame::{self, write_body, write_body_frame_header, write_header_raw};
use warren_protocol::{constants::FRAME_END, Method};

use crate::config::Limits;
use crate::connection::out_buffer::{OutBuffer, ZERO_COPY_MIN_BODY};
use warren_broker::Message;
use warren_store::SyncTicket;

/// A reply waiting for the store to make a change durable.
#[derive(Debug)]
pub(crate) struct PendingCommit {
    /// Resolves when the change is on disk.
    pub ticket: SyncTicket,
    /// The channel whose method made the change.
    pub channel: u16,
    /// Its `-ok`, unless the client asked for none.
    pub reply: Option<Method>,
    /// The method's class and method id, for the close if the commit fails.
    pub method: (u16, u16),
}

/// Capabilities the client announced in `connection.start-ok`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ClientCapabilities {
    /// The client understands a server-sent `basic.cancel`.
    pub consumer_cancel_notify: bool,
    /// The client understands `connection.blocked` / `unblocked`. Recorded at the
    /// handshake; nothing reads it until Warren has a resource alarm to announce.
    #[allow(dead_code)]
    pub connection_blocked: bool,
}

/// Connection state shared by all its channels while one of them handles a frame.
#[derive(Debug)]
pub(crate) struct ConnCtx {
    /// The connection's id (owner of its exclusive queues).
    pub id: ConnectionId,
    /// The virtual host it opened.
    pub vhost: Arc<VHost>,
    /// The authenticated user's name.
    pub user: String,
    /// The user's permissions in the vhost, checked where RabbitMQ checks them.
    pub access: warren_broker::access::SessionAccess,
    /// The connection among the broker's connections: channels count against the
    /// user's `max-channels` through it; a forced close (vhost deleted) arrives there.
    pub registration: warren_broker::connections::Registration,
    /// Pending output.
    pub out: OutBuffer,
    /// Where this connection's queues send deliveries.
    pub outbound: UnboundedSender<Outbound>,
    /// Negotiated frame size.
    pub frame_max: u32,
    /// Server limits.
    pub limits: Arc<Limits>,
    /// What the client supports.
    pub caps: ClientCapabilities,
    /// Consumers whose deliveries were staged but not yet written, with their counts:
    /// their credit comes back once the output is flushed.
    pub unsent: Vec<(Arc<Consumer>, u32)>,
    /// A reply held back until a change is durable; no further input is handled
    /// meanwhile (see [`ConnCtx::reply_when_durable`]).
    pub pending_commit: Option<PendingCommit>,
    /// Where completed group commits this connection's channels wait for are reported.
    pub syncs: UnboundedSender<super::confirms::SyncDone>,
    /// Publisher flow control: publishes note the queues they reach here.
    pub flow: crate::connection::flow::PublishFlow,
}

impl ConnCtx {
    /// Stages a method frame.
    pub fn send(&mut self, channel: u16, method: impl Into<Method>) {
        frame::write_method(self.out.staging(), channel, &method.into());
    }

    /// Stages a message's header and body frames after its method frame; large bodies
    /// are queued without copying.
    pub fn send_content(&mut self, channel: u16, message: &Message) {
        let body = &message.body;
        write_header_raw(
            self.out.staging(),
            channel,
            body.len() as u64,
            &message.raw_properties,
        );
        if body.len() < ZERO_COPY_MIN_BODY {
            write_body(self.out.staging(), channel, body, self.frame_max);
            return;
        }
        let chunk = frame::max_body_payload(self.frame_max).max(1);
        let mut start = 0;
        while start < body.len() {
            let end = (start + chunk).min(body.len());
            write_body_frame_header(self.out.staging(), channel, (end - start) as u32);
            self.out.push_shared(body.slice(start..end));
            self.out.staging().extend_from_slice(&[FRAME_END]);
            start = end;
        }
    }

    /// Takes a group-commit ticket covering every store write made so far and reports
    /// its outcome for `channel`'s `batch` through `syncs` once it resolves (from a
    /// spawned task: the connection's loop never waits for the disk).
    pub fn await_sync(&self, channel: u16, batch: u64, what: super::confirms::Synced) {
        let ticket = self.vhost.sync();
        let syncs = self.syncs.clone();
        tokio::spawn(async move {
            let result = ticket.await;
            let _ = syncs.send(super::confirms::SyncDone {
                channel,
                batch,
                what,
                result,
            });
        });
    }

    /// Sends `reply` (if any) on `channel` now, or, when `commit` is pending, once the
    /// change it covers is durable. Until then the connection handles no further input
    /// (later methods may depend on this one) but keeps delivering, writing and
    /// heart-beating: it awaits the commit in its loop, never blocking its thread. If the
    /// commit fails the connection closes with 541, naming `method` (class and method id).
    pub fn reply_when_durable(
        &mut self,
        channel: u16,
        commit: Option<SyncTicket>,
        reply: Option<Method>,
        method: (u16, u16),
    ) {
        match commit {
            None => {
                if let Some(reply) = reply {
                    self.send(channel, reply);
                }
            }
            Some(ticket) => {
                debug_assert!(
                    self.pending_commit.is_none(),
                    "input is paused while one waits"
                );
                self.pending_commit = Some(PendingCommit {
                    ticket,
                    channel,
                    reply,
                    method,
                });
            }
        }
    }

    /// Notes one staged delivery for `consumer`, whose credit returns after the write.
    pub fn note_unsent(&mut self, consumer: &Arc<Consumer>) {
        match self.unsent.last_mut() {
            Some((c, n)) if Arc::ptr_eq(c, consumer) => *n += 1,
            _ => self.unsent.push((consumer.clone(), 1)),
        }
    }

    /// Returns the credit of everything staged, once the output buffer has drained.
    pub fn release_unsent(&mut self) {
        for (consumer, n) in self.unsent.drain(..) {
            consumer.written(n);
            consumer.wake_if_blocked();
        }
    }
}

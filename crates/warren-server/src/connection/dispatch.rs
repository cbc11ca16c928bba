//! Dispatch: each frame goes to the connection (channel 0), to the channel it names, or,
//! for a channel being closed, nowhere but the close handshake; and the closes. An error
//! closes what its type says: a [`ChannelError`] its channel, a [`ConnectionError`] the
//! connection.

use tracing::{debug, info, warn};
use warren_broker::{AmqpError, ChannelError, ConnectionCode, ConnectionError};
use warren_protocol::method::{basic, channel as chm, connection as conn};
use warren_protocol::{Frame, Method};

use super::octets::describe_frame;
use super::{Connection, State};
use crate::channel::Channel;

impl Connection {
    pub(super) fn handle_frame(&mut self, frame: Frame) {
        if let Frame::Method {
            method: Method::BasicPublish(_),
            ..
        } = &frame
        {
            self.saw_publish = true;
        }
        let channel_id = frame.channel();
        if self.state == State::Closing {
            // Only the close handshake matters now; RabbitMQ drops every other frame.
            if let Frame::Method { channel: 0, method } = frame {
                match method {
                    Method::ConnectionCloseOk(_) => self.state = State::Closed,
                    // Our close and the client's crossed.
                    Method::ConnectionClose(_) if !self.client_closed => {
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
            // Everything but the close handshake is dropped until the client confirms;
            // the frame grammar is the connection's and still holds, as in RabbitMQ (a
            // message the client was sending may still be finished, a content frame out
            // of place is a 505).
            if let Err(v) = self.content.accept(channel_id, &frame) {
                return self.close_connection(v.error, v.class_id, v.method_id);
            }
            if let Frame::Method { method, .. } = frame {
                match method {
                    Method::ChannelCloseOk(_) => {
                        self.closing_channels.remove(&channel_id);
                        self.content.forget(channel_id);
                    }
                    Method::ChannelClose(_) => {
                        self.closing_channels.remove(&channel_id);
                        self.content.forget(channel_id);
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
                None => Err(not_open().into()),
            },
            Frame::Body { payload, .. } => match self.channels.get_mut(&channel_id) {
                Some(ch) => ch.handle_body(&mut self.cx, payload),
                None => Err(not_open().into()),
            },
            Frame::Heartbeat => Ok(()),
        };
        if let Err(e) = result {
            self.exception(channel_id, e, class_id, method_id);
        }
    }

    /// A frame on a channel number that is not open. As in RabbitMQ, it first counts as
    /// a new channel against `channel_max`; then only `channel.open` is acceptable. The
    /// frame grammar holds on every channel, open or not: a `basic.publish` is judged
    /// (504) once its content has arrived, and a content frame out of place is a 505
    /// first, as RabbitMQ's reader assembles a command before its channel sees it.
    pub(super) fn handle_unopened_channel_frame(&mut self, channel_id: u16, frame: Frame) {
        let open = self.channels.len() + self.closing_channels.len();
        if self.channel_max != 0 && open >= usize::from(self.channel_max) {
            let e = ConnectionError::new(
                ConnectionCode::NotAllowed,
                format!(
                "number of channels opened ({open}) has reached the negotiated channel_max ({})",
                self.channel_max
            ),
            );
            return self.close_connection(e, 0, 0);
        }
        if let Err(v) = self.content.accept(channel_id, &frame) {
            return self.close_connection(v.error, v.class_id, v.method_id);
        }
        match frame {
            Frame::Method {
                method: Method::ChannelOpen(_),
                ..
            } => {
                let limits = self.cx.access.user().limits;
                let stats = match self.cx.registration.open_channel(channel_id, limits) {
                    Ok(stats) => stats,
                    Err(e) => {
                        // RabbitMQ 3.10.8 reports this one with no method ids (measured).
                        let e = ConnectionError::new(ConnectionCode::NotAllowed, e.to_string());
                        return self.close_connection(e, 0, 0);
                    }
                };
                self.channels
                    .insert(channel_id, Channel::new(channel_id, stats));
                self.cx.send(channel_id, chm::OpenOk::default());
            }
            // Its content is still to come.
            Frame::Method {
                method: Method::BasicPublish(_),
                ..
            } => {}
            Frame::Method { method, .. } => {
                self.close_connection(not_open(), method.class_id(), method.method_id())
            }
            // The grammar accepted it, so it belongs to a publish: judged when whole.
            Frame::Header { .. } | Frame::Body { .. } => {
                if !self.content.in_content(channel_id) {
                    self.close_connection(
                        not_open(),
                        basic::Publish::CLASS_ID,
                        basic::Publish::METHOD_ID,
                    );
                }
            }
            Frame::Heartbeat => {}
        }
    }

    /// A method on an open channel: the channel lifecycle is handled here, the rest by
    /// the channel.
    pub(super) fn handle_channel_method(
        &mut self,
        channel_id: u16,
        method: Method,
    ) -> Result<(), AmqpError> {
        if !matches!(method, Method::BasicAck(_)) {
            // Every other method (a publish too: the credit an ack returns decides where
            // the next message goes) sees the acks that came before it settled.
            self.settle_acks();
        }
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
                None => Err(not_open().into()),
            },
        }
    }

    pub(super) fn handle_connection_frame(&mut self, frame: Frame) {
        match frame {
            Frame::Heartbeat => {}
            Frame::Method {
                method: Method::ConnectionClose(m),
                ..
            } => {
                info!(peer = %self.peer, code = m.reply_code, text = %m.reply_text, "client closed the connection");
                // What the channels held is given back and the exclusive queues go before
                // close-ok, as in RabbitMQ; then the connection waits (within
                // close_timeout) for the client to close the socket, dropping what it
                // still sends.
                self.release_channels();
                self.cx.vhost.connection_closed(self.cx.id);
                self.cx.send(0, conn::CloseOk {});
                self.client_closed = true;
                self.state = State::Closing;
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
                    ConnectionError::new(
                        ConnectionCode::ChannelError,
                        "unexpected method in connection state running",
                    ),
                    c,
                    m,
                );
            }
            other @ (Frame::Header { .. } | Frame::Body { .. }) => {
                self.close_connection(
                    ConnectionError::new(ConnectionCode::UnexpectedFrame, describe_frame(&other)),
                    0,
                    0,
                );
            }
        }
    }

    pub(super) fn close_channel_by_client(&mut self, id: u16) {
        if let Some(mut ch) = self.channels.remove(&id) {
            ch.release(&self.cx);
            self.cx.registration.close_channel(id);
        }
        self.content.forget(id);
        self.cx.send(id, chm::CloseOk {});
    }

    /// Turns a handler error into `channel.close` or `connection.close`, as its type says.
    pub(super) fn exception(
        &mut self,
        channel_id: u16,
        e: AmqpError,
        class_id: u16,
        method_id: u16,
    ) {
        match e {
            AmqpError::Channel(e) => self.close_channel(channel_id, e, class_id, method_id),
            AmqpError::Connection(e) => self.close_connection(e, class_id, method_id),
        }
    }

    /// Sends `channel.close` for a soft error and releases what the channel held. A
    /// channel that is no longer open has nothing left to close (RabbitMQ's channel
    /// process is gone by then too), so the error is only logged.
    pub(super) fn close_channel(
        &mut self,
        channel_id: u16,
        e: ChannelError,
        class_id: u16,
        method_id: u16,
    ) {
        let Some(mut ch) = self.channels.remove(&channel_id) else {
            debug!(peer = %self.peer, channel = channel_id, error = %e, "error for a channel no longer open");
            return;
        };
        warn!(peer = %self.peer, channel = channel_id, error = %e, "channel exception");
        ch.release(&self.cx);
        self.cx.registration.close_channel(channel_id);
        // The content grammar is kept until the close handshake ends: the client may be
        // in the middle of a message, whose remaining frames are accepted and dropped.
        self.closing_channels.insert(channel_id);
        self.cx.send(
            channel_id,
            chm::Close {
                reply_code: e.code.reply_code().code(),
                reply_text: e.reply_text(),
                class_id,
                method_id,
            },
        );
    }

    /// Sends `connection.close` for a hard error; only `close-ok` matters after it.
    pub(super) fn close_connection(&mut self, e: ConnectionError, class_id: u16, method_id: u16) {
        warn!(peer = %self.peer, error = %e, "connection exception");
        self.cx.send(
            0,
            conn::Close {
                reply_code: e.code.reply_code().code(),
                reply_text: e.reply_text(),
                class_id,
                method_id,
            },
        );
        self.release_channels();
        self.state = State::Closing;
    }

    /// Settles every channel's buffered acknowledgements.
    pub(super) fn settle_acks(&mut self) {
        for ch in self.channels.values_mut() {
            ch.settle_acks();
        }
    }

    pub(super) fn release_channels(&mut self) {
        for (id, mut ch) in self.channels.drain() {
            ch.release(&self.cx);
            self.cx.registration.close_channel(id);
        }
        self.content.clear();
    }
}

/// A method on a channel that was never opened, or already closed.
fn not_open() -> ConnectionError {
    ConnectionError::new(ConnectionCode::ChannelError, "expected 'channel.open'")
}

//! Pauses of reading: the memory alarm blocks publishing connections
//! (`connection.blocked`), and publisher flow control pauses a connection whose queues'
//! consumers fall behind (see `flow.rs`).

use tokio::time::Instant;
use tracing::{debug, info};
use warren_protocol::method::connection as conn;

use super::{flow, Connection, State};

impl Connection {
    /// A connection paused by publisher flow control looks at its queues again and
    /// resumes reading once they have drained (or it is closing).
    pub(super) fn poll_flow(&mut self) {
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
    pub(super) fn block(&mut self) {
        self.blocked = true;
        info!(peer = %self.peer, "blocking publisher: memory alarm");
        if self.cx.caps.connection_blocked {
            self.cx.send(
                0,
                conn::Blocked {
                    reason: self.ctx.memory.reason().into(),
                },
            );
        }
    }

    /// Resumes a blocked connection once the memory alarm has cleared.
    pub(super) fn check_unblock(&mut self) {
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
}

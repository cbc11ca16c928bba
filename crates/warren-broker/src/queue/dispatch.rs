//! Dispatch: handing ready messages to consumers with credit, and the timer that
//! expires messages at the head and the queue itself (`x-expires`).

use super::*;

impl Queue {
    /// Delivers ready messages to consumers with credit.
    pub fn dispatch(&self) {
        if let Some(stream) = self.stream.get() {
            // Each stream consumer has its own reader: wake them to use their credit.
            stream.wake_readers();
            return;
        }
        let mut after = AfterUnlock::default();
        {
            let mut st = self.state.lock();
            self.dispatch_locked(&mut st, &mut after);
        }
        self.finish(after);
    }

    pub(super) fn dispatch_locked(&self, st: &mut QueueState, after: &mut AfterUnlock) {
        self.dispatch_at(st, now_ms(), after);
    }

    /// Delivers what it can at time `now`; a message is expired once `now` has passed
    /// its expiry (one due exactly now is still delivered, which is what TTL 0 means).
    pub(super) fn dispatch_at(&self, st: &mut QueueState, now: u64, after: &mut AfterUnlock) {
        // Stored positions delivered (to mark) and delivered to no-ack consumers (done).
        let mut delivered: Vec<u64> = Vec::new();
        let mut settled: Vec<u64> = Vec::new();
        self.dispatch_loop(st, now, after, &mut delivered, &mut settled);
        self.mark_delivered(&delivered);
        self.forget(settled);
    }

    pub(super) fn dispatch_loop(
        &self,
        st: &mut QueueState,
        now: u64,
        after: &mut AfterUnlock,
        delivered: &mut Vec<u64>,
        settled: &mut Vec<u64>,
    ) {
        while !st.ready.is_empty() && !st.consumers.is_empty() {
            if st
                .ready
                .front()
                .is_some_and(|m| m.expires_at_ms.is_some_and(|t| t < now))
            {
                self.expire_locked(st, now, after);
                continue;
            }
            let Some(consumer) = st.consumers.pick(self.declared.single_active_consumer) else {
                return;
            };
            let Some(message) = st.ready.pop_front() else {
                consumer.unreserve();
                return;
            };
            let redelivered = message.redelivered;
            if !consumer.spec.no_ack {
                st.unacked.add(&message);
            }
            let stored = message.stored.then_some(message.seq);
            if let Err(undelivered) = consumer.send(Delivery {
                consumer: consumer.clone(),
                message,
            }) {
                // The consumer's connection is gone: put the message back and drop the
                // consumer here; the connection's cleanup will not see it again.
                consumer.unreserve();
                if !consumer.spec.no_ack {
                    st.unacked
                        .remove(std::slice::from_ref(&undelivered.message));
                }
                st.ready.insert_by_seq(undelivered.message);
                st.consumers.remove(&consumer);
                continue;
            }
            if consumer.spec.no_ack {
                st.counters.deliver_no_ack += 1;
            } else {
                st.counters.deliver += 1;
            }
            st.counters.redeliver += u64::from(redelivered);
            if let Some(seq) = stored {
                if consumer.spec.no_ack {
                    settled.push(seq);
                } else {
                    delivered.push(seq);
                }
            }
        }
    }
}

impl Timed for Queue {
    fn on_timer(&self, now: u64) {
        if self.is_deleted() {
            return;
        }
        if let Some(stream) = self.stream.get() {
            self.stream_tick(stream, now);
            return;
        }
        let mut after = AfterUnlock::default();
        let expired_unused = {
            let mut st = self.state.lock();
            st.timer_due_ms = None;
            self.expire_locked(&mut st, now, &mut after);
            match st.args.expires_ms {
                Some(expires) if st.consumers.is_empty() => {
                    let due = st.last_used_ms + expires;
                    if now >= due {
                        true
                    } else {
                        self.arm_timer(&mut st, due);
                        false
                    }
                }
                _ => false,
            }
        };
        self.finish(after);
        if expired_unused {
            if let (Some(host), Some(me)) = (self.host.upgrade(), self.me.upgrade()) {
                tracing::info!(queue = %self.config.name, "queue expired (x-expires)");
                host.queue_expired(&me);
            }
        }
    }
}

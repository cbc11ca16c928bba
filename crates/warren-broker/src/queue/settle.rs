//! What happens to a message after it leaves the ready list: `basic.get`, acks,
//! rejects and requeues to the original position, and the delivery limit.

use super::*;

impl Queue {
    /// Takes the head message for `basic.get`, with the count of messages left.
    pub fn get(&self, no_ack: bool) -> Option<(QueuedMessage, u32)> {
        if self.is_stream() {
            // Refused before it gets here (`refuse_on_stream`).
            return None;
        }
        let mut after = AfterUnlock::default();
        let got = {
            let mut st = self.state.lock();
            let now = now_ms();
            st.last_used_ms = now;
            self.expire_locked(&mut st, now, &mut after);
            let msg = st.ready.pop_front();
            match &msg {
                None => st.counters.get_empty += 1,
                Some(m) => {
                    if no_ack {
                        st.counters.get_no_ack += 1;
                    } else {
                        st.counters.get += 1;
                        st.unacked.add(m);
                    }
                    st.counters.redeliver += u64::from(m.redelivered);
                }
            }
            if let Some(m) = msg.as_ref().filter(|m| m.stored) {
                if no_ack {
                    self.forget([m.seq]);
                } else {
                    self.mark_delivered(&[m.seq]);
                }
            }
            msg.map(|m| (m, st.ready.len() as u32))
        };
        self.finish(after);
        got
    }

    /// Delivered messages were acknowledged: they leave the queue (and the store).
    pub fn ack(&self, messages: &[QueuedMessage]) {
        if self.is_stream() {
            // Nothing leaves a stream: the ack only gave credit back (the channel's).
            self.state.lock().counters.ack += messages.len() as u64;
            return;
        }
        {
            let mut st = self.state.lock();
            st.unacked.remove(messages);
            st.counters.ack += messages.len() as u64;
        }
        self.forget(messages.iter().filter(|m| m.stored).map(|m| m.seq));
    }

    /// Rejected without requeue: the messages leave the queue and are dead-lettered
    /// (their stored positions are removed once the copies are written).
    pub fn discard(&self, messages: Vec<QueuedMessage>) {
        if self.is_stream() {
            return;
        }
        self.state.lock().unacked.remove(&messages);
        let moved = messages
            .iter()
            .filter(|m| m.stored)
            .map(|m| m.seq)
            .collect();
        let dead = messages
            .into_iter()
            .map(|m| DeadLetter {
                message: m.message,
                reason: DeathReason::Rejected,
            })
            .collect();
        self.finish(AfterUnlock { dead, moved });
    }

    /// Puts delivered messages back at their original positions, marked redelivered,
    /// dead-lettering those past the delivery limit, then delivers what it can.
    pub fn requeue(&self, mut messages: Vec<QueuedMessage>) {
        if messages.is_empty() || self.is_stream() {
            // A stream's deliveries are never put back: a consumer re-reads by offset.
            return;
        }
        if self.is_deleted() {
            return;
        }
        messages.sort_by_key(|m| m.seq);
        let mut after = AfterUnlock::default();
        {
            let mut st = self.state.lock();
            st.unacked.remove(&messages);
            for mut m in messages {
                m.redelivered = true;
                m.delivery_count = m.delivery_count.saturating_add(1);
                if let Some(limit) = st.args.delivery_limit {
                    if m.delivery_count > limit {
                        if m.stored {
                            after.moved.push(m.seq);
                        }
                        after.dead.push(DeadLetter {
                            message: m.message,
                            reason: DeathReason::DeliveryLimit,
                        });
                        continue;
                    }
                    m.message = Arc::new(with_delivery_count(&m.message, m.delivery_count));
                }
                st.ready.insert_by_seq(m);
            }
            // Messages that expired while delivered go now, and the timer covers the
            // rest even if no consumer is left to dispatch to.
            self.expire_locked(&mut st, now_ms(), &mut after);
            self.dispatch_locked(&mut st, &mut after);
        }
        self.finish(after);
    }

    /// Puts back a message that was handed to a consumer whose connection or channel
    /// went away before writing it. `counted_unacked` says whether the hand-over counted
    /// it as unacknowledged (it does unless the consumer was no-ack).
    pub fn return_undelivered(&self, message: QueuedMessage, counted_unacked: bool) {
        if self.is_deleted() || self.is_stream() {
            return;
        }
        let mut after = AfterUnlock::default();
        {
            let mut st = self.state.lock();
            if counted_unacked {
                st.unacked.remove(std::slice::from_ref(&message));
            }
            st.ready.insert_by_seq(message);
            self.expire_locked(&mut st, now_ms(), &mut after);
            self.dispatch_locked(&mut st, &mut after);
        }
        self.finish(after);
    }
}

/// A copy of `message` whose `x-delivery-count` header says how often it came back.
pub(super) fn with_delivery_count(message: &Message, count: u32) -> Message {
    let mut props = message.properties();
    let mut headers = props.headers.take().unwrap_or_default();
    headers.insert("x-delivery-count", FieldValue::I64(i64::from(count)));
    props.headers = Some(headers);
    message.with_properties(&props)
}

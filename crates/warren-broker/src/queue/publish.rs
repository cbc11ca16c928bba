//! Enqueueing: deduplication, TTL, length limits with their overflow modes, storing a
//! persistent message's entry, and expiry at the head.

use super::*;

impl Queue {
    /// Appends a message, applying deduplication, TTL and length limits, and delivers
    /// what it can.
    pub fn publish(&self, message: Arc<Message>) -> PublishOutcome {
        if let Some(stream) = self.stream.get() {
            return self.publish_to_stream(stream, &message);
        }
        let mut after = AfterUnlock::default();
        let outcome = {
            let mut st = self.state.lock();
            self.publish_locked(&mut st, message, &mut after)
        };
        self.finish(after);
        outcome
    }

    pub(super) fn publish_locked(
        &self,
        st: &mut QueueState,
        message: Arc<Message>,
        after: &mut AfterUnlock,
    ) -> PublishOutcome {
        let now = now_ms();
        if let Some(dedup) = &mut st.dedup {
            if dedup.is_duplicate(&message, now) {
                return PublishOutcome::Duplicate;
            }
        }
        let expires_at_ms = expiry_for(&st.args, &message, now);
        let body = message.body.len() as u64;
        if would_overflow(st, body) {
            match st.args.overflow {
                Overflow::DropHead => {}
                Overflow::RejectPublish => return PublishOutcome::Rejected,
                Overflow::RejectPublishDlx => {
                    after.dead.push(DeadLetter {
                        message,
                        reason: DeathReason::Maxlen,
                    });
                    return PublishOutcome::Rejected;
                }
            }
        }
        let seq = st.next_seq;
        let stored = match self.store_entry(&message, seq, expires_at_ms) {
            Ok(stored) => stored,
            Err(_) if self.is_deleted() => {
                tracing::debug!(queue = %self.config.name, "publish to a queue being deleted: dropped");
                return PublishOutcome::QueueGone;
            }
            Err(e) => {
                // Not durable, so not accepted: the publisher gets a nack.
                tracing::error!(queue = %self.config.name, error = %e, "store: enqueue failed");
                return PublishOutcome::Rejected;
            }
        };
        st.next_seq += 1;
        st.counters.publish += 1;
        st.ready.push_back(QueuedMessage {
            seq,
            message,
            redelivered: false,
            expires_at_ms,
            delivery_count: 0,
            stored,
        });
        // Dispatch at the publish's own clock: a message with TTL 0 expires at `now`
        // and must still reach a consumer that can take it at once.
        self.dispatch_at(st, now, after);
        self.enforce_limits(st, after);
        // A message with TTL 0 that no consumer could take expires now.
        self.expire_locked(st, now, after);
        PublishOutcome::Enqueued
    }

    /// Stores a persistent message's entry at `seq` if this queue is stored (the message
    /// itself is stored once, by the first durable queue that takes it). Returns whether
    /// it was stored.
    pub(super) fn store_entry(
        &self,
        message: &Message,
        seq: u64,
        expires_at_ms: Option<u64>,
    ) -> StoreResult<bool> {
        let Some(p) = self.persist.get() else {
            return Ok(false);
        };
        if !message.persistent {
            return Ok(false);
        }
        let message_id = stored_message_id(p.store.as_ref(), message)?;
        p.store.enqueue(
            p.id,
            &EntryRecord {
                seq,
                message_id,
                expires_at_ms,
                priority: message.priority,
                body_len: message.body.len() as u32,
            },
        )?;
        Ok(true)
    }

    /// Drops (dead-letters) head messages until the queue is within its limits, if the
    /// overflow mode is drop-head. The reject modes refuse publishes instead, and leave
    /// a queue over a lowered limit as it is (RabbitMQ's `maybe_drop_head`).
    pub(super) fn enforce_limits(&self, st: &mut QueueState, after: &mut AfterUnlock) {
        if st.args.overflow != Overflow::DropHead {
            return;
        }
        let over = |st: &QueueState| {
            st.args
                .max_length
                .is_some_and(|max| st.ready.len() as u64 > max)
                || st
                    .args
                    .max_length_bytes
                    .is_some_and(|max| st.ready.bytes() as u64 > max)
        };
        while over(st) {
            // The head in delivery order (the highest priority first), as RabbitMQ drops.
            let Some(m) = st.ready.pop_front() else {
                break;
            };
            if m.stored {
                after.moved.push(m.seq);
            }
            after.dead.push(DeadLetter {
                message: m.message,
                reason: DeathReason::Maxlen,
            });
        }
    }

    /// Removes expired head messages and re-arms the timer for the next one.
    pub(super) fn expire_locked(&self, st: &mut QueueState, now: u64, after: &mut AfterUnlock) {
        let mut expired = Vec::new();
        st.ready.take_expired(now, &mut expired);
        after
            .moved
            .extend(expired.iter().filter(|m| m.stored).map(|m| m.seq));
        after.dead.extend(expired.into_iter().map(|m| DeadLetter {
            message: m.message,
            reason: DeathReason::Expired,
        }));
        if let Some(next) = st.ready.next_expiry() {
            self.arm_timer(st, next);
        }
    }
}

/// When a message enqueued now expires: the earlier of the queue's TTL in effect and
/// the message's own `expiration`. It is stamped at enqueue, so a TTL changed later (by
/// a policy) applies to messages enqueued from then on, as in RabbitMQ.
pub(super) fn expiry_for(args: &QueueArgs, message: &Message, now: u64) -> Option<u64> {
    let ttl = match (args.message_ttl_ms, message.expiration_ms) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }?;
    Some(now.saturating_add(ttl))
}

/// Whether adding a body of `body` bytes would break a length limit in effect.
pub(super) fn would_overflow(st: &QueueState, body: u64) -> bool {
    st.args
        .max_length
        .is_some_and(|max| st.ready.len() as u64 >= max)
        || st
            .args
            .max_length_bytes
            .is_some_and(|max| st.ready.bytes() as u64 + body > max)
}

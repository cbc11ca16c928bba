//! A channel's publishing mode — normal, confirm (`confirm.select`) or transactional
//! (`tx.select`) — and what each does when publishes complete: confirms sent once their
//! group commit resolves, transactions buffered until `tx.commit`.

use std::sync::atomic::Ordering;

use warren_broker::stats::ChannelStats;
use warren_broker::{AmqpError, AmqpResult};
use warren_protocol::method::{confirm, tx};

use super::basic::{settle, Settle};
use super::confirms::{next_batch, DurableConfirms, SyncDone, Synced};
use super::publish::PendingPublish;
use super::unacked::Unacked;
use super::{Channel, ConnCtx};

/// Confirm or transaction mode of a channel.
#[derive(Debug, Default)]
pub(super) enum PublishMode {
    /// Plain publishing.
    #[default]
    Normal,
    /// `confirm.select` seen: every publish gets a sequence number and an ack.
    Confirm {
        /// Sequence number of the last publish.
        last_seq: u64,
        /// Highest sequence number already acknowledged to the client.
        acked_up_to: u64,
        /// Publishes waiting for the disk, and nacks waiting for their turn.
        durable: DurableConfirms,
    },
    /// `tx.select` seen: publishes and settlements wait for `tx.commit`.
    Tx {
        publishes: Vec<PendingPublish>,
        settles: Vec<(Vec<Unacked>, Settle)>,
        /// Commits whose `commit-ok` waits for the disk (batch ids).
        commits: Vec<u64>,
    },
}

impl PublishMode {
    /// Whether acks and rejects wait for a commit.
    pub(super) fn buffers_acks(&self) -> bool {
        matches!(self, PublishMode::Tx { .. })
    }

    /// Buffers settled deliveries until commit.
    pub(super) fn buffer_settle(&mut self, entries: Vec<Unacked>, how: Settle) {
        if let PublishMode::Tx { settles, .. } = self {
            settles.push((entries, how));
        }
    }
}

impl Channel {
    /// Sends the confirms that are due: one `basic.ack` covering every publish
    /// confirmed since the last flush (`multiple=true` when it covers more than one),
    /// with nacks in order. Publishes that stored a message wait for a group commit:
    /// this takes one ticket for all of them. The connection calls this after each batch
    /// of frames read from the socket and when a commit completes.
    pub(crate) fn flush_confirms(&mut self, cx: &mut ConnCtx) {
        if let PublishMode::Confirm {
            last_seq,
            acked_up_to,
            durable,
        } = &mut self.mode
        {
            if let Some(batch) = durable.take_batch(*last_seq) {
                cx.await_sync(self.id, batch, Synced::Confirms);
            }
            let before = *acked_up_to;
            durable.flush(cx, self.id, *last_seq, acked_up_to);
            self.stats.counters.confirm.add(*acked_up_to - before);
            ChannelStats::set(&self.stats.unconfirmed, *last_seq - *acked_up_to);
        }
    }

    /// A group commit this channel waited for completed: sends the confirms (or the
    /// `tx.commit-ok`) it held back. A failed commit of a transaction is an error.
    pub(crate) fn sync_done(&mut self, cx: &mut ConnCtx, done: SyncDone) -> AmqpResult<()> {
        match (&mut self.mode, done.what) {
            (PublishMode::Confirm { durable, .. }, Synced::Confirms) => {
                if let Err(e) = &done.result {
                    tracing::error!(error = %e, "store sync failed: nacking publishes");
                }
                durable.resolved(done.batch, done.result.is_ok());
                self.flush_confirms(cx);
            }
            (PublishMode::Tx { commits, .. }, Synced::Commit) => {
                let Some(at) = commits.iter().position(|b| *b == done.batch) else {
                    return Ok(());
                };
                commits.remove(at);
                done.result.map_err(|e| AmqpError::store_failed(&e))?;
                cx.send(self.id, tx::CommitOk {});
            }
            _ => {}
        }
        Ok(())
    }

    pub(super) fn confirm_select(
        &mut self,
        cx: &mut ConnCtx,
        m: confirm::Select,
    ) -> AmqpResult<()> {
        match self.mode {
            PublishMode::Tx { .. } => {
                return Err(AmqpError::precondition_failed(
                    "cannot switch from tx to confirm mode",
                ))
            }
            PublishMode::Normal => {
                self.mode = PublishMode::Confirm {
                    last_seq: 0,
                    acked_up_to: 0,
                    durable: DurableConfirms::default(),
                }
            }
            PublishMode::Confirm { .. } => {}
        }
        self.stats.confirm.store(true, Ordering::Relaxed);
        if !m.nowait {
            cx.send(self.id, confirm::SelectOk {});
        }
        Ok(())
    }

    pub(super) fn tx_select(&mut self, cx: &mut ConnCtx) -> AmqpResult<()> {
        match self.mode {
            PublishMode::Confirm { .. } => {
                return Err(AmqpError::precondition_failed(
                    "cannot switch from confirm to tx mode",
                ))
            }
            PublishMode::Normal => {
                self.mode = PublishMode::Tx {
                    publishes: Vec::new(),
                    settles: Vec::new(),
                    commits: Vec::new(),
                }
            }
            PublishMode::Tx { .. } => {}
        }
        self.stats.transactional.store(true, Ordering::Relaxed);
        cx.send(self.id, tx::SelectOk {});
        Ok(())
    }

    pub(super) fn tx_commit(&mut self, cx: &mut ConnCtx) -> AmqpResult<()> {
        let PublishMode::Tx {
            publishes, settles, ..
        } = &mut self.mode
        else {
            return Err(AmqpError::precondition_failed(
                "channel is not transactional",
            ));
        };
        let publishes = std::mem::take(publishes);
        let settles = std::mem::take(settles);
        let mut stored = false;
        for p in publishes {
            // Transactions carry no confirms, so a reject-publish refusal has no nack.
            let message = p.message.clone();
            let routed = self.deliver_routed(cx, &p.publish, p.message, &p.queues);
            stored |= routed.logged || message.store_id.get().is_some();
        }
        for (entries, how) in settles {
            settle(entries, how);
        }
        if let PublishMode::Tx { commits, .. } = &mut self.mode {
            // Durable once on disk; a commit-ok never overtakes an earlier pending one.
            if stored || !commits.is_empty() {
                let batch = next_batch();
                commits.push(batch);
                cx.await_sync(self.id, batch, Synced::Commit);
                return Ok(());
            }
        }
        cx.send(self.id, tx::CommitOk {});
        Ok(())
    }

    pub(super) fn tx_rollback(&mut self, cx: &mut ConnCtx) -> AmqpResult<()> {
        let PublishMode::Tx { publishes, .. } = &mut self.mode else {
            return Err(AmqpError::precondition_failed(
                "channel is not transactional",
            ));
        };
        publishes.clear();
        self.restore_uncommitted_settles();
        cx.send(self.id, tx::RollbackOk {});
        Ok(())
    }

    /// Puts the deliveries that uncommitted acks and rejects took back among the
    /// unacknowledged ones: a rollback, or a channel closing mid-transaction, leaves them
    /// unsettled, as in RabbitMQ.
    pub(super) fn restore_uncommitted_settles(&mut self) {
        if let PublishMode::Tx { settles, .. } = &mut self.mode {
            for (entries, _) in std::mem::take(settles) {
                for e in entries {
                    self.unacked.insert(e.tag, e);
                }
            }
        }
    }
}

//! A virtual host's stream queues: opening a stream's log when the queue is declared
//! or restored (through the store, so the group commit covers its appends), and
//! removing it with the queue.

use std::sync::Arc;

use warren_store::stream::StreamLog;
use warren_store::StoreResult;

use super::VHost;
use crate::queue::Queue;
use crate::stream::StreamQueue;
use crate::Limits;

impl VHost {
    /// Makes `queue` (declared `x-queue-type: stream`) a stream: its log is opened in
    /// the store (a stored queue's directory, kept across restarts) or in memory for a
    /// broker without a store.
    pub(super) fn open_stream(&self, queue: &Queue) -> StoreResult<()> {
        let Some(settings) = queue.declared_args().stream else {
            return Ok(());
        };
        let (log, store, tail) = match (&self.persistence, queue.persistence()) {
            (Some(p), Some(stored)) => (
                p.store.open_stream(stored.id, settings.segment_bytes)?,
                Some(stored.clone()),
                p.paging.stream_tail_bytes,
            ),
            _ => (
                Arc::new(StreamLog::in_memory(settings.segment_bytes)),
                None,
                Limits::default().paging.stream_tail_bytes,
            ),
        };
        let stream = StreamQueue::new(queue.name().clone(), self.name.clone(), log, store, tail);
        // Seam for the consumer groups (helper "superstream"): every stream gets one,
        // with its super stream partition index (0 for a plain stream).
        let partition = super::super_streams::partition_index(&queue.config().arguments);
        stream.set_gate(crate::stream::group::ConsumerGroups::new(
            partition.unwrap_or(0),
        ));
        queue.attach_stream(stream);
        Ok(())
    }
}

/// Removes a stored stream's log and tracked offsets from the store (the queue is
/// being deleted).
pub(super) fn unstore_stream(q: &Queue) -> StoreResult<()> {
    let (Some(stream), Some(p)) = (q.stream(), q.persistence()) else {
        return Ok(());
    };
    stream.forget_offsets();
    p.store.delete_stream(p.id)
}

//! One task per stream consumer: it delivers from the consumer's offset on while the
//! consumer has credit, and sleeps on its `Notify` otherwise (woken by a publish, by
//! credit coming back through [`Queue::dispatch`](crate::Queue::dispatch), by
//! activation or by detaching). Messages still in the tail cache are delivered without
//! I/O; older ones are read from the log on a blocking thread, a bounded batch at a
//! time, so a consumer replaying gigabytes never holds a runtime worker.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{record, Reader, StreamQueue};
use crate::consumer::Delivery;
use crate::message::{Message, QueuedMessage};

/// Most messages read or handed over in one go.
const MAX_BATCH: usize = 256;
/// About how many bytes one read from the log may return.
const MAX_BATCH_BYTES: usize = 4 << 20;

/// Starts `reader`'s task on the current runtime.
pub(super) fn spawn(stream: Arc<StreamQueue>, reader: Arc<Reader>) {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => {
            rt.spawn(run(stream, reader));
        }
        Err(_) => {
            tracing::error!(stream = %stream.name, "stream consumer attached outside a runtime: it gets nothing")
        }
    }
}

async fn run(stream: Arc<StreamQueue>, reader: Arc<Reader>) {
    let consumer = reader.consumer.clone();
    loop {
        if reader.closed.load(Ordering::Acquire) {
            return;
        }
        if !reader.active.load(Ordering::Acquire) {
            // Seam for the consumer groups: an inactive reader has stopped delivering
            // (a hand-over waits for this).
            stream.parked(&consumer);
            reader.notify.notified().await;
            continue;
        }
        let first = stream.log.first_offset();
        let mut next = reader.next.load(Ordering::Acquire).max(first);
        if next >= stream.log.next_offset() {
            reader.notify.notified().await;
            continue;
        }
        // One credit first (marking the consumer blocked if there is none, so that
        // credit coming back wakes this task).
        if !consumer.try_reserve() {
            reader.notify.notified().await;
            continue;
        }
        let want = (consumer.spec.prefetch.saturating_sub(consumer.unacked()) as usize + 1)
            .clamp(1, MAX_BATCH);
        let batch = match stream.cached(next, want) {
            Some(batch) => batch,
            None => match read_log(&stream, next, want).await {
                Some((batch, _)) if !batch.is_empty() => batch,
                Some((_, read_up_to)) => {
                    // Nothing readable (trimmed meanwhile, or undecodable records
                    // skipped): go on after what was read.
                    consumer.unreserve();
                    reader.next.store(read_up_to.max(next), Ordering::Release);
                    continue;
                }
                None => {
                    consumer.unreserve();
                    // The log failed: nothing can be read; wait for a change.
                    reader.notify.notified().await;
                    continue;
                }
            },
        };
        if batch.is_empty() {
            consumer.unreserve();
            continue;
        }
        let mut sent = 0u64;
        for (i, (offset, message)) in batch.into_iter().enumerate() {
            if i > 0 && !consumer.try_reserve() {
                break;
            }
            if reader.closed.load(Ordering::Acquire) {
                consumer.unreserve();
                return;
            }
            let delivery = Delivery {
                consumer: consumer.clone(),
                message: QueuedMessage {
                    seq: offset,
                    message,
                    redelivered: false,
                    expires_at_ms: None,
                    delivery_count: 0,
                    stored: false,
                },
            };
            if consumer.send(delivery).is_err() {
                // The connection is gone; its cleanup detaches the consumer.
                consumer.unreserve();
                return;
            }
            sent += 1;
            next = offset + 1;
        }
        reader.next.store(next, Ordering::Release);
        stream.counters.deliver.fetch_add(sent, Ordering::Relaxed);
    }
}

/// Messages read from the log, and the offset after the last record read.
type Read = (Vec<(u64, Arc<Message>)>, u64);

/// Reads up to `want` messages from `from` on from the log, on a blocking thread.
async fn read_log(stream: &Arc<StreamQueue>, from: u64, want: usize) -> Option<Read> {
    let log = stream.log.clone();
    let read = tokio::task::spawn_blocking(move || {
        log.read_from(from, want, MAX_BATCH_BYTES).map(|entries| {
            let read_up_to = entries.last().map_or(from, |e| e.offset + 1);
            let batch = entries
                .into_iter()
                .filter_map(|e| {
                    let m = record::decode(&e.payload, e.timestamp_ms);
                    if m.is_none() {
                        tracing::error!(
                            offset = e.offset,
                            "stream record does not decode: skipped"
                        );
                    }
                    m.map(|m| (e.offset, Arc::new(m)))
                })
                .collect::<Vec<_>>();
            (batch, read_up_to)
        })
    })
    .await;
    match read {
        Ok(Ok(batch)) => Some(batch),
        Ok(Err(e)) => {
            tracing::error!(stream = %stream.name, error = %e, "stream read failed");
            None
        }
        Err(e) => {
            tracing::error!(stream = %stream.name, error = %e, "stream read task failed");
            None
        }
    }
}

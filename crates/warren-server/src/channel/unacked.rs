//! Deliveries a channel has sent and the client has not yet settled, by delivery tag.

use std::collections::BTreeMap;
use std::sync::Arc;

use warren_broker::{AmqpError, AmqpResult, Consumer, Queue, QueuedMessage};

/// One delivered, unsettled message.
#[derive(Debug)]
pub(crate) struct Unacked {
    /// Its delivery tag on this channel.
    pub tag: u64,
    /// Queue it came from.
    pub queue: Arc<Queue>,
    /// The message.
    pub message: QueuedMessage,
    /// Consumer it went to (`None` for `basic.get`).
    pub consumer: Option<Arc<Consumer>>,
}

/// Unsettled deliveries in tag order.
#[derive(Debug, Default)]
pub(crate) struct UnackedMap {
    entries: BTreeMap<u64, Unacked>,
}

fn unknown_tag(tag: u64) -> AmqpError {
    AmqpError::precondition_failed(format!("unknown delivery tag {tag}"))
}

impl UnackedMap {
    /// Records a delivery.
    pub fn insert(&mut self, tag: u64, entry: Unacked) {
        self.entries.insert(tag, entry);
    }

    /// Number of unsettled deliveries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Removes the deliveries an ack/nack/reject with `tag` and `multiple` settles.
    /// `multiple` with tag 0 means every delivery; a tag that settles nothing is a 406.
    pub fn take(&mut self, tag: u64, multiple: bool) -> AmqpResult<Vec<Unacked>> {
        if multiple {
            let taken: Vec<Unacked> = if tag == 0 {
                std::mem::take(&mut self.entries).into_values().collect()
            } else {
                let rest = self.entries.split_off(&(tag.saturating_add(1)));
                std::mem::replace(&mut self.entries, rest)
                    .into_values()
                    .collect()
            };
            if taken.is_empty() && tag != 0 {
                return Err(unknown_tag(tag));
            }
            Ok(taken)
        } else {
            self.entries
                .remove(&tag)
                .map(|e| vec![e])
                .ok_or_else(|| unknown_tag(tag))
        }
    }

    /// Removes everything, for requeueing when the channel closes or on `basic.recover`.
    pub fn take_all(&mut self) -> Vec<Unacked> {
        std::mem::take(&mut self.entries).into_values().collect()
    }
}

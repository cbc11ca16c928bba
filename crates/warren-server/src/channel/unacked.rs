//! Deliveries a channel has sent and the client has not yet settled, by delivery tag.
//!
//! Delivery times are on tokio's clock, so the consumer acknowledgement timeout is
//! tested on paused time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

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
    /// When it was delivered, for the consumer acknowledgement timeout.
    pub delivered_at: Instant,
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
    /// The timeout (its value) of the first delivery left unacknowledged longer than
    /// its queue's `x-consumer-timeout`, or `default` where the queue sets none.
    pub fn timed_out(&self, now: Instant, default: Duration) -> Option<Duration> {
        self.entries.values().find_map(|e| {
            let timeout = e
                .queue
                .args()
                .consumer_timeout_ms
                .map_or(default, Duration::from_millis);
            (now.saturating_duration_since(e.delivered_at) > timeout).then_some(timeout)
        })
    }

    /// How many deliveries are unsettled.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Records a delivery.
    pub fn insert(&mut self, tag: u64, entry: Unacked) {
        self.entries.insert(tag, entry);
    }

    /// Removes the deliveries an ack/nack/reject with `tag` and `multiple` settles.
    ///
    /// As in RabbitMQ, `multiple` with tag 0 settles everything (even nothing), and any
    /// other tag must itself be outstanding: `multiple` then also settles every earlier
    /// tag. A tag that is not outstanding is a 406 and settles nothing.
    pub fn take(&mut self, tag: u64, multiple: bool) -> AmqpResult<Vec<Unacked>> {
        if multiple && tag == 0 {
            return Ok(self.take_all());
        }
        if !self.entries.contains_key(&tag) {
            return Err(unknown_tag(tag));
        }
        if multiple {
            let rest = match tag.checked_add(1) {
                Some(next) => self.entries.split_off(&next),
                None => BTreeMap::new(),
            };
            Ok(std::mem::replace(&mut self.entries, rest)
                .into_values()
                .collect())
        } else {
            Ok(self.entries.remove(&tag).into_iter().collect())
        }
    }

    /// Removes everything, for requeueing when the channel closes or on `basic.recover`.
    pub fn take_all(&mut self) -> Vec<Unacked> {
        std::mem::take(&mut self.entries).into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Weak;

    use bytes::Bytes;
    use warren_broker::queue::QueueConfig;
    use warren_broker::scheduler::Scheduler;
    use warren_broker::{Message, QueueArgs, VHost};
    use warren_protocol::BasicProperties;

    use super::*;

    const DEFAULT: Duration = Duration::from_secs(1_800);

    fn queue(consumer_timeout_ms: Option<u64>) -> Arc<Queue> {
        let config = QueueConfig {
            name: "q".into(),
            durable: false,
            exclusive_owner: None,
            auto_delete: false,
            arguments: Default::default(),
        };
        let args = QueueArgs {
            consumer_timeout_ms,
            ..QueueArgs::default()
        };
        Queue::new(
            config,
            args,
            "/".into(),
            Weak::<VHost>::new(),
            Scheduler::new(),
        )
    }

    fn delivered(tag: u64, queue: &Arc<Queue>) -> Unacked {
        let message = Message::new(
            "".into(),
            "q",
            &BasicProperties::default(),
            Bytes::new(),
            Bytes::from_static(b"m"),
        );
        Unacked {
            tag,
            queue: queue.clone(),
            message: QueuedMessage {
                seq: tag,
                message: Arc::new(message),
                redelivered: false,
                expires_at_ms: None,
                delivery_count: 0,
                stored: false,
            },
            consumer: None,
            delivered_at: Instant::now(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_queue_timeout_applies_once_it_has_passed() {
        let q = queue(Some(5_000));
        let mut map = UnackedMap::default();
        map.insert(1, delivered(1, &q));
        tokio::time::advance(Duration::from_millis(5_000)).await;
        assert_eq!(map.timed_out(Instant::now(), DEFAULT), None, "not yet past");
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(
            map.timed_out(Instant::now(), DEFAULT),
            Some(Duration::from_millis(5_000))
        );
        map.take(1, false).expect("acked");
        assert_eq!(map.timed_out(Instant::now(), DEFAULT), None, "settled");
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_queue_timeout_the_default_applies() {
        let (plain, short) = (queue(None), queue(Some(60_000)));
        let mut map = UnackedMap::default();
        map.insert(1, delivered(1, &plain));
        tokio::time::advance(Duration::from_secs(30)).await;
        map.insert(2, delivered(2, &short));
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(map.timed_out(Instant::now(), DEFAULT), None);
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(
            map.timed_out(Instant::now(), DEFAULT),
            Some(Duration::from_secs(60)),
            "the later delivery's own, shorter timeout"
        );
        map.take(2, false).expect("acked");
        tokio::time::advance(DEFAULT).await;
        assert_eq!(map.timed_out(Instant::now(), DEFAULT), Some(DEFAULT));
    }
}

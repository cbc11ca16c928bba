//! Publisher flow control: keeps a publishing connection from running far ahead of the
//! consumers of the queues it publishes to.
//!
//! Without it a fast publisher fills its queues as fast as the broker can enqueue, and
//! the CPU spent accepting messages that nobody receives during the run is taken from
//! delivering them. RabbitMQ throttles publishers with credit flow between its processes;
//! Warren's equivalent is per connection and based on the backlog it causes:
//!
//! - While a connection handles a batch of frames read from its socket, every queue a
//!   publish is routed to is noted ([`PublishFlow::note`], a pointer comparison per
//!   message; no lock).
//! - After the batch, each noted queue is checked once ([`PublishFlow::check`]): if it
//!   holds more than [`Limits::publish_flow_backlog`](warren_broker::Limits) ready
//!   messages *and has consumers*, the connection stops reading its socket (TCP
//!   back-pressure, like RabbitMQ's `flow` state). Everything else it does — heartbeats,
//!   deliveries to its own consumers, confirms — goes on.
//! - While paused it polls those queues every [`POLL_INTERVAL`] ([`PublishFlow::poll`])
//!   and resumes once each has drained to half the threshold, lost its consumers or been
//!   deleted — or after [`Limits::publish_flow_max_pause`](warren_broker::Limits) at most, so that a connection whose queue drains
//!   slowly still reads, now and then, the acks, closes and other methods its client
//!   sent meanwhile (it reads one batch, and pauses again if the queue is still over).
//! - A queue with no consumers is never a reason to pause: a backlog nobody consumes yet
//!   is legitimate and must fill at full speed. Likewise, when the consumers make no
//!   progress for [`Limits::publish_flow_stall`](warren_broker::Limits) (they are stuck, or they are this very connection,
//!   whose acks are not read while it is paused), pausing cannot help: the connection
//!   resumes and leaves that queue alone for [`Limits::publish_flow_exempt`](warren_broker::Limits).

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::time::Instant;
use warren_broker::{Limits, Queue};

/// How often a paused connection looks at the queues it waits for.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(2);
/// Most distinct queues noted per batch (a publish fanned out wider is checked on the
/// first ones only, which is enough to throttle it).
const MAX_NOTED: usize = 16;

/// A queue a paused connection waits for.
#[derive(Debug)]
struct Waiting {
    queue: Arc<Queue>,
    /// Fewest ready messages seen since the pause began.
    lowest: u32,
}

/// One connection's publisher flow control state.
#[derive(Debug)]
pub(crate) struct PublishFlow {
    /// Ready messages above which a consumed queue pauses its publishers (0: off).
    high: u32,
    /// Ready messages at or below which it releases them.
    low: u32,
    /// Queues routed to since the last check.
    noted: Vec<Arc<Queue>>,
    /// Queues the paused connection waits for (empty: not paused).
    waiting: Vec<Waiting>,
    /// When the pause began.
    paused_since: Instant,
    /// When one of them last shrank (or the pause began).
    last_progress: Instant,
    /// Queues whose consumers stalled, and until when they are left alone.
    exempt: Vec<(Weak<Queue>, Instant)>,
    /// A pause ends when none of its queues has shrunk for this long.
    stall_after: Duration,
    /// Longest a connection stays paused at once.
    max_pause: Duration,
    /// How long a queue whose consumers stalled does not pause its publishers.
    exempt_for: Duration,
}

impl PublishFlow {
    /// Flow control pausing at `limits.publish_flow_backlog` ready messages per
    /// consumed queue (0: off), with the limits' pause timings.
    pub(crate) fn new(limits: &Limits) -> Self {
        let backlog = limits.publish_flow_backlog;
        PublishFlow {
            stall_after: limits.publish_flow_stall,
            max_pause: limits.publish_flow_max_pause,
            exempt_for: limits.publish_flow_exempt,
            high: backlog,
            low: backlog / 2,
            noted: Vec::new(),
            waiting: Vec::new(),
            paused_since: Instant::now(),
            last_progress: Instant::now(),
            exempt: Vec::new(),
        }
    }

    /// Records that a publish was routed to `queue`. Called per message per queue, so
    /// it only compares pointers.
    #[inline]
    pub(crate) fn note(&mut self, queue: &Arc<Queue>) {
        // A stream's depth is what it retains, not a backlog consumers drain.
        if self.high == 0 || queue.is_stream() {
            return;
        }
        if let Some(last) = self.noted.last() {
            if Arc::ptr_eq(last, queue) {
                return;
            }
        }
        if self.noted.len() < MAX_NOTED && !self.noted.iter().any(|q| Arc::ptr_eq(q, queue)) {
            self.noted.push(queue.clone());
        }
    }

    /// Whether the connection is paused.
    pub(crate) fn is_paused(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// After a batch of input: checks the queues it published to and returns whether the
    /// connection must pause reading. Takes each queue's lock once (twice for a queue
    /// over the threshold).
    pub(crate) fn check(&mut self, now: Instant) -> bool {
        if self.noted.is_empty() {
            return self.is_paused();
        }
        self.exempt
            .retain(|(q, until)| *until > now && q.strong_count() > 0);
        for queue in std::mem::take(&mut self.noted) {
            if self.is_exempt(&queue) || self.waiting.iter().any(|w| Arc::ptr_eq(&w.queue, &queue))
            {
                continue;
            }
            let ready = queue.message_count();
            if ready > self.high && queue.consumer_count() > 0 && !queue.is_deleted() {
                self.waiting.push(Waiting {
                    queue,
                    lowest: ready,
                });
            }
        }
        if self.is_paused() {
            self.paused_since = now;
            self.last_progress = now;
        }
        self.is_paused()
    }

    /// While paused: looks at the queues waited for and returns whether the connection
    /// must stay paused.
    pub(crate) fn poll(&mut self, now: Instant) -> bool {
        let low = self.low;
        let mut progressed = false;
        self.waiting.retain_mut(|w| {
            if w.queue.is_deleted() {
                return false;
            }
            let ready = w.queue.message_count();
            if ready <= low {
                return false;
            }
            if ready < w.lowest {
                w.lowest = ready;
                progressed = true;
                return true;
            }
            // Not drained since the last look: still worth waiting only while it has
            // consumers.
            w.queue.consumer_count() > 0
        });
        if progressed {
            self.last_progress = now;
        }
        if self.is_paused() && now.duration_since(self.last_progress) >= self.stall_after {
            // Its consumers do not take messages: pausing the publisher cannot help them.
            let until = now + self.exempt_for;
            for w in self.waiting.drain(..) {
                self.exempt.push((Arc::downgrade(&w.queue), until));
            }
        }
        if now.duration_since(self.paused_since) >= self.max_pause {
            // Draining, but slowly: read one batch, then look again.
            self.waiting.clear();
        }
        self.is_paused()
    }

    /// Whether `queue` recently stalled and must not pause its publishers.
    fn is_exempt(&self, queue: &Arc<Queue>) -> bool {
        self.exempt
            .iter()
            .any(|(q, _)| std::ptr::eq(q.as_ptr(), Arc::as_ptr(queue)))
    }

    /// Forgets everything (the connection is closing).
    pub(crate) fn clear(&mut self) {
        self.noted.clear();
        self.waiting.clear();
        self.exempt.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Weak;

    use bytes::Bytes;
    use tokio::sync::mpsc;
    use warren_broker::queue::QueueConfig;
    use warren_broker::scheduler::Scheduler;
    use warren_broker::{ChannelCredit, Consumer, ConsumerSpec, Message, Outbound, QueueArgs};
    use warren_protocol::properties::BasicProperties;

    use super::*;

    fn limits_with_backlog(backlog: u32) -> Limits {
        Limits {
            publish_flow_backlog: backlog,
            ..Limits::default()
        }
    }

    fn stall() -> Duration {
        Limits::default().publish_flow_stall
    }

    fn max_pause() -> Duration {
        Limits::default().publish_flow_max_pause
    }

    fn exempt() -> Duration {
        Limits::default().publish_flow_exempt
    }

    fn queue() -> Arc<Queue> {
        let config = QueueConfig {
            name: "q".into(),
            durable: false,
            exclusive_owner: None,
            auto_delete: false,
            arguments: Default::default(),
        };
        Queue::new(
            config,
            QueueArgs::default(),
            "/".into(),
            Weak::<warren_broker::VHost>::new(),
            Scheduler::new(),
        )
    }

    fn fill(q: &Queue, n: usize) {
        for _ in 0..n {
            let m = Message::new(
                "".into(),
                "q",
                &BasicProperties::default(),
                Bytes::new(),
                Bytes::from_static(b"x"),
            );
            q.publish(Arc::new(m));
        }
    }

    /// Attaches a consumer with prefetch 1 that never acknowledges: it takes one message
    /// and then none, so the ready count only changes when the test says so.
    fn stuck_consumer(q: &Arc<Queue>) -> (Arc<Consumer>, mpsc::UnboundedReceiver<Outbound>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let spec = ConsumerSpec {
            connection: 0,
            tag: "c".into(),
            channel_id: 1,
            no_ack: false,
            exclusive: false,
            prefetch: 1,
            priority: 0,
            unsent_window: Limits::default().consumer_unsent_window,
        };
        let c = Arc::new(Consumer::new(
            spec,
            q,
            Arc::new(ChannelCredit::default()),
            tx,
        ));
        q.add_consumer(c.clone()).expect("consumer attaches");
        (c, rx)
    }

    fn drain_to(q: &Queue, ready: u32) {
        while q.message_count() > ready {
            q.get(true).expect("a ready message");
        }
    }

    #[test]
    fn a_backlog_without_consumers_never_pauses() {
        let q = queue();
        fill(&q, 50);
        let mut flow = PublishFlow::new(&limits_with_backlog(10));
        flow.note(&q);
        assert!(!flow.check(Instant::now()));
    }

    #[test]
    fn a_consumed_queue_over_the_threshold_pauses_until_it_drains_to_half() {
        let q = queue();
        let (_c, _rx) = stuck_consumer(&q);
        fill(&q, 10);
        let mut flow = PublishFlow::new(&limits_with_backlog(10));
        let t0 = Instant::now();
        flow.note(&q);
        assert!(!flow.check(t0), "at the threshold, not over it");
        fill(&q, 5);
        flow.note(&q);
        flow.note(&q);
        assert!(flow.check(t0));
        drain_to(&q, 8);
        assert!(flow.poll(t0 + POLL_INTERVAL), "above the low watermark");
        drain_to(&q, 5);
        assert!(!flow.poll(t0 + POLL_INTERVAL * 2));
        assert!(!flow.is_paused());
    }

    #[test]
    fn a_queue_that_stops_draining_releases_the_publisher_and_is_left_alone_for_a_while() {
        let q = queue();
        let (_c, _rx) = stuck_consumer(&q);
        fill(&q, 30);
        let mut flow = PublishFlow::new(&limits_with_backlog(10));
        let t0 = Instant::now();
        flow.note(&q);
        assert!(flow.check(t0));
        drain_to(&q, 20);
        let t1 = t0 + stall() / 2;
        assert!(flow.poll(t1), "it drained: keep waiting");
        assert!(
            flow.poll(t1 + stall() / 2),
            "not stalled for long enough yet"
        );
        assert!(!flow.poll(t1 + stall()), "no progress since t1");
        flow.note(&q);
        assert!(!flow.check(t1 + stall()), "exempt");
        flow.note(&q);
        assert!(flow.check(t1 + stall() + exempt()), "exemption over");
    }

    #[test]
    fn a_slowly_draining_queue_releases_the_publisher_after_the_longest_pause() {
        let q = queue();
        let (_c, _rx) = stuck_consumer(&q);
        fill(&q, 1_000);
        let mut flow = PublishFlow::new(&limits_with_backlog(100));
        let t0 = Instant::now();
        flow.note(&q);
        assert!(flow.check(t0));
        let mut now = t0;
        let mut ready = q.message_count();
        while now.duration_since(t0) + stall() / 2 < max_pause() {
            ready -= 1;
            drain_to(&q, ready);
            now += stall() / 2;
            assert!(flow.poll(now), "draining, still over the low watermark");
        }
        drain_to(&q, ready - 1);
        assert!(!flow.poll(t0 + max_pause()));
        flow.note(&q);
        assert!(
            flow.check(t0 + max_pause()),
            "still over: pauses again, not exempt"
        );
    }

    #[test]
    fn losing_its_consumers_or_being_deleted_releases_the_publisher() {
        let q = queue();
        let (c, _rx) = stuck_consumer(&q);
        fill(&q, 30);
        let mut flow = PublishFlow::new(&limits_with_backlog(10));
        let t0 = Instant::now();
        flow.note(&q);
        assert!(flow.check(t0));
        q.remove_consumer(&c);
        assert!(!flow.poll(t0 + POLL_INTERVAL));

        let q2 = queue();
        let (_c2, _rx2) = stuck_consumer(&q2);
        fill(&q2, 30);
        flow.note(&q2);
        assert!(flow.check(t0));
        q2.delete();
        assert!(!flow.poll(t0 + POLL_INTERVAL));
    }

    #[test]
    fn a_zero_threshold_turns_flow_control_off() {
        let q = queue();
        let (_c, _rx) = stuck_consumer(&q);
        fill(&q, 30);
        let mut flow = PublishFlow::new(&limits_with_backlog(0));
        flow.note(&q);
        assert!(!flow.check(Instant::now()));
    }
}

//! Single-active-consumer groups on streams (super stream partitions or plain streams),
//! over AMQP 0-9-1: consumers that pass `x-single-active-consumer: true` and a group
//! name in `x-stream-consumer-name` form a group; on each stream exactly one member of a
//! group is active (receives deliveries), the others wait.
//!
//! As in RabbitMQ's stream protocol, members are ordered by arrival on each stream and
//! on partition `i` of a super stream (queue argument `x-super-stream-partition`; 0 for a
//! plain stream) the active member is the `i mod n`-th of the `n` members. A client
//! that consumes every partition, members joining in turn, thus gets its share of the
//! partitions; when a member joins or leaves, the partitions rebalance.
//!
//! The group's position on a stream is its tracked offset (the streams' server-side
//! tracking by consumer name: the group name is the tracking name, so the last offset any
//! member acknowledged is the group's). Hand-overs:
//!
//! * **A member joins** (the active member stays connected but loses the partition): it
//!   is deactivated, gets nothing more, and the new member is activated only once the old
//!   one has stopped ([`ConsumerGroups::parked`], reported by its reader) and every
//!   delivery it received is acknowledged; the new member starts right after the old
//!   one's last delivery. No message is delivered twice and none is skipped.
//! * **A member leaves** (cancel, channel or connection closed): the next member starts
//!   after the group's last acknowledged offset, so what the leaver had received but not
//!   acknowledged when it left is delivered again (to the new active member), and nothing
//!   else. A delivery acknowledged after its consumer was cancelled does not count.
//! * **The group's first member on a stream** starts after the tracked offset if there
//!   is one, else where its `x-stream-offset` says (default `next`), as Kafka's
//!   `auto.offset.reset` does.
//!
//! Consumers without the flag and a name are not grouped: they are active at once, as
//! on a stream without groups.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use warren_protocol::{FieldTable, FieldValue};

use super::attach::ConsumerGate;
use super::StreamQueue;
use crate::consumer::Consumer;

/// The consume argument that makes a named stream consumer a group member.
pub const GROUP_FLAG_ARG: &str = "x-single-active-consumer";
/// The consume argument naming the group (and its tracked offset).
pub const GROUP_NAME_ARG: &str = "x-stream-consumer-name";

/// The group a consumer joins, if its arguments make it a member.
pub fn group_of(args: &FieldTable) -> Option<Arc<str>> {
    let flagged = matches!(args.get(GROUP_FLAG_ARG), Some(FieldValue::Bool(true)));
    match args.get(GROUP_NAME_ARG) {
        Some(FieldValue::LongString(name)) if flagged && !name.is_empty() => {
            Some(Arc::from(String::from_utf8_lossy(name).as_ref()))
        }
        _ => None,
    }
}

/// One group's members on one stream.
#[derive(Default)]
struct Group {
    /// In arrival order.
    members: Vec<Arc<Consumer>>,
    /// The member receiving deliveries, and the offset it started from.
    active: Option<(Arc<Consumer>, u64)>,
    /// A member deactivated because another takes over: until it has stopped and its
    /// deliveries are acknowledged, nobody is active. Its start offset, and whether its
    /// reader reported that it stopped.
    draining: Option<Draining>,
    /// Where the next member to activate starts, if known (set by hand-overs).
    resume: Option<u64>,
}

struct Draining {
    consumer: Arc<Consumer>,
    started_at: u64,
    parked: bool,
}

/// The consumer groups of one stream: the [`ConsumerGate`] every stream gets.
pub struct ConsumerGroups {
    /// This stream's partition index (0 for a plain stream).
    partition: u32,
    groups: Mutex<HashMap<Arc<str>, Group>>,
    /// Groups with a member draining: the ack and park hooks take the lock only then.
    draining: AtomicUsize,
}

impl ConsumerGroups {
    /// The groups of a stream that is partition `partition` of a super stream (0 for a
    /// plain stream).
    pub fn new(partition: u32) -> Arc<Self> {
        Arc::new(ConsumerGroups {
            partition,
            groups: Mutex::new(HashMap::new()),
            draining: AtomicUsize::new(0),
        })
    }

    /// Makes the right member of `name` active, handing over when it changes.
    fn reconcile(&self, stream: &StreamQueue, name: &str, g: &mut Group) {
        if let Some(d) = &g.draining {
            let done = d.parked && d.consumer.unacked() == 0;
            if !done {
                return;
            }
            // Stopped with everything acknowledged: the next member starts after its
            // last delivery.
            g.resume = stream.reader_next(&d.consumer).or(g.resume);
            g.draining = None;
            self.draining.fetch_sub(1, Ordering::AcqRel);
        }
        let desired = if g.members.is_empty() {
            None
        } else {
            Some(g.members[self.partition as usize % g.members.len()].clone())
        };
        match (&g.active, desired) {
            (Some((current, _)), Some(d)) if Arc::ptr_eq(current, &d) => {}
            (Some(_), _) => {
                let Some((current, started_at)) = g.active.take() else {
                    return;
                };
                stream.set_active(&current, false);
                g.draining = Some(Draining {
                    consumer: current,
                    started_at,
                    parked: false,
                });
                self.draining.fetch_add(1, Ordering::AcqRel);
            }
            (None, Some(d)) => {
                let tracked = stream.tracked_offset(name).map(|t| t + 1);
                let from = match (tracked, g.resume) {
                    (Some(t), Some(r)) => Some(t.max(r)),
                    (t, r) => t.or(r),
                };
                if let Some(start) = stream.activate_from(&d, from) {
                    g.active = Some((d, start));
                    g.resume = None;
                }
            }
            (None, None) => {}
        }
    }
}

impl ConsumerGate for ConsumerGroups {
    fn attached(&self, stream: &StreamQueue, consumer: &Arc<Consumer>, args: &FieldTable) {
        let Some(name) = group_of(args) else {
            stream.activate_from(consumer, None);
            return;
        };
        let mut groups = self.groups.lock();
        let g = groups.entry(name.clone()).or_default();
        g.members.push(consumer.clone());
        self.reconcile(stream, &name, g);
    }

    fn detached(&self, stream: &StreamQueue, consumer: &Arc<Consumer>) {
        let mut groups = self.groups.lock();
        let Some((name, g)) = groups
            .iter_mut()
            .find(|(_, g)| g.members.iter().any(|m| Arc::ptr_eq(m, consumer)))
        else {
            return;
        };
        let name = name.clone();
        g.members.retain(|m| !Arc::ptr_eq(m, consumer));
        // A member leaving with deliveries unacknowledged: the next one starts after the
        // group's last acknowledged offset (or where the leaver started).
        if g.active
            .as_ref()
            .is_some_and(|(c, _)| Arc::ptr_eq(c, consumer))
        {
            let (_, started_at) = g.active.take().unwrap_or_else(|| unreachable!());
            g.resume = Some(started_at);
        }
        if g.draining
            .as_ref()
            .is_some_and(|d| Arc::ptr_eq(&d.consumer, consumer))
        {
            if let Some(d) = g.draining.take() {
                g.resume = Some(d.started_at);
                self.draining.fetch_sub(1, Ordering::AcqRel);
            }
        }
        self.reconcile(stream, &name, g);
        if g.members.is_empty() && g.draining.is_none() {
            groups.remove(&name);
        }
    }

    fn parked(&self, stream: &StreamQueue, consumer: &Arc<Consumer>) {
        if self.draining.load(Ordering::Acquire) == 0 {
            return;
        }
        self.settle_draining(stream, consumer, true);
    }

    fn acked(&self, stream: &StreamQueue, consumer: &Arc<Consumer>) {
        if self.draining.load(Ordering::Acquire) == 0 {
            return;
        }
        self.settle_draining(stream, consumer, false);
    }
}

impl ConsumerGroups {
    /// A draining member stopped (`parked`) or had a delivery acknowledged: the hand-over
    /// completes if it is done.
    fn settle_draining(&self, stream: &StreamQueue, consumer: &Arc<Consumer>, parked: bool) {
        let mut groups = self.groups.lock();
        for (name, g) in groups.iter_mut() {
            let Some(d) = g.draining.as_mut() else {
                continue;
            };
            if Arc::ptr_eq(&d.consumer, consumer) {
                d.parked |= parked;
                let name = name.clone();
                self.reconcile(stream, &name, g);
                return;
            }
        }
    }

    /// Which member of `group` is active, if any (for tests and the management view).
    pub fn active_member(&self, group: &str) -> Option<Arc<Consumer>> {
        self.groups
            .lock()
            .get(group)
            .and_then(|g| g.active.as_ref().map(|(c, _)| c.clone()))
    }
}

impl StreamQueue {
    /// Activates `consumer`'s reader, starting at `from` if given (else where it was);
    /// returns the offset it starts at, or None if it is not attached.
    fn activate_from(&self, consumer: &Arc<Consumer>, from: Option<u64>) -> Option<u64> {
        let readers = self.readers.lock();
        let r = readers
            .iter()
            .find(|r| Arc::ptr_eq(&r.consumer, consumer))?;
        if let Some(from) = from {
            r.next.store(from, Ordering::Release);
        }
        r.active.store(true, Ordering::Release);
        r.notify.notify_one();
        Some(r.next.load(Ordering::Acquire))
    }

    /// The next offset `consumer`'s reader would deliver.
    fn reader_next(&self, consumer: &Arc<Consumer>) -> Option<u64> {
        self.readers
            .lock()
            .iter()
            .find(|r| Arc::ptr_eq(&r.consumer, consumer))
            .map(|r| r.next.load(Ordering::Acquire))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_needs_the_flag_and_a_name() {
        let t = |pairs: &[(&str, FieldValue)]| -> FieldTable { pairs.iter().cloned().collect() };
        let flag = (GROUP_FLAG_ARG, FieldValue::Bool(true));
        let name = (GROUP_NAME_ARG, FieldValue::string("billing"));
        assert_eq!(
            group_of(&t(&[flag.clone(), name.clone()])).as_deref(),
            Some("billing")
        );
        assert_eq!(group_of(&t(std::slice::from_ref(&name))), None);
        assert_eq!(group_of(&t(std::slice::from_ref(&flag))), None);
        assert_eq!(
            group_of(&t(&[(GROUP_FLAG_ARG, FieldValue::Bool(false)), name])),
            None
        );
        assert_eq!(
            group_of(&t(&[flag, (GROUP_NAME_ARG, FieldValue::string(""))])),
            None
        );
    }
}

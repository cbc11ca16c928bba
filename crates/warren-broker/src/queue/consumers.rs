//! A queue's consumers in RabbitMQ's rotation order.
//!
//! The consumer at the head of the rotation that has credit gets the next message and
//! moves to the back of its priority group; consumers of a higher priority always come
//! first. A consumer found without credit is parked, and rejoins at the back of its
//! group once it has credit again. New consumers join at the back. With a single
//! active consumer the order never rotates: the first consumer gets everything.

use std::sync::Arc;

use crate::consumer::Consumer;

/// Active consumers (priority order, then rotation order) and parked ones.
#[derive(Debug, Default)]
pub(crate) struct ConsumerRing {
    active: Vec<Arc<Consumer>>,
    parked: Vec<Arc<Consumer>>,
}

impl ConsumerRing {
    /// Number of consumers, parked or not.
    pub fn len(&self) -> usize {
        self.active.len() + self.parked.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every consumer.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Consumer>> {
        self.active.iter().chain(self.parked.iter())
    }

    fn insert_at_back_of_group(&mut self, consumer: Arc<Consumer>) {
        let at = self
            .active
            .partition_point(|c| c.spec.priority >= consumer.spec.priority);
        self.active.insert(at, consumer);
    }

    /// Adds a consumer at the back of its priority group; with a single active consumer,
    /// at the very back, since RabbitMQ 3.10 keeps the first registered consumer active
    /// whatever the priorities.
    pub fn add(&mut self, consumer: Arc<Consumer>, single_active: bool) {
        if single_active {
            self.active.push(consumer);
        } else {
            self.insert_at_back_of_group(consumer);
        }
    }

    /// Removes a consumer; false if it was not there.
    pub fn remove(&mut self, consumer: &Arc<Consumer>) -> bool {
        let before = self.len();
        self.active.retain(|c| !Arc::ptr_eq(c, consumer));
        self.parked.retain(|c| !Arc::ptr_eq(c, consumer));
        self.len() != before
    }

    /// Removes and returns every consumer.
    pub fn take_all(&mut self) -> Vec<Arc<Consumer>> {
        let mut all = std::mem::take(&mut self.active);
        all.append(&mut self.parked);
        all
    }

    /// Takes credit from the next consumer in rotation and returns it, or None if no
    /// consumer has credit.
    pub fn pick(&mut self, single_active: bool) -> Option<Arc<Consumer>> {
        if single_active {
            let first = self.active.first()?;
            return first.try_reserve().then(|| first.clone());
        }
        let mut i = 0;
        while i < self.parked.len() {
            if self.parked[i].ready_to_unpark() {
                let c = self.parked.remove(i);
                self.insert_at_back_of_group(c);
            } else {
                i += 1;
            }
        }
        while !self.active.is_empty() {
            let head = self.active.remove(0);
            if head.try_reserve() {
                self.insert_at_back_of_group(head.clone());
                return Some(head);
            }
            self.parked.push(head);
        }
        None
    }
}

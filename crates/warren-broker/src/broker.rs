//! The broker: its virtual hosts, and where their durable state is kept.
//!
//! With the operations of [`VHost`] this is the broker's admin interface: every change of
//! state (an AMQP method, a definition loaded at boot, an HTTP call) goes through it, and
//! it writes the store and changes the in-memory state together. Start-up recovery
//! ([`crate::recovery`]) builds a `Broker` from the store.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;

use crate::delayed::DelayedMessages;
use crate::queue::ConnectionId;
use crate::scheduler::Scheduler;
use crate::vhost::{Persistence, VHost};

/// The whole broker state shared by every connection.
#[derive(Debug)]
pub struct Broker {
    vhosts: DashMap<String, Arc<VHost>>,
    next_connection: AtomicU64,
    scheduler: Arc<Scheduler>,
    delayed: Arc<DelayedMessages>,
    persistence: Option<Persistence>,
}

impl Default for Broker {
    fn default() -> Self {
        Self::new()
    }
}

impl Broker {
    /// A broker with the default virtual host `/` that persists nothing (tests,
    /// benchmarks).
    pub fn new() -> Self {
        Self::build(None)
    }

    /// A broker with the default virtual host `/` that keeps its durable exchanges,
    /// queues, bindings, persistent messages and delayed messages in `persistence`'s
    /// store. Start-up goes through [`crate::recovery::recover`], which also brings back
    /// what the store already holds.
    pub fn with_persistence(persistence: Persistence) -> Self {
        Self::build(Some(persistence))
    }

    fn build(persistence: Option<Persistence>) -> Self {
        let scheduler = Scheduler::new();
        let delayed = DelayedMessages::new(scheduler.clone());
        if let Some(p) = &persistence {
            delayed.set_store(p.store.clone());
        }
        let broker = Broker {
            vhosts: DashMap::new(),
            next_connection: AtomicU64::new(1),
            delayed,
            scheduler,
            persistence,
        };
        broker.add_vhost("/");
        broker
    }

    /// The virtual host called `name`, if it exists.
    pub fn vhost(&self, name: &str) -> Option<Arc<VHost>> {
        self.vhosts.get(name).map(|v| v.clone())
    }

    /// Creates a virtual host if it does not exist yet.
    pub fn add_vhost(&self, name: &str) -> Arc<VHost> {
        self.vhosts
            .entry(name.to_owned())
            .or_insert_with(|| {
                VHost::new(
                    name,
                    self.scheduler.clone(),
                    self.delayed.clone(),
                    self.persistence.clone(),
                )
            })
            .clone()
    }

    /// Every virtual host.
    pub fn vhosts(&self) -> Vec<Arc<VHost>> {
        self.vhosts.iter().map(|v| v.clone()).collect()
    }

    /// Messages held by delayed-message exchanges.
    pub fn delayed(&self) -> &Arc<DelayedMessages> {
        &self.delayed
    }

    /// A fresh id for a new connection.
    pub fn next_connection_id(&self) -> ConnectionId {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }
}

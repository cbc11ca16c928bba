//! The broker: its virtual hosts, and where their durable state is kept.
//!
//! With the operations of [`VHost`] this is the broker's admin interface: every change of
//! state (an AMQP method, a definition loaded at boot, an HTTP call) goes through it, and
//! it writes the store and changes the in-memory state together. Start-up recovery
//! ([`crate::recovery`]) builds a `Broker` from the store.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use parking_lot::RwLock;

use crate::access::AccessControl;
use crate::connections::Connections;
use crate::definitions::VHostDef;
use crate::delayed::DelayedMessages;
use crate::queue::{ConnectionId, Spill};
use crate::scheduler::Scheduler;
use crate::vhost::{Persistence, VHost};

/// The whole broker state shared by every connection.
#[derive(Debug)]
pub struct Broker {
    vhosts: DashMap<String, Arc<VHost>>,
    next_connection: AtomicU64,
    scheduler: Arc<Scheduler>,
    delayed: Arc<DelayedMessages>,
    pub(crate) persistence: Option<Persistence>,
    /// Where queues spill ready messages beyond their in-memory budget.
    spill: Option<Spill>,
    access: Arc<AccessControl>,
    connections: Arc<Connections>,
    /// Each vhost's definition (description, tags), as created.
    pub(crate) vhost_defs: RwLock<BTreeMap<String, VHostDef>>,
    /// Whether the first boot's defaults were created (kept in the store).
    pub(crate) initialized: AtomicBool,
    /// [`crate::Limits::max_super_stream_partitions`], given to every vhost.
    max_partitions: AtomicU32,
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
        let broker = Self::build(None, None);
        broker.add_vhost("/");
        broker
    }

    /// Like [`Broker::new`] (or [`Broker::with_persistence`] when `persistence` is
    /// given), with every queue writing the ready messages beyond its in-memory budget
    /// to `spill`. A broker without persistence gets the default virtual host `/`.
    pub fn with_spill(persistence: Option<Persistence>, spill: Spill) -> Self {
        let fresh = persistence.is_none();
        let broker = Self::build(persistence, Some(spill));
        if fresh {
            broker.add_vhost("/");
        }
        broker
    }

    /// The spill log and its budget, if queues spill.
    pub fn spill(&self) -> Option<&Spill> {
        self.spill.as_ref()
    }

    /// Under memory pressure: every queue writes the ready messages it holds in memory
    /// beyond one page to the spill log. Does file I/O: call it off the async runtime.
    /// Returns how many messages were spilled.
    pub fn shed_memory(&self) -> usize {
        if self.spill.is_none() {
            return 0;
        }
        let mut spilled = 0;
        for vhost in self.vhosts() {
            for queue in vhost.queues() {
                spilled += queue.shed_memory();
            }
        }
        spilled
    }

    /// A broker with no virtual host yet that keeps its durable state (vhosts, users,
    /// policies, exchanges, queues, bindings, persistent and delayed messages) in
    /// `persistence`'s store. Start-up goes through [`crate::recovery::recover`], which
    /// brings back what the store holds; a fresh store gets its defaults from
    /// [`Broker::initialize`].
    pub fn with_persistence(persistence: Persistence) -> Self {
        Self::build(Some(persistence), None)
    }

    fn build(persistence: Option<Persistence>, spill: Option<Spill>) -> Self {
        let scheduler = Scheduler::new();
        let delayed = DelayedMessages::new(scheduler.clone());
        if let Some(p) = &persistence {
            delayed.set_store(p.store.clone());
        }
        Broker {
            vhosts: DashMap::new(),
            next_connection: AtomicU64::new(1),
            delayed,
            scheduler,
            persistence,
            spill,
            access: Arc::new(AccessControl::new()),
            connections: Connections::new(),
            vhost_defs: RwLock::new(BTreeMap::new()),
            initialized: AtomicBool::new(false),
            max_partitions: AtomicU32::new(crate::Limits::default().max_super_stream_partitions),
        }
    }

    /// Users, permissions and limits.
    pub fn access(&self) -> &Arc<AccessControl> {
        &self.access
    }

    /// The open client connections.
    pub fn connections(&self) -> &Arc<Connections> {
        &self.connections
    }

    /// Whether this broker's first-boot defaults exist (always false for a broker
    /// without a store until [`Broker::initialize`] runs).
    pub fn is_initialized(&self) -> bool {
        self.initialized.load(Ordering::Acquire)
    }

    /// The virtual host called `name`, if it exists.
    pub fn vhost(&self, name: &str) -> Option<Arc<VHost>> {
        self.vhosts.get(name).map(|v| v.clone())
    }

    /// Creates a virtual host in memory if it does not exist yet (recovery, tests; the
    /// durable way is [`Broker::create_vhost`]).
    pub fn add_vhost(&self, name: &str) -> Arc<VHost> {
        self.vhosts
            .entry(name.to_owned())
            .or_insert_with(|| {
                let vhost = VHost::new(
                    name,
                    self.scheduler.clone(),
                    self.delayed.clone(),
                    self.persistence.clone(),
                    self.spill.clone(),
                    self.connections.totals().clone(),
                );
                vhost.set_max_super_stream_partitions(self.max_partitions.load(Ordering::Relaxed));
                vhost
            })
            .clone()
    }

    /// Sets [`crate::Limits::max_super_stream_partitions`] for every virtual host,
    /// present and future.
    pub fn set_max_super_stream_partitions(&self, max: u32) {
        self.max_partitions.store(max, Ordering::Relaxed);
        for vhost in self.vhosts.iter() {
            vhost.set_max_super_stream_partitions(max);
        }
    }

    /// Broker-wide message totals, dead-lettering and churn counters.
    pub fn totals(&self) -> &Arc<crate::stats::BrokerTotals> {
        self.connections.totals()
    }

    /// Every virtual host, by name.
    pub fn vhosts(&self) -> Vec<Arc<VHost>> {
        let mut v: Vec<_> = self.vhosts.iter().map(|v| v.clone()).collect();
        v.sort_by(|a, b| a.name().cmp(b.name()));
        v
    }

    /// Forgets a virtual host in memory (its entities must be gone already).
    pub(crate) fn remove_vhost_entry(&self, name: &str) -> Option<Arc<VHost>> {
        self.vhost_defs.write().remove(name);
        self.vhosts.remove(name).map(|(_, v)| v)
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

//! The broker: its virtual hosts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;

use crate::delayed::DelayedMessages;
use crate::queue::ConnectionId;
use crate::scheduler::Scheduler;
use crate::vhost::VHost;

/// The whole broker state shared by every connection.
#[derive(Debug)]
pub struct Broker {
    vhosts: DashMap<String, Arc<VHost>>,
    next_connection: AtomicU64,
    scheduler: Arc<Scheduler>,
    delayed: Arc<DelayedMessages>,
    store: std::sync::OnceLock<crate::persist::SharedStore>,
}

impl Default for Broker {
    fn default() -> Self {
        Self::new()
    }
}

impl Broker {
    /// A broker with the default virtual host `/`.
    pub fn new() -> Self {
        let scheduler = Scheduler::new();
        let delayed = DelayedMessages::new(scheduler.clone());
        let vhosts = DashMap::new();
        vhosts.insert(
            "/".to_owned(),
            VHost::new("/", scheduler.clone(), delayed.clone()),
        );
        Broker {
            vhosts,
            next_connection: AtomicU64::new(1),
            delayed,
            scheduler,
            store: std::sync::OnceLock::new(),
        }
    }

    /// Persists durable things in `store` from now on: exchange removals of every
    /// virtual host (existing and new) and the messages delayed exchanges hold.
    pub fn set_store(&self, store: Arc<dyn crate::persist::Store>) {
        let _ = self.store.set(crate::persist::SharedStore(store.clone()));
        self.delayed.set_store(store.clone());
        for v in self.vhosts.iter() {
            v.set_store(store.clone());
        }
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
                let vhost = VHost::new(name, self.scheduler.clone(), self.delayed.clone());
                if let Some(store) = self.store.get() {
                    vhost.set_store(store.0.clone());
                }
                vhost
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

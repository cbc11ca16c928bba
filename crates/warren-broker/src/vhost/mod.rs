//! A virtual host: its exchanges, queues and bindings, and the operations on them with
//! RabbitMQ's checks and reply texts — the broker's admin interface. Each operation
//! checks a change, writes the store when it touches something durable, changes the
//! in-memory state and returns [`Applied`](crate::Applied) with the commit to await.
//!
//! This file holds the state, lookups and routing; `exchanges.rs`, `bindings.rs` and
//! `queues.rs` the operations on each; `policies.rs` the policies and their
//! application; `durable.rs` the store records.

use std::sync::{Arc, Weak};

use dashmap::DashMap;
use parking_lot::RwLock;
use warren_protocol::FieldTable;
use warren_store::SyncTicket;

use crate::delayed::DelayedMessages;
use crate::error::{AmqpError, AmqpResult};
use crate::exchange::{Exchange, ExchangeConfig};
use crate::message::Message;
use crate::policy::PolicySet;
use crate::queue::{ConnectionId, Queue, QueueHost};
use crate::route_back::RouteBack;
use crate::routing::{Destination, ExchangeKind};
use crate::scheduler::Scheduler;

mod bindings;
mod durable;
mod exchanges;
mod policies;
mod queues;
pub use durable::Persistence;

/// Arguments of `exchange.declare`.
#[derive(Debug, Clone, Default)]
pub struct ExchangeDeclare {
    /// Exchange name.
    pub name: String,
    /// Type name (`direct`, `fanout`, `topic`, `headers`).
    pub kind: String,
    /// Only check that it exists.
    pub passive: bool,
    /// Survives a restart.
    pub durable: bool,
    /// Deleted when its last binding goes.
    pub auto_delete: bool,
    /// Not publishable directly.
    pub internal: bool,
    /// Declare arguments.
    pub arguments: FieldTable,
}

/// Arguments of `queue.declare`.
#[derive(Debug, Clone, Default)]
pub struct QueueDeclare {
    /// Queue name; empty asks the server to generate one.
    pub name: String,
    /// Only check that it exists.
    pub passive: bool,
    /// Survives a restart.
    pub durable: bool,
    /// Owned by the declaring connection.
    pub exclusive: bool,
    /// Deleted when its last consumer goes.
    pub auto_delete: bool,
    /// Declare arguments.
    pub arguments: FieldTable,
}

/// What `queue.declare-ok` reports.
#[derive(Debug, Clone)]
pub struct QueueDeclared {
    /// The queue.
    pub queue: Arc<Queue>,
    /// Ready messages.
    pub message_count: u32,
    /// Consumers.
    pub consumer_count: u32,
}

/// The exchanges every virtual host starts with: name and type.
const STANDARD_EXCHANGES: &[(&str, ExchangeKind)] = &[
    ("amq.direct", ExchangeKind::Direct),
    ("amq.fanout", ExchangeKind::Fanout),
    ("amq.topic", ExchangeKind::Topic),
    ("amq.headers", ExchangeKind::Headers),
    ("amq.match", ExchangeKind::Headers),
];

/// A virtual host.
#[derive(Debug)]
pub struct VHost {
    name: Arc<str>,
    exchanges: DashMap<Arc<str>, Arc<Exchange>>,
    queues: DashMap<Arc<str>, Arc<Queue>>,
    /// Policies and operator policies. Taken by policy changes (write) and by
    /// declarations of new queues and exchanges (read), never on the message path.
    policies: RwLock<PolicySet>,
    scheduler: Arc<Scheduler>,
    delayed: Arc<DelayedMessages>,
    me: Weak<VHost>,
    /// Where durable exchanges, queues and bindings are kept (None: nothing is).
    persistence: Option<Persistence>,
}

fn bool_text(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

impl VHost {
    /// A virtual host with the standard `amq.*` exchanges, keeping its durable
    /// entities in `persistence` (if any).
    pub fn new(
        name: &str,
        scheduler: Arc<Scheduler>,
        delayed: Arc<DelayedMessages>,
        persistence: Option<Persistence>,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| Self::build(name, scheduler, delayed, persistence, me.clone()))
    }

    fn build(
        name: &str,
        scheduler: Arc<Scheduler>,
        delayed: Arc<DelayedMessages>,
        persistence: Option<Persistence>,
        me: Weak<VHost>,
    ) -> VHost {
        let vhost = VHost {
            name: Arc::from(name),
            exchanges: DashMap::new(),
            queues: DashMap::new(),
            policies: RwLock::default(),
            scheduler,
            delayed,
            me,
            persistence,
        };
        for &(ex_name, kind) in STANDARD_EXCHANGES {
            let name: Arc<str> = Arc::from(ex_name);
            vhost.exchanges.insert(
                name.clone(),
                Exchange::new(ExchangeConfig {
                    name,
                    kind,
                    durable: true,
                    auto_delete: false,
                    internal: false,
                    arguments: FieldTable::new(),
                    delayed: false,
                }),
            );
        }
        vhost
    }

    /// Where this virtual host keeps its durable entities, if anywhere.
    pub fn persistence(&self) -> Option<&Persistence> {
        self.persistence.as_ref()
    }

    /// A commit covering every store write made so far (already resolved without a
    /// store): what publisher confirms and `tx.commit` wait for.
    pub fn sync(&self) -> SyncTicket {
        match &self.persistence {
            Some(p) => p.sync(),
            None => SyncTicket::ready(Ok(())),
        }
    }

    /// The store, when `durable` things must be written.
    fn store_for(&self, durable: bool) -> Option<&Persistence> {
        self.persistence.as_ref().filter(|_| durable)
    }

    /// The virtual host's name.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    fn no_exchange(&self, name: &str) -> AmqpError {
        AmqpError::not_found(format!("no exchange '{name}' in vhost '{}'", self.name))
    }

    fn no_queue(&self, name: &str) -> AmqpError {
        AmqpError::not_found(format!("no queue '{name}' in vhost '{}'", self.name))
    }

    fn inequivalent(
        &self,
        what: &str,
        name: &str,
        arg: &str,
        got: &str,
        current: &str,
    ) -> AmqpError {
        AmqpError::precondition_failed(format!(
            "inequivalent arg '{arg}' for {what} '{name}' in vhost '{}': received '{got}' but current is '{current}'",
            self.name
        ))
    }

    /// The 405 RabbitMQ gives for an exclusive queue used by another connection, or
    /// redeclared with a different `exclusive` flag (the text of [`Queue::check_access`]).
    fn locked(&self, queue: &str) -> AmqpError {
        AmqpError::resource_locked(format!(
            "cannot obtain exclusive access to locked queue '{queue}' in vhost '{}'. It could be \
             originally declared on another connection or the exclusive property value does \
             not match that of the original declaration.",
            self.name
        ))
    }

    /// Looks up an exchange (never the default exchange, which has no object).
    pub fn exchange(&self, name: &str) -> AmqpResult<Arc<Exchange>> {
        self.exchanges
            .get(name)
            .map(|e| e.clone())
            .ok_or_else(|| self.no_exchange(name))
    }

    /// Looks up a queue that connection `conn` may use (404, or 405 if exclusive to another).
    pub fn queue(&self, name: &str, conn: ConnectionId) -> AmqpResult<Arc<Queue>> {
        let q = self
            .queues
            .get(name)
            .map(|q| q.clone())
            .ok_or_else(|| self.no_queue(name))?;
        q.check_access(conn)?;
        Ok(q)
    }

    /// Every queue, in no particular order.
    pub fn queues(&self) -> Vec<Arc<Queue>> {
        self.queues.iter().map(|q| q.clone()).collect()
    }

    /// Every exchange, in no particular order.
    pub fn exchanges(&self) -> Vec<Arc<Exchange>> {
        self.exchanges.iter().map(|e| e.clone()).collect()
    }

    /// The queues a message published to `exchange` with `routing_key` and `headers` goes
    /// to, each once, following exchange-to-exchange bindings (cycles are cut) and
    /// alternate exchanges. An empty result means unroutable.
    pub fn route(
        &self,
        exchange: &str,
        routing_key: &str,
        headers: Option<&FieldTable>,
        out: &mut Vec<Arc<Queue>>,
    ) -> AmqpResult<()> {
        if exchange.is_empty() {
            if let Some(q) = self.queues.get(routing_key) {
                out.push(q.clone());
            }
            return Ok(());
        }
        // Internal exchanges route too: refusing a client's publish to one is the
        // channel's check; the broker dead-letters through them, as RabbitMQ does.
        let first = self.exchange(exchange)?;
        let mut visited: Vec<Arc<str>> = vec![first.name().clone()];
        let mut pending = vec![first];
        let mut dests = Vec::new();
        while let Some(ex) = pending.pop() {
            ex.route(routing_key, headers, &mut dests);
            if dests.is_empty() {
                if let Some(alt) = ex.alternate() {
                    if !visited.contains(&alt) {
                        if let Some(alt_ex) = self.exchanges.get(alt.as_ref()) {
                            visited.push(alt);
                            pending.push(alt_ex.clone());
                        }
                    }
                }
            }
            for d in dests.drain(..) {
                match d {
                    Destination::Queue(name) => {
                        if let Some(q) = self.queues.get(name.as_ref()) {
                            out.push(q.clone());
                        }
                    }
                    Destination::Exchange(name) => {
                        if !visited.contains(&name) {
                            if let Some(e) = self.exchanges.get(name.as_ref()) {
                                pending.push(e.clone());
                            }
                            visited.push(name);
                        }
                    }
                }
            }
        }
        if out.len() > 1 {
            out.sort_unstable_by_key(|q| Arc::as_ptr(q) as usize);
            out.dedup_by(|a, b| Arc::ptr_eq(a, b));
        }
        Ok(())
    }
}

/// The narrow handle dead-lettering and delayed delivery route through.
impl RouteBack for VHost {
    fn vhost_name(&self) -> &str {
        &self.name
    }

    fn route_back(
        &self,
        exchange: &str,
        routing_key: &str,
        headers: Option<&FieldTable>,
        accept: &dyn Fn(&str) -> bool,
        message: Arc<Message>,
    ) -> usize {
        let mut queues = Vec::new();
        if self
            .route(exchange, routing_key, headers, &mut queues)
            .is_err()
        {
            return 0;
        }
        queues.retain(|q| accept(q.name()));
        for q in &queues {
            q.publish(message.clone());
        }
        queues.len()
    }
}

/// What a queue needs of its virtual host.
impl QueueHost for VHost {
    fn queue_expired(&self, queue: &Arc<Queue>) {
        self.remove_queue(queue);
    }
}

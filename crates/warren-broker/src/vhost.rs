//! A virtual host: its exchanges, queues and bindings, and the AMQP operations on them
//! with RabbitMQ's checks and reply texts.

use std::sync::{Arc, Weak};

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use warren_protocol::{FieldTable, FieldValue};
use warren_store::SyncTicket;

use crate::applied::{store_failed, Applied};

use crate::delayed::{DelayedMessages, DELAYED_EXCHANGE_TYPE, DELAYED_TYPE_ARG};
use crate::error::{AmqpError, AmqpResult};
use crate::exchange::{Exchange, ExchangeConfig};
use crate::message::Message;
use crate::names::generated_queue_name;
use crate::queue::args::{check_equivalent, EQUIVALENCE_CHECKED};
use crate::queue::{ConnectionId, Queue, QueueArgs, QueueConfig, QueueHost};
use crate::route_back::RouteBack;
use crate::routing::{validate_headers_binding, Binding, Destination, ExchangeKind};
use crate::scheduler::Scheduler;

mod durable;
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
    scheduler: Arc<Scheduler>,
    delayed: Arc<DelayedMessages>,
    me: Weak<VHost>,
    /// Where durable exchanges, queues and bindings are kept (None: nothing is).
    persistence: Option<Persistence>,
}

/// The routing type of an `exchange.declare`, and whether it is a delayed-message
/// exchange (whose routing type is its `x-delayed-type` argument).
fn parse_exchange_type(d: &ExchangeDeclare) -> AmqpResult<(ExchangeKind, bool)> {
    if d.kind == DELAYED_EXCHANGE_TYPE {
        return d
            .arguments
            .get(DELAYED_TYPE_ARG)
            .and_then(FieldValue::as_str)
            .and_then(ExchangeKind::parse)
            .map(|kind| (kind, true))
            .ok_or_else(|| {
                AmqpError::precondition_failed(format!(
                    "Invalid argument, '{DELAYED_TYPE_ARG}' must be an existing exchange type"
                ))
            });
    }
    ExchangeKind::parse(&d.kind)
        .map(|kind| (kind, false))
        .ok_or_else(|| {
            // RabbitMQ takes "x-" types for plugin types it does not have loaded.
            let adjective = if d.kind.starts_with("x-") {
                "unknown"
            } else {
                "invalid"
            };
            AmqpError::command_invalid(format!("{adjective} exchange type '{}'", d.kind))
        })
}

fn default_exchange_refused() -> AmqpError {
    AmqpError::access_refused("operation not permitted on the default exchange")
}

/// Declare arguments as RabbitMQ keeps them: `x-queue-type` `classic` is the default
/// and is not recorded, so a classic queue redeclared with or without it is equivalent.
fn without_classic_type(args: &FieldTable) -> FieldTable {
    let mut args = args.clone();
    if args.get("x-queue-type").and_then(|v| v.as_str()) == Some("classic") {
        args.remove("x-queue-type");
    }
    args
}

/// Whether a queue being declared is written to the store or was read from it.
#[derive(Debug, Clone, Copy)]
enum QueueLink {
    /// A new durable queue is stored.
    Store,
    /// Start-up: the queue is the store's queue `id`.
    Restore(warren_store::QueueId),
}

/// Removes a stored queue (its bindings and entries) from the store.
fn unstore_queue(q: &Queue) -> warren_store::StoreResult<Option<SyncTicket>> {
    match q.persistence() {
        Some(p) => {
            p.store.delete_queue(p.id)?;
            Ok(Some(p.store.sync()))
        }
        None => Ok(None),
    }
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

    /// `exchange.declare`: a new durable exchange is stored before it is used.
    pub fn declare_exchange(&self, d: &ExchangeDeclare) -> AmqpResult<Applied<Arc<Exchange>>> {
        self.declare_exchange_as(d, true)
    }

    /// Brings back an exchange the store holds (start-up): nothing is written.
    pub(crate) fn restore_exchange(&self, d: &ExchangeDeclare) -> AmqpResult<Arc<Exchange>> {
        self.declare_exchange_as(d, false)
            .map(|applied| applied.into_parts().0)
    }

    fn declare_exchange_as(
        &self,
        d: &ExchangeDeclare,
        persist: bool,
    ) -> AmqpResult<Applied<Arc<Exchange>>> {
        if d.name.is_empty() {
            return Err(default_exchange_refused());
        }
        if d.passive {
            return self.exchange(&d.name).map(Applied::in_memory);
        }
        let (kind, delayed) = parse_exchange_type(d)?;
        if let Some(existing) = self.exchanges.get(d.name.as_str()) {
            let c = existing.config();
            if c.kind != kind || c.delayed != delayed {
                return Err(self.inequivalent("exchange", &d.name, "type", &d.kind, c.type_name()));
            }
            for (arg, got, current) in [
                ("durable", d.durable, c.durable),
                ("auto_delete", d.auto_delete, c.auto_delete),
                ("internal", d.internal, c.internal),
            ] {
                if got != current {
                    return Err(self.inequivalent(
                        "exchange",
                        &d.name,
                        arg,
                        bool_text(got),
                        bool_text(current),
                    ));
                }
            }
            // Of the arguments, RabbitMQ only compares the alternate exchange.
            check_equivalent(
                "exchange",
                &d.name,
                &self.name,
                &c.arguments,
                &d.arguments,
                &["alternate-exchange"],
            )?;
            return Ok(Applied::in_memory(existing.clone()));
        }
        if d.name.starts_with("amq.") {
            return Err(AmqpError::access_refused(format!(
                "exchange name '{}' contains reserved prefix 'amq.*'",
                d.name
            )));
        }
        let name: Arc<str> = Arc::from(d.name.as_str());
        let config = ExchangeConfig {
            name: name.clone(),
            kind,
            durable: d.durable,
            auto_delete: d.auto_delete,
            internal: d.internal,
            arguments: d.arguments.clone(),
            delayed,
        };
        match self.exchanges.entry(name) {
            // Declared by another connection since the check above: theirs stands.
            Entry::Occupied(e) => Ok(Applied::in_memory(e.get().clone())),
            Entry::Vacant(slot) => {
                // Stored first (a cheap buffered write), so a failed write leaves nothing.
                let commit = match self.store_for(persist && config.durable) {
                    Some(p) => {
                        let record = durable::exchange_record(&self.name, &config);
                        p.store.put_exchange(&record).map_err(store_failed)?;
                        Some(p.sync())
                    }
                    None => None,
                };
                let exchange = slot.insert(Exchange::new(config)).clone();
                Ok(Applied::written(exchange, commit))
            }
        }
    }

    /// `exchange.delete`. Deleting an exchange that does not exist succeeds, as in RabbitMQ.
    /// A durable exchange leaves the store first: if that fails it stays (541).
    pub fn delete_exchange(&self, name: &str, if_unused: bool) -> AmqpResult<Applied<()>> {
        if name.is_empty() {
            return Err(default_exchange_refused());
        }
        if name.starts_with("amq.") {
            return Err(AmqpError::access_refused(format!(
                "deletion of system exchange '{name}' in vhost '{}' not allowed",
                self.name
            )));
        }
        let Some(exchange) = self.exchanges.get(name).map(|e| e.clone()) else {
            return Ok(Applied::in_memory(()));
        };
        if if_unused && exchange.has_bindings() {
            return Err(AmqpError::precondition_failed(format!(
                "exchange '{name}' in vhost '{}' in use",
                self.name
            )));
        }
        let commit = self.unstore_exchange(&exchange).map_err(store_failed)?;
        self.forget_exchange(&exchange);
        Ok(Applied::written((), commit))
    }

    /// Removes a durable exchange (and the bindings from and to it) from the store.
    fn unstore_exchange(
        &self,
        exchange: &Exchange,
    ) -> warren_store::StoreResult<Option<SyncTicket>> {
        match self.store_for(exchange.config().durable) {
            Some(p) => {
                p.store.delete_exchange(&self.name, exchange.name())?;
                Ok(Some(p.sync()))
            }
            None => Ok(None),
        }
    }

    /// Removes an exchange from memory, with the bindings to it; exchanges those leave
    /// without bindings are auto-deleted.
    fn forget_exchange(&self, exchange: &Arc<Exchange>) {
        self.exchanges.remove(exchange.name().as_ref());
        self.remove_destination(&Destination::Exchange(exchange.name().clone()));
    }

    /// Auto-deletes an exchange whose last binding went: nobody waits for this, so a
    /// store failure is logged (the exchange would come back after a restart).
    fn auto_delete_exchange(&self, exchange: &Arc<Exchange>) {
        if let Err(e) = self.unstore_exchange(exchange) {
            tracing::error!(exchange = %exchange.name(), error = %e, "store: auto-delete failed");
        }
        self.forget_exchange(exchange);
    }

    /// Removes every binding to `dest`, then auto-deletes exchanges left with none.
    fn remove_destination(&self, dest: &Destination) {
        let mut emptied = Vec::new();
        for ex in self.exchanges.iter() {
            if ex.remove_destination(dest) > 0 && ex.config().auto_delete && !ex.has_bindings() {
                emptied.push(ex.clone());
            }
        }
        for ex in emptied {
            self.auto_delete_exchange(&ex);
        }
    }

    fn source_exchange(&self, name: &str) -> AmqpResult<Arc<Exchange>> {
        if name.is_empty() {
            return Err(default_exchange_refused());
        }
        self.exchange(name)
    }

    /// `queue.bind`. A binding of a durable exchange to a stored queue is stored.
    pub fn bind_queue(
        &self,
        queue: &str,
        exchange: &str,
        key: &str,
        args: &FieldTable,
        conn: ConnectionId,
    ) -> AmqpResult<Applied<()>> {
        let source = self.source_exchange(exchange)?;
        let q = self.queue(queue, conn)?;
        let durable = source.config().durable && q.persistence().is_some();
        let dest = Destination::Queue(q.name().clone());
        self.bind(&source, dest, key, args, durable)
    }

    /// `queue.unbind`. As in RabbitMQ, removing a binding that does not exist, or whose
    /// queue or exchange does not exist, succeeds.
    pub fn unbind_queue(
        &self,
        queue: &str,
        exchange: &str,
        key: &str,
        args: &FieldTable,
        conn: ConnectionId,
    ) -> AmqpResult<Applied<()>> {
        if exchange.is_empty() {
            return Err(default_exchange_refused());
        }
        let Some(q) = self.queues.get(queue).map(|q| q.clone()) else {
            return Ok(Applied::in_memory(()));
        };
        q.check_access(conn)?;
        let Some(source) = self.exchanges.get(exchange).map(|e| e.clone()) else {
            return Ok(Applied::in_memory(()));
        };
        let durable = source.config().durable && q.persistence().is_some();
        let dest = Destination::Queue(q.name().clone());
        self.unbind(&source, &dest, key, args, durable)
    }

    /// `exchange.bind`: messages reaching `source` also go through `destination`.
    pub fn bind_exchange(
        &self,
        destination: &str,
        source: &str,
        key: &str,
        args: &FieldTable,
    ) -> AmqpResult<Applied<()>> {
        let src = self.source_exchange(source)?;
        if destination.is_empty() {
            return Err(default_exchange_refused());
        }
        let dst = self.exchange(destination)?;
        let durable = src.config().durable && dst.config().durable;
        let dest = Destination::Exchange(dst.name().clone());
        self.bind(&src, dest, key, args, durable)
    }

    /// `exchange.unbind`. Removing a binding that does not exist, or whose exchanges do
    /// not exist, succeeds.
    pub fn unbind_exchange(
        &self,
        destination: &str,
        source: &str,
        key: &str,
        args: &FieldTable,
    ) -> AmqpResult<Applied<()>> {
        if source.is_empty() || destination.is_empty() {
            return Err(default_exchange_refused());
        }
        let Some(src) = self.exchanges.get(source).map(|e| e.clone()) else {
            return Ok(Applied::in_memory(()));
        };
        let durable = src.config().durable
            && self
                .exchanges
                .get(destination)
                .is_some_and(|d| d.config().durable);
        let dest = Destination::Exchange(Arc::from(destination));
        self.unbind(&src, &dest, key, args, durable)
    }

    /// Brings back a binding the store holds (start-up): nothing is written.
    pub(crate) fn restore_binding(
        &self,
        b: &warren_store::BindingRecord,
        args: &FieldTable,
    ) -> AmqpResult<()> {
        let source = self.source_exchange(&b.source)?;
        let dest = if b.destination_is_exchange {
            Destination::Exchange(self.exchange(&b.destination)?.name().clone())
        } else {
            Destination::Queue(self.queue(&b.destination, 0)?.name().clone())
        };
        self.bind(&source, dest, &b.routing_key, args, false)
            .map(|_| ())
    }

    /// Adds a binding, storing it first when both ends are `durable`.
    fn bind(
        &self,
        source: &Arc<Exchange>,
        dest: Destination,
        key: &str,
        args: &FieldTable,
        durable: bool,
    ) -> AmqpResult<Applied<()>> {
        if source.config().kind == ExchangeKind::Headers {
            validate_headers_binding(args).map_err(AmqpError::precondition_failed)?;
        }
        let commit = match self.store_for(durable) {
            Some(p) => {
                let record = self.binding_record(source, &dest, key, args);
                p.store.put_binding(&record).map_err(store_failed)?;
                Some(p.sync())
            }
            None => None,
        };
        source.bind(Binding {
            destination: dest,
            routing_key: Arc::from(key),
            arguments: args.clone(),
        });
        Ok(Applied::written((), commit))
    }

    /// Removes a binding (from the store first when both ends are `durable`); an
    /// auto-delete source left without bindings goes too.
    fn unbind(
        &self,
        source: &Arc<Exchange>,
        dest: &Destination,
        key: &str,
        args: &FieldTable,
        durable: bool,
    ) -> AmqpResult<Applied<()>> {
        let commit = match self.store_for(durable) {
            Some(p) => {
                let record = self.binding_record(source, dest, key, args);
                p.store.delete_binding(&record).map_err(store_failed)?;
                Some(p.sync())
            }
            None => None,
        };
        if source.unbind(dest, key, args) && source.config().auto_delete && !source.has_bindings() {
            self.auto_delete_exchange(source);
        }
        Ok(Applied::written((), commit))
    }

    fn binding_record(
        &self,
        source: &Exchange,
        dest: &Destination,
        key: &str,
        args: &FieldTable,
    ) -> warren_store::BindingRecord {
        let (name, is_exchange) = match dest {
            Destination::Queue(q) => (q, false),
            Destination::Exchange(e) => (e, true),
        };
        durable::binding_record(&self.name, source.name(), name, is_exchange, key, args)
    }

    /// `queue.declare` on behalf of connection `conn`: a new durable queue is stored
    /// before it is used.
    pub fn declare_queue(
        &self,
        d: &QueueDeclare,
        conn: ConnectionId,
    ) -> AmqpResult<Applied<QueueDeclared>> {
        self.declare_queue_as(d, conn, QueueLink::Store)
    }

    /// Brings back a queue the store holds under `id` (start-up): nothing is written.
    pub(crate) fn restore_queue(
        &self,
        d: &QueueDeclare,
        id: warren_store::QueueId,
    ) -> AmqpResult<Arc<Queue>> {
        self.declare_queue_as(d, 0, QueueLink::Restore(id))
            .map(|applied| applied.into_parts().0.queue)
    }

    fn declare_queue_as(
        &self,
        d: &QueueDeclare,
        conn: ConnectionId,
        link: QueueLink,
    ) -> AmqpResult<Applied<QueueDeclared>> {
        let declared = |q: Arc<Queue>| QueueDeclared {
            message_count: q.message_count(),
            consumer_count: q.consumer_count(),
            queue: q,
        };
        if d.passive {
            // A passive declare counts as a use for x-expires, as in RabbitMQ.
            return self.queue(&d.name, conn).map(|q| {
                q.touch();
                Applied::in_memory(declared(q))
            });
        }
        let name = if d.name.is_empty() {
            generated_queue_name()
        } else {
            d.name.clone()
        };
        if let Some(existing) = self.queues.get(name.as_str()).map(|q| q.clone()) {
            self.check_queue_equivalent(&existing, d, conn)?;
            return Ok(Applied::in_memory(declared(existing)));
        }
        if !d.name.is_empty() && d.name.starts_with("amq.") {
            return Err(AmqpError::access_refused(format!(
                "queue name '{}' contains reserved prefix 'amq.*'",
                d.name
            )));
        }
        let args = QueueArgs::parse(
            &name,
            &self.name,
            &d.arguments,
            d.durable,
            d.exclusive,
            d.auto_delete,
        )?;
        let key: Arc<str> = Arc::from(name.as_str());
        let config = QueueConfig {
            name: key.clone(),
            // RabbitMQ never makes an exclusive queue durable.
            durable: d.durable && !d.exclusive,
            exclusive_owner: d.exclusive.then_some(conn),
            auto_delete: d.auto_delete,
            arguments: without_classic_type(&d.arguments),
        };
        let slot = match self.queues.entry(key) {
            // Declared by another connection since the check above: theirs stands.
            Entry::Occupied(e) => return Ok(Applied::in_memory(declared(e.get().clone()))),
            Entry::Vacant(slot) => slot,
        };
        let queue = Queue::new(
            config,
            args,
            self.name.clone(),
            self.me.clone(),
            self.scheduler.clone(),
        );
        let commit = match (link, self.store_for(queue.config().durable)) {
            (QueueLink::Store, Some(p)) => {
                // Stored first (a cheap buffered write), so a failed write leaves nothing.
                let record = durable::queue_record(&self.name, queue.config());
                let id = p.store.put_queue(&record).map_err(store_failed)?;
                queue.set_persistence(p.store.clone(), id, p.paging);
                Some(p.sync())
            }
            (QueueLink::Restore(id), Some(p)) => {
                queue.set_persistence(p.store.clone(), id, p.paging);
                None
            }
            (_, None) => None,
        };
        slot.insert(queue.clone());
        Ok(Applied::written(declared(queue), commit))
    }

    /// RabbitMQ's checks on redeclaring an existing queue: the same exclusive owner
    /// (405 otherwise, even on the owning connection), then `durable`, `auto_delete` and
    /// the compared arguments.
    fn check_queue_equivalent(
        &self,
        q: &Queue,
        d: &QueueDeclare,
        conn: ConnectionId,
    ) -> AmqpResult<()> {
        let c = q.config();
        if c.exclusive_owner != d.exclusive.then_some(conn) {
            return Err(self.locked(&c.name));
        }
        for (arg, got, current) in [
            ("durable", d.durable && !d.exclusive, c.durable),
            ("auto_delete", d.auto_delete, c.auto_delete),
        ] {
            if got != current {
                return Err(self.inequivalent(
                    "queue",
                    c.name.as_ref(),
                    arg,
                    bool_text(got),
                    bool_text(current),
                ));
            }
        }
        check_equivalent(
            "queue",
            &c.name,
            &self.name,
            &c.arguments,
            // Compared as received: check_equivalent treats a missing type as classic,
            // and a quorum queue redeclared as 'classic' must say so in the text.
            &d.arguments,
            EQUIVALENCE_CHECKED,
        )?;
        q.touch();
        Ok(())
    }

    /// Holds a message published to delayed exchange `exchange` until `delay_ms` has
    /// passed; it is then routed by the exchange's `x-delayed-type`. A persistent message
    /// held by a durable exchange is stored (survives a restart): returns whether it was.
    pub fn hold_delayed(
        &self,
        exchange: &Exchange,
        headers: Option<FieldTable>,
        message: Arc<Message>,
        delay_ms: u64,
    ) -> crate::persist::StoreResult<bool> {
        let durable = exchange.config().durable && message.persistent;
        self.delayed.hold_durable(
            self.me.clone(),
            exchange.name().clone(),
            headers,
            message,
            delay_ms,
            durable,
        )
    }

    /// Creates the hidden queue behind a direct reply-to consumer
    /// (`amq.rabbitmq.reply-to`): exclusive to `conn`, auto-deleted with its consumer,
    /// named `amq.rabbitmq.reply-to.<random>` so only the requester's reply_to reaches it.
    pub fn declare_reply_to_queue(&self, conn: ConnectionId) -> Arc<Queue> {
        let name: Arc<str> = Arc::from(format!(
            "amq.rabbitmq.reply-to.{}",
            crate::names::generated_queue_name().trim_start_matches("amq.gen-")
        ));
        let config = QueueConfig {
            name: name.clone(),
            durable: false,
            exclusive_owner: Some(conn),
            auto_delete: true,
            arguments: FieldTable::new(),
        };
        let queue = Queue::new(
            config,
            QueueArgs::default(),
            self.name.clone(),
            self.me.clone(),
            self.scheduler.clone(),
        );
        self.queues.insert(name, queue.clone());
        queue
    }

    /// `queue.purge`: drops the ready messages, returns how many.
    pub fn purge_queue(&self, name: &str, conn: ConnectionId) -> AmqpResult<u32> {
        Ok(self.queue(name, conn)?.purge())
    }

    /// `queue.delete`: returns the number of messages dropped. Deleting a queue that does
    /// not exist succeeds with 0, as in RabbitMQ. A stored queue leaves the store first:
    /// if that fails it stays (541).
    pub fn delete_queue(
        &self,
        name: &str,
        if_unused: bool,
        if_empty: bool,
        conn: ConnectionId,
    ) -> AmqpResult<Applied<u32>> {
        let Some(q) = self.queues.get(name).map(|q| q.clone()) else {
            return Ok(Applied::in_memory(0));
        };
        q.check_access(conn)?;
        if if_unused && q.consumer_count() > 0 {
            return Err(AmqpError::precondition_failed(format!(
                "queue '{name}' in vhost '{}' in use",
                self.name
            )));
        }
        if if_empty && q.message_count() > 0 {
            return Err(AmqpError::precondition_failed(format!(
                "queue '{name}' in vhost '{}' not empty",
                self.name
            )));
        }
        let commit = unstore_queue(&q).map_err(store_failed)?;
        Ok(Applied::written(self.forget_queue(&q), commit))
    }

    /// Deletes a queue unconditionally, cancelling its consumers (x-expires, auto-delete,
    /// an exclusive owner's close). Nobody waits for this, so a store failure is logged
    /// (the queue would come back after a restart).
    pub fn remove_queue(&self, q: &Arc<Queue>) -> u32 {
        if let Err(e) = unstore_queue(q) {
            tracing::error!(queue = %q.name(), error = %e, "store: queue delete failed");
        }
        self.forget_queue(q)
    }

    /// Removes a queue from memory with the bindings to it, cancelling its consumers.
    fn forget_queue(&self, q: &Arc<Queue>) -> u32 {
        self.queues
            .remove_if(q.name().as_ref(), |_, v| Arc::ptr_eq(v, q));
        self.remove_destination(&Destination::Queue(q.name().clone()));
        let deleted = q.delete();
        for consumer in deleted.consumers {
            consumer.notify_cancelled();
        }
        deleted.messages
    }

    /// Called when a consumer is cancelled: deletes an auto-delete queue left without consumers.
    pub fn consumer_removed(&self, consumer: &Arc<crate::consumer::Consumer>) {
        let Some(q) = consumer.queue() else {
            return;
        };
        if q.remove_consumer(consumer) && !q.is_deleted() {
            self.remove_queue(&q);
        }
    }

    /// Deletes the exclusive queues owned by a connection that closed.
    pub fn connection_closed(&self, conn: ConnectionId) {
        let owned: Vec<_> = self
            .queues
            .iter()
            .filter(|q| q.config().exclusive_owner == Some(conn))
            .map(|q| q.clone())
            .collect();
        for q in owned {
            self.remove_queue(&q);
        }
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
                    if !visited.contains(alt) {
                        if let Some(alt_ex) = self.exchanges.get(alt.as_ref()) {
                            visited.push(alt.clone());
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

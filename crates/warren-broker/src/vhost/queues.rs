//! A virtual host's queues: `queue.declare` (stored first when durable), purge,
//! `queue.delete` and the implicit deletions (x-expires, auto-delete, exclusive owner
//! gone), the reply-to queues, and the restoring form recovery uses.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use dashmap::mapref::entry::Entry;
use warren_protocol::FieldTable;
use warren_store::SyncTicket;

use super::{bool_text, durable, QueueDeclare, QueueDeclared, VHost};
use crate::applied::{store_failed, Applied};
use crate::error::{AmqpError, AmqpResult};
use crate::exchange::Exchange;
use crate::message::Message;
use crate::names::generated_queue_name;
use crate::queue::args::{check_equivalent, EQUIVALENCE_CHECKED};
use crate::queue::{ConnectionId, Queue, QueueArgs, QueueConfig};
use crate::routing::Destination;

/// Declare arguments as RabbitMQ keeps them: `x-queue-type` `classic` is the default
/// and is not recorded, so a classic queue redeclared with or without it is equivalent.
pub(super) fn without_classic_type(args: &FieldTable) -> FieldTable {
    let mut args = args.clone();
    if args.get("x-queue-type").and_then(|v| v.as_str()) == Some("classic") {
        args.remove("x-queue-type");
    }
    args
}

/// The name prefix of the hidden queues behind direct reply-to consumers. They stand
/// for RabbitMQ's pseudo-queue, so no policy applies to them.
pub(super) const REPLY_TO_QUEUE_PREFIX: &str = "amq.rabbitmq.reply-to.";

/// Whether a queue being declared is written to the store or was read from it.
#[derive(Debug, Clone, Copy)]
pub(super) enum QueueLink {
    /// A new durable queue is stored.
    Store,
    /// Start-up: the queue is the store's queue `id`.
    Restore(warren_store::QueueId),
}

/// Removes a stored queue (its bindings and entries) from the store.
pub(super) fn unstore_queue(q: &Queue) -> warren_store::StoreResult<Option<SyncTicket>> {
    match q.persistence() {
        Some(p) => {
            super::streams::unstore_stream(q)?;
            p.store.delete_queue(p.id)?;
            Ok(Some(p.store.sync()))
        }
        None => Ok(None),
    }
}

impl VHost {
    /// Sets the vhost's `max-queues` (None: no limit). Existing queues stay.
    pub fn set_max_queues(&self, limit: Option<u64>) {
        self.max_queues.store(
            limit.unwrap_or(u64::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Refuses a new queue when the vhost holds `max-queues` already (406, RabbitMQ's
    /// text).
    fn check_queue_limit(&self, name: &str) -> AmqpResult<()> {
        let limit = self.max_queues.load(std::sync::atomic::Ordering::Relaxed);
        if limit != u64::MAX && self.queues.len() as u64 >= limit {
            return Err(AmqpError::precondition_failed(format!(
                "cannot declare queue '{name}': queue limit in vhost '{}' ({limit}) is reached",
                self.name
            )));
        }
        Ok(())
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

    pub(super) fn declare_queue_as(
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
        self.totals.queues_declared.fetch_add(1, Ordering::Relaxed);
        if let Some(existing) = self.queues.get(name.as_str()).map(|q| q.clone()) {
            self.check_queue_equivalent(&existing, d, conn)?;
            return Ok(Applied::in_memory(declared(existing)));
        }
        if !d.name.is_empty() && !d.server_named && d.name.starts_with("amq.") {
            return Err(AmqpError::access_refused(format!(
                "queue name '{}' contains reserved prefix 'amq.*'",
                d.name
            )));
        }
        if matches!(link, QueueLink::Store) {
            self.check_queue_limit(&name)?;
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
        // Held until the queue is in the map, so a policy change either sees it or
        // happens before its selection is taken.
        let policies = self.policies.read();
        let slot = match self.queues.entry(key) {
            // Declared by another connection since the check above: theirs stands.
            Entry::Occupied(e) => return Ok(Applied::in_memory(declared(e.get().clone()))),
            Entry::Vacant(slot) => slot,
        };
        let selected = policies.for_queue(&name, args.queue_type);
        let queue = Queue::new(
            config,
            args,
            self.name.clone(),
            self.me.clone(),
            self.scheduler.clone(),
        );
        if !selected.is_empty() {
            // An empty queue: nothing is dropped or dead-lettered (which would route
            // through the map whose entry is held here).
            queue.apply_policy(selected.policy, selected.operator_policy);
        }
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
        if let Some(spill) = &self.spill {
            queue.set_spill(spill.clone());
        }
        if let Err(e) = self.open_stream(&queue) {
            if let (QueueLink::Store, Some(p)) = (link, queue.persistence()) {
                // Not usable: its record goes again (nothing else refers to it yet).
                if let Err(e) = p.store.delete_queue(p.id) {
                    tracing::error!(queue = %name, error = %e, "store: queue delete failed");
                }
            }
            return Err(store_failed(e));
        }
        slot.insert(queue.clone());
        drop(policies);
        self.totals.queues_created.fetch_add(1, Ordering::Relaxed);
        Ok(Applied::written(declared(queue), commit))
    }

    /// RabbitMQ's checks on redeclaring an existing queue: the same exclusive owner
    /// (405 otherwise, even on the owning connection), then `durable`, `auto_delete` and
    /// the compared arguments.
    pub(super) fn check_queue_equivalent(
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
            "{REPLY_TO_QUEUE_PREFIX}{}",
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
        let q = self.queue(name, conn)?;
        q.refuse_on_stream("queue.purge")?;
        Ok(q.purge())
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
    pub(super) fn forget_queue(&self, q: &Arc<Queue>) -> u32 {
        if self
            .queues
            .remove_if(q.name().as_ref(), |_, v| Arc::ptr_eq(v, q))
            .is_some()
        {
            self.totals.queues_deleted.fetch_add(1, Ordering::Relaxed);
        }
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
}

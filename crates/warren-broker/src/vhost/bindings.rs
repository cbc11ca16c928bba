//! A virtual host's bindings: `queue.bind`/`unbind` and `exchange.bind`/`unbind`, each
//! stored first when both ends are durable, and the restoring form recovery uses.

use std::sync::Arc;

use warren_protocol::FieldTable;

use super::exchanges::default_exchange_refused;
use super::{durable, VHost};
use crate::applied::{store_failed, Applied};
use crate::error::{AmqpError, AmqpResult};
use crate::exchange::Exchange;
use crate::queue::ConnectionId;
use crate::routing::{
    validate_consistent_hash_binding, validate_headers_binding, Binding, Destination, ExchangeKind,
};

impl VHost {
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
    pub(super) fn bind(
        &self,
        source: &Arc<Exchange>,
        dest: Destination,
        key: &str,
        args: &FieldTable,
        durable: bool,
    ) -> AmqpResult<Applied<()>> {
        match source.config().kind {
            ExchangeKind::Headers => {
                validate_headers_binding(args).map_err(AmqpError::precondition_failed)?;
            }
            ExchangeKind::ConsistentHash => {
                validate_consistent_hash_binding(key).map_err(AmqpError::precondition_failed)?;
            }
            _ => {}
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
    pub(super) fn unbind(
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

    pub(super) fn binding_record(
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
}

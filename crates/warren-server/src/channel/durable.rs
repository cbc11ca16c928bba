//! Writing durable topology to the store: records for exchanges, queues and bindings,
//! and waiting for the group commit before a `*-ok` goes out. Transient things never
//! reach here.

use std::sync::Arc;

use warren_broker::persist::encode_table;
use warren_broker::{AmqpError, AmqpResult, Exchange, Queue};
use warren_protocol::FieldTable;
use warren_store::{BindingRecord, ExchangeRecord, QueueRecord, Store, StoreResult};

use super::ConnCtx;

/// A store failure as AMQP sees it: 541 INTERNAL_ERROR (the connection closes).
pub(super) fn store_failed(e: warren_store::StoreError) -> AmqpError {
    AmqpError::internal(format!("INTERNAL_ERROR - store failure: {e}"))
}

/// Runs `write` against the store (if there is one), then waits for the group commit
/// that makes it durable. Topology changes are rare, so the short wait (one flush, well
/// under a millisecond to a few) happens on the connection's task.
pub(super) fn write_synced<T>(
    cx: &ConnCtx,
    write: impl FnOnce(&Arc<dyn Store>) -> StoreResult<T>,
) -> AmqpResult<Option<T>> {
    let Some(store) = &cx.store else {
        return Ok(None);
    };
    let out = write(store).map_err(store_failed)?;
    store.sync().wait().map_err(store_failed)?;
    Ok(Some(out))
}

/// The record of a durable exchange declared with type `kind`.
pub(super) fn exchange_record(cx: &ConnCtx, exchange: &Exchange, kind: &str) -> ExchangeRecord {
    let c = exchange.config();
    ExchangeRecord {
        vhost: cx.vhost.name().to_string(),
        name: exchange.name().to_string(),
        kind: kind.to_owned(),
        durable: true,
        auto_delete: c.auto_delete,
        internal: c.internal,
        arguments: encode_table(&c.arguments),
    }
}

/// The record of a durable queue.
pub(super) fn queue_record(cx: &ConnCtx, queue: &Queue) -> QueueRecord {
    let c = queue.config();
    QueueRecord {
        vhost: cx.vhost.name().to_string(),
        name: queue.name().to_string(),
        auto_delete: c.auto_delete,
        arguments: encode_table(&c.arguments),
    }
}

/// The record of a binding from `source` to `destination`.
pub(super) fn binding_record(
    cx: &ConnCtx,
    source: &str,
    destination: &str,
    destination_is_exchange: bool,
    routing_key: &str,
    arguments: &FieldTable,
) -> BindingRecord {
    BindingRecord {
        vhost: cx.vhost.name().to_string(),
        source: source.to_owned(),
        destination: destination.to_owned(),
        destination_is_exchange,
        routing_key: routing_key.to_owned(),
        arguments: encode_table(arguments),
    }
}

/// Whether the exchange `name` exists and is durable.
pub(super) fn durable_exchange(cx: &ConnCtx, name: &str) -> bool {
    !name.is_empty() && cx.vhost.exchange(name).is_ok_and(|e| e.config().durable)
}

/// Whether the queue `name` exists and is stored.
pub(super) fn stored_queue(cx: &ConnCtx, name: &str) -> bool {
    cx.vhost
        .queue(name, cx.id)
        .is_ok_and(|q| q.persistence().is_some())
}

//! What a virtual host keeps in the store: the records of its durable exchanges, queues
//! and bindings. Only [`VHost`](super::VHost)'s operations call these, between checking
//! a change and making it in memory, so the store and the broker's state have one owner.

use std::sync::Arc;

use warren_protocol::FieldTable;
use warren_store::{BindingRecord, ExchangeRecord, QueueRecord, Store, SyncTicket};

use crate::exchange::ExchangeConfig;
use crate::persist::encode_table;
use crate::queue::{Paging, QueueConfig};

/// Where a broker keeps its durable state, and how much of a durable queue's backlog
/// stays in memory.
#[derive(Clone)]
pub struct Persistence {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The in-memory budget of durable queues (messages beyond it stay on disk).
    pub paging: Paging,
}

impl std::fmt::Debug for Persistence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Persistence")
            .field("paging", &self.paging)
            .finish_non_exhaustive()
    }
}

impl Persistence {
    /// A commit covering every write made so far.
    pub fn sync(&self) -> SyncTicket {
        self.store.sync()
    }
}

/// The record of a durable exchange.
pub(super) fn exchange_record(vhost: &str, c: &ExchangeConfig) -> ExchangeRecord {
    ExchangeRecord {
        vhost: vhost.to_owned(),
        name: c.name.to_string(),
        kind: c.type_name().to_owned(),
        durable: true,
        auto_delete: c.auto_delete,
        internal: c.internal,
        arguments: encode_table(&c.arguments),
    }
}

/// The record of a durable queue.
pub(super) fn queue_record(vhost: &str, c: &QueueConfig) -> QueueRecord {
    QueueRecord {
        vhost: vhost.to_owned(),
        name: c.name.to_string(),
        auto_delete: c.auto_delete,
        arguments: encode_table(&c.arguments),
    }
}

/// The record of a binding from `source` to `destination`.
pub(super) fn binding_record(
    vhost: &str,
    source: &str,
    destination: &str,
    destination_is_exchange: bool,
    routing_key: &str,
    arguments: &FieldTable,
) -> BindingRecord {
    BindingRecord {
        vhost: vhost.to_owned(),
        source: source.to_owned(),
        destination: destination.to_owned(),
        destination_is_exchange,
        routing_key: routing_key.to_owned(),
        arguments: encode_table(arguments),
    }
}

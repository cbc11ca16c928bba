//! Start-up from the store: opens it (locking the data directory) and builds the broker
//! from what it holds (durable exchanges, queues and bindings, then each queue's
//! messages, then the messages delayed exchanges held) before any client is served.
//! It restores state through the same [`VHost`](crate::VHost) operations every other
//! change goes through, in their restoring form, which writes nothing back.

use std::path::Path;
use std::sync::Arc;

use tracing::{error, info, warn};
use warren_store::{
    DelayedKey, DelayedRecord, EntryStats, Recovered, SledStore, Store, StoreConfig,
};

use crate::persist::{decode_table, message_from_stored};
use crate::queue::RecoverError;
use crate::vhost::Persistence;
use crate::Limits;
use crate::{Broker, ExchangeDeclare, Queue, QueueDeclare};

/// Why the broker could not start from its data directory.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// The store could not be opened (locked, corrupt, unreadable: the text names the
    /// file or directory).
    #[error("cannot open the store: {0}")]
    Open(#[source] warren_store::StoreError),
    /// The store opened but its contents could not be read back.
    #[error("cannot recover from the store: {0}")]
    Read(#[source] warren_store::StoreError),
    /// A stored message's properties do not decode: the store's contents are damaged.
    #[error("stored message {id} is unreadable: {detail}")]
    Message {
        /// The message's store id.
        id: u64,
        /// What was wrong.
        detail: String,
    },
    /// A stored argument table does not decode: the store's contents are damaged.
    #[error("stored arguments of '{owner}' are unreadable: {detail}")]
    Arguments {
        /// The exchange, queue or binding source they belong to.
        owner: String,
        /// What was wrong.
        detail: String,
    },
}

impl From<RecoveryError> for std::io::Error {
    fn from(e: RecoveryError) -> Self {
        std::io::Error::other(e)
    }
}

/// Opens the store under `data_dir` (in `data_dir/store`) with the page cache and
/// compaction `limits` set.
pub fn open_store(data_dir: &Path, limits: &Limits) -> Result<Arc<dyn Store>, RecoveryError> {
    let mut config = StoreConfig::new(data_dir.join("store"));
    config.cache_capacity_bytes = limits.store_cache_bytes;
    config.compaction = limits.store_compaction.clone();
    config.segment_bytes = limits.store_segment_bytes;
    let store = SledStore::open(&config).map_err(RecoveryError::Open)?;
    let t = store.open_timings();
    info!(
        path = %store.path().display(),
        engine_ms = t.engine.as_millis() as u64,
        entries_pass_ms = t.entries_pass.as_millis() as u64,
        messages_pass_ms = t.messages_pass.as_millis() as u64,
        "store opened"
    );
    Ok(Arc::new(store))
}

/// Builds a broker that keeps its durable state in `store`, with everything the store
/// holds brought back: topology, each stored queue's messages in order (delivered ones
/// marked redelivered), and the messages delayed exchanges held.
pub fn recover(store: Arc<dyn Store>, limits: &Limits) -> Result<Broker, RecoveryError> {
    recover_spilling(store, limits, None)
}

/// Like [`recover`], with every queue (recovered or declared later) writing the ready
/// messages beyond its in-memory budget to `spill`, if given.
pub fn recover_spilling(
    store: Arc<dyn Store>,
    limits: &Limits,
    spill: Option<crate::queue::Spill>,
) -> Result<Broker, RecoveryError> {
    let persistence = Persistence {
        store: store.clone(),
        paging: limits.paging,
    };
    let broker = match spill {
        Some(spill) => Broker::with_spill(Some(persistence), spill),
        None => Broker::with_persistence(persistence),
    };
    broker.set_max_super_stream_partitions(limits.max_super_stream_partitions);
    let recovering = recover_topology(&broker, &store)?;
    recover_messages(&recovering.queues)?;
    recover_delayed(&broker, recovering.delayed)?;
    Ok(broker)
}

/// What start-up recovers after the topology: the stored queues with their ids, and the
/// messages delayed exchanges held.
struct Recovering {
    /// Stored queues, with their entries as the store counted them at open.
    pub queues: Vec<(Arc<Queue>, Option<EntryStats>)>,
    /// Held delayed messages, in due order.
    pub delayed: Vec<(DelayedKey, DelayedRecord)>,
}

/// Declares the stored exchanges, queues (linked to their records) and bindings.
fn recover_topology(broker: &Broker, store: &Arc<dyn Store>) -> Result<Recovering, RecoveryError> {
    let mut queues = Vec::new();
    let rec: Recovered = store.recover().map_err(RecoveryError::Read)?;
    broker.restore_definitions(&rec.definitions);
    // A store written before vhosts were recorded names its vhosts only through what
    // they hold: those vhosts are created (and recorded by `Broker::initialize`). Once
    // vhosts are recorded, anything left of a deleted vhost is ignored.
    let legacy = !broker.is_initialized();
    let vhost_of = |name: &str, what: &str| {
        if legacy {
            return Some(broker.add_vhost(name));
        }
        let v = broker.vhost(name);
        if v.is_none() {
            warn!(vhost = %name, entity = %what, "stored entity of a deleted vhost ignored");
        }
        v
    };
    let r = rec.repairs;
    if r.orphan_messages + r.orphan_entries + r.dangling_entries > 0 {
        warn!(
            orphan_messages = r.orphan_messages,
            orphan_entries = r.orphan_entries,
            dangling_entries = r.dangling_entries,
            "store: cleaned up after interrupted operations"
        );
    }
    for x in &rec.exchanges {
        let arguments = arguments(&x.arguments, &x.name)?;
        let Some(vhost) = vhost_of(&x.vhost, &x.name) else {
            continue;
        };
        if let Err(e) = vhost.restore_exchange(&ExchangeDeclare {
            name: x.name.clone(),
            kind: x.kind.clone(),
            passive: false,
            durable: true,
            auto_delete: x.auto_delete,
            internal: x.internal,
            arguments,
        }) {
            error!(exchange = %x.name, error = %e.reply_text(), "stored exchange not restored");
        }
    }
    for q in &rec.queues {
        let arguments = arguments(&q.record.arguments, &q.record.name)?;
        let Some(vhost) = vhost_of(&q.record.vhost, &q.record.name) else {
            continue;
        };
        let declare = QueueDeclare {
            name: q.record.name.clone(),
            passive: false,
            durable: true,
            exclusive: false,
            auto_delete: q.record.auto_delete,
            arguments,
            // Stored under the name it was declared with, generated or not.
            server_named: true,
        };
        match vhost.restore_queue(&declare, q.id) {
            Ok(queue) => queues.push((queue, q.entries)),
            Err(e) => {
                error!(queue = %q.record.name, error = %e.reply_text(), "stored queue not restored")
            }
        }
    }
    restore_stream_offsets(store, &rec.definitions, &queues);
    for b in &rec.bindings {
        let arguments = arguments(&b.arguments, &b.source)?;
        let Some(vhost) = vhost_of(&b.vhost, &b.source) else {
            continue;
        };
        if let Err(e) = vhost.restore_binding(b, &arguments) {
            error!(source = %b.source, destination = %b.destination, error = %e.reply_text(), "stored binding not restored");
        }
    }
    info!(
        delayed = rec.delayed.len(),
        exchanges = rec.exchanges.len(),
        queues = rec.queues.len(),
        bindings = rec.bindings.len(),
        "durable topology recovered"
    );
    Ok(Recovering {
        queues,
        delayed: rec.delayed,
    })
}

/// Gives the restored streams their tracked consumer offsets back; offsets of streams
/// that are gone (deleted just before a crash) leave the store.
fn restore_stream_offsets(
    store: &Arc<dyn Store>,
    definitions: &[warren_store::DefinitionRecord],
    queues: &[(Arc<Queue>, Option<EntryStats>)],
) {
    use crate::stream::tracking::{decode_offset, parse_offset_key, STREAM_OFFSET};
    for d in definitions.iter().filter(|d| d.kind == STREAM_OFFSET) {
        let restored = parse_offset_key(&d.key).and_then(|(id, name)| {
            let offset = decode_offset(&d.value)?;
            let (queue, _) = queues
                .iter()
                .find(|(q, _)| q.persistence().is_some_and(|p| p.id.0 == id))?;
            queue.stream()?.restore_offset(name, offset);
            Some(())
        });
        if restored.is_none() {
            if let Err(e) = store.delete_definition(STREAM_OFFSET, &d.key) {
                warn!(key = %d.key, error = %e, "stale stream offset not deleted");
            }
        }
    }
}

/// Holds the stored messages of delayed exchanges again (those already due are routed
/// at once). Called after the queues' messages are loaded, so a routed one lands after
/// them.
fn recover_delayed(
    broker: &Broker,
    delayed: Vec<(DelayedKey, DelayedRecord)>,
) -> Result<(), RecoveryError> {
    let count = delayed.len();
    for (key, d) in delayed {
        let vhost = match broker.vhost(&d.vhost) {
            Some(v) => v,
            None if !broker.is_initialized() => broker.add_vhost(&d.vhost),
            None => {
                warn!(vhost = %d.vhost, exchange = %d.exchange, "delayed message of a deleted vhost dropped");
                continue;
            }
        };
        let message = message_from_stored(d.message).map_err(|e| RecoveryError::Message {
            id: key.seq,
            detail: e.to_string(),
        })?;
        broker.delayed().restore(
            Arc::downgrade(&vhost),
            Arc::from(d.exchange.as_str()),
            Arc::new(message),
            key,
        );
    }
    if count > 0 {
        info!(delayed = count, "delayed messages recovered");
    }
    Ok(())
}

/// Loads each stored queue's messages in their original order, those delivered before
/// the stop marked redelivered. FIFO queues read only their entries (the bodies stay on
/// disk until delivery), so this takes about a second per million messages.
fn recover_messages(queues: &[(Arc<Queue>, Option<EntryStats>)]) -> Result<(), RecoveryError> {
    let started = std::time::Instant::now();
    let mut total = 0usize;
    for (queue, counted) in queues {
        total += queue.recover_stored(*counted).map_err(|e| match e {
            RecoverError::Store(e) => RecoveryError::Read(e),
            RecoverError::Message { id, detail } => RecoveryError::Message { id, detail },
        })?;
    }
    for (queue, _) in queues {
        queue.resume();
    }
    info!(
        messages = total,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "persistent messages recovered"
    );
    Ok(())
}

/// A stored argument table, decoded.
fn arguments(bytes: &[u8], owner: &str) -> Result<warren_protocol::FieldTable, RecoveryError> {
    decode_table(bytes).map_err(|e| RecoveryError::Arguments {
        owner: owner.to_owned(),
        detail: e.to_string(),
    })
}

//! Warren's durability layer: durable topology, persistent messages (stored once,
//! reference-counted across queues), queue positions with delivery state, and delayed
//! messages, on sled 0.34 behind the small [`Store`] trait, with group commit
//! ([`Store::sync`]).
//!
//! See the crate README for the design, the guarantees and measured figures.
#![deny(missing_docs, unsafe_code)]

mod codec;
mod commit;
pub mod error;
#[cfg(feature = "faults")]
pub mod faults;
mod keys;
pub mod lock;
pub mod records;
mod refcount;
pub mod segment;
mod sled_store;
pub mod spill;
pub mod store;
pub mod stream;

pub use commit::{SyncCompleter, SyncTicket};
pub use error::{StoreError, StoreResult};
pub use records::{
    BindingRecord, DefinitionRecord, DelayedKey, DelayedRecord, EntryRecord, EntryStats,
    ExchangeRecord, MessageRecord, QueueId, QueueRecord, Recovered, RecoveredQueue, Repairs,
    StoredEntry,
};
pub use segment::{
    Position, SegmentConfig, SegmentLog, SegmentRecovery, SegmentScan, TailTruncation,
};
pub use sled_store::{
    Compaction, CompactionConfig, SegmentCompaction, SledStore, StoreConfig, StoreStats,
    FORMAT_VERSION,
};
pub use spill::SpillLog;
pub use store::{EntryIter, Store};

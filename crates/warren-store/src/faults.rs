//! A store that injects faults, for tests (cargo feature `faults`): it wraps a real
//! [`Store`] and, on demand, fails writes, fails syncs, pretends the disk is full or
//! makes syncs slow. Every failure path of the broker (declare, bind, persistent
//! publish with confirms, ack, `tx.commit`) can be driven with it as a normal user,
//! where a real full disk needs root to mount a small tmpfs.
//!
//! ```
//! # use std::sync::Arc;
//! # use warren_store::{faults::FaultyStore, SledStore, StoreConfig, Store};
//! # let dir = tempfile::tempdir().unwrap();
//! let real: Arc<dyn Store> = Arc::new(SledStore::open(&StoreConfig::new(dir.path())).unwrap());
//! let store = FaultyStore::wrap(real);
//! store.faults().set_disk_full(true);
//! assert!(store.next_message_id().unwrap_err().is_disk_full());
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::commit::SyncTicket;
use crate::error::{StoreError, StoreResult};
use crate::records::{
    BindingRecord, DefinitionRecord, DelayedKey, DelayedRecord, EntryRecord, ExchangeRecord,
    MessageRecord, QueueId, QueueRecord, Recovered,
};
use crate::store::{EntryIter, Store};

/// The switches of a [`FaultyStore`], shared so a test can flip them while the broker
/// runs. All start off.
#[derive(Debug, Default)]
pub struct Faults {
    fail_writes: AtomicBool,
    disk_full: AtomicBool,
    fail_syncs: AtomicBool,
    sync_delay_ms: AtomicU64,
    writes_refused: AtomicU64,
    syncs_failed: AtomicU64,
}

impl Faults {
    /// Every write fails with an I/O error (not a full disk).
    pub fn set_fail_writes(&self, on: bool) {
        self.fail_writes.store(on, Ordering::SeqCst);
    }

    /// Every write fails as on a full disk ([`StoreError::is_disk_full`] is true).
    pub fn set_disk_full(&self, on: bool) {
        self.disk_full.store(on, Ordering::SeqCst);
    }

    /// Every sync ticket taken from now on resolves with an error.
    pub fn set_fail_syncs(&self, on: bool) {
        self.fail_syncs.store(on, Ordering::SeqCst);
    }

    /// Every sync ticket taken from now on resolves `delay` after the real sync did
    /// (zero: no delay).
    pub fn set_sync_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.sync_delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Turns every fault off.
    pub fn clear(&self) {
        self.set_fail_writes(false);
        self.set_disk_full(false);
        self.set_fail_syncs(false);
        self.set_sync_delay(Duration::ZERO);
    }

    /// How many writes were refused so far.
    pub fn writes_refused(&self) -> u64 {
        self.writes_refused.load(Ordering::SeqCst)
    }

    /// How many sync tickets were failed so far.
    pub fn syncs_failed(&self) -> u64 {
        self.syncs_failed.load(Ordering::SeqCst)
    }

    /// The injected error for a write, if writes are failing now.
    fn write_fault(&self) -> StoreResult<()> {
        let kind = if self.disk_full.load(Ordering::SeqCst) {
            std::io::ErrorKind::StorageFull
        } else if self.fail_writes.load(Ordering::SeqCst) {
            std::io::ErrorKind::Other
        } else {
            return Ok(());
        };
        self.writes_refused.fetch_add(1, Ordering::SeqCst);
        let what = if kind == std::io::ErrorKind::StorageFull {
            "No space left on device (injected)"
        } else {
            "injected write error"
        };
        Err(StoreError::Io {
            path: "faulty-store".into(),
            source: std::io::Error::new(kind, what),
        })
    }
}

/// A [`Store`] that forwards to a real one unless its [`Faults`] say otherwise.
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    faults: Arc<Faults>,
}

impl FaultyStore {
    /// Wraps `inner` with every fault off.
    pub fn wrap(inner: Arc<dyn Store>) -> Arc<FaultyStore> {
        Arc::new(FaultyStore {
            inner,
            faults: Arc::new(Faults::default()),
        })
    }

    /// The switches.
    pub fn faults(&self) -> &Arc<Faults> {
        &self.faults
    }
}

impl Store for FaultyStore {
    fn put_exchange(&self, exchange: &ExchangeRecord) -> StoreResult<()> {
        self.faults.write_fault()?;
        self.inner.put_exchange(exchange)
    }

    fn delete_exchange(&self, vhost: &str, name: &str) -> StoreResult<()> {
        self.faults.write_fault()?;
        self.inner.delete_exchange(vhost, name)
    }

    fn put_queue(&self, queue: &QueueRecord) -> StoreResult<QueueId> {
        self.faults.write_fault()?;
        self.inner.put_queue(queue)
    }

    fn delete_queue(&self, queue: QueueId) -> StoreResult<u64> {
        self.faults.write_fault()?;
        self.inner.delete_queue(queue)
    }

    fn put_binding(&self, binding: &BindingRecord) -> StoreResult<()> {
        self.faults.write_fault()?;
        self.inner.put_binding(binding)
    }

    fn delete_binding(&self, binding: &BindingRecord) -> StoreResult<()> {
        self.faults.write_fault()?;
        self.inner.delete_binding(binding)
    }

    fn next_message_id(&self) -> StoreResult<u64> {
        self.faults.write_fault()?;
        self.inner.next_message_id()
    }

    fn put_message(&self, id: u64, message: &MessageRecord) -> StoreResult<()> {
        self.faults.write_fault()?;
        self.inner.put_message(id, message)
    }

    fn discard_message(&self, id: u64) -> StoreResult<()> {
        self.faults.write_fault()?;
        self.inner.discard_message(id)
    }

    fn enqueue(&self, queue: QueueId, entry: &EntryRecord) -> StoreResult<()> {
        self.faults.write_fault()?;
        self.inner.enqueue(queue, entry)
    }

    fn mark_delivered(&self, queue: QueueId, seqs: &[u64]) -> StoreResult<()> {
        self.faults.write_fault()?;
        self.inner.mark_delivered(queue, seqs)
    }

    fn remove(&self, queue: QueueId, seqs: &[u64]) -> StoreResult<u64> {
        self.faults.write_fault()?;
        self.inner.remove(queue, seqs)
    }

    fn remove_moved(&self, queue: QueueId, seqs: &[u64]) -> StoreResult<u64> {
        self.faults.write_fault()?;
        self.inner.remove_moved(queue, seqs)
    }

    fn purge(&self, queue: QueueId) -> StoreResult<u64> {
        self.faults.write_fault()?;
        self.inner.purge(queue)
    }

    fn get_message(&self, id: u64) -> StoreResult<Option<MessageRecord>> {
        self.inner.get_message(id)
    }

    fn put_delayed(&self, key: DelayedKey, record: &DelayedRecord) -> StoreResult<()> {
        self.faults.write_fault()?;
        self.inner.put_delayed(key, record)
    }

    fn remove_delayed(&self, key: DelayedKey) -> StoreResult<bool> {
        self.faults.write_fault()?;
        self.inner.remove_delayed(key)
    }

    fn put_definition(&self, record: &DefinitionRecord) -> StoreResult<()> {
        self.faults.write_fault()?;
        self.inner.put_definition(record)
    }

    fn delete_definition(&self, kind: &str, key: &str) -> StoreResult<()> {
        self.faults.write_fault()?;
        self.inner.delete_definition(kind, key)
    }

    fn recover(&self) -> StoreResult<Recovered> {
        self.inner.recover()
    }

    fn entries(&self, queue: QueueId) -> StoreResult<EntryIter<'_>> {
        self.inner.entries(queue)
    }

    fn entries_from(&self, queue: QueueId, from_seq: u64) -> StoreResult<EntryIter<'_>> {
        self.inner.entries_from(queue, from_seq)
    }

    fn open_stream(
        &self,
        queue: QueueId,
        segment_bytes: u64,
    ) -> StoreResult<Arc<crate::stream::StreamLog>> {
        self.inner.open_stream(queue, segment_bytes)
    }

    fn delete_stream(&self, queue: QueueId) -> StoreResult<()> {
        self.faults.write_fault()?;
        self.inner.delete_stream(queue)
    }

    fn sync(&self) -> SyncTicket {
        let real = self.inner.sync();
        let fail = self.faults.fail_syncs.load(Ordering::SeqCst);
        let delay = Duration::from_millis(self.faults.sync_delay_ms.load(Ordering::SeqCst));
        if !fail && delay.is_zero() {
            return real;
        }
        if fail {
            self.faults.syncs_failed.fetch_add(1, Ordering::SeqCst);
        }
        let (ticket, done) = SyncTicket::manual();
        // A thread per slow or failing sync: test support only, never on a hot path.
        let spawned = std::thread::Builder::new()
            .name("faulty-store-sync".into())
            .spawn(move || {
                std::thread::sleep(delay);
                let result = real.wait();
                done.complete(if fail {
                    Err(StoreError::Failed {
                        path: "faulty-store".into(),
                        reason: "injected sync failure".into(),
                    })
                } else {
                    result
                });
            });
        match spawned {
            Ok(_) => ticket,
            Err(source) => SyncTicket::ready(Err(StoreError::Io {
                path: "faulty-store".into(),
                source,
            })),
        }
    }
}

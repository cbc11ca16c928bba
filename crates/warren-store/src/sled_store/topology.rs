//! Exchanges, queues, bindings, and reading them back at start-up.

use bytes::Bytes;

use super::SledStore;
use crate::codec;
use crate::error::{StoreError, StoreResult};
use crate::keys;
use crate::records::{
    BindingRecord, ExchangeRecord, QueueId, QueueRecord, Recovered, RecoveredQueue,
};

impl SledStore {
    pub(super) fn put_exchange_record(&self, x: &ExchangeRecord) -> StoreResult<()> {
        self.trees
            .exchanges
            .insert(keys::named(&x.vhost, &x.name), codec::encode_exchange(x))
            .map_err(|e| self.sled_err(e))?;
        Ok(())
    }

    pub(super) fn delete_exchange_record(&self, vhost: &str, name: &str) -> StoreResult<()> {
        self.trees
            .exchanges
            .remove(keys::named(vhost, name))
            .map_err(|e| self.sled_err(e))?;
        self.delete_bindings_where(vhost, |b| {
            b.source == name || (b.destination_is_exchange && b.destination == name)
        })
    }

    pub(super) fn put_queue_record(&self, q: &QueueRecord) -> StoreResult<QueueId> {
        let key = keys::named(&q.vhost, &q.name);
        let mut live = self.live.write();
        let existing = self
            .trees
            .queues
            .get(&key)
            .map_err(|e| self.sled_err(e))?
            .map(|v| codec::decode_queue(&v).map_err(|e| self.corrupt("queue record", e)))
            .transpose()?;
        let id = match existing {
            Some((id, _)) => id,
            None => self.db.generate_id().map_err(|e| self.sled_err(e))?,
        };
        self.trees
            .queues
            .insert(key.as_slice(), codec::encode_queue(id, q))
            .map_err(|e| self.sled_err(e))?;
        live.insert(id, key);
        Ok(QueueId(id))
    }

    pub(super) fn delete_queue_record(&self, queue: QueueId) -> StoreResult<u64> {
        let key = self
            .live
            .write()
            .remove(&queue.0)
            .ok_or(StoreError::UnknownQueue(queue.0))?;
        let record = self
            .trees
            .queues
            .remove(key.as_slice())
            .map_err(|e| self.sled_err(e))?;
        if let Some(record) = record {
            let (_, q) =
                codec::decode_queue(&record).map_err(|e| self.corrupt("queue record", e))?;
            self.delete_bindings_where(&q.vhost, |b| {
                !b.destination_is_exchange && b.destination == q.name
            })?;
        }
        // Recovery already ignores entries of a queue without a record; this frees
        // them (and their messages) now.
        self.purge_any(queue.0)
    }

    pub(super) fn put_binding_record(&self, b: &BindingRecord) -> StoreResult<()> {
        self.trees
            .bindings
            .insert(codec::encode_binding(b), &[])
            .map_err(|e| self.sled_err(e))?;
        Ok(())
    }

    pub(super) fn delete_binding_record(&self, b: &BindingRecord) -> StoreResult<()> {
        self.trees
            .bindings
            .remove(codec::encode_binding(b))
            .map_err(|e| self.sled_err(e))?;
        Ok(())
    }

    /// Deletes the bindings of `vhost` that `doomed` picks.
    fn delete_bindings_where(
        &self,
        vhost: &str,
        doomed: impl Fn(&BindingRecord) -> bool,
    ) -> StoreResult<()> {
        let prefix = keys::named(vhost, "");
        // The vhost's bindings start with its length-prefixed name (the name part of
        // `named(vhost, "")` is a single zero length byte).
        let prefix = &prefix[..prefix.len() - 1];
        for item in self.trees.bindings.scan_prefix(prefix) {
            let (key, _) = item.map_err(|e| self.sled_err(e))?;
            let b = codec::decode_binding(&key).map_err(|e| self.corrupt("binding", e))?;
            if b.vhost == vhost && doomed(&b) {
                self.trees
                    .bindings
                    .remove(&key)
                    .map_err(|e| self.sled_err(e))?;
            }
        }
        Ok(())
    }

    pub(super) fn recover_topology(&self) -> StoreResult<Recovered> {
        let mut out = Recovered {
            repairs: self.repairs,
            ..Recovered::default()
        };
        for item in self.trees.exchanges.iter() {
            let (_, v) = item.map_err(|e| self.sled_err(e))?;
            out.exchanges
                .push(codec::decode_exchange(&v).map_err(|e| self.corrupt("exchange", e))?);
        }
        for item in self.trees.queues.iter() {
            let (_, v) = item.map_err(|e| self.sled_err(e))?;
            let (id, record) =
                codec::decode_queue(&v).map_err(|e| self.corrupt("queue record", e))?;
            out.queues.push(RecoveredQueue {
                id: QueueId(id),
                record,
            });
        }
        for item in self.trees.bindings.iter() {
            let (k, _) = item.map_err(|e| self.sled_err(e))?;
            out.bindings
                .push(codec::decode_binding(&k).map_err(|e| self.corrupt("binding", e))?);
        }
        for item in self.trees.delayed.iter() {
            let (k, v) = item.map_err(|e| self.sled_err(e))?;
            let key = keys::split_delayed(&k)
                .ok_or_else(|| self.corrupt("delayed key", format!("{} bytes", k.len())))?;
            let record = codec::decode_delayed(&Bytes::from_owner(v))
                .map_err(|e| self.corrupt("delayed message", e))?;
            out.delayed.push((key, record));
        }
        Ok(out)
    }
}

//! Exchanges, queues, bindings, and reading them back at start-up.

use bytes::Bytes;

use super::engine::Engine;
use super::SledStore;
use crate::codec;
use crate::error::{StoreError, StoreResult};
use crate::keys;
use crate::records::{
    BindingRecord, DefinitionRecord, ExchangeRecord, QueueId, QueueRecord, Recovered,
    RecoveredQueue,
};

impl SledStore {
    pub(super) fn put_exchange_record(&self, x: &ExchangeRecord) -> StoreResult<()> {
        let e = self.shared.engine.read();
        e.trees
            .exchanges
            .insert(keys::named(&x.vhost, &x.name), codec::encode_exchange(x))
            .map_err(|err| e.sled_err(err))?;
        Ok(())
    }

    pub(super) fn delete_exchange_record(&self, vhost: &str, name: &str) -> StoreResult<()> {
        let e = self.shared.engine.read();
        e.trees
            .exchanges
            .remove(keys::named(vhost, name))
            .map_err(|err| e.sled_err(err))?;
        delete_bindings_where(&e, vhost, |b| {
            b.source == name || (b.destination_is_exchange && b.destination == name)
        })
    }

    pub(super) fn put_queue_record(&self, q: &QueueRecord) -> StoreResult<QueueId> {
        let key = keys::named(&q.vhost, &q.name);
        let mut live = self.live.write();
        let e = self.shared.engine.read();
        let existing = e
            .trees
            .queues
            .get(&key)
            .map_err(|err| e.sled_err(err))?
            .map(|v| codec::decode_queue(&v).map_err(|err| e.corrupt("queue record", err)))
            .transpose()?;
        let id = match existing {
            Some((id, _)) => id,
            None => e.next_id()?,
        };
        e.trees
            .queues
            .insert(key.as_slice(), codec::encode_queue(id, q))
            .map_err(|err| e.sled_err(err))?;
        live.insert(id, key);
        Ok(QueueId(id))
    }

    pub(super) fn delete_queue_record(&self, queue: QueueId) -> StoreResult<u64> {
        let key = self
            .live
            .write()
            .remove(&queue.0)
            .ok_or(StoreError::UnknownQueue(queue.0))?;
        {
            let e = self.shared.engine.read();
            let record = e
                .trees
                .queues
                .remove(key.as_slice())
                .map_err(|err| e.sled_err(err))?;
            if let Some(record) = record {
                let (_, q) =
                    codec::decode_queue(&record).map_err(|err| e.corrupt("queue record", err))?;
                delete_bindings_where(&e, &q.vhost, |b| {
                    !b.destination_is_exchange && b.destination == q.name
                })?;
            }
        }
        // Recovery already ignores entries of a queue without a record; this frees
        // them (and their messages) now.
        self.purge_any(queue.0)
    }

    pub(super) fn put_binding_record(&self, b: &BindingRecord) -> StoreResult<()> {
        let e = self.shared.engine.read();
        e.trees
            .bindings
            .insert(codec::encode_binding(b), &[])
            .map_err(|err| e.sled_err(err))?;
        Ok(())
    }

    pub(super) fn delete_binding_record(&self, b: &BindingRecord) -> StoreResult<()> {
        let e = self.shared.engine.read();
        e.trees
            .bindings
            .remove(codec::encode_binding(b))
            .map_err(|err| e.sled_err(err))?;
        Ok(())
    }

    pub(super) fn recover_topology(&self) -> StoreResult<Recovered> {
        let mut out = Recovered {
            repairs: self.repairs,
            ..Recovered::default()
        };
        let mut stats = self.opened_stats.lock().take();
        let e = self.shared.engine.read();
        for item in e.trees.exchanges.iter() {
            let (_, v) = item.map_err(|err| e.sled_err(err))?;
            out.exchanges
                .push(codec::decode_exchange(&v).map_err(|err| e.corrupt("exchange", err))?);
        }
        for item in e.trees.queues.iter() {
            let (_, v) = item.map_err(|err| e.sled_err(err))?;
            let (id, record) =
                codec::decode_queue(&v).map_err(|err| e.corrupt("queue record", err))?;
            out.queues.push(RecoveredQueue {
                id: QueueId(id),
                record,
                entries: stats.as_mut().map(|s| s.remove(&id).unwrap_or_default()),
            });
        }
        for item in e.trees.bindings.iter() {
            let (k, _) = item.map_err(|err| e.sled_err(err))?;
            out.bindings
                .push(codec::decode_binding(&k).map_err(|err| e.corrupt("binding", err))?);
        }
        for item in e.trees.delayed.iter() {
            let (k, v) = item.map_err(|err| e.sled_err(err))?;
            let key = keys::split_delayed(&k)
                .ok_or_else(|| e.corrupt("delayed key", format!("{} bytes", k.len())))?;
            let record = codec::decode_delayed(&Bytes::from_owner(v))
                .map_err(|err| e.corrupt("delayed message", err))?;
            out.delayed.push((key, record));
        }
        for item in e.trees.definitions.iter() {
            let (k, v) = item.map_err(|err| e.sled_err(err))?;
            let (kind, key) = keys::split_named(&k)
                .ok_or_else(|| e.corrupt("definition key", format!("{} bytes", k.len())))?;
            out.definitions.push(DefinitionRecord {
                kind,
                key,
                value: Bytes::copy_from_slice(&v),
            });
        }
        Ok(out)
    }

    pub(super) fn put_definition_record(&self, d: &DefinitionRecord) -> StoreResult<()> {
        let e = self.shared.engine.read();
        e.trees
            .definitions
            .insert(keys::named(&d.kind, &d.key), d.value.as_ref())
            .map_err(|err| e.sled_err(err))?;
        Ok(())
    }

    pub(super) fn delete_definition_record(&self, kind: &str, key: &str) -> StoreResult<()> {
        let e = self.shared.engine.read();
        e.trees
            .definitions
            .remove(keys::named(kind, key))
            .map_err(|err| e.sled_err(err))?;
        Ok(())
    }
}

/// Deletes the bindings of `vhost` that `doomed` picks.
fn delete_bindings_where(
    e: &Engine,
    vhost: &str,
    doomed: impl Fn(&BindingRecord) -> bool,
) -> StoreResult<()> {
    let prefix = keys::named(vhost, "");
    // The vhost's bindings start with its length-prefixed name (the name part of
    // `named(vhost, "")` is a single zero length byte).
    let prefix = &prefix[..prefix.len() - 1];
    for item in e.trees.bindings.scan_prefix(prefix) {
        let (key, _) = item.map_err(|err| e.sled_err(err))?;
        let b = codec::decode_binding(&key).map_err(|err| e.corrupt("binding", err))?;
        if b.vhost == vhost && doomed(&b) {
            e.trees
                .bindings
                .remove(&key)
                .map_err(|err| e.sled_err(err))?;
        }
    }
    Ok(())
}

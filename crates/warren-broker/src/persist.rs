//! The link between durable queues and the store (`warren-store`): which stored queue a
//! queue is, and the encoding of what the broker hands the store. A queue without a
//! link (transient queues, brokers without a store, unit tests) never touches disk.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use warren_protocol::wire::{put_table, Reader};
use warren_protocol::{BasicProperties, FieldTable, ProtocolError};
pub use warren_store::{
    DelayedKey, DelayedRecord, EntryRecord, EntryStats, MessageRecord, QueueId, Store, StoreError,
    StoreResult,
};

use crate::message::Message;

/// A durable queue's place in the store.
#[derive(Clone)]
pub struct QueueStore {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The queue's id in it.
    pub id: QueueId,
}

impl std::fmt::Debug for QueueStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueStore").field("id", &self.id).finish()
    }
}

/// What the store keeps of a message.
pub fn message_record(m: &Message) -> MessageRecord {
    MessageRecord {
        exchange: m.exchange.to_string(),
        routing_key: m.routing_key.to_string(),
        raw_properties: m.raw_properties.clone(),
        body: m.body.clone(),
        published_at_ms: m.published_at_ms,
        expiration_ms: m.expiration_ms,
    }
}

/// The message's id in `store`, storing it first if no queue has yet.
pub fn stored_message_id(store: &dyn Store, m: &Message) -> StoreResult<u64> {
    if let Some(id) = m.store_id.get() {
        return Ok(*id);
    }
    let id = store.next_message_id()?;
    store.put_message(id, &message_record(m))?;
    if m.store_id.set(id).is_err() {
        // Another queue stored it meanwhile: keep theirs, drop ours (no entry uses it).
        store.discard_message(id)?;
    }
    Ok(m.store_id.get().copied().unwrap_or(id))
}

/// A message read back from the store, with its original publish time and its id.
pub fn message_from_record(id: u64, r: MessageRecord) -> Result<Message, ProtocolError> {
    let m = message_from_stored(r)?;
    let _ = m.store_id.set(id);
    Ok(m)
}

/// A message read back from the store (not linked to a stored message id: e.g. one a
/// delayed exchange held), with its original publish time.
pub fn message_from_stored(r: MessageRecord) -> Result<Message, ProtocolError> {
    let props = BasicProperties::decode(&mut Reader::new(&r.raw_properties, "stored properties"))?;
    let mut m = Message::new(
        Arc::from(r.exchange.as_str()),
        &r.routing_key,
        &props,
        r.raw_properties,
        r.body,
    );
    m.published_at_ms = r.published_at_ms;
    m.expiration_ms = r.expiration_ms;
    Ok(m)
}

/// A field table in its wire form, as the store keeps argument tables.
pub fn encode_table(table: &FieldTable) -> Bytes {
    let mut buf = BytesMut::new();
    put_table(&mut buf, table);
    buf.freeze()
}

/// A field table back from its stored wire form.
pub fn decode_table(bytes: &[u8]) -> Result<FieldTable, ProtocolError> {
    Reader::new(bytes, "stored arguments").table()
}

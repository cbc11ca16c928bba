//! The records the store keeps. Names and routing keys are AMQP short strings; argument
//! tables and message properties are kept as the opaque bytes the broker encoded them to
//! (the store never interprets them).

use bytes::Bytes;

/// A stored durable queue's compact id, assigned by the store at `put_queue` and stable
/// across restarts. Queue entries are keyed by it (not by name), so they stay small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId(pub u64);

/// A durable exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeRecord {
    /// Virtual host.
    pub vhost: String,
    /// Exchange name.
    pub name: String,
    /// Exchange type (`direct`, `topic`, `x-delayed-message`, ...).
    pub kind: String,
    /// Always true for stored exchanges; kept so the record round-trips the declaration.
    pub durable: bool,
    /// Deleted when its last binding goes.
    pub auto_delete: bool,
    /// Cannot be published to directly.
    pub internal: bool,
    /// The `arguments` field table, encoded.
    pub arguments: Bytes,
}

/// A durable queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRecord {
    /// Virtual host.
    pub vhost: String,
    /// Queue name.
    pub name: String,
    /// Deleted when its last consumer goes.
    pub auto_delete: bool,
    /// The `arguments` field table, encoded (TTL, limits, dead-lettering, ...).
    pub arguments: Bytes,
}

/// A binding between durable things.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingRecord {
    /// Virtual host.
    pub vhost: String,
    /// Source exchange.
    pub source: String,
    /// Destination queue or exchange.
    pub destination: String,
    /// Whether the destination is an exchange (exchange-to-exchange binding).
    pub destination_is_exchange: bool,
    /// Binding key.
    pub routing_key: String,
    /// The binding's `arguments` field table, encoded (part of its identity).
    pub arguments: Bytes,
}

/// A persistent message, stored once however many queues hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// Exchange it was published to.
    pub exchange: String,
    /// Routing key it was published with.
    pub routing_key: String,
    /// Encoded property flags and properties, as published.
    pub raw_properties: Bytes,
    /// Body.
    pub body: Bytes,
    /// Publish time, milliseconds since the Unix epoch (TTLs count from it).
    pub published_at_ms: u64,
    /// The parsed `expiration` property, in milliseconds.
    pub expiration_ms: Option<u64>,
}

/// A message's place in one queue, as `enqueue` writes it. It carries what a queue's
/// in-memory index needs (order, expiry, priority, size), so recovery never reads bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRecord {
    /// Position in the queue (recovery returns entries in this order).
    pub seq: u64,
    /// The stored message (from `next_message_id`, written by `put_message`).
    pub message_id: u64,
    /// When it expires in this queue, milliseconds since the Unix epoch.
    pub expires_at_ms: Option<u64>,
    /// The message's priority (0 if none).
    pub priority: u8,
    /// Body size in bytes (for `x-max-length-bytes`).
    pub body_len: u32,
}

/// A queue entry as recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredEntry {
    /// What was enqueued.
    pub record: EntryRecord,
    /// Whether it was delivered (and not acked) before the stop: redeliver with
    /// `redelivered = true`.
    pub delivered: bool,
}

/// Where a delayed message waits: due time first, so recovery lists them in due order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DelayedKey {
    /// When it is due, milliseconds since the Unix epoch.
    pub due_ms: u64,
    /// Unique among stored delayed messages (use `Store::next_message_id`).
    pub seq: u64,
}

/// A message held by an `x-delayed-message` exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelayedRecord {
    /// Virtual host of the exchange.
    pub vhost: String,
    /// The delayed exchange it was published to (routed from there when due).
    pub exchange: String,
    /// The message.
    pub message: MessageRecord,
}

/// A stored queue as recovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredQueue {
    /// Its id (for `enqueue`, `entries`, ...).
    pub id: QueueId,
    /// Its declaration.
    pub record: QueueRecord,
    /// Its entries as counted when the store was opened; given by the first
    /// [`crate::Store::recover`] after opening (None afterwards: stream
    /// [`crate::Store::entries`] instead).
    pub entries: Option<EntryStats>,
}

/// A queue's stored entries in summary: what a queue needs to keep a backlog on disk
/// without reading it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EntryStats {
    /// How many entries.
    pub count: u64,
    /// Their body bytes.
    pub body_bytes: u64,
    /// The lowest seq.
    pub first_seq: u64,
    /// The highest seq.
    pub last_seq: u64,
}

impl EntryStats {
    /// Counts one more entry (entries come in seq order).
    pub fn add(&mut self, seq: u64, body_len: u32) {
        if self.count == 0 {
            self.first_seq = seq;
        }
        self.count += 1;
        self.body_bytes += u64::from(body_len);
        self.last_seq = seq;
    }

    /// Uncounts an entry removed as damaged (its seq may stay within the range).
    pub fn remove(&mut self, body_len: u32) {
        self.count = self.count.saturating_sub(1);
        self.body_bytes = self.body_bytes.saturating_sub(u64::from(body_len));
    }
}

/// An access or configuration definition (a vhost, user, permission, policy, limit):
/// the broker names the kind and encodes the value; the store keeps both opaque.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionRecord {
    /// What it is (`vhost`, `user`, `permission`, ...), chosen by the broker.
    pub kind: String,
    /// Its identity within the kind (e.g. user and vhost for a permission).
    pub key: String,
    /// Its encoded value.
    pub value: Bytes,
}

/// What `recover` returns: everything but the queue entries, which stream per queue
/// from `Store::entries` so a broker can accept connections as soon as this is back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Durable exchanges.
    pub exchanges: Vec<ExchangeRecord>,
    /// Durable queues.
    pub queues: Vec<RecoveredQueue>,
    /// Bindings between durable things.
    pub bindings: Vec<BindingRecord>,
    /// Delayed messages, in due order.
    pub delayed: Vec<(DelayedKey, DelayedRecord)>,
    /// Vhosts, users, permissions, policies and limits, by kind then key.
    pub definitions: Vec<DefinitionRecord>,
    /// What the open-time consistency pass repaired.
    pub repairs: Repairs,
}

/// How long opening took, by step (for the broker's start-up log and the benchmark).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenTimings {
    /// sled's own recovery (reading its snapshot and log).
    pub engine: std::time::Duration,
    /// The pass over the entries that rebuilds reference counts.
    pub entries_pass: std::time::Duration,
    /// The pass over the `messages` tree (positions, no bodies) that finds orphans.
    pub messages_pass: std::time::Duration,
}

/// Leftovers of an interrupted operation that opening the store cleaned up. None of
/// them is data that was ever confirmed: they come from a crash between the steps of
/// one operation (e.g. after the last `remove` of a message but before its body was
/// deleted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Repairs {
    /// Messages no queue referenced (deleted).
    pub orphan_messages: u64,
    /// Entries of queues that were deleted (deleted).
    pub orphan_entries: u64,
    /// Entries whose message was missing (deleted; logged as errors).
    pub dangling_entries: u64,
    /// Entries whose message body lay past the end of the recovered segment log: the
    /// body never reached the disk, so the write was never confirmed (deleted).
    pub lost_bodies: u64,
}

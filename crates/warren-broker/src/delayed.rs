//! The delayed-message exchange (`x-delayed-message`): messages carrying an `x-delay`
//! header (milliseconds) are held until they are due, then routed by the exchange's
//! `x-delayed-type`.
//!
//! Held messages sit in one map ordered by due time, shared by every delayed exchange of
//! the broker, with a single timer armed for the earliest. Any delay that fits a signed
//! 64-bit millisecond count is accepted; zero or negative delays route at once. The
//! index costs a few dozen bytes per message on top of the message itself.
//!
//! A held message reaches its virtual host through the narrow [`RouteBack`] handle.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::Mutex;
use warren_protocol::{FieldTable, FieldValue};

use crate::clock::now_ms;
use crate::message::Message;
use crate::persist::{message_record, DelayedKey, DelayedRecord, Store, StoreResult};
use crate::route_back::RouteBack;
use crate::routing::MessageFields;
use crate::scheduler::{Scheduler, Timed};

/// Exchange type name of delayed-message exchanges.
pub const DELAYED_EXCHANGE_TYPE: &str = "x-delayed-message";
/// Exchange argument naming the routing type used once a message is due.
pub const DELAYED_TYPE_ARG: &str = "x-delayed-type";
/// Message header holding the delay in milliseconds.
pub const DELAY_HEADER: &str = "x-delay";

/// The delay a message asks for, if positive.
pub fn requested_delay_ms(headers: Option<&FieldTable>) -> Option<u64> {
    let delay = match headers?.get(DELAY_HEADER)? {
        FieldValue::LongString(b) => std::str::from_utf8(b).ok()?.trim().parse::<i64>().ok()?,
        v => v.as_i64()?,
    };
    (delay > 0).then_some(delay as u64)
}

#[derive(Debug)]
struct Held {
    vhost: Weak<dyn RouteBack>,
    exchange: Arc<str>,
    headers: Option<FieldTable>,
    message: Arc<Message>,
    /// Where the store keeps it (persistent messages of durable exchanges).
    stored: Option<DelayedKey>,
}

/// Messages waiting for their delay to pass.
pub struct DelayedMessages {
    held: Mutex<DelayedState>,
    scheduler: Arc<Scheduler>,
    me: Weak<DelayedMessages>,
    /// Where persistent messages held for durable exchanges are kept.
    store: OnceLock<Arc<dyn Store>>,
}

#[derive(Default)]
struct DelayedState {
    by_due: BTreeMap<(u64, u64), Held>,
    next_seq: u64,
    timer_due_ms: Option<u64>,
}

impl std::fmt::Debug for DelayedMessages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DelayedMessages")
            .field("held", &self.len())
            .finish()
    }
}

impl DelayedMessages {
    /// An empty store whose timers run on `scheduler`.
    pub fn new(scheduler: Arc<Scheduler>) -> Arc<Self> {
        Arc::new_cyclic(|me| DelayedMessages {
            held: Mutex::new(DelayedState::default()),
            scheduler,
            me: me.clone(),
            store: OnceLock::new(),
        })
    }

    /// Keeps the messages held with `durable = true` in `store` from now on.
    pub fn set_store(&self, store: Arc<dyn Store>) {
        let _ = self.store.set(store);
    }

    /// Holds `message` like [`DelayedMessages::hold`]; if `durable` (a persistent
    /// message published to a durable exchange) and there is a store, it is stored too,
    /// so it survives a restart. Returns whether it was stored (the caller's confirm then
    /// waits for a sync).
    pub fn hold_durable(
        &self,
        vhost: Weak<dyn RouteBack>,
        exchange: Arc<str>,
        headers: Option<FieldTable>,
        message: Arc<Message>,
        delay_ms: u64,
        durable: bool,
    ) -> StoreResult<bool> {
        let due = now_ms().saturating_add(delay_ms);
        let stored = match (durable, self.store.get()) {
            (true, Some(store)) => {
                let key = DelayedKey {
                    due_ms: due,
                    seq: store.next_message_id()?,
                };
                let vhost_name = vhost
                    .upgrade()
                    .map(|v| v.vhost_name().to_owned())
                    .unwrap_or_default();
                store.put_delayed(
                    key,
                    &DelayedRecord {
                        vhost: vhost_name,
                        exchange: exchange.to_string(),
                        message: message_record(&message),
                    },
                )?;
                Some(key)
            }
            _ => None,
        };
        self.insert(due, vhost, exchange, headers, message, stored);
        Ok(stored.is_some())
    }

    /// Holds a message recovered from the store until `key.due_ms` (at once if past).
    /// `vhost` is any [`RouteBack`] (in practice the virtual host, `Arc::downgrade(&vhost)`).
    pub fn restore<R: RouteBack + 'static>(
        &self,
        vhost: Weak<R>,
        exchange: Arc<str>,
        message: Arc<Message>,
        key: DelayedKey,
    ) {
        let vhost: Weak<dyn RouteBack> = vhost;
        let headers = message.properties().headers;
        self.insert(key.due_ms, vhost, exchange, headers, message, Some(key));
    }

    /// Messages currently held.
    pub fn len(&self) -> usize {
        self.held.lock().by_due.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Holds `message`, published to delayed exchange `exchange` of `vhost`, for
    /// `delay_ms`.
    pub fn hold(
        &self,
        vhost: Weak<dyn RouteBack>,
        exchange: Arc<str>,
        headers: Option<FieldTable>,
        message: Arc<Message>,
        delay_ms: u64,
    ) {
        let due = now_ms().saturating_add(delay_ms);
        self.insert(due, vhost, exchange, headers, message, None);
    }

    fn insert(
        &self,
        due: u64,
        vhost: Weak<dyn RouteBack>,
        exchange: Arc<str>,
        headers: Option<FieldTable>,
        message: Arc<Message>,
        stored: Option<DelayedKey>,
    ) {
        let mut st = self.held.lock();
        let seq = st.next_seq;
        st.next_seq += 1;
        st.by_due.insert(
            (due, seq),
            Held {
                vhost,
                exchange,
                headers,
                message,
                stored,
            },
        );
        if st.timer_due_ms.is_none_or(|armed| due < armed) {
            st.timer_due_ms = Some(due);
            let me: Weak<dyn Timed> = self.me.clone();
            self.scheduler.schedule(due, me);
        }
    }

    fn take_due(&self, now: u64) -> Vec<Held> {
        let mut st = self.held.lock();
        let later = st.by_due.split_off(&(now.saturating_add(1), 0));
        let due = std::mem::replace(&mut st.by_due, later);
        st.timer_due_ms = None;
        if let Some(&(next, _)) = st.by_due.keys().next() {
            st.timer_due_ms = Some(next);
            let me: Weak<dyn Timed> = self.me.clone();
            self.scheduler.schedule(next, me);
        }
        due.into_values().collect()
    }
}

impl Timed for DelayedMessages {
    fn on_timer(&self, now: u64) {
        for held in self.take_due(now) {
            self.route_due(&held);
            // Routed (and stored in its durable queues) before it leaves the store: a
            // crash in between delivers it twice rather than never.
            if let (Some(key), Some(store)) = (held.stored, self.store.get()) {
                if let Err(e) = store.remove_delayed(key) {
                    tracing::error!(error = %e, "store: removing a delayed message failed");
                }
            }
        }
    }
}

impl DelayedMessages {
    /// Routes a message that is due through its exchange's `x-delayed-type`.
    fn route_due(&self, held: &Held) {
        let Some(vhost) = held.vhost.upgrade() else {
            return;
        };
        // A deleted exchange drops its held messages, as RabbitMQ's plugin does. The
        // properties are decoded only for what a consistent-hash exchange may hash.
        let props = held.message.properties();
        let fields = MessageFields {
            headers: held.headers.as_ref(),
            ..MessageFields::of(&props)
        };
        vhost.route_back(
            &held.exchange,
            &held.message.routing_key,
            &fields,
            &|_| true,
            held.message.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_header_parsing() {
        let mut h = FieldTable::new();
        assert_eq!(requested_delay_ms(Some(&h)), None);
        h.insert(DELAY_HEADER, FieldValue::I32(1500));
        assert_eq!(requested_delay_ms(Some(&h)), Some(1500));
        h.insert(DELAY_HEADER, FieldValue::I64(-5));
        assert_eq!(
            requested_delay_ms(Some(&h)),
            None,
            "negative routes at once"
        );
        h.insert(DELAY_HEADER, FieldValue::string("250"));
        assert_eq!(requested_delay_ms(Some(&h)), Some(250));
        h.insert(DELAY_HEADER, FieldValue::I64(i64::MAX));
        assert_eq!(
            requested_delay_ms(Some(&h)),
            Some(i64::MAX as u64),
            "no 49-day cap"
        );
        assert_eq!(requested_delay_ms(None), None);
    }
}

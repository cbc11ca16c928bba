//! A virtual host's exchanges: `exchange.declare` (stored first when durable),
//! `exchange.delete`, auto-deletion, and the restoring form recovery uses.

use std::sync::Arc;

use dashmap::mapref::entry::Entry;
use warren_protocol::FieldValue;
use warren_store::SyncTicket;

use super::super_streams::{partitions, PARTITIONS_ARG, SUPER_STREAM_EXCHANGE_TYPE};
use super::{bool_text, durable, ExchangeDeclare, VHost};
use crate::applied::{store_failed, Applied};
use crate::delayed::{DELAYED_EXCHANGE_TYPE, DELAYED_TYPE_ARG};
use crate::error::{AmqpError, AmqpResult};
use crate::exchange::{Exchange, ExchangeConfig};
use crate::queue::args::check_equivalent;
use crate::routing::{Destination, ExchangeKind, HashOn};

/// How an `exchange.declare`'s type routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ExchangeType {
    /// The routing algorithm.
    pub kind: ExchangeKind,
    /// A delayed-message exchange (whose routing type is its `x-delayed-type` argument).
    pub delayed: bool,
    /// A super stream (consistent hash over the partition streams it creates).
    pub super_stream: bool,
}

/// The routing type of an `exchange.declare`.
pub(super) fn parse_exchange_type(d: &ExchangeDeclare) -> AmqpResult<ExchangeType> {
    let (kind, delayed) = parse_kind(d)?;
    Ok(ExchangeType {
        kind,
        delayed,
        super_stream: d.kind == SUPER_STREAM_EXCHANGE_TYPE,
    })
}

/// The routing algorithm of an `exchange.declare`'s type, and whether it is a
/// delayed-message exchange.
fn parse_kind(d: &ExchangeDeclare) -> AmqpResult<(ExchangeKind, bool)> {
    if d.kind == SUPER_STREAM_EXCHANGE_TYPE {
        return Ok((ExchangeKind::ConsistentHash, false));
    }
    if d.kind == DELAYED_EXCHANGE_TYPE {
        return d
            .arguments
            .get(DELAYED_TYPE_ARG)
            .and_then(FieldValue::as_str)
            .and_then(ExchangeKind::parse)
            .map(|kind| (kind, true))
            .ok_or_else(|| {
                AmqpError::precondition_failed(format!(
                    "Invalid argument, '{DELAYED_TYPE_ARG}' must be an existing exchange type"
                ))
            });
    }
    ExchangeKind::parse(&d.kind)
        .map(|kind| (kind, false))
        .ok_or_else(|| {
            // RabbitMQ takes "x-" types for plugin types it does not have loaded.
            let adjective = if d.kind.starts_with("x-") {
                "unknown"
            } else {
                "invalid"
            };
            AmqpError::command_invalid(format!("{adjective} exchange type '{}'", d.kind))
        })
}

pub(super) fn default_exchange_refused() -> AmqpError {
    AmqpError::access_refused("operation not permitted on the default exchange")
}

impl VHost {
    /// `exchange.declare`: a new durable exchange is stored before it is used. A super
    /// stream's partitions are created (or completed) too.
    pub fn declare_exchange(&self, d: &ExchangeDeclare) -> AmqpResult<Applied<Arc<Exchange>>> {
        let declared = self.declare_exchange_as(d, true)?;
        if d.passive || !declared.config().super_stream {
            return Ok(declared);
        }
        // The count was checked against the limit when the exchange was created; one
        // created before the limit was lowered keeps its partitions.
        let n = partitions(&d.name, &self.name, &declared.config().arguments, u32::MAX)?;
        self.ensure_partitions(declared, n)
    }

    /// Brings back an exchange the store holds (start-up): nothing is written.
    pub(crate) fn restore_exchange(&self, d: &ExchangeDeclare) -> AmqpResult<Arc<Exchange>> {
        self.declare_exchange_as(d, false)
            .map(|applied| applied.into_parts().0)
    }

    pub(super) fn declare_exchange_as(
        &self,
        d: &ExchangeDeclare,
        persist: bool,
    ) -> AmqpResult<Applied<Arc<Exchange>>> {
        if d.name.is_empty() {
            return Err(default_exchange_refused());
        }
        if d.passive {
            return self.exchange(&d.name).map(Applied::in_memory);
        }
        let ExchangeType {
            kind,
            delayed,
            super_stream,
        } = parse_exchange_type(d)?;
        if let Some(existing) = self.exchanges.get(d.name.as_str()) {
            let c = existing.config();
            if c.kind != kind || c.delayed != delayed || c.super_stream != super_stream {
                return Err(self.inequivalent("exchange", &d.name, "type", &d.kind, c.type_name()));
            }
            for (arg, got, current) in [
                ("durable", d.durable, c.durable),
                ("auto_delete", d.auto_delete, c.auto_delete),
                ("internal", d.internal, c.internal),
            ] {
                if got != current {
                    return Err(self.inequivalent(
                        "exchange",
                        &d.name,
                        arg,
                        bool_text(got),
                        bool_text(current),
                    ));
                }
            }
            // Of the arguments, RabbitMQ only compares the alternate exchange (and
            // Warren a super stream's partition count).
            let compared: &[&str] = if super_stream {
                &["alternate-exchange", PARTITIONS_ARG]
            } else {
                &["alternate-exchange"]
            };
            check_equivalent(
                "exchange",
                &d.name,
                &self.name,
                &c.arguments,
                &d.arguments,
                compared,
            )?;
            return Ok(Applied::in_memory(existing.clone()));
        }
        if d.name.starts_with("amq.") {
            return Err(AmqpError::access_refused(format!(
                "exchange name '{}' contains reserved prefix 'amq.*'",
                d.name
            )));
        }
        // The type's own validation of a new exchange (RabbitMQ's `validate/1`).
        if super_stream {
            // A stored one comes back whatever the limit is now.
            let max = if persist {
                self.max_super_stream_partitions()
            } else {
                u32::MAX
            };
            partitions(&d.name, &self.name, &d.arguments, max)?;
        } else if kind == ExchangeKind::ConsistentHash {
            HashOn::from_arguments(&d.arguments).map_err(AmqpError::precondition_failed)?;
        }
        let name: Arc<str> = Arc::from(d.name.as_str());
        let config = ExchangeConfig {
            name: name.clone(),
            kind,
            durable: d.durable,
            auto_delete: d.auto_delete,
            internal: d.internal,
            arguments: d.arguments.clone(),
            delayed,
            super_stream,
        };
        // Held until the exchange is in the map, so a policy change either sees it or
        // happens before its selection is taken.
        let policies = self.policies.read();
        match self.exchanges.entry(name) {
            // Declared by another connection since the check above: theirs stands.
            Entry::Occupied(e) => Ok(Applied::in_memory(e.get().clone())),
            Entry::Vacant(slot) => {
                // Stored first (a cheap buffered write), so a failed write leaves nothing.
                let commit = match self.store_for(persist && config.durable) {
                    Some(p) => {
                        let record = durable::exchange_record(&self.name, &config);
                        p.store.put_exchange(&record).map_err(store_failed)?;
                        Some(p.sync())
                    }
                    None => None,
                };
                let selected = policies.for_exchange(&config.name);
                let exchange = Exchange::new(config);
                if !selected.is_empty() {
                    exchange.apply_policy(selected.policy, selected.operator_policy);
                }
                let exchange = slot.insert(exchange).clone();
                Ok(Applied::written(exchange, commit))
            }
        }
    }

    /// `exchange.delete`. Deleting an exchange that does not exist succeeds, as in RabbitMQ.
    /// A durable exchange leaves the store first: if that fails it stays (541).
    pub fn delete_exchange(&self, name: &str, if_unused: bool) -> AmqpResult<Applied<()>> {
        if name.is_empty() {
            return Err(default_exchange_refused());
        }
        if name.starts_with("amq.") {
            return Err(AmqpError::access_refused(format!(
                "deletion of system exchange '{name}' in vhost '{}' not allowed",
                self.name
            )));
        }
        let Some(exchange) = self.exchanges.get(name).map(|e| e.clone()) else {
            return Ok(Applied::in_memory(()));
        };
        if if_unused && exchange.has_bindings() {
            return Err(AmqpError::precondition_failed(format!(
                "exchange '{name}' in vhost '{}' in use",
                self.name
            )));
        }
        let commit = self.unstore_exchange(&exchange).map_err(store_failed)?;
        self.forget_exchange(&exchange);
        Ok(Applied::written((), commit))
    }

    /// Removes a durable exchange (and the bindings from and to it) from the store.
    pub(super) fn unstore_exchange(
        &self,
        exchange: &Exchange,
    ) -> warren_store::StoreResult<Option<SyncTicket>> {
        match self.store_for(exchange.config().durable) {
            Some(p) => {
                p.store.delete_exchange(&self.name, exchange.name())?;
                Ok(Some(p.sync()))
            }
            None => Ok(None),
        }
    }

    /// Removes an exchange from memory, with the bindings to it; exchanges those leave
    /// without bindings are auto-deleted.
    pub(super) fn forget_exchange(&self, exchange: &Arc<Exchange>) {
        self.exchanges.remove(exchange.name().as_ref());
        self.remove_destination(&Destination::Exchange(exchange.name().clone()));
    }

    /// Auto-deletes an exchange whose last binding went: nobody waits for this, so a
    /// store failure is logged (the exchange would come back after a restart).
    pub(super) fn auto_delete_exchange(&self, exchange: &Arc<Exchange>) {
        if let Err(e) = self.unstore_exchange(exchange) {
            tracing::error!(exchange = %exchange.name(), error = %e, "store: auto-delete failed");
        }
        self.forget_exchange(exchange);
    }

    /// Removes every binding to `dest`, then auto-deletes exchanges left with none.
    pub(super) fn remove_destination(&self, dest: &Destination) {
        let mut emptied = Vec::new();
        for ex in self.exchanges.iter() {
            if ex.remove_destination(dest) > 0 && ex.config().auto_delete && !ex.has_bindings() {
                emptied.push(ex.clone());
            }
        }
        for ex in emptied {
            self.auto_delete_exchange(&ex);
        }
    }

    pub(super) fn source_exchange(&self, name: &str) -> AmqpResult<Arc<Exchange>> {
        if name.is_empty() {
            return Err(default_exchange_refused());
        }
        self.exchange(name)
    }
}

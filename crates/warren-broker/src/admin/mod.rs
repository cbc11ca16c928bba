//! The broker's admin interface for everything that is not a message: vhosts, users,
//! permissions, topic permissions, limits and policies, plus the first boot's defaults.
//! Each operation checks its input, writes the store, then changes memory, and returns
//! an [`Applied`] whose commit makes it durable. Config at boot, definitions import, the
//! HTTP API and the CLI all come through here; exchanges, queues and bindings go through
//! the [`VHost`](crate::VHost) operations.

mod boot;
mod permissions;
mod policies;
pub mod records;
mod users;
mod vhosts;

use serde::Serialize;
use warren_store::{StoreError, SyncTicket};

use crate::error::AmqpError;
use crate::Broker;

pub use boot::FirstBoot;

/// Why an admin operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Something it names does not exist (HTTP 404).
    #[error("{0}")]
    NotFound(String),
    /// Its input is invalid (HTTP 400).
    #[error("{0}")]
    Invalid(String),
    /// It conflicts with what exists (a boot import never changes an entity silently).
    #[error("{0}")]
    Conflict(String),
    /// The store could not record it (nothing changed).
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// An exchange, queue or binding operation refused it, with its AMQP reply.
    #[error("{}", .0.reply_text())]
    Amqp(AmqpError),
}

impl From<AmqpError> for AdminError {
    fn from(e: AmqpError) -> Self {
        AdminError::Amqp(e)
    }
}

/// An admin operation's result.
pub type AdminResult<T> = Result<T, AdminError>;

impl Broker {
    /// Writes a definition record (nothing without a store). Returns its commit.
    pub(crate) fn write_record(
        &self,
        kind: &str,
        key: String,
        value: &impl Serialize,
    ) -> Result<Option<SyncTicket>, StoreError> {
        match &self.persistence {
            Some(p) => {
                p.store.put_definition(&records::record(kind, key, value))?;
                Ok(Some(p.store.sync()))
            }
            None => Ok(None),
        }
    }

    /// Deletes a definition record. Returns its commit.
    pub(crate) fn delete_record(
        &self,
        kind: &str,
        key: &str,
    ) -> Result<Option<SyncTicket>, StoreError> {
        match &self.persistence {
            Some(p) => {
                p.store.delete_definition(kind, key)?;
                Ok(Some(p.store.sync()))
            }
            None => Ok(None),
        }
    }

    /// The latest commit (every write so far), for operations that wrote several
    /// records.
    pub(crate) fn last_commit(&self) -> Option<SyncTicket> {
        self.persistence.as_ref().map(|p| p.store.sync())
    }
}

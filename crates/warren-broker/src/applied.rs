//! [`Applied`]: what an admin operation returns. The change is already made in memory
//! and written to the store; it is durable once its commit (one group commit of the
//! store) resolves. Callers that can wait (config at boot, the HTTP API) `.await`
//! [`Applied::committed`]; the connection state machine, which must not block, takes
//! the ticket with [`Applied::into_parts`] and sends its `-ok` when the ticket resolves.

use warren_store::{StoreError, SyncTicket};

use crate::error::{AmqpError, AmqpResult};

/// A change applied to the broker's state, with the commit that makes it durable (none
/// when nothing durable changed: a transient queue, a redeclaration, no store).
#[must_use = "a durable change is on disk only once its commit resolves"]
pub struct Applied<T> {
    value: T,
    commit: Option<SyncTicket>,
}

impl<T: std::fmt::Debug> std::fmt::Debug for Applied<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Applied")
            .field("value", &self.value)
            .field("commit_pending", &self.commit.is_some())
            .finish()
    }
}

impl<T> Applied<T> {
    /// A change with nothing to make durable.
    pub(crate) fn in_memory(value: T) -> Self {
        Applied {
            value,
            commit: None,
        }
    }

    /// A change that wrote to the store; `commit` resolves when it is on disk.
    pub(crate) fn written(value: T, commit: Option<SyncTicket>) -> Self {
        Applied { value, commit }
    }

    /// The result, and the commit to wait for before reporting the change as done.
    pub fn into_parts(self) -> (T, Option<SyncTicket>) {
        (self.value, self.commit)
    }

    /// Waits until the change is durable: 541 INTERNAL_ERROR if the store could not
    /// make it so.
    pub async fn committed(self) -> AmqpResult<T> {
        if let Some(ticket) = self.commit {
            ticket.await.map_err(store_failed)?;
        }
        Ok(self.value)
    }

    /// Whether a commit is pending.
    pub fn needs_commit(&self) -> bool {
        self.commit.is_some()
    }
}

impl<T> std::ops::Deref for Applied<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// A store failure as AMQP reports it: 541 INTERNAL_ERROR, which closes the connection.
pub fn store_failed(e: StoreError) -> AmqpError {
    AmqpError::store_failed(&e)
}

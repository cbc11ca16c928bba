//! Deleting a whole virtual host: every queue (with its messages) and every durable
//! exchange leaves the store, then memory; consumers are cancelled.

use warren_store::{StoreResult, SyncTicket};

use super::queues::unstore_queue;
use super::VHost;

impl VHost {
    /// Removes every queue and exchange of this vhost, from the store first. Returns
    /// the commit that makes the deletion durable.
    pub fn remove_everything(&self) -> StoreResult<Option<SyncTicket>> {
        let mut wrote = false;
        for q in self.queues() {
            wrote |= unstore_queue(&q)?.is_some();
            self.forget_queue(&q);
        }
        for x in self.exchanges() {
            wrote |= self.unstore_exchange(&x)?.is_some();
            self.forget_exchange(&x);
        }
        Ok(wrote.then(|| self.sync()))
    }
}

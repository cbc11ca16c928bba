//! The narrow handle through which dead-lettering and delayed delivery put a message
//! back into routing, without knowing the virtual host that does it.
//!
//! [`VHost`](crate::vhost::VHost) implements [`RouteBack`]; queues and the delayed
//! store hold it as `Weak<dyn RouteBack>` (a queue through its
//! [`QueueHost`](crate::queue::QueueHost)), so neither imports `vhost` and a deleted
//! virtual host simply stops taking messages back.

use std::sync::Arc;

use crate::message::Message;
use crate::routing::MessageFields;

/// Routes a message the broker itself republishes.
pub trait RouteBack: Send + Sync {
    /// The virtual host's name (recorded with stored delayed messages).
    fn vhost_name(&self) -> &str;

    /// Routes `message` as if it were published to `exchange` with `routing_key` and
    /// `fields` (its headers and properties; following exchange bindings and alternate exchanges), and enqueues it
    /// in every queue reached whose name `accept` approves. Returns how many queues took
    /// it; a missing exchange reaches none.
    fn route_back(
        &self,
        exchange: &str,
        routing_key: &str,
        fields: &MessageFields<'_>,
        accept: &dyn Fn(&str) -> bool,
        message: Arc<Message>,
    ) -> usize;
}

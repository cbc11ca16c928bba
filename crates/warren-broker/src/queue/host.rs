//! What a queue needs from the virtual host above it, as a narrow handle.

use std::sync::Arc;

use super::Queue;
use crate::route_back::RouteBack;
use crate::stats::DeadLetterTotals;

/// The owner of a queue, seen from the queue: somewhere to route its dead letters, and
/// who removes it when `x-expires` runs out. [`VHost`](crate::vhost::VHost) implements
/// it; a queue holds it as `Weak<dyn QueueHost>`, so `queue` never imports `vhost`.
pub trait QueueHost: RouteBack {
    /// `queue` went unused for its `x-expires`: delete it as `queue.delete` would.
    fn queue_expired(&self, queue: &Arc<Queue>);

    /// Where messages leaving a queue for a dead-letter reason are counted.
    fn dead_letter_totals(&self) -> &DeadLetterTotals;
}

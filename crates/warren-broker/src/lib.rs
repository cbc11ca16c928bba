//! Warren's broker model: virtual hosts, exchanges and routing, queues, consumers and
//! dispatch. No sockets: the server crate drives it.
//!
//! # Layering
//!
//! Modules import only from the layers below them (the queue and its consumers are
//! one layer, see below):
//!
//! ```text
//!  5  recovery ........... builds a Broker from the store at start-up
//!       │
//!  4  broker ............. the virtual hosts, the shared scheduler and delayed store
//!       │
//!  3  vhost (+ durable) .. exchanges + queues by name, their policies (PolicySet);
//!                         implements RouteBack, QueueHost
//!       │
//!  2  exchange ─────────► routing, delayed (type name, x-delay), queue::{args, dedup}
//!     delayed ──────────► scheduler, route_back      holds Weak<dyn RouteBack>
//!       │
//!  1  queue ◄──► consumer  queue → consumer strong (Arc), consumer → queue weak (Weak)
//!     queue ────────────► dead_letter, scheduler, persist   holds Weak<dyn QueueHost>
//!     queue, exchange ──► policy (what applies, merged with the declare arguments)
//!     dead_letter ──────► route_back
//!       │
//!  ½  policy ............ validated policies, their selection, the merge with declare
//!       │                 arguments ──► definitions (model), queue::args (a leaf)
//!       │
//!  0  routing · route_back · scheduler · persist · message · clock · applied · error
//!     · names
//! ```
//!
//! Dead-lettering and delayed delivery put messages back into routing through the narrow
//! [`RouteBack`](route_back::RouteBack) handle, and a queue reaches its virtual host only
//! through [`QueueHost`](queue::QueueHost) (`RouteBack` plus "remove me, I expired"):
//! neither imports `vhost`, and both hold the handle weakly. A queue and its consumers
//! refer to each other by type, but only the queue's side is strong, so a deleted queue
//! and its cancelled consumers are freed. Time comes from [`clock`] everywhere.
#![deny(missing_docs, unsafe_code)]

pub mod access;
pub mod admin;
pub mod applied;
pub mod broker;
pub mod clock;
pub mod connections;
pub mod consumer;
pub mod dead_letter;
pub mod definitions;
pub mod delayed;
pub mod error;
pub mod exchange;
pub mod limits;
pub mod message;
pub mod names;
pub mod persist;
pub mod policy;
pub mod queue;
pub mod recovery;
pub mod route_back;
pub mod routing;
pub mod scheduler;
pub mod stats;
pub mod stream;
pub mod vhost;

pub use applied::Applied;
pub use broker::Broker;
pub use consumer::{ChannelCredit, Consumer, ConsumerSpec, Delivery, Outbound};
pub use error::{
    AmqpError, AmqpResult, ChannelCode, ChannelError, ConnectionCode, ConnectionError,
};
pub use exchange::Exchange;
pub use limits::{Limits, MemoryWatermark};
pub use message::{Message, QueuedMessage};
pub use queue::{ConnectionId, PublishOutcome, Queue, QueueArgs};
pub use vhost::{ExchangeDeclare, Persistence, QueueDeclare, QueueDeclared, VHost};

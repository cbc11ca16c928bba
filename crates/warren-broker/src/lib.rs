//! Warren's broker model: virtual hosts, exchanges and routing, queues, consumers and
//! dispatch. No sockets: the server crate drives it.
#![deny(missing_docs, unsafe_code)]

pub mod applied;
pub mod broker;
pub mod clock;
pub mod consumer;
pub mod dead_letter;
pub mod delayed;
pub mod error;
pub mod exchange;
pub mod message;
pub mod names;
pub mod persist;
pub mod queue;
pub mod recovery;
pub mod routing;
pub mod scheduler;
pub mod vhost;

pub use applied::Applied;
pub use broker::Broker;
pub use consumer::{ChannelCredit, Consumer, ConsumerSpec, Delivery, Outbound};
pub use error::{AmqpError, AmqpResult, ErrorScope};
pub use exchange::Exchange;
pub use message::{Message, QueuedMessage};
pub use queue::{ConnectionId, PublishOutcome, Queue, QueueArgs};
pub use vhost::{ExchangeDeclare, Persistence, QueueDeclare, QueueDeclared, VHost};

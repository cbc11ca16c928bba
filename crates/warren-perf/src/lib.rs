//! warren-perf: a load generator for AMQP 0-9-1 brokers in the spirit of RabbitMQ's
//! PerfTest, written to cost the broker's machine as little CPU as possible.
//!
//! It speaks AMQP through warren-protocol over plain tokio sockets: each producer and
//! consumer is one connection driven by one task; producers encode many publishes into
//! one buffer per socket write; consumers scan deliveries in the read buffer without
//! allocating and send all the acks one read calls for in one write. Latency is
//! measured from a send timestamp in the first 8 bytes of each body.
#![deny(missing_docs, unsafe_code)]

pub mod cli;
pub mod confirms;
pub mod conn;
pub mod consumer;
pub mod cpu;
pub mod error;
pub mod histogram;
pub mod null_broker;
pub mod producer;
pub mod report;
pub mod run;
pub mod scanner;
pub mod soak;
pub mod stats;
pub mod tls;
pub mod topology;
pub mod uri;

pub use cli::Args;
pub use error::{PerfError, Result};

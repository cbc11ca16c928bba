//! Warren's AMQP 0-9-1 server: the TCP listener, the connection and channel state
//! machines, and authentication. The binary `warren` wraps [`Server`].
#![deny(missing_docs, unsafe_code)]

pub mod auth;
pub mod boot;
mod channel;
pub mod check;
pub mod config;
mod connection;
pub mod disk;
pub mod management;
pub mod memory;
pub mod server;
pub mod tls;

pub use config::{DefaultUser, Definitions, Limits, MemoryWatermark, ServerConfig};
pub use server::{shutdown_channel, RunningServer, Server, ServerContext, ShutdownHandle};

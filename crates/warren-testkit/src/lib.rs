//! Test support for Warren's integration tests (the root `tests/*.rs` and
//! `crates/warren-server/tests`), so every suite waits, drains and checks replies the
//! same way:
//!
//! - [`TestBroker`]: a real [`warren_server::Server`] on `127.0.0.1:0` with a temporary
//!   data directory, and restart helpers.
//! - [`raw::RawClient`]: the one raw AMQP client, for what lapin will not send or hide.
//! - [`drain`]: takes every ready message of a queue (the raw client's "read frames
//!   until the socket is quiet" is [`raw::RawClient::frames_until_quiet`]).
//! - [`reply`] / [`assert_reply`]: the reply code and text of a lapin error.
//! - [`eventually`]: polls a condition until a deadline; tests wait with it, never with
//!   a bare sleep.
//! - [`args`], [`basic`], [`smart`]: argument tables, header readers and the one-line
//!   lapin calls of the basic-class and smart-queue suites.
//! - [`browser`]: runs a web console browser script (`tests/console/*.mjs`) as a child
//!   process against a broker.
//! - `fuzz` (feature `fuzz`): the in-process connection fuzz harness
//!   (docs/fuzzing.md).
//!
//! It is one crate, depending on `warren-server` for [`TestBroker`]. `warren-server`'s
//! own integration tests take it as a dev-dependency: Cargo allows that cycle, and an
//! integration test links the same `warren-server` library the testkit was built
//! against. (Only `warren-server`'s unit tests, which are a second build of the
//! library, could not mix its types with the testkit's; none do, so no split into a
//! server-free core is needed.)
#![warn(missing_docs)]

pub mod args;
pub mod basic;
mod broker;
pub mod browser;
#[cfg(feature = "fuzz")]
pub mod fuzz;
pub mod http;
mod ops;
mod poll;
pub mod raw;
mod reply;
pub mod smart;
pub mod tmpfs;

pub use broker::{server_queue, wait_queue, TestBroker};
pub use ops::{
    depth, drain, drain_bodies, next_delivery, passive, publish_confirmed, queue_exists,
};
pub use poll::{eventually, wait_depth, WAIT};
pub use reply::{assert_closed_with, assert_reply, closed_with, reply, watch};

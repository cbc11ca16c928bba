//! AMQP 0-9-1 for Warren: field tables, the 14 basic properties, every method of
//! RabbitMQ's extended 0-9-1 specification, and a tokio-util frame codec.
//!
//! This crate does no I/O of its own: it turns bytes into typed frames and back, and
//! reports malformed input as a [`ProtocolError`] that names the AMQP reply code the
//! server must close the connection with.
#![deny(missing_docs, unsafe_code)]

pub mod codec;
pub mod constants;
pub mod error;
pub mod frame;
pub mod method;
pub mod properties;
pub mod table;
pub mod wire;

pub use codec::{FrameCodec, FrameFault};
pub use constants::{ReplyCode, PROTOCOL_HEADER};
pub use error::ProtocolError;
pub use frame::Frame;
pub use method::Method;
pub use properties::{BasicProperties, ContentHeader};
pub use table::{Decimal, FieldTable, FieldValue};

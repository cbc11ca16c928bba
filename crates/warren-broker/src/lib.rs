//! Warren's broker model: virtual hosts, exchanges and routing, queues, consumers and
//! dispatch. No sockets: the server crate drives it.
#![deny(missing_docs, unsafe_code)]

pub mod routing;

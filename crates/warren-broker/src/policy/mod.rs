//! RabbitMQ policies and operator policies, in memory: validation ([`definition`]),
//! selection of what applies to a queue or exchange ([`matching`]), and the merge with
//! declare arguments into the settings an entity runs with ([`effective`]).
//!
//! A virtual host keeps its [`PolicySet`] and re-applies it when it changes (see
//! `VHost::set_policy`); queues and exchanges take the result through `apply_policy`.

pub mod definition;
pub mod effective;
pub mod error;
pub mod matching;

pub use definition::PolicyDefinition;
pub use error::PolicyError;
pub use matching::{ApplyTo, Policy, PolicySet, Selected};

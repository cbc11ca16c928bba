//! RabbitMQ's definitions format (`definitions.json`): what `load_definitions` reads at
//! boot, what an export writes, and Warren's compact TOML topology (the same element
//! types, with the defaults a service team expects).
//!
//! [`model`] is the serde shape, field for field as RabbitMQ 3.10 exports it;
//! [`arguments`] converts argument maps between JSON and AMQP field tables.

pub mod arguments;
mod export;
pub mod import;
pub mod model;
pub mod plan;

pub use import::{ImportMode, ImportReport};
pub use model::{
    BindingDef, Definitions, ExchangeDef, GlobalParameterDef, ParameterDef, PermissionDef,
    PolicyDef, QueueDef, Tags, TopicPermissionDef, UserDef, VHostDef,
};
pub use plan::{Change, ChangeKind};

/// A JSON object (argument tables, policy definitions, parameter values).
pub type JsonMap = serde_json::Map<String, serde_json::Value>;

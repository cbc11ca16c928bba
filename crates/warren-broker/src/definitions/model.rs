//! The definitions document, field for field as RabbitMQ 3.10 exports it from
//! `GET /api/definitions` (and imports it at boot with `load_definitions`).
//!
//! Every element type refuses unknown fields, so a typo in Warren's TOML topology is an
//! error naming the key rather than a silently ignored setting. Omitted fields take the
//! defaults a service team expects (`vhost = "/"`, `durable = true`,
//! `destination_type = "queue"`, `routing_key = ""`, no arguments); RabbitMQ's own
//! exports always carry every field, so the defaults never change what they mean.

use serde::{Deserialize, Serialize};

use super::JsonMap;

/// A whole definitions document. Unknown top-level keys are ignored (RabbitMQ adds
/// informational ones between versions); the sections Warren reads are typed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Definitions {
    /// The exporting broker's version (RabbitMQ writes both spellings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rabbit_version: Option<String>,
    /// The exporting broker's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rabbitmq_version: Option<String>,
    /// The exporting product's name (`RabbitMQ`, `Warren`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    /// The exporting product's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_version: Option<String>,
    /// Users with their password hashes and tags.
    #[serde(default)]
    pub users: Vec<UserDef>,
    /// Virtual hosts.
    #[serde(default)]
    pub vhosts: Vec<VHostDef>,
    /// Per user and vhost: configure / write / read patterns.
    #[serde(default)]
    pub permissions: Vec<PermissionDef>,
    /// Per user, vhost and topic exchange: write / read patterns on routing keys.
    #[serde(default)]
    pub topic_permissions: Vec<TopicPermissionDef>,
    /// Runtime parameters by component (`vhost-limits` and `operator_policy` are
    /// understood; others are skipped with a warning).
    #[serde(default)]
    pub parameters: Vec<ParameterDef>,
    /// Cluster-wide parameters (none understood; skipped with a warning each).
    #[serde(default)]
    pub global_parameters: Vec<GlobalParameterDef>,
    /// Policies.
    #[serde(default)]
    pub policies: Vec<PolicyDef>,
    /// Durable queues.
    #[serde(default)]
    pub queues: Vec<QueueDef>,
    /// Durable exchanges.
    #[serde(default)]
    pub exchanges: Vec<ExchangeDef>,
    /// Bindings between durable entities.
    #[serde(default)]
    pub bindings: Vec<BindingDef>,
}

impl Definitions {
    /// Whether the document declares nothing.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
            && self.vhosts.is_empty()
            && self.permissions.is_empty()
            && self.topic_permissions.is_empty()
            && self.parameters.is_empty()
            && self.global_parameters.is_empty()
            && self.policies.is_empty()
            && self.queues.is_empty()
            && self.exchanges.is_empty()
            && self.bindings.is_empty()
    }

    /// Appends every element of `other` (several files make one document).
    pub fn extend(&mut self, other: Definitions) {
        self.users.extend(other.users);
        self.vhosts.extend(other.vhosts);
        self.permissions.extend(other.permissions);
        self.topic_permissions.extend(other.topic_permissions);
        self.parameters.extend(other.parameters);
        self.global_parameters.extend(other.global_parameters);
        self.policies.extend(other.policies);
        self.queues.extend(other.queues);
        self.exchanges.extend(other.exchanges);
        self.bindings.extend(other.bindings);
    }
}

fn default_vhost() -> String {
    "/".to_owned()
}

fn yes() -> bool {
    true
}

fn default_destination_type() -> String {
    "queue".to_owned()
}

fn default_apply_to() -> String {
    "all".to_owned()
}

fn default_hashing() -> String {
    "rabbit_password_hashing_sha256".to_owned()
}

/// A user's tags: RabbitMQ 3.9+ exports a list, older versions a comma-separated string.
/// Both are read; a list is written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Tags(pub Vec<String>);

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            List(Vec<String>),
            Text(String),
        }
        Ok(Tags(match Either::deserialize(d)? {
            Either::List(list) => list,
            Either::Text(text) => text
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
        }))
    }
}

/// A user. Its `Debug` shows neither the password nor the hash.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserDef {
    /// Login name.
    pub name: String,
    /// Base64 of a 4-byte salt followed by the salted hash (RabbitMQ's format). Empty: a
    /// user who cannot log in with a password (or one given as `password`).
    #[serde(default)]
    pub password_hash: String,
    /// `rabbit_password_hashing_sha256` (the default), `rabbit_password_hashing_sha512`
    /// or `rabbit_password_hashing_md5`.
    #[serde(default = "default_hashing")]
    pub hashing_algorithm: String,
    /// Warren's convenience for hand-written configs: the password in clear, hashed at
    /// load. Never exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// `administrator`, `monitoring`, `management`, `policymaker`, `impersonator`, or
    /// any other (kept, ignored).
    #[serde(default)]
    pub tags: Tags,
    /// Per-user limits (`max-connections`, `max-channels`), as RabbitMQ 3.10 exports
    /// them on the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<JsonMap>,
}

impl std::fmt::Debug for UserDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |set: bool| if set { "<redacted>" } else { "" };
        f.debug_struct("UserDef")
            .field("name", &self.name)
            .field("password_hash", &redacted(!self.password_hash.is_empty()))
            .field("hashing_algorithm", &self.hashing_algorithm)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("tags", &self.tags)
            .field("limits", &self.limits)
            .finish()
    }
}

impl Default for UserDef {
    fn default() -> Self {
        UserDef {
            name: String::new(),
            password_hash: String::new(),
            hashing_algorithm: default_hashing(),
            password: None,
            tags: Tags::default(),
            limits: None,
        }
    }
}

/// A virtual host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VHostDef {
    /// Name.
    pub name: String,
    /// Free-text description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Free-form tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    /// RabbitMQ's metadata object (description, tags, default queue type); kept as read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonMap>,
    /// Vhost limits as some exports carry them inline (`max-connections`, `max-queues`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<serde_json::Value>,
    /// The vhost's default queue type (only `classic` exists in Warren).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_queue_type: Option<String>,
}

/// A user's permissions in one virtual host: regular expressions over resource names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionDef {
    /// The user.
    pub user: String,
    /// The virtual host.
    #[serde(default = "default_vhost")]
    pub vhost: String,
    /// Declare and delete.
    pub configure: String,
    /// Publish to exchanges; bind to queues and exchanges as destinations.
    pub write: String,
    /// Consume, get and purge queues; bind from exchanges.
    pub read: String,
}

/// A user's permissions on the routing keys of one topic exchange.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicPermissionDef {
    /// The user.
    pub user: String,
    /// The virtual host.
    #[serde(default = "default_vhost")]
    pub vhost: String,
    /// The topic exchange.
    pub exchange: String,
    /// Routing keys the user may publish with.
    pub write: String,
    /// Binding keys the user may bind with (consume side).
    pub read: String,
}

/// A runtime parameter of one vhost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterDef {
    /// The virtual host.
    #[serde(default = "default_vhost")]
    pub vhost: String,
    /// What it configures (`vhost-limits`, `operator_policy`, `shovel`, ...).
    pub component: String,
    /// Its name within the component.
    pub name: String,
    /// Its value.
    pub value: serde_json::Value,
}

/// A cluster-wide parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalParameterDef {
    /// Name.
    pub name: String,
    /// Value.
    pub value: serde_json::Value,
}

/// A policy (or, in a `parameters` entry with component `operator_policy`, an operator
/// policy's value).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDef {
    /// The virtual host.
    #[serde(default = "default_vhost")]
    pub vhost: String,
    /// Name, unique in the vhost.
    pub name: String,
    /// Regular expression matched against queue / exchange names.
    pub pattern: String,
    /// `queues`, `exchanges` or `all`.
    #[serde(rename = "apply-to", default = "default_apply_to")]
    pub apply_to: String,
    /// The keys it sets (`message-ttl`, `max-length`, `dead-letter-exchange`, ...).
    pub definition: JsonMap,
    /// Among matching policies the highest priority wins.
    #[serde(default)]
    pub priority: i64,
}

/// A durable queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueDef {
    /// Name.
    pub name: String,
    /// The virtual host.
    #[serde(default = "default_vhost")]
    pub vhost: String,
    /// Survives a restart (always true in an export; the default).
    #[serde(default = "yes")]
    pub durable: bool,
    /// Deleted when its last consumer goes.
    #[serde(default)]
    pub auto_delete: bool,
    /// `x-` arguments.
    #[serde(default)]
    pub arguments: JsonMap,
    /// RabbitMQ 3.10 writes the queue's type here too (`classic`); kept as read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "type")]
    pub queue_type: Option<String>,
}

/// A durable exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeDef {
    /// Name.
    pub name: String,
    /// The virtual host.
    #[serde(default = "default_vhost")]
    pub vhost: String,
    /// `direct`, `fanout`, `topic`, `headers`, `x-delayed-message`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Survives a restart (the default).
    #[serde(default = "yes")]
    pub durable: bool,
    /// Deleted when its last binding goes.
    #[serde(default)]
    pub auto_delete: bool,
    /// Cannot be published to by clients (always exported, as RabbitMQ does).
    #[serde(default)]
    pub internal: bool,
    /// Arguments (`alternate-exchange`, ...).
    #[serde(default)]
    pub arguments: JsonMap,
}

/// A binding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindingDef {
    /// Source exchange.
    pub source: String,
    /// The virtual host.
    #[serde(default = "default_vhost")]
    pub vhost: String,
    /// Destination queue or exchange.
    pub destination: String,
    /// `queue` (the default) or `exchange`.
    #[serde(default = "default_destination_type")]
    pub destination_type: String,
    /// Binding key.
    #[serde(default)]
    pub routing_key: String,
    /// Binding arguments (headers exchanges match on them).
    #[serde(default)]
    pub arguments: JsonMap,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_what_a_service_team_expects() {
        let q: QueueDef = serde_json::from_str(r#"{"name":"jobs"}"#).unwrap();
        assert_eq!(
            (q.vhost.as_str(), q.durable, q.auto_delete),
            ("/", true, false)
        );
        let b: BindingDef = serde_json::from_str(r#"{"source":"x","destination":"q"}"#).unwrap();
        assert_eq!(
            (b.destination_type.as_str(), b.routing_key.as_str()),
            ("queue", "")
        );
        let p: PolicyDef =
            serde_json::from_str(r#"{"name":"p","pattern":".*","definition":{}}"#).unwrap();
        assert_eq!((p.apply_to.as_str(), p.priority), ("all", 0));
    }

    #[test]
    fn a_user_debug_shows_neither_password_nor_hash() {
        let u: UserDef = serde_json::from_str(
            r#"{"name":"bob","password":"pw-in-clear-123","password_hash":"aGFzaC1ieXRlcw=="}"#,
        )
        .unwrap();
        let shown = format!("{u:?} {u:#?}");
        assert!(shown.contains("bob"), "{shown}");
        assert!(!shown.contains("pw-in-clear-123"), "{shown}");
        assert!(!shown.contains("aGFzaC1ieXRlcw"), "{shown}");
    }

    #[test]
    fn unknown_element_fields_are_refused_but_unknown_top_level_keys_are_not() {
        let err = serde_json::from_str::<QueueDef>(r#"{"name":"q","durabel":true}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("durabel"), "{err}");
        let d: Definitions = serde_json::from_str(r#"{"explanation":"x","queues":[]}"#).unwrap();
        assert!(d.is_empty());
    }

    #[test]
    fn tags_read_as_list_or_comma_separated_text() {
        let a: UserDef = serde_json::from_str(r#"{"name":"a","tags":["administrator"]}"#).unwrap();
        let b: UserDef =
            serde_json::from_str(r#"{"name":"b","tags":"administrator, monitoring"}"#).unwrap();
        assert_eq!(a.tags.0, vec!["administrator"]);
        assert_eq!(b.tags.0, vec!["administrator", "monitoring"]);
    }
}

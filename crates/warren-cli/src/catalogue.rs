//! What `list` knows about each kind of object: where to fetch it, which field is its
//! name, and its columns (key shown in the header, JSON path, how to show it).

use crate::cli::ListKind;
use crate::encode;
use crate::format::cell::Kind;

/// One column of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Name in `--columns`, `--sort` and the header.
    pub key: String,
    /// Dotted JSON path of the field.
    pub path: String,
    /// How a table shows it.
    pub kind: Kind,
}

/// (key, path, kind, shown by default)
type Spec = (&'static str, &'static str, Kind, bool);

const QUEUES: &[Spec] = &[
    ("vhost", "vhost", Kind::Text, true),
    ("name", "name", Kind::Text, true),
    ("type", "type", Kind::Text, true),
    ("messages", "messages", Kind::Count, true),
    ("ready", "messages_ready", Kind::Count, true),
    ("unacked", "messages_unacknowledged", Kind::Count, true),
    ("consumers", "consumers", Kind::Count, true),
    (
        "publish",
        "message_stats.publish_details.rate",
        Kind::Rate,
        true,
    ),
    (
        "deliver",
        "message_stats.deliver_get_details.rate",
        Kind::Rate,
        true,
    ),
    ("ack", "message_stats.ack_details.rate", Kind::Rate, true),
    ("state", "state", Kind::Text, true),
    ("durable", "durable", Kind::Auto, false),
    ("auto_delete", "auto_delete", Kind::Auto, false),
    ("exclusive", "exclusive", Kind::Auto, false),
    ("policy", "policy", Kind::Text, false),
    ("bytes", "message_bytes", Kind::Bytes, false),
    ("memory", "memory", Kind::Bytes, false),
    ("node", "node", Kind::Text, false),
    ("arguments", "arguments", Kind::Auto, false),
];

const EXCHANGES: &[Spec] = &[
    ("vhost", "vhost", Kind::Text, true),
    ("name", "name", Kind::Exchange, true),
    ("type", "type", Kind::Text, true),
    ("durable", "durable", Kind::Auto, true),
    ("auto_delete", "auto_delete", Kind::Auto, true),
    ("internal", "internal", Kind::Auto, true),
    ("policy", "policy", Kind::Text, true),
    (
        "in",
        "message_stats.publish_in_details.rate",
        Kind::Rate,
        true,
    ),
    (
        "out",
        "message_stats.publish_out_details.rate",
        Kind::Rate,
        true,
    ),
    ("arguments", "arguments", Kind::Auto, false),
];

const BINDINGS: &[Spec] = &[
    ("vhost", "vhost", Kind::Text, true),
    ("source", "source", Kind::Exchange, true),
    ("destination", "destination", Kind::Text, true),
    ("destination_type", "destination_type", Kind::Text, true),
    ("routing_key", "routing_key", Kind::Text, true),
    ("arguments", "arguments", Kind::Auto, true),
    ("properties_key", "properties_key", Kind::Text, true),
];

const CONNECTIONS: &[Spec] = &[
    ("name", "name", Kind::Text, true),
    ("user", "user", Kind::Text, true),
    ("vhost", "vhost", Kind::Text, true),
    ("state", "state", Kind::Text, true),
    ("channels", "channels", Kind::Count, true),
    ("protocol", "protocol", Kind::Text, true),
    ("client", "user_provided_name", Kind::Text, true),
    ("recv", "recv_oct_details.rate", Kind::ByteRate, true),
    ("send", "send_oct_details.rate", Kind::ByteRate, true),
    ("node", "node", Kind::Text, false),
    ("peer_host", "peer_host", Kind::Text, false),
    ("peer_port", "peer_port", Kind::Count, false),
    ("product", "client_properties.product", Kind::Text, false),
];

const CHANNELS: &[Spec] = &[
    ("name", "name", Kind::Text, true),
    ("user", "user", Kind::Text, true),
    ("vhost", "vhost", Kind::Text, true),
    ("state", "state", Kind::Text, true),
    ("consumers", "consumer_count", Kind::Count, true),
    ("prefetch", "prefetch_count", Kind::Count, true),
    ("unacked", "messages_unacknowledged", Kind::Count, true),
    ("unconfirmed", "messages_unconfirmed", Kind::Count, true),
    ("confirm", "confirm", Kind::Auto, true),
    (
        "publish",
        "message_stats.publish_details.rate",
        Kind::Rate,
        true,
    ),
    ("transactional", "transactional", Kind::Auto, false),
];

const CONSUMERS: &[Spec] = &[
    ("vhost", "queue.vhost", Kind::Text, true),
    ("queue", "queue.name", Kind::Text, true),
    ("tag", "consumer_tag", Kind::Text, true),
    ("channel", "channel_details.name", Kind::Text, true),
    ("ack_required", "ack_required", Kind::Auto, true),
    ("prefetch", "prefetch_count", Kind::Count, true),
    ("active", "active", Kind::Auto, true),
    ("exclusive", "exclusive", Kind::Auto, true),
    ("arguments", "arguments", Kind::Auto, false),
];

const USERS: &[Spec] = &[
    ("name", "name", Kind::Text, true),
    ("tags", "tags", Kind::Auto, true),
    ("limits", "limits", Kind::Auto, false),
];

const VHOSTS: &[Spec] = &[
    ("name", "name", Kind::Text, true),
    ("messages", "messages", Kind::Count, true),
    ("ready", "messages_ready", Kind::Count, true),
    ("unacked", "messages_unacknowledged", Kind::Count, true),
    ("description", "description", Kind::Text, true),
    ("tracing", "tracing", Kind::Auto, false),
    (
        "default_queue_type",
        "default_queue_type",
        Kind::Text,
        false,
    ),
];

const PERMISSIONS: &[Spec] = &[
    ("user", "user", Kind::Text, true),
    ("vhost", "vhost", Kind::Text, true),
    ("configure", "configure", Kind::Text, true),
    ("write", "write", Kind::Text, true),
    ("read", "read", Kind::Text, true),
];

const POLICIES: &[Spec] = &[
    ("vhost", "vhost", Kind::Text, true),
    ("name", "name", Kind::Text, true),
    ("pattern", "pattern", Kind::Text, true),
    ("apply-to", "apply-to", Kind::Text, true),
    ("priority", "priority", Kind::Count, true),
    ("definition", "definition", Kind::Auto, true),
];

/// Everything `list` needs to know about one kind.
#[derive(Debug, Clone, Copy)]
pub struct Listing {
    /// The kind.
    pub kind: ListKind,
    specs: &'static [Spec],
}

impl Listing {
    /// The listing of `kind`.
    pub fn of(kind: ListKind) -> Listing {
        let specs = match kind {
            ListKind::Queues => QUEUES,
            ListKind::Exchanges => EXCHANGES,
            ListKind::Bindings => BINDINGS,
            ListKind::Connections => CONNECTIONS,
            ListKind::Channels => CHANNELS,
            ListKind::Consumers => CONSUMERS,
            ListKind::Users => USERS,
            ListKind::Vhosts => VHOSTS,
            ListKind::Permissions => PERMISSIONS,
            ListKind::Policies => POLICIES,
        };
        Listing { kind, specs }
    }

    /// Whether the objects live in vhosts (so `--vhost` narrows the listing).
    pub fn vhost_scoped(&self) -> bool {
        !matches!(self.kind, ListKind::Users | ListKind::Vhosts)
    }

    /// The API path: all vhosts, or only `vhost`.
    pub fn path(&self, vhost: Option<&str>) -> String {
        let base = match self.kind {
            ListKind::Queues => "queues",
            ListKind::Exchanges => "exchanges",
            ListKind::Bindings => "bindings",
            ListKind::Connections => "connections",
            ListKind::Channels => "channels",
            ListKind::Consumers => "consumers",
            ListKind::Users => "users",
            ListKind::Vhosts => "vhosts",
            ListKind::Permissions => "permissions",
            ListKind::Policies => "policies",
        };
        let per_vhost_under_vhosts = matches!(
            self.kind,
            ListKind::Connections | ListKind::Channels | ListKind::Permissions
        );
        match vhost.filter(|_| self.vhost_scoped()) {
            Some(v) if per_vhost_under_vhosts => encode::api_path(&["vhosts", v, base]),
            Some(v) => encode::api_path(&[base, v]),
            None => encode::api_path(&[base]),
        }
    }

    /// The fields `--filter` matches against (any of them matching keeps the row).
    pub fn name_paths(&self) -> &'static [&'static str] {
        match self.kind {
            ListKind::Bindings => &["source", "destination"],
            ListKind::Consumers => &["queue.name"],
            ListKind::Permissions => &["user"],
            _ => &["name"],
        }
    }

    /// The field that holds an object's vhost.
    pub fn vhost_path(&self) -> Option<&'static str> {
        match self.kind {
            ListKind::Users | ListKind::Vhosts => None,
            ListKind::Consumers => Some("queue.vhost"),
            _ => Some("vhost"),
        }
    }

    /// The default columns.
    pub fn default_columns(&self) -> Vec<Column> {
        self.specs
            .iter()
            .filter(|s| s.3)
            .map(|s| column(*s))
            .collect()
    }

    /// The column `key` names: a known column, else the JSON path `key` shown as is.
    pub fn column(&self, key: &str) -> Column {
        match self.specs.iter().find(|s| s.0 == key) {
            Some(spec) => column(*spec),
            None => Column {
                key: key.to_string(),
                path: key.to_string(),
                kind: Kind::Auto,
            },
        }
    }

    /// Every known column key, for help and errors.
    pub fn known_keys(&self) -> Vec<&'static str> {
        self.specs.iter().map(|s| s.0).collect()
    }
}

fn column(spec: Spec) -> Column {
    Column {
        key: spec.0.to_string(),
        path: spec.1.to_string(),
        kind: spec.2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_narrow_to_a_vhost_when_given() {
        let q = Listing::of(ListKind::Queues);
        assert_eq!(q.path(None), "/api/queues");
        assert_eq!(q.path(Some("/")), "/api/queues/%2F");
        let c = Listing::of(ListKind::Connections);
        assert_eq!(c.path(Some("a b")), "/api/vhosts/a%20b/connections");
        assert_eq!(c.path(None), "/api/connections");
        let u = Listing::of(ListKind::Users);
        assert_eq!(u.path(Some("/")), "/api/users");
    }

    #[test]
    fn default_queue_columns_match_the_issue() {
        let keys: Vec<String> = Listing::of(ListKind::Queues)
            .default_columns()
            .into_iter()
            .map(|c| c.key)
            .collect();
        assert_eq!(
            keys,
            [
                "vhost",
                "name",
                "type",
                "messages",
                "ready",
                "unacked",
                "consumers",
                "publish",
                "deliver",
                "ack",
                "state"
            ]
        );
    }

    #[test]
    fn unknown_columns_are_json_paths() {
        let c = Listing::of(ListKind::Queues).column("arguments.x-queue-type");
        assert_eq!(c.path, "arguments.x-queue-type");
        assert_eq!(c.kind, Kind::Auto);
        assert_eq!(
            Listing::of(ListKind::Queues).column("ready").path,
            "messages_ready"
        );
    }
}

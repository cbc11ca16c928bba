//! A user's permissions in one vhost (configure / write / read) and their topic
//! permissions on the routing keys of topic exchanges.

use crate::definitions::{PermissionDef, TopicPermissionDef};

use super::pattern::{Pattern, PatternError};

/// What an operation needs, as RabbitMQ names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Declare and delete.
    Configure,
    /// Publish to an exchange; be the destination of a binding.
    Write,
    /// Consume, get, purge; be the source of a binding.
    Read,
}

/// A user's permissions in one vhost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    /// Declare and delete.
    pub configure: Pattern,
    /// Publish; bind as destination.
    pub write: Pattern,
    /// Consume, get, purge; bind as source.
    pub read: Pattern,
}

impl Permission {
    /// Compiles the three patterns.
    pub fn new(configure: &str, write: &str, read: &str) -> Result<Self, PatternError> {
        Ok(Permission {
            configure: Pattern::new(configure)?,
            write: Pattern::new(write)?,
            read: Pattern::new(read)?,
        })
    }

    /// The pattern for `access`.
    pub fn pattern(&self, access: Access) -> &Pattern {
        match access {
            Access::Configure => &self.configure,
            Access::Write => &self.write,
            Access::Read => &self.read,
        }
    }

    /// As a definitions entry.
    pub fn to_def(&self, user: &str, vhost: &str) -> PermissionDef {
        PermissionDef {
            user: user.to_owned(),
            vhost: vhost.to_owned(),
            configure: self.configure.as_str().to_owned(),
            write: self.write.as_str().to_owned(),
            read: self.read.as_str().to_owned(),
        }
    }
}

/// A user's permissions on the routing keys of one topic exchange. Patterns may use
/// `{username}` and `{vhost}`, expanded when they are set (as RabbitMQ does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicPermission {
    /// The topic exchange.
    pub exchange: String,
    /// Routing keys the user may publish with, as given.
    pub write: String,
    /// Binding keys the user may bind with, as given.
    pub read: String,
    write_expanded: Pattern,
    read_expanded: Pattern,
}

impl TopicPermission {
    /// Compiles the patterns for `user` in `vhost`.
    pub fn new(
        user: &str,
        vhost: &str,
        exchange: &str,
        write: &str,
        read: &str,
    ) -> Result<Self, PatternError> {
        let expand =
            |p: &str| Pattern::new(&p.replace("{username}", user).replace("{vhost}", vhost));
        Ok(TopicPermission {
            exchange: exchange.to_owned(),
            write: write.to_owned(),
            read: read.to_owned(),
            write_expanded: expand(write)?,
            read_expanded: expand(read)?,
        })
    }

    /// From a definitions entry.
    pub fn from_def(def: &TopicPermissionDef) -> Result<Self, PatternError> {
        Self::new(&def.user, &def.vhost, &def.exchange, &def.write, &def.read)
    }

    /// Whether `routing_key` is allowed for `access` (write: publish; read: bind).
    pub fn allows(&self, access: Access, routing_key: &str) -> bool {
        match access {
            Access::Write => self.write_expanded.allows(routing_key),
            Access::Read => self.read_expanded.allows(routing_key),
            Access::Configure => true,
        }
    }

    /// As a definitions entry.
    pub fn to_def(&self, user: &str, vhost: &str) -> TopicPermissionDef {
        TopicPermissionDef {
            user: user.to_owned(),
            vhost: vhost.to_owned(),
            exchange: self.exchange.clone(),
            write: self.write.clone(),
            read: self.read.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_patterns_expand_username_and_vhost() {
        let t = TopicPermission::new("bob", "/", "amq.topic", "^{username}\\.", "").unwrap();
        assert!(t.allows(Access::Write, "bob.orders"));
        assert!(!t.allows(Access::Write, "eve.orders"));
        assert!(
            !t.allows(Access::Read, "bob.orders"),
            "empty pattern allows nothing"
        );
        assert_eq!(t.to_def("bob", "/").write, "^{username}\\.");
    }
}

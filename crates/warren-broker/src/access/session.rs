//! What one AMQP connection may do: its user's permissions in its vhost, checked where
//! RabbitMQ checks them and refused with RabbitMQ's texts. The permissions are cached
//! per connection and re-read when [`AccessControl`] changes, so the publish path costs
//! one atomic load while the last exchange published to stays allowed.

use std::sync::Arc;

use crate::error::{AmqpError, AmqpResult};

use super::control::AccessControl;
use super::permissions::{Access, Permission, TopicPermission};
use super::user::{tags, User};

/// What a permission check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// An exchange (the default exchange is checked as `amq.default`).
    Exchange,
    /// A queue.
    Queue,
}

impl Resource {
    fn noun(self) -> &'static str {
        match self {
            Resource::Exchange => "exchange",
            Resource::Queue => "queue",
        }
    }
}

/// A connection's view of its user's permissions.
#[derive(Debug)]
pub struct SessionAccess {
    control: Arc<AccessControl>,
    user: Arc<User>,
    vhost: Arc<str>,
    generation: u64,
    permission: Option<Arc<Permission>>,
    /// The user's topic permissions in the vhost, read with the permission (a publish
    /// looks its exchange up here without locking or allocating).
    topic: Vec<Arc<TopicPermission>>,
    /// The last exchange a publish was allowed to (publishers mostly use one).
    last_write: Option<Box<str>>,
}

impl SessionAccess {
    /// `user`'s access to `vhost`.
    pub fn new(control: Arc<AccessControl>, user: Arc<User>, vhost: Arc<str>) -> Self {
        let mut s = SessionAccess {
            generation: control.generation(),
            control,
            user,
            vhost,
            permission: None,
            topic: Vec::new(),
            last_write: None,
        };
        s.reload();
        s
    }

    fn reload(&mut self) {
        self.generation = self.control.generation();
        if let Some(user) = self.control.user(&self.user.name) {
            self.user = user;
        }
        self.permission = self.control.permission(&self.user.name, &self.vhost);
        self.topic = self
            .control
            .topic_permissions_of(&self.user.name, &self.vhost);
        self.last_write = None;
    }

    fn refresh(&mut self) {
        if self.control.generation() != self.generation {
            self.reload();
        }
    }

    /// The user.
    pub fn user(&self) -> &Arc<User> {
        &self.user
    }

    /// Whether the user may publish with someone else's `user_id`.
    pub fn is_impersonator(&self) -> bool {
        self.user.has_tag(tags::IMPERSONATOR)
    }

    /// Whether the user has any permissions in the vhost (else `connection.open` is
    /// refused).
    pub fn can_open_vhost(&mut self) -> bool {
        self.refresh();
        self.permission.is_some()
    }

    /// Checks `access` to the named exchange or queue: 403 ACCESS_REFUSED if denied.
    pub fn check(&mut self, access: Access, resource: Resource, name: &str) -> AmqpResult<()> {
        self.refresh();
        let name = match (resource, name) {
            (Resource::Exchange, "") => "amq.default",
            _ => name,
        };
        match &self.permission {
            Some(p) if p.pattern(access).allows(name) => Ok(()),
            _ => Err(self.refused(resource.noun(), name)),
        }
    }

    /// Checks write access to the exchange a message is published to, remembering the
    /// last one allowed.
    pub fn check_publish(&mut self, exchange: &str) -> AmqpResult<()> {
        self.refresh();
        if let Some(p) = &self.permission {
            if p.write.allows_all() || self.last_write.as_deref() == Some(exchange) {
                return Ok(());
            }
        }
        self.check(Access::Write, Resource::Exchange, exchange)?;
        self.last_write = Some(exchange.into());
        Ok(())
    }

    /// Checks a routing key against the user's topic permission on a topic exchange
    /// (write: publish; read: bind). Without a topic permission for that exchange,
    /// everything is allowed.
    pub fn check_topic(
        &mut self,
        access: Access,
        exchange: &str,
        routing_key: &str,
    ) -> AmqpResult<()> {
        self.refresh();
        match self.topic.iter().find(|t| t.exchange == exchange) {
            Some(t) if !t.allows(access, routing_key) => Err(AmqpError::access_refused(format!(
                "access to topic '{routing_key}' in exchange '{exchange}' in vhost '{}' refused for user '{}'",
                self.vhost, self.user.name
            ))),
            _ => Ok(()),
        }
    }

    fn refused(&self, noun: &str, name: &str) -> AmqpError {
        AmqpError::access_refused(format!(
            "access to {noun} '{name}' in vhost '{}' refused for user '{}'",
            self.vhost, self.user.name
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::TopicPermission;

    fn session(configure: &str, write: &str, read: &str) -> (Arc<AccessControl>, SessionAccess) {
        let ac = Arc::new(AccessControl::new());
        ac.put_user(User::with_password("bob", "pw", vec![]));
        ac.set_permission("bob", "/", Permission::new(configure, write, read).unwrap());
        let user = ac.user("bob").unwrap();
        let s = SessionAccess::new(ac.clone(), user, "/".into());
        (ac, s)
    }

    #[test]
    fn checks_use_the_access_pattern_and_rabbitmq_texts() {
        let (_, mut s) = session("^bob\\.", "^bob\\.|^amq\\.default$", "^bob\\.");
        assert!(s.check(Access::Configure, Resource::Queue, "bob.q").is_ok());
        let e = s
            .check(Access::Configure, Resource::Queue, "q")
            .unwrap_err();
        assert_eq!(
            e.reply_text(),
            "ACCESS_REFUSED - access to queue 'q' in vhost '/' refused for user 'bob'"
        );
        assert!(
            s.check_publish("").is_ok(),
            "default exchange is amq.default"
        );
        let e = s.check_publish("amq.direct").unwrap_err();
        assert!(
            e.reply_text().contains("exchange 'amq.direct'"),
            "{}",
            e.reply_text()
        );
    }

    #[test]
    fn a_permission_change_reaches_an_open_session() {
        let (ac, mut s) = session(".*", "^a$", ".*");
        assert!(s.check_publish("a").is_ok());
        ac.set_permission("bob", "/", Permission::new(".*", "^b$", ".*").unwrap());
        assert!(s.check_publish("a").is_err(), "the cached allow is dropped");
        ac.clear_permission("bob", "/");
        assert!(!s.can_open_vhost());
    }

    #[test]
    fn topic_permissions_apply_only_where_set() {
        let (ac, mut s) = session(".*", ".*", ".*");
        assert!(s
            .check_topic(Access::Write, "amq.topic", "anything")
            .is_ok());
        ac.set_topic_permission(
            "bob",
            "/",
            TopicPermission::new("bob", "/", "amq.topic", "^allowed\\.", "^r\\.").unwrap(),
        );
        assert!(s
            .check_topic(Access::Write, "amq.topic", "allowed.x")
            .is_ok());
        let e = s
            .check_topic(Access::Write, "amq.topic", "denied.x")
            .unwrap_err();
        assert_eq!(
            e.reply_text(),
            "ACCESS_REFUSED - access to topic 'denied.x' in exchange 'amq.topic' in vhost '/' refused for user 'bob'"
        );
        assert!(s
            .check_topic(Access::Write, "other.topic", "denied.x")
            .is_ok());
        assert!(s.check_topic(Access::Read, "amq.topic", "r.1").is_ok());
    }
}

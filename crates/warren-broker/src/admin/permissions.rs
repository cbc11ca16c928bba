//! Setting and clearing permissions and topic permissions.

use crate::access::{AccessError, PatternError, Permission, TopicPermission};
use crate::applied::Applied;
use crate::definitions::{PermissionDef, TopicPermissionDef};
use crate::Broker;

use super::records::{self, key};
use super::{AdminError, AdminResult};

/// A pattern that does not compile, as the admin interface reports it.
fn invalid_pattern(user: &str, vhost: &str, source: PatternError) -> AdminError {
    AdminError::Invalid(
        AccessError::InvalidPattern {
            user: user.to_owned(),
            vhost: vhost.to_owned(),
            source,
        }
        .to_string(),
    )
}

impl Broker {
    fn check_user_and_vhost(&self, user: &str, vhost: &str) -> AdminResult<()> {
        if self.access().user(user).is_none() {
            return Err(AdminError::NotFound(format!("user '{user}' not found")));
        }
        if self.vhost(vhost).is_none() {
            return Err(AdminError::NotFound(format!("vhost '{vhost}' not found")));
        }
        Ok(())
    }

    /// Sets a user's configure / write / read patterns in a vhost.
    pub fn set_permissions(&self, def: &PermissionDef) -> AdminResult<Applied<()>> {
        self.check_user_and_vhost(&def.user, &def.vhost)?;
        let p = Permission::new(&def.configure, &def.write, &def.read)
            .map_err(|source| invalid_pattern(&def.user, &def.vhost, source))?;
        let commit = self.write_record(records::PERMISSION, key(&[&def.vhost, &def.user]), def)?;
        self.access().set_permission(&def.user, &def.vhost, p);
        Ok(Applied::written((), commit))
    }

    /// Clears a user's permissions in a vhost.
    pub fn clear_permissions(&self, user: &str, vhost: &str) -> AdminResult<Applied<()>> {
        if self.access().permission(user, vhost).is_none() {
            return Err(AdminError::NotFound(format!(
                "no permissions for user '{user}' in vhost '{vhost}'"
            )));
        }
        let commit = self.delete_record(records::PERMISSION, &key(&[vhost, user]))?;
        self.access().clear_permission(user, vhost);
        Ok(Applied::written((), commit))
    }

    /// Sets a user's topic permission on one exchange of a vhost.
    pub fn set_topic_permissions(&self, def: &TopicPermissionDef) -> AdminResult<Applied<()>> {
        self.check_user_and_vhost(&def.user, &def.vhost)?;
        let t = TopicPermission::from_def(def)
            .map_err(|source| invalid_pattern(&def.user, &def.vhost, source))?;
        let commit = self.write_record(
            records::TOPIC_PERMISSION,
            key(&[&def.vhost, &def.user, &def.exchange]),
            def,
        )?;
        self.access().set_topic_permission(&def.user, &def.vhost, t);
        Ok(Applied::written((), commit))
    }

    /// Clears a user's topic permissions in a vhost: on one exchange, or all of them.
    pub fn clear_topic_permissions(
        &self,
        user: &str,
        vhost: &str,
        exchange: Option<&str>,
    ) -> AdminResult<Applied<()>> {
        for (u, v, t) in self.access().topic_permissions() {
            if u == user && v == vhost && !matches!(exchange, Some(x) if x != t.exchange) {
                self.delete_record(records::TOPIC_PERMISSION, &key(&[&v, &u, &t.exchange]))?;
            }
        }
        self.access().clear_topic_permission(user, vhost, exchange);
        Ok(Applied::written((), self.last_commit()))
    }
}

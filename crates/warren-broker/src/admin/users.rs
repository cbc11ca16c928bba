//! Adding, changing and deleting users, and their limits.

use crate::access::{User, UserLimits};
use crate::applied::Applied;
use crate::Broker;

use super::records::{self, key};
use super::{AdminError, AdminResult};

impl Broker {
    /// Adds a user or replaces one with the same name.
    pub fn put_user(&self, user: User) -> AdminResult<Applied<()>> {
        if user.name.is_empty() {
            return Err(AdminError::Invalid("user name must not be empty".into()));
        }
        let commit = self.write_record(records::USER, user.name.clone(), &user.to_def())?;
        self.access().put_user(user);
        Ok(Applied::written((), commit))
    }

    /// Deletes a user with their permissions and topic permissions, closing their
    /// connections.
    pub fn delete_user(&self, name: &str) -> AdminResult<Applied<()>> {
        if self.access().user(name).is_none() {
            return Err(AdminError::NotFound(format!("user '{name}' not found")));
        }
        for (user, vhost, _) in self.access().permissions() {
            if user == name {
                self.delete_record(records::PERMISSION, &key(&[&vhost, &user]))?;
            }
        }
        for (user, vhost, t) in self.access().topic_permissions() {
            if user == name {
                self.delete_record(
                    records::TOPIC_PERMISSION,
                    &key(&[&vhost, &user, &t.exchange]),
                )?;
            }
        }
        self.delete_record(records::USER, name)?;
        self.access().remove_user(name);
        self.connections()
            .close_user(name, &format!("user '{name}' was deleted"));
        Ok(Applied::written((), self.last_commit()))
    }

    /// Sets a user's `max-connections` and `max-channels`.
    pub fn set_user_limits(&self, name: &str, limits: UserLimits) -> AdminResult<Applied<()>> {
        let Some(user) = self.access().user(name) else {
            return Err(AdminError::NotFound(format!("user '{name}' not found")));
        };
        self.put_user(User {
            limits,
            ..(*user).clone()
        })
    }
}

//! The in-memory tables of users, permissions, topic permissions and vhost limits. The
//! broker's admin operations (`crate::admin`) write the store and then these; the AMQP
//! side reads them through [`super::SessionAccess`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use super::limits::VHostLimits;
use super::password::PasswordHash;
use super::permissions::{Permission, TopicPermission};
use super::user::User;

/// Why a password login was refused. Only the log may say which: the client is told
/// the same for all three, after the same work (an unknown user's password is hashed
/// against a dummy, see [`PasswordHash::verify_nothing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LoginRefusal {
    /// No user by that name.
    #[error("no such user")]
    UnknownUser,
    /// The user has no password (it cannot log in with one).
    #[error("the user has no password")]
    NoPassword,
    /// The password is not the user's.
    #[error("wrong password")]
    WrongPassword,
}

/// Users, permissions and limits.
#[derive(Debug, Default)]
pub struct AccessControl {
    tables: RwLock<Tables>,
    /// Bumped by every change, so sessions know to drop what they cached.
    generation: AtomicU64,
}

#[derive(Debug, Default)]
struct Tables {
    users: BTreeMap<String, Arc<User>>,
    /// By (vhost, user).
    permissions: BTreeMap<(String, String), Arc<Permission>>,
    /// By (vhost, user, exchange).
    topic: BTreeMap<(String, String, String), Arc<TopicPermission>>,
    vhost_limits: BTreeMap<String, VHostLimits>,
}

fn key(a: &str, b: &str) -> (String, String) {
    (a.to_owned(), b.to_owned())
}

impl AccessControl {
    /// Empty tables.
    pub fn new() -> Self {
        Self::default()
    }

    /// Changes so far (sessions re-read their permissions when it moves).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The user called `name`.
    pub fn user(&self, name: &str) -> Option<Arc<User>> {
        self.tables.read().users.get(name).cloned()
    }

    /// Every user, by name.
    pub fn users(&self) -> Vec<Arc<User>> {
        self.tables.read().users.values().cloned().collect()
    }

    /// The user if `password` is theirs.
    pub fn authenticate(&self, name: &str, password: &str) -> Option<Arc<User>> {
        self.check_password(name, password).ok()
    }

    /// The user if `password` is theirs, or why not. Every outcome hashes `password`
    /// once and compares digests in constant time, so how long it takes does not tell
    /// an unknown user from a wrong password.
    pub fn check_password(&self, name: &str, password: &str) -> Result<Arc<User>, LoginRefusal> {
        let Some(user) = self.user(name) else {
            PasswordHash::verify_nothing(password);
            return Err(LoginRefusal::UnknownUser);
        };
        match &user.password {
            Some(hash) if hash.verify(password) => Ok(user),
            Some(_) => Err(LoginRefusal::WrongPassword),
            None => {
                PasswordHash::verify_nothing(password);
                Err(LoginRefusal::NoPassword)
            }
        }
    }

    /// Adds or replaces a user.
    pub fn put_user(&self, user: User) {
        self.tables
            .write()
            .users
            .insert(user.name.clone(), Arc::new(user));
        self.changed();
    }

    /// Removes a user with their permissions and topic permissions. Returns whether
    /// they existed.
    pub fn remove_user(&self, name: &str) -> bool {
        let mut t = self.tables.write();
        let existed = t.users.remove(name).is_some();
        t.permissions.retain(|(_, u), _| u != name);
        t.topic.retain(|(_, u, _), _| u != name);
        drop(t);
        self.changed();
        existed
    }

    /// `user`'s permissions in `vhost`.
    pub fn permission(&self, user: &str, vhost: &str) -> Option<Arc<Permission>> {
        self.tables
            .read()
            .permissions
            .get(&key(vhost, user))
            .cloned()
    }

    /// Every permission as (user, vhost, permission), by vhost then user.
    pub fn permissions(&self) -> Vec<(String, String, Arc<Permission>)> {
        self.tables
            .read()
            .permissions
            .iter()
            .map(|((v, u), p)| (u.clone(), v.clone(), p.clone()))
            .collect()
    }

    /// Sets `user`'s permissions in `vhost`.
    pub fn set_permission(&self, user: &str, vhost: &str, permission: Permission) {
        self.tables
            .write()
            .permissions
            .insert(key(vhost, user), Arc::new(permission));
        self.changed();
    }

    /// Clears `user`'s permissions in `vhost`. Returns whether there were any.
    pub fn clear_permission(&self, user: &str, vhost: &str) -> bool {
        let existed = self
            .tables
            .write()
            .permissions
            .remove(&key(vhost, user))
            .is_some();
        self.changed();
        existed
    }

    /// `user`'s topic permission on `exchange` in `vhost`.
    pub fn topic_permission(
        &self,
        user: &str,
        vhost: &str,
        exchange: &str,
    ) -> Option<Arc<TopicPermission>> {
        self.tables
            .read()
            .topic
            .get(&(vhost.to_owned(), user.to_owned(), exchange.to_owned()))
            .cloned()
    }

    /// `user`'s topic permissions in `vhost` (none: every routing key is allowed, as in
    /// RabbitMQ).
    pub fn topic_permissions_of(&self, user: &str, vhost: &str) -> Vec<Arc<TopicPermission>> {
        self.tables
            .read()
            .topic
            .iter()
            .filter(|((v, u, _), _)| v == vhost && u == user)
            .map(|(_, p)| p.clone())
            .collect()
    }

    /// Every topic permission as (user, vhost, permission).
    pub fn topic_permissions(&self) -> Vec<(String, String, Arc<TopicPermission>)> {
        self.tables
            .read()
            .topic
            .iter()
            .map(|((v, u, _), p)| (u.clone(), v.clone(), p.clone()))
            .collect()
    }

    /// Sets `user`'s topic permission on its exchange in `vhost`.
    pub fn set_topic_permission(&self, user: &str, vhost: &str, permission: TopicPermission) {
        let k = (
            vhost.to_owned(),
            user.to_owned(),
            permission.exchange.clone(),
        );
        self.tables.write().topic.insert(k, Arc::new(permission));
        self.changed();
    }

    /// Clears `user`'s topic permission on `exchange` in `vhost` (all of their topic
    /// permissions in the vhost if `exchange` is `None`). Returns how many went.
    pub fn clear_topic_permission(&self, user: &str, vhost: &str, exchange: Option<&str>) -> usize {
        let mut t = self.tables.write();
        let before = t.topic.len();
        t.topic.retain(|(v, u, x), _| {
            !(v == vhost && u == user && !matches!(exchange, Some(e) if e != x))
        });
        let removed = before - t.topic.len();
        drop(t);
        self.changed();
        removed
    }

    /// `vhost`'s limits (none set: no limits).
    pub fn vhost_limits(&self, vhost: &str) -> VHostLimits {
        self.tables
            .read()
            .vhost_limits
            .get(vhost)
            .copied()
            .unwrap_or_default()
    }

    /// Every vhost's limits, by vhost.
    pub fn all_vhost_limits(&self) -> Vec<(String, VHostLimits)> {
        self.tables
            .read()
            .vhost_limits
            .iter()
            .map(|(v, l)| (v.clone(), *l))
            .collect()
    }

    /// Sets `vhost`'s limits (empty limits clear them).
    pub fn set_vhost_limits(&self, vhost: &str, limits: VHostLimits) {
        let mut t = self.tables.write();
        if limits.is_empty() {
            t.vhost_limits.remove(vhost);
        } else {
            t.vhost_limits.insert(vhost.to_owned(), limits);
        }
        drop(t);
        self.changed();
    }

    /// Forgets everything about `vhost`: permissions, topic permissions, limits.
    pub fn remove_vhost(&self, vhost: &str) {
        let mut t = self.tables.write();
        t.permissions.retain(|(v, _), _| v != vhost);
        t.topic.retain(|(v, _, _), _| v != vhost);
        t.vhost_limits.remove(vhost);
        drop(t);
        self.changed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_why() {
        let ac = AccessControl::new();
        ac.put_user(User::with_password("bob", "pw", vec![]));
        let mut nopw = User::with_password("svc", "x", vec![]);
        nopw.password = None;
        ac.put_user(nopw);
        assert_eq!(ac.check_password("bob", "pw").unwrap().name, "bob");
        assert_eq!(
            ac.check_password("bob", "nope").unwrap_err(),
            LoginRefusal::WrongPassword
        );
        assert_eq!(
            ac.check_password("eve", "pw").unwrap_err(),
            LoginRefusal::UnknownUser
        );
        assert_eq!(
            ac.check_password("svc", "").unwrap_err(),
            LoginRefusal::NoPassword
        );
    }

    /// Median time of `rounds` batches of `per_batch` calls.
    fn median_batch(rounds: usize, per_batch: usize, mut f: impl FnMut()) -> std::time::Duration {
        let mut times: Vec<_> = (0..rounds)
            .map(|_| {
                let t = std::time::Instant::now();
                for _ in 0..per_batch {
                    f();
                }
                t.elapsed()
            })
            .collect();
        times.sort();
        times[rounds / 2]
    }

    /// An unknown user costs a hash, like a wrong password: without the dummy hash it
    /// costs a map lookup, about a hundredth of a wrong password (measured in a debug build).
    /// Batches and medians keep the comparison steady on a busy machine; interleaving the
    /// rounds exposes both to the same load.
    #[test]
    fn an_unknown_user_costs_as_much_as_a_wrong_password() {
        let ac = AccessControl::new();
        for i in 0..100 {
            ac.put_user(User::with_password(&format!("user{i}"), "pw", vec![]));
        }
        let guess = "a-guessed-password-of-some-length";
        let mut wrong = Vec::new();
        let mut unknown = Vec::new();
        for _ in 0..9 {
            wrong.push(median_batch(5, 2000, || {
                assert!(ac.check_password("user42", guess).is_err())
            }));
            unknown.push(median_batch(5, 2000, || {
                assert!(ac.check_password("nobody42", guess).is_err())
            }));
        }
        wrong.sort();
        unknown.sort();
        let ratio = unknown[4].as_secs_f64() / wrong[4].as_secs_f64();
        assert!(
            (0.6..1.6).contains(&ratio),
            "unknown user {:?} vs wrong password {:?} per 2000 (ratio {ratio:.2})",
            unknown[4],
            wrong[4]
        );
    }

    #[test]
    fn removing_a_user_takes_their_permissions_and_bumps_the_generation() {
        let ac = AccessControl::new();
        ac.put_user(User::with_password("bob", "pw", vec![]));
        ac.set_permission("bob", "/", Permission::new(".*", ".*", ".*").unwrap());
        ac.set_topic_permission(
            "bob",
            "/",
            TopicPermission::new("bob", "/", "amq.topic", ".*", ".*").unwrap(),
        );
        assert!(ac.authenticate("bob", "pw").is_some());
        assert!(ac.authenticate("bob", "nope").is_none());
        assert_eq!(ac.topic_permissions_of("bob", "/").len(), 1);
        let g = ac.generation();
        assert!(ac.remove_user("bob"));
        assert!(ac.generation() > g);
        assert!(ac.permission("bob", "/").is_none());
        assert!(ac.topic_permissions_of("bob", "/").is_empty());
    }
}

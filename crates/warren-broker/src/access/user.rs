//! Users: a name, a password hash, tags and per-user limits.

use crate::definitions::{Tags, UserDef};

use super::limits::UserLimits;
use super::password::{HashAlgorithm, PasswordHash};
use super::AccessError;

/// The tags RabbitMQ gives meaning to (others are kept and ignored).
pub mod tags {
    /// Full access to the management API.
    pub const ADMINISTRATOR: &str = "administrator";
    /// Reads everything in the management API.
    pub const MONITORING: &str = "monitoring";
    /// Manages policies and parameters of the vhosts they can access.
    pub const POLICYMAKER: &str = "policymaker";
    /// Uses the management API for the vhosts they can access.
    pub const MANAGEMENT: &str = "management";
    /// May publish with a `user_id` property other than their own name.
    pub const IMPERSONATOR: &str = "impersonator";
}

/// A user.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// Login name.
    pub name: String,
    /// The password hash; `None`: the user cannot log in with a password.
    pub password: Option<PasswordHash>,
    /// Tags, as given.
    pub tags: Vec<String>,
    /// Connection and channel limits.
    pub limits: UserLimits,
}

impl User {
    /// A user with a password hashed now (SHA-256, RabbitMQ's default).
    pub fn with_password(name: &str, password: &str, tags: Vec<String>) -> Self {
        User {
            name: name.to_owned(),
            password: Some(PasswordHash::new(HashAlgorithm::Sha256, password)),
            tags,
            limits: UserLimits::default(),
        }
    }

    /// Whether the user has `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// Whether `password` is theirs.
    pub fn verify(&self, password: &str) -> bool {
        self.password.as_ref().is_some_and(|h| h.verify(password))
    }

    /// The user from a definitions entry: `password_hash` with its algorithm, or (Warren's
    /// convenience) `password` in clear, hashed now.
    pub fn from_def(def: &UserDef) -> Result<Self, AccessError> {
        let invalid = |reason: String| AccessError::InvalidUser {
            user: def.name.clone(),
            reason,
        };
        let algorithm =
            HashAlgorithm::from_name(&def.hashing_algorithm).map_err(|e| invalid(e.to_string()))?;
        let password = match (&def.password, def.password_hash.as_str()) {
            (Some(clear), _) => Some(PasswordHash::new(algorithm, clear)),
            (None, "") => None,
            (None, hash) => Some(
                PasswordHash::from_base64(algorithm, hash).map_err(|e| invalid(e.to_string()))?,
            ),
        };
        let limits = match &def.limits {
            Some(map) => UserLimits::from_json(map).map_err(|e| invalid(e.to_string()))?,
            None => UserLimits::default(),
        };
        Ok(User {
            name: def.name.clone(),
            password,
            tags: def.tags.0.clone(),
            limits,
        })
    }

    /// The user as a definitions entry.
    pub fn to_def(&self) -> UserDef {
        let (hash, algorithm) = match &self.password {
            Some(h) => (h.to_base64(), h.algorithm()),
            None => (String::new(), HashAlgorithm::Sha256),
        };
        UserDef {
            name: self.name.clone(),
            password_hash: hash,
            hashing_algorithm: algorithm.name().to_owned(),
            password: None,
            tags: Tags(self.tags.clone()),
            limits: Some(self.limits.to_json()),
        }
    }

    /// Whether `def` describes this user: same tags and limits, and a password that is
    /// the same hash or (for a `password` in clear) verifies.
    pub fn matches_def(&self, def: &UserDef) -> bool {
        let Ok(other) = User::from_def(def) else {
            return false;
        };
        let same_password = match (&def.password, &self.password) {
            (Some(clear), Some(_)) => self.verify(clear),
            _ => other.password == self.password,
        };
        same_password && sorted(&self.tags) == sorted(&other.tags) && self.limits == other.limits
    }
}

fn sorted(tags: &[String]) -> Vec<&str> {
    let mut v: Vec<&str> = tags.iter().map(String::as_str).collect();
    v.sort_unstable();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clear_password_matches_its_own_hashed_user_across_salts() {
        let def = UserDef {
            name: "svc".into(),
            password: Some("pw".into()),
            tags: Tags(vec!["management".into()]),
            hashing_algorithm: "rabbit_password_hashing_sha256".into(),
            ..UserDef::default()
        };
        let user = User::from_def(&def).unwrap();
        assert!(user.verify("pw"));
        assert!(user.matches_def(&def));
        let exported = user.to_def();
        assert!(exported.password.is_none());
        assert_eq!(User::from_def(&exported).unwrap(), user);
        let other = UserDef {
            password: Some("other".into()),
            ..def
        };
        assert!(!user.matches_def(&other));
    }
}

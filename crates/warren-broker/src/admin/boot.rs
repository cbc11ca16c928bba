//! The first boot's defaults (RabbitMQ's `default_vhost`, `default_user` and
//! `default_permissions`), created once, and bringing the definitions back from the
//! store at every start.

use std::sync::atomic::Ordering;

use warren_store::DefinitionRecord;

use crate::access::{Permission, TopicPermission, User, VHostLimits};
use crate::applied::Applied;
use crate::definitions::{
    JsonMap, PermissionDef, PolicyDef, TopicPermissionDef, UserDef, VHostDef,
};
use crate::Broker;

use super::records;
use super::AdminResult;

/// What a fresh broker creates.
#[derive(Debug, Clone, Default)]
pub struct FirstBoot {
    /// The default vhost (none: create no vhost).
    pub vhost: Option<String>,
    /// The default user with their configure / write / read patterns on the default
    /// vhost (none: create no user).
    pub user: Option<(User, [String; 3])>,
}

impl Broker {
    /// On a fresh broker, creates the first boot's defaults and records that it did;
    /// on one that already did, does nothing. Vhosts a store from before vhosts were
    /// recorded already holds are recorded too. Returns whether it created anything.
    pub fn initialize(&self, first: &FirstBoot) -> AdminResult<Applied<bool>> {
        if self.is_initialized() {
            return Ok(Applied::in_memory(false));
        }
        // Each write's own commit is covered by the marker's, taken after them all.
        for vhost in self.vhosts() {
            let _ = self.create_vhost(&VHostDef {
                name: vhost.name().to_string(),
                ..VHostDef::default()
            })?;
        }
        if let Some(name) = &first.vhost {
            let _ = self.create_vhost(&VHostDef {
                name: name.clone(),
                description: Some("Default virtual host".into()),
                ..VHostDef::default()
            })?;
        }
        if let Some((user, [configure, write, read])) = &first.user {
            let name = user.name.clone();
            let _ = self.put_user(user.clone())?;
            if let Some(vhost) = &first.vhost {
                let _ = self.set_permissions(&PermissionDef {
                    user: name,
                    vhost: vhost.clone(),
                    configure: configure.clone(),
                    write: write.clone(),
                    read: read.clone(),
                })?;
            }
        }
        let commit = self.write_record(
            records::BROKER,
            records::INITIALIZED.to_owned(),
            &JsonMap::new(),
        )?;
        self.initialized.store(true, Ordering::Release);
        Ok(Applied::written(true, commit))
    }

    /// Brings vhosts, users, permissions and limits back from their stored records (at
    /// start-up, before the topology). A record that no longer reads is skipped with
    /// an error logged, so one damaged entry never stops the broker.
    pub(crate) fn restore_definitions(&self, stored: &[DefinitionRecord]) {
        let of = |kind: &'static str| stored.iter().filter(move |r| r.kind == kind);
        let report = |r: &DefinitionRecord, e: String| {
            tracing::error!(kind = %r.kind, key = %r.key, error = %e, "stored definition not restored");
        };
        for r in of(records::BROKER) {
            if r.key == records::INITIALIZED {
                self.initialized.store(true, Ordering::Release);
            }
        }
        for r in of(records::VHOST) {
            match records::value::<VHostDef>(r) {
                Ok(def) => {
                    self.add_vhost(&def.name);
                    self.vhost_defs.write().insert(def.name.clone(), def);
                }
                Err(e) => report(r, e),
            }
        }
        for r in of(records::USER) {
            match records::value::<UserDef>(r)
                .and_then(|d| User::from_def(&d).map_err(|e| e.to_string()))
            {
                Ok(user) => self.access().put_user(user),
                Err(e) => report(r, e),
            }
        }
        for r in of(records::VHOST_LIMITS) {
            match records::value::<JsonMap>(r)
                .and_then(|m| VHostLimits::from_json(&m).map_err(|e| e.to_string()))
            {
                Ok(limits) => {
                    self.access().set_vhost_limits(&r.key, limits);
                    if let Some(v) = self.vhost(&r.key) {
                        v.set_max_queues(limits.max_queues);
                    }
                }
                Err(e) => report(r, e),
            }
        }
        for r in of(records::PERMISSION) {
            match records::value::<PermissionDef>(r).and_then(|d| {
                Permission::new(&d.configure, &d.write, &d.read)
                    .map(|p| (d, p))
                    .map_err(|e| e.to_string())
            }) {
                Ok((d, p)) => self.access().set_permission(&d.user, &d.vhost, p),
                Err(e) => report(r, e),
            }
        }
        for (kind, operator) in [(records::POLICY, false), (records::OPERATOR_POLICY, true)] {
            for r in of(kind) {
                if let Err(e) =
                    records::value::<PolicyDef>(r).and_then(|d| self.restore_policy(d, operator))
                {
                    report(r, e);
                }
            }
        }
        for r in of(records::TOPIC_PERMISSION) {
            match records::value::<TopicPermissionDef>(r).and_then(|d| {
                TopicPermission::from_def(&d)
                    .map(|t| (d, t))
                    .map_err(|e| e.to_string())
            }) {
                Ok((d, t)) => self.access().set_topic_permission(&d.user, &d.vhost, t),
                Err(e) => report(r, e),
            }
        }
    }
}

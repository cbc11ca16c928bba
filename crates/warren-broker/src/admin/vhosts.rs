//! Creating and deleting virtual hosts, and their limits.

use std::sync::Arc;

use crate::access::VHostLimits;
use crate::applied::Applied;
use crate::definitions::VHostDef;
use crate::vhost::VHost;
use crate::Broker;

use super::records::{self, key};
use super::{AdminError, AdminResult};

impl Broker {
    /// Creates a virtual host (durably), or updates the description and tags of an
    /// existing one. Its standard `amq.*` exchanges come with it.
    pub fn create_vhost(&self, def: &VHostDef) -> AdminResult<Applied<Arc<VHost>>> {
        if def.name.is_empty() {
            return Err(AdminError::Invalid("vhost name must not be empty".into()));
        }
        let stored = VHostDef {
            limits: None,
            ..def.clone()
        };
        let commit = self.write_record(records::VHOST, def.name.clone(), &stored)?;
        self.vhost_defs.write().insert(def.name.clone(), stored);
        Ok(Applied::written(self.add_vhost(&def.name), commit))
    }

    /// The definition of vhost `name` (its description and tags).
    pub fn vhost_def(&self, name: &str) -> Option<VHostDef> {
        self.vhost(name)?;
        Some(
            self.vhost_defs
                .read()
                .get(name)
                .cloned()
                .unwrap_or_else(|| VHostDef {
                    name: name.to_owned(),
                    ..VHostDef::default()
                }),
        )
    }

    /// Deletes a virtual host with everything in it: its queues and their messages,
    /// its exchanges, bindings, permissions, topic permissions, limits and policies.
    /// Its connections are closed with 320 CONNECTION_FORCED.
    pub fn delete_vhost(&self, name: &str) -> AdminResult<Applied<()>> {
        let Some(vhost) = self.vhost(name) else {
            return Err(AdminError::NotFound(format!("vhost '{name}' not found")));
        };
        let closed = self
            .connections()
            .close_vhost(name, &format!("vhost '{name}' is deleted"));
        vhost.remove_everything()?;
        for (user, v, _) in self.access().permissions() {
            if v == name {
                self.delete_record(records::PERMISSION, &key(&[&v, &user]))?;
            }
        }
        for (user, v, t) in self.access().topic_permissions() {
            if v == name {
                self.delete_record(records::TOPIC_PERMISSION, &key(&[&v, &user, &t.exchange]))?;
            }
        }
        self.delete_record(records::VHOST_LIMITS, name)?;
        self.delete_vhost_policies(&vhost)?;
        self.delete_record(records::VHOST, name)?;
        self.access().remove_vhost(name);
        self.remove_vhost_entry(name);
        tracing::info!(vhost = %name, connections_closed = closed, "vhost deleted");
        Ok(Applied::written((), self.last_commit()))
    }

    /// Sets (or, with empty limits, clears) a vhost's `max-connections` and
    /// `max-queues`.
    pub fn set_vhost_limits(&self, vhost: &str, limits: VHostLimits) -> AdminResult<Applied<()>> {
        if self.vhost(vhost).is_none() {
            return Err(AdminError::NotFound(format!("vhost '{vhost}' not found")));
        }
        let commit = if limits.is_empty() {
            self.delete_record(records::VHOST_LIMITS, vhost)?
        } else {
            self.write_record(records::VHOST_LIMITS, vhost.to_owned(), &limits.to_json())?
        };
        self.access().set_vhost_limits(vhost, limits);
        if let Some(v) = self.vhost(vhost) {
            v.set_max_queues(limits.max_queues);
        }
        Ok(Applied::written((), commit))
    }
}

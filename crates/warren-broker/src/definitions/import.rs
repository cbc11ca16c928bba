//! Importing definitions (a RabbitMQ `definitions.json`, Warren's TOML topology, an
//! export of Warren's own) through the admin interface.
//!
//! At boot ([`ImportMode::Boot`]) an import is idempotent and never changes anything
//! silently: an entity that exists with the same properties is left alone, one that
//! exists with different properties stops the import with an error naming it. An
//! import on a running broker ([`ImportMode::Replace`], the HTTP API) overwrites users,
//! permissions, limits and policies as RabbitMQ does; exchanges and queues still
//! cannot change type or arguments (406, as a redeclare).

use serde_json::Value;

use crate::access::{User, VHostLimits};
use crate::admin::{AdminError, AdminResult};
use crate::definitions::arguments::table_from_json;
use crate::definitions::{Definitions, PolicyDef, VHostDef};
use crate::error::AmqpError;
use crate::{Broker, ExchangeDeclare, QueueDeclare};

/// How an import treats what already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// Leave equal entities alone; a different one is an error.
    Boot,
    /// Overwrite users, permissions, limits and policies.
    Replace,
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// Entities created or changed.
    pub applied: usize,
    /// Entities that already existed as defined.
    pub unchanged: usize,
    /// Entries skipped as unsupported (each logged once), e.g. `parameters` of
    /// components Warren does not have.
    pub skipped: Vec<String>,
}

fn conflict(what: String) -> AdminError {
    AdminError::Conflict(format!(
        "{what} already exists with different properties; the definitions would change it (refused at boot: change or delete it through the admin interface first)"
    ))
}

fn in_entity(what: String) -> impl Fn(AdminError) -> AdminError {
    move |e| match e {
        AdminError::Amqp(a) => amqp_in(&what, a),
        AdminError::Invalid(m) => AdminError::Invalid(format!("{what}: {m}")),
        AdminError::NotFound(m) => AdminError::NotFound(format!("{what}: {m}")),
        other => other,
    }
}

fn amqp_in(what: &str, e: AmqpError) -> AdminError {
    if matches!(&e, AmqpError::Channel(c) if c.code == crate::error::ChannelCode::PreconditionFailed)
    {
        conflict(format!("{what} ({})", e.reply_text()))
    } else {
        AdminError::Invalid(format!("{what}: {}", e.reply_text()))
    }
}

impl Broker {
    /// Applies `defs` in dependency order (vhosts, users, permissions, limits,
    /// policies, exchanges, queues, bindings), waiting until all of it is durable.
    pub async fn import_definitions(
        &self,
        defs: &Definitions,
        mode: ImportMode,
    ) -> AdminResult<ImportReport> {
        let report = self.import_now(defs, mode)?;
        if let Some(ticket) = self.last_commit() {
            ticket.await?;
        }
        Ok(report)
    }

    fn import_now(&self, defs: &Definitions, mode: ImportMode) -> AdminResult<ImportReport> {
        let mut r = ImportReport::default();
        let boot = mode == ImportMode::Boot;
        for v in &defs.vhosts {
            let stored = VHostDef {
                limits: None,
                ..v.clone()
            };
            if self.vhost_def(&v.name).as_ref() == Some(&stored)
                || (boot && self.vhost(&v.name).is_some())
            {
                // At boot an existing vhost is left as it is (its description is no
                // property worth refusing a start for).
                r.unchanged += 1;
            } else {
                let _ = self
                    .create_vhost(v)
                    .map_err(in_entity(format!("vhost '{}'", v.name)))?;
                r.applied += 1;
            }
            if let Some(Value::Object(limits)) = &v.limits {
                self.import_vhost_limits(&v.name, limits, boot, &mut r)?;
            }
        }
        for u in &defs.users {
            let what = format!("user '{}'", u.name);
            match self.access().user(&u.name) {
                Some(existing) if existing.matches_def(u) => r.unchanged += 1,
                Some(_) if boot => return Err(conflict(what)),
                _ => {
                    let user = User::from_def(u).map_err(|e| AdminError::Invalid(e.to_string()))?;
                    let _ = self.put_user(user)?;
                    r.applied += 1;
                }
            }
        }
        for p in &defs.permissions {
            let what = format!("permissions of user '{}' in vhost '{}'", p.user, p.vhost);
            match self.access().permission(&p.user, &p.vhost) {
                Some(existing) if existing.to_def(&p.user, &p.vhost) == *p => r.unchanged += 1,
                Some(_) if boot => return Err(conflict(what)),
                _ => {
                    let _ = self.set_permissions(p).map_err(in_entity(what))?;
                    r.applied += 1;
                }
            }
        }
        for t in &defs.topic_permissions {
            let what = format!(
                "topic permissions of user '{}' on exchange '{}' in vhost '{}'",
                t.user, t.exchange, t.vhost
            );
            match self
                .access()
                .topic_permission(&t.user, &t.vhost, &t.exchange)
            {
                Some(existing) if existing.to_def(&t.user, &t.vhost) == *t => r.unchanged += 1,
                Some(_) if boot => return Err(conflict(what)),
                _ => {
                    let _ = self.set_topic_permissions(t).map_err(in_entity(what))?;
                    r.applied += 1;
                }
            }
        }
        for p in &defs.parameters {
            match (p.component.as_str(), &p.value) {
                ("vhost-limits", Value::Object(limits)) => {
                    self.import_vhost_limits(&p.vhost, limits, boot, &mut r)?
                }
                ("operator_policy", Value::Object(value)) => {
                    let def = policy_from_parameter(&p.vhost, &p.name, value)?;
                    self.import_policy(&def, true, boot, &mut r)?;
                }
                _ => skip(
                    &mut r,
                    format!(
                        "parameter '{}' of component '{}' in vhost '{}'",
                        p.name, p.component, p.vhost
                    ),
                ),
            }
        }
        for g in &defs.global_parameters {
            skip(&mut r, format!("global parameter '{}'", g.name));
        }
        for p in &defs.policies {
            self.import_policy(p, false, boot, &mut r)?;
        }
        for x in &defs.exchanges {
            let what = format!("exchange '{}' in vhost '{}'", x.name, x.vhost);
            let vhost = self.vhost_for_import(&x.vhost, &what)?;
            let existed = vhost.exchange(&x.name).is_ok();
            let _ = vhost
                .declare_exchange(&ExchangeDeclare {
                    name: x.name.clone(),
                    kind: x.kind.clone(),
                    passive: false,
                    durable: x.durable,
                    auto_delete: x.auto_delete,
                    internal: x.internal,
                    arguments: table_from_json(&x.arguments),
                })
                .map_err(|e| amqp_in(&what, e))?;
            count(&mut r, existed);
        }
        for q in &defs.queues {
            let what = format!("queue '{}' in vhost '{}'", q.name, q.vhost);
            let vhost = self.vhost_for_import(&q.vhost, &what)?;
            let existed = vhost.queue(&q.name, 0).is_ok();
            let _ = vhost
                .declare_queue(
                    &QueueDeclare {
                        name: q.name.clone(),
                        passive: false,
                        durable: q.durable,
                        exclusive: false,
                        auto_delete: q.auto_delete,
                        arguments: table_from_json(&q.arguments),
                        server_named: false,
                    },
                    0,
                )
                .map_err(|e| amqp_in(&what, e))?;
            count(&mut r, existed);
        }
        for b in &defs.bindings {
            let what = format!(
                "binding from exchange '{}' to {} '{}' with key '{}' in vhost '{}'",
                b.source, b.destination_type, b.destination, b.routing_key, b.vhost
            );
            let vhost = self.vhost_for_import(&b.vhost, &what)?;
            let args = table_from_json(&b.arguments);
            let applied = match b.destination_type.as_str() {
                "queue" => vhost.bind_queue(&b.destination, &b.source, &b.routing_key, &args, 0),
                "exchange" => vhost.bind_exchange(&b.destination, &b.source, &b.routing_key, &args),
                other => {
                    return Err(AdminError::Invalid(format!(
                        "{what}: destination_type must be 'queue' or 'exchange', not '{other}'"
                    )))
                }
            };
            let _ =
                applied.map_err(|e| AdminError::Invalid(format!("{what}: {}", e.reply_text())))?;
            r.applied += 1;
        }
        Ok(r)
    }

    fn vhost_for_import(
        &self,
        name: &str,
        what: &str,
    ) -> AdminResult<std::sync::Arc<crate::VHost>> {
        self.vhost(name).ok_or_else(|| {
            AdminError::NotFound(format!(
                "{what}: vhost '{name}' does not exist (declare it in the definitions' vhosts)"
            ))
        })
    }

    fn import_vhost_limits(
        &self,
        vhost: &str,
        limits: &crate::definitions::JsonMap,
        boot: bool,
        r: &mut ImportReport,
    ) -> AdminResult<()> {
        let what = format!("limits of vhost '{vhost}'");
        let limits = VHostLimits::from_json(limits)
            .map_err(|e| AdminError::Invalid(format!("{what}: {e}")))?;
        let existing = self.access().vhost_limits(vhost);
        if existing == limits {
            r.unchanged += 1;
        } else if boot && !existing.is_empty() {
            return Err(conflict(what));
        } else {
            let _ = self
                .set_vhost_limits(vhost, limits)
                .map_err(in_entity(what))?;
            r.applied += 1;
        }
        Ok(())
    }

    fn import_policy(
        &self,
        def: &PolicyDef,
        operator: bool,
        boot: bool,
        r: &mut ImportReport,
    ) -> AdminResult<()> {
        let kind = if operator {
            "operator policy"
        } else {
            "policy"
        };
        let what = format!("{kind} '{}' in vhost '{}'", def.name, def.vhost);
        match self.policy_def(&def.vhost, &def.name, operator) {
            Some(existing) if existing == *def => r.unchanged += 1,
            Some(_) if boot => return Err(conflict(what)),
            _ => {
                let _ = self.set_policy(def, operator).map_err(in_entity(what))?;
                r.applied += 1;
            }
        }
        Ok(())
    }
}

fn count(r: &mut ImportReport, existed: bool) {
    if existed {
        r.unchanged += 1;
    } else {
        r.applied += 1;
    }
}

fn skip(r: &mut ImportReport, what: String) {
    tracing::warn!(entry = %what, "definitions: not supported by Warren, skipped");
    r.skipped.push(what);
}

/// An operator policy as RabbitMQ exports it: a `parameters` entry whose value holds
/// pattern, definition, priority and apply-to.
fn policy_from_parameter(
    vhost: &str,
    name: &str,
    value: &crate::definitions::JsonMap,
) -> AdminResult<PolicyDef> {
    let mut v = value.clone();
    v.insert("vhost".into(), Value::from(vhost));
    v.insert("name".into(), Value::from(name));
    serde_json::from_value(Value::Object(v)).map_err(|e| {
        AdminError::Invalid(format!("operator policy '{name}' in vhost '{vhost}': {e}"))
    })
}

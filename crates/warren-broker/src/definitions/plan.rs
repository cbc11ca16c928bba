//! Topology as code: the differences between a definitions document and the running
//! broker (what `warrenctl apply` prints as `+` / `~` / `-` lines), and applying them.
//!
//! Applying imports the document (adding what is missing, changing users, permissions,
//! limits and policies) and, only when asked to prune, deletes what the document no
//! longer names, within the vhosts it names. A queue or exchange whose properties differ
//! cannot change in place (AMQP has no such operation), so a plan with one is refused
//! whole before anything changes.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use crate::admin::{AdminError, AdminResult};
use crate::definitions::arguments::table_to_json;
use crate::definitions::{BindingDef, Definitions, ImportMode, PolicyDef};
use crate::routing::Destination;
use crate::Broker;

/// The vhost a prune never deletes (every broker has it).
const DEFAULT_VHOST: &str = "/";

/// Whether something is added, changed or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ChangeKind {
    /// In the document, not in the broker.
    #[serde(rename = "+")]
    Add,
    /// In both, different.
    #[serde(rename = "~")]
    Update,
    /// In the broker, not in the document (acted on only with prune).
    #[serde(rename = "-")]
    Remove,
}

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// `+`, `~` or `-`.
    pub change: ChangeKind,
    /// `vhost`, `user`, `permission`, `topic_permission`, `vhost_limits`, `policy`,
    /// `operator_policy`, `exchange`, `queue` or `binding`.
    pub kind: &'static str,
    /// The vhost it is in (none for vhosts and users).
    pub vhost: Option<String>,
    /// Its name (a binding: `source -> destination (key)`).
    pub name: String,
    /// What differs, or a short description.
    pub detail: String,
}

impl Change {
    fn new(
        change: ChangeKind,
        kind: &'static str,
        vhost: Option<&str>,
        name: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Change {
            change,
            kind,
            vhost: vhost.map(str::to_owned),
            name: name.into(),
            detail: detail.into(),
        }
    }

    /// Whether applying it would need to change a queue or exchange in place.
    fn is_impossible(&self) -> bool {
        self.change == ChangeKind::Update && matches!(self.kind, "queue" | "exchange")
    }
}

fn binding_name(b: &BindingDef) -> String {
    format!(
        "{} -> {} {} ({})",
        if b.source.is_empty() {
            "(default)"
        } else {
            &b.source
        },
        b.destination_type,
        b.destination,
        b.routing_key
    )
}

fn binding_identity(b: &BindingDef) -> (String, String, String, String, String, String) {
    (
        b.vhost.clone(),
        b.source.clone(),
        b.destination_type.clone(),
        b.destination.clone(),
        b.routing_key.clone(),
        Value::Object(b.arguments.clone()).to_string(),
    )
}

fn differences(pairs: &[(&str, bool)]) -> String {
    pairs
        .iter()
        .filter(|(_, differs)| *differs)
        .map(|(what, _)| *what)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Broker {
    /// The vhosts a document names (declared, or used by any of its entities).
    fn vhosts_named(desired: &Definitions) -> BTreeSet<String> {
        let mut v: BTreeSet<String> = desired.vhosts.iter().map(|x| x.name.clone()).collect();
        v.extend(desired.permissions.iter().map(|x| x.vhost.clone()));
        v.extend(desired.policies.iter().map(|x| x.vhost.clone()));
        v.extend(desired.parameters.iter().map(|x| x.vhost.clone()));
        v.extend(desired.queues.iter().map(|x| x.vhost.clone()));
        v.extend(desired.exchanges.iter().map(|x| x.vhost.clone()));
        v.extend(desired.bindings.iter().map(|x| x.vhost.clone()));
        v
    }

    /// Every difference between `desired` and the broker. Removals are listed only
    /// with `prune`; users are pruned only if the document lists users, and never
    /// `keep_user` (whoever asked).
    pub fn plan_definitions(
        &self,
        desired: &Definitions,
        prune: bool,
        keep_user: Option<&str>,
    ) -> Vec<Change> {
        let mut out = Vec::new();
        self.plan_access(desired, &mut out);
        self.plan_topology(desired, &mut out);
        if prune {
            self.plan_prune(desired, keep_user, &mut out);
        }
        out
    }

    fn plan_access(&self, desired: &Definitions, out: &mut Vec<Change>) {
        use ChangeKind::*;
        for v in &desired.vhosts {
            match self.vhost_def(&v.name) {
                None => out.push(Change::new(Add, "vhost", None, &v.name, "")),
                Some(live)
                    if live.description.as_deref().unwrap_or("")
                        != v.description.as_deref().unwrap_or("")
                        || live.tags.as_ref().map(|t| &t.0) != v.tags.as_ref().map(|t| &t.0) =>
                {
                    out.push(Change::new(
                        Update,
                        "vhost",
                        None,
                        &v.name,
                        "description or tags",
                    ))
                }
                Some(_) => {}
            }
        }
        for u in &desired.users {
            match self.access().user(&u.name) {
                None => out.push(Change::new(
                    Add,
                    "user",
                    None,
                    &u.name,
                    format!("tags: {}", u.tags.0.join(",")),
                )),
                Some(live) if !live.matches_def(u) => out.push(Change::new(
                    Update,
                    "user",
                    None,
                    &u.name,
                    "password or tags",
                )),
                Some(_) => {}
            }
        }
        for p in &desired.permissions {
            let name = p.user.clone();
            match self.access().permission(&p.user, &p.vhost) {
                None => out.push(Change::new(
                    Add,
                    "permission",
                    Some(&p.vhost),
                    name,
                    format!("{} {} {}", p.configure, p.write, p.read),
                )),
                Some(live) if live.to_def(&p.user, &p.vhost) != *p => out.push(Change::new(
                    Update,
                    "permission",
                    Some(&p.vhost),
                    name,
                    format!("{} {} {}", p.configure, p.write, p.read),
                )),
                Some(_) => {}
            }
        }
        for t in &desired.topic_permissions {
            let live = self
                .access()
                .topic_permission(&t.user, &t.vhost, &t.exchange);
            let name = format!("{} on {}", t.user, t.exchange);
            match live {
                None => out.push(Change::new(
                    Add,
                    "topic_permission",
                    Some(&t.vhost),
                    name,
                    "",
                )),
                Some(l) if l.to_def(&t.user, &t.vhost) != *t => out.push(Change::new(
                    Update,
                    "topic_permission",
                    Some(&t.vhost),
                    name,
                    "patterns",
                )),
                Some(_) => {}
            }
        }
        for p in &desired.parameters {
            match (p.component.as_str(), &p.value) {
                ("vhost-limits", Value::Object(limits)) => {
                    let live = self.access().vhost_limits(&p.vhost).to_json();
                    if live != *limits {
                        let kind = if live.is_empty() { Add } else { Update };
                        out.push(Change::new(
                            kind,
                            "vhost_limits",
                            Some(&p.vhost),
                            &p.vhost,
                            Value::Object(limits.clone()).to_string(),
                        ));
                    }
                }
                ("operator_policy", Value::Object(value)) => {
                    let live = self.policy_def(&p.vhost, &p.name, true);
                    let same = live.as_ref().is_some_and(|l| {
                        serde_json::to_value(PolicyParts::of(l)).ok().as_ref()
                            == Some(&Value::Object(value.clone()))
                    });
                    if !same {
                        let kind = if live.is_none() { Add } else { Update };
                        out.push(Change::new(
                            kind,
                            "operator_policy",
                            Some(&p.vhost),
                            &p.name,
                            "",
                        ));
                    }
                }
                _ => {}
            }
        }
        for p in &desired.policies {
            match self.policy_def(&p.vhost, &p.name, false) {
                None => out.push(Change::new(
                    Add,
                    "policy",
                    Some(&p.vhost),
                    &p.name,
                    format!("pattern {}", p.pattern),
                )),
                Some(live) if live != *p => out.push(Change::new(
                    Update,
                    "policy",
                    Some(&p.vhost),
                    &p.name,
                    "definition, pattern, priority or apply-to",
                )),
                Some(_) => {}
            }
        }
    }

    fn plan_topology(&self, desired: &Definitions, out: &mut Vec<Change>) {
        use ChangeKind::*;
        for x in &desired.exchanges {
            let live = self.vhost(&x.vhost).and_then(|v| v.exchange(&x.name).ok());
            match live {
                None => out.push(Change::new(
                    Add,
                    "exchange",
                    Some(&x.vhost),
                    &x.name,
                    format!("type {}", x.kind),
                )),
                Some(e) => {
                    let c = e.config();
                    let what = differences(&[
                        ("type", c.type_name() != x.kind),
                        ("durable", c.durable != x.durable),
                        ("auto_delete", c.auto_delete != x.auto_delete),
                        ("internal", c.internal != x.internal),
                        ("arguments", table_to_json(&c.arguments) != x.arguments),
                    ]);
                    if !what.is_empty() {
                        out.push(Change::new(
                            Update,
                            "exchange",
                            Some(&x.vhost),
                            &x.name,
                            format!("differs: {what}"),
                        ));
                    }
                }
            }
        }
        for q in &desired.queues {
            let live = self.vhost(&q.vhost).and_then(|v| v.find_queue(&q.name));
            match live {
                None => out.push(Change::new(
                    Add,
                    "queue",
                    Some(&q.vhost),
                    &q.name,
                    if q.durable { "durable" } else { "transient" },
                )),
                Some(live) => {
                    let c = live.config();
                    let what = differences(&[
                        ("durable", c.durable != q.durable),
                        ("auto_delete", c.auto_delete != q.auto_delete),
                        ("arguments", table_to_json(&c.arguments) != q.arguments),
                    ]);
                    if !what.is_empty() {
                        out.push(Change::new(
                            Update,
                            "queue",
                            Some(&q.vhost),
                            &q.name,
                            format!("differs: {what}"),
                        ));
                    }
                }
            }
        }
        let live: BTreeSet<_> = self.live_bindings().iter().map(binding_identity).collect();
        for b in &desired.bindings {
            if !live.contains(&binding_identity(b)) {
                out.push(Change::new(
                    Add,
                    "binding",
                    Some(&b.vhost),
                    binding_name(b),
                    "",
                ));
            }
        }
    }

    /// Bindings between exchanges and queues or exchanges, as definitions.
    fn live_bindings(&self) -> Vec<BindingDef> {
        let mut out = Vec::new();
        for v in self.vhosts() {
            for e in v.exchanges() {
                for b in e.bindings() {
                    let (destination, destination_type) = match &b.destination {
                        Destination::Queue(q) => (q.to_string(), "queue"),
                        Destination::Exchange(x) => (x.to_string(), "exchange"),
                    };
                    out.push(BindingDef {
                        source: e.name().to_string(),
                        vhost: v.name().to_string(),
                        destination,
                        destination_type: destination_type.to_owned(),
                        routing_key: b.routing_key.to_string(),
                        arguments: table_to_json(&b.arguments),
                    });
                }
            }
        }
        out
    }

    fn plan_prune(&self, desired: &Definitions, keep_user: Option<&str>, out: &mut Vec<Change>) {
        use ChangeKind::Remove;
        let scope = Self::vhosts_named(desired);
        let live = self.export_definitions();
        let wanted_bindings: BTreeSet<_> = desired.bindings.iter().map(binding_identity).collect();
        for b in live.bindings.iter().filter(|b| scope.contains(&b.vhost)) {
            if !wanted_bindings.contains(&binding_identity(b)) {
                out.push(Change::new(
                    Remove,
                    "binding",
                    Some(&b.vhost),
                    binding_name(b),
                    "",
                ));
            }
        }
        let named = |list: &[(String, String)], vhost: &str, name: &str| {
            list.iter().any(|(v, n)| v == vhost && n == name)
        };
        let queues: Vec<_> = desired
            .queues
            .iter()
            .map(|q| (q.vhost.clone(), q.name.clone()))
            .collect();
        for q in live.queues.iter().filter(|q| scope.contains(&q.vhost)) {
            if !named(&queues, &q.vhost, &q.name) {
                out.push(Change::new(Remove, "queue", Some(&q.vhost), &q.name, ""));
            }
        }
        let exchanges: Vec<_> = desired
            .exchanges
            .iter()
            .map(|x| (x.vhost.clone(), x.name.clone()))
            .collect();
        for x in live.exchanges.iter().filter(|x| scope.contains(&x.vhost)) {
            if !named(&exchanges, &x.vhost, &x.name) {
                out.push(Change::new(Remove, "exchange", Some(&x.vhost), &x.name, ""));
            }
        }
        let policies: Vec<_> = desired
            .policies
            .iter()
            .map(|p| (p.vhost.clone(), p.name.clone()))
            .collect();
        for p in live.policies.iter().filter(|p| scope.contains(&p.vhost)) {
            if !named(&policies, &p.vhost, &p.name) {
                out.push(Change::new(Remove, "policy", Some(&p.vhost), &p.name, ""));
            }
        }
        let permissions: Vec<_> = desired
            .permissions
            .iter()
            .map(|p| (p.vhost.clone(), p.user.clone()))
            .collect();
        for p in live.permissions.iter().filter(|p| scope.contains(&p.vhost)) {
            if !named(&permissions, &p.vhost, &p.user) && Some(p.user.as_str()) != keep_user {
                out.push(Change::new(
                    Remove,
                    "permission",
                    Some(&p.vhost),
                    &p.user,
                    "",
                ));
            }
        }
        if !desired.users.is_empty() {
            for u in &live.users {
                let wanted = desired.users.iter().any(|d| d.name == u.name);
                if !wanted && Some(u.name.as_str()) != keep_user {
                    out.push(Change::new(Remove, "user", None, &u.name, ""));
                }
            }
        }
        if !desired.vhosts.is_empty() {
            for v in &live.vhosts {
                let wanted = desired.vhosts.iter().any(|d| d.name == v.name);
                if !wanted && v.name != DEFAULT_VHOST {
                    out.push(Change::new(Remove, "vhost", None, &v.name, ""));
                }
            }
        }
    }

    /// Applies `desired`: refuses a plan that would change a queue or exchange in place,
    /// imports the document, then (with `prune`) deletes what it no longer names.
    /// Returns the changes made, once they are durable.
    pub async fn apply_definitions(
        &self,
        desired: &Definitions,
        prune: bool,
        keep_user: Option<&str>,
    ) -> AdminResult<Vec<Change>> {
        let plan = self.plan_definitions(desired, prune, keep_user);
        let impossible: Vec<String> = plan
            .iter()
            .filter(|c| c.is_impossible())
            .map(|c| {
                format!(
                    "{} '{}' in vhost '{}' ({})",
                    c.kind,
                    c.name,
                    c.vhost.as_deref().unwrap_or(""),
                    c.detail
                )
            })
            .collect();
        if !impossible.is_empty() {
            return Err(AdminError::Conflict(format!(
                "cannot change in place: {}; a queue's or exchange's properties are fixed when it is declared: delete it first, or use a policy",
                impossible.join("; ")
            )));
        }
        self.import_definitions(desired, ImportMode::Replace)
            .await?;
        for c in plan.iter().filter(|c| c.change == ChangeKind::Remove) {
            self.remove_for_prune(c, desired)?;
        }
        if let Some(ticket) = self.last_commit() {
            ticket.await?;
        }
        Ok(plan)
    }

    fn remove_for_prune(&self, c: &Change, _desired: &Definitions) -> AdminResult<()> {
        let vhost = c.vhost.as_deref().unwrap_or(DEFAULT_VHOST);
        match c.kind {
            "binding" => {
                let Some(v) = self.vhost(vhost) else {
                    return Ok(());
                };
                for b in self
                    .live_bindings()
                    .iter()
                    .filter(|b| b.vhost == vhost && binding_name(b) == c.name)
                {
                    let args = crate::definitions::arguments::table_from_json(&b.arguments);
                    let _ = match b.destination_type.as_str() {
                        "queue" => {
                            v.unbind_queue(&b.destination, &b.source, &b.routing_key, &args, 0)?
                        }
                        _ => v.unbind_exchange(&b.destination, &b.source, &b.routing_key, &args)?,
                    };
                }
            }
            "queue" => {
                if let Some(v) = self.vhost(vhost) {
                    let _ = v.delete_queue(&c.name, false, false, 0)?;
                }
            }
            "exchange" => {
                if let Some(v) = self.vhost(vhost) {
                    let _ = v.delete_exchange(&c.name, false)?;
                }
            }
            "policy" => {
                let _ = self.clear_policy(vhost, &c.name, false)?;
            }
            "permission" => {
                let _ = self.clear_permissions(&c.name, vhost)?;
            }
            "user" => {
                let _ = self.delete_user(&c.name)?;
            }
            "vhost" => {
                let _ = self.delete_vhost(&c.name)?;
            }
            _ => {}
        }
        tracing::info!(kind = c.kind, vhost = ?c.vhost, name = %c.name, "apply: pruned");
        Ok(())
    }
}

/// An operator policy's value as a `parameters` entry carries it.
#[derive(Serialize)]
struct PolicyParts<'a> {
    pattern: &'a str,
    definition: &'a crate::definitions::JsonMap,
    priority: i64,
    #[serde(rename = "apply-to")]
    apply_to: &'a str,
}

impl<'a> PolicyParts<'a> {
    fn of(p: &'a PolicyDef) -> Self {
        PolicyParts {
            pattern: &p.pattern,
            definition: &p.definition,
            priority: p.priority,
            apply_to: &p.apply_to,
        }
    }
}

//! Exporting the broker's definitions in RabbitMQ's format (what `GET
//! /api/definitions` returns): everything an import needs to rebuild the same state.

use serde_json::Value;

use crate::routing::Destination;
use crate::Broker;

use super::arguments::table_to_json;
use super::{BindingDef, Definitions, ExchangeDef, ParameterDef, QueueDef, VHostDef};

impl Broker {
    /// Every vhost, user, permission, topic permission, limit, policy, durable exchange,
    /// durable queue and binding between durable entities. Standard `amq.*` exchanges,
    /// transient and exclusive entities are left out, as RabbitMQ does.
    pub fn export_definitions(&self) -> Definitions {
        let access = self.access();
        let mut d = Definitions {
            rabbit_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            rabbitmq_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            product_name: Some("Warren".to_owned()),
            product_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            users: access.users().iter().map(|u| u.to_def()).collect(),
            permissions: access
                .permissions()
                .iter()
                .map(|(u, v, p)| p.to_def(u, v))
                .collect(),
            topic_permissions: access
                .topic_permissions()
                .iter()
                .map(|(u, v, t)| t.to_def(u, v))
                .collect(),
            parameters: access
                .all_vhost_limits()
                .into_iter()
                .map(|(vhost, limits)| ParameterDef {
                    vhost,
                    component: "vhost-limits".into(),
                    name: "limits".into(),
                    value: Value::Object(limits.to_json()),
                })
                .collect(),
            ..Definitions::default()
        };
        for vhost in self.vhosts() {
            let name = vhost.name().to_string();
            d.vhosts.push(self.vhost_def(&name).unwrap_or(VHostDef {
                name: name.clone(),
                ..VHostDef::default()
            }));
            self.export_policies(&vhost, &mut d);
            for x in vhost.exchanges() {
                let c = x.config();
                if !c.durable || c.name.is_empty() || c.name.starts_with("amq.") {
                    continue;
                }
                d.exchanges.push(ExchangeDef {
                    name: c.name.to_string(),
                    vhost: name.clone(),
                    kind: c.type_name().to_owned(),
                    durable: true,
                    auto_delete: c.auto_delete,
                    internal: c.internal,
                    arguments: table_to_json(&c.arguments),
                });
                for b in x.bindings() {
                    let (destination, destination_type, durable) = match &b.destination {
                        Destination::Queue(q) => (
                            q,
                            "queue",
                            vhost
                                .queues()
                                .iter()
                                .any(|x| x.name() == q && x.persistence().is_some()),
                        ),
                        Destination::Exchange(e) => (
                            e,
                            "exchange",
                            vhost.exchange(e).is_ok_and(|e| e.config().durable),
                        ),
                    };
                    if durable {
                        d.bindings.push(BindingDef {
                            source: c.name.to_string(),
                            vhost: name.clone(),
                            destination: destination.to_string(),
                            destination_type: destination_type.to_owned(),
                            routing_key: b.routing_key.to_string(),
                            arguments: table_to_json(&b.arguments),
                        });
                    }
                }
            }
            for q in vhost.queues() {
                let c = q.config();
                if !c.durable || c.exclusive_owner.is_some() {
                    continue;
                }
                d.queues.push(QueueDef {
                    name: c.name.to_string(),
                    vhost: name.clone(),
                    durable: true,
                    auto_delete: c.auto_delete,
                    arguments: table_to_json(&c.arguments),
                    queue_type: None,
                });
            }
        }
        d.exchanges
            .sort_by(|a, b| (&a.vhost, &a.name).cmp(&(&b.vhost, &b.name)));
        d.queues
            .sort_by(|a, b| (&a.vhost, &a.name).cmp(&(&b.vhost, &b.name)));
        d
    }
}

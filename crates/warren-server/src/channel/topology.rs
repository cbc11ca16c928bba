//! `exchange.*` and `queue.*` methods: each is one call of the broker's admin interface
//! (which checks the change, writes the store and changes the broker's state), then the
//! `-ok`, held back until the change is durable when the call wrote to the store.

use warren_broker::{AmqpError, AmqpResult, ExchangeDeclare, QueueDeclare};
use warren_protocol::method::{exchange, queue};
use warren_protocol::Method;

use warren_broker::access::Resource;

use super::{authorize, Channel, ConnCtx};

impl Channel {
    /// Resolves an empty queue name to the channel's last declared queue, as RabbitMQ does.
    pub(super) fn queue_name(&self, name: String) -> AmqpResult<String> {
        if !name.is_empty() {
            return Ok(name);
        }
        self.last_queue
            .clone()
            .ok_or_else(|| AmqpError::not_found("no previously declared queue"))
    }

    /// The `-ok` of a method, unless the client asked for none.
    fn ok_unless(no_wait: bool, ok: impl Into<Method>) -> Option<Method> {
        (!no_wait).then(|| ok.into())
    }

    pub(super) fn exchange_declare(
        &mut self,
        cx: &mut ConnCtx,
        m: exchange::Declare,
    ) -> AmqpResult<()> {
        authorize::exchange_declare(cx, &m.exchange, &m.kind, m.passive, &m.arguments)?;
        let (_, commit) = cx
            .vhost
            .declare_exchange(&ExchangeDeclare {
                name: m.exchange,
                kind: m.kind,
                passive: m.passive,
                durable: m.durable,
                auto_delete: m.auto_delete,
                internal: m.internal,
                arguments: m.arguments,
            })?
            .into_parts();
        let ok = Self::ok_unless(m.no_wait, exchange::DeclareOk {});
        cx.reply_when_durable(
            self.id,
            commit,
            ok,
            (exchange::Declare::CLASS_ID, exchange::Declare::METHOD_ID),
        );
        Ok(())
    }

    pub(super) fn exchange_delete(
        &mut self,
        cx: &mut ConnCtx,
        m: exchange::Delete,
    ) -> AmqpResult<()> {
        authorize::exchange_delete(cx, &m.exchange)?;
        let (_, commit) = cx
            .vhost
            .delete_exchange(&m.exchange, m.if_unused)?
            .into_parts();
        let ok = Self::ok_unless(m.no_wait, exchange::DeleteOk {});
        cx.reply_when_durable(
            self.id,
            commit,
            ok,
            (exchange::Delete::CLASS_ID, exchange::Delete::METHOD_ID),
        );
        Ok(())
    }

    pub(super) fn exchange_bind(&mut self, cx: &mut ConnCtx, m: exchange::Bind) -> AmqpResult<()> {
        authorize::binding(
            cx,
            Resource::Exchange,
            &m.destination,
            &m.source,
            &m.routing_key,
        )?;
        let (_, commit) = cx
            .vhost
            .bind_exchange(&m.destination, &m.source, &m.routing_key, &m.arguments)?
            .into_parts();
        let ok = Self::ok_unless(m.no_wait, exchange::BindOk {});
        cx.reply_when_durable(
            self.id,
            commit,
            ok,
            (exchange::Bind::CLASS_ID, exchange::Bind::METHOD_ID),
        );
        Ok(())
    }

    pub(super) fn exchange_unbind(
        &mut self,
        cx: &mut ConnCtx,
        m: exchange::Unbind,
    ) -> AmqpResult<()> {
        authorize::binding(
            cx,
            Resource::Exchange,
            &m.destination,
            &m.source,
            &m.routing_key,
        )?;
        let (_, commit) = cx
            .vhost
            .unbind_exchange(&m.destination, &m.source, &m.routing_key, &m.arguments)?
            .into_parts();
        let ok = Self::ok_unless(m.no_wait, exchange::UnbindOk {});
        cx.reply_when_durable(
            self.id,
            commit,
            ok,
            (exchange::Unbind::CLASS_ID, exchange::Unbind::METHOD_ID),
        );
        Ok(())
    }

    pub(super) fn queue_declare(&mut self, cx: &mut ConnCtx, m: queue::Declare) -> AmqpResult<()> {
        if m.queue == super::reply_to::PSEUDO_QUEUE {
            return self.declare_reply_to_pseudo_queue(cx, m.no_wait);
        }
        // A server-named queue is checked under the name it will have, as in RabbitMQ.
        let server_named = m.queue.is_empty() && !m.passive;
        let name = if server_named {
            warren_broker::names::generated_queue_name()
        } else {
            m.queue
        };
        authorize::queue_declare(cx, &name, server_named, m.passive, &m.arguments)?;
        let (declared, commit) = cx
            .vhost
            .declare_queue(
                &QueueDeclare {
                    name,
                    server_named,
                    passive: m.passive,
                    durable: m.durable,
                    exclusive: m.exclusive,
                    auto_delete: m.auto_delete,
                    arguments: m.arguments,
                },
                cx.id,
            )?
            .into_parts();
        let name = declared.queue.name().to_string();
        self.last_queue = Some(name.clone());
        let ok = Self::ok_unless(
            m.no_wait,
            queue::DeclareOk {
                queue: name,
                message_count: declared.message_count,
                consumer_count: declared.consumer_count,
            },
        );
        cx.reply_when_durable(
            self.id,
            commit,
            ok,
            (queue::Declare::CLASS_ID, queue::Declare::METHOD_ID),
        );
        Ok(())
    }

    /// The queue and routing key a `queue.bind`/`unbind` means: an empty queue name is the
    /// last declared queue and, in that case only, an empty key is that queue's name.
    fn binding_target(&self, queue: String, routing_key: String) -> AmqpResult<(String, String)> {
        let shortcut = queue.is_empty();
        let name = self.queue_name(queue)?;
        let key = if shortcut && routing_key.is_empty() {
            name.clone()
        } else {
            routing_key
        };
        Ok((name, key))
    }

    pub(super) fn queue_bind(&mut self, cx: &mut ConnCtx, m: queue::Bind) -> AmqpResult<()> {
        let (name, key) = self.binding_target(m.queue, m.routing_key)?;
        authorize::binding(cx, Resource::Queue, &name, &m.exchange, &key)?;
        let (_, commit) = cx
            .vhost
            .bind_queue(&name, &m.exchange, &key, &m.arguments, cx.id)?
            .into_parts();
        let ok = Self::ok_unless(m.no_wait, queue::BindOk {});
        cx.reply_when_durable(
            self.id,
            commit,
            ok,
            (queue::Bind::CLASS_ID, queue::Bind::METHOD_ID),
        );
        Ok(())
    }

    pub(super) fn queue_unbind(&mut self, cx: &mut ConnCtx, m: queue::Unbind) -> AmqpResult<()> {
        let (name, key) = self.binding_target(m.queue, m.routing_key)?;
        authorize::binding(cx, Resource::Queue, &name, &m.exchange, &key)?;
        let (_, commit) = cx
            .vhost
            .unbind_queue(&name, &m.exchange, &key, &m.arguments, cx.id)?
            .into_parts();
        // queue.unbind has no no-wait flag.
        let ok = Some(queue::UnbindOk {}.into());
        cx.reply_when_durable(
            self.id,
            commit,
            ok,
            (queue::Unbind::CLASS_ID, queue::Unbind::METHOD_ID),
        );
        Ok(())
    }

    pub(super) fn queue_purge(&mut self, cx: &mut ConnCtx, m: queue::Purge) -> AmqpResult<()> {
        let name = self.queue_name(m.queue)?;
        authorize::queue_read(cx, &name)?;
        let message_count = cx.vhost.purge_queue(&name, cx.id)?;
        if !m.no_wait {
            cx.send(self.id, queue::PurgeOk { message_count });
        }
        Ok(())
    }

    pub(super) fn queue_delete(&mut self, cx: &mut ConnCtx, m: queue::Delete) -> AmqpResult<()> {
        let name = self.queue_name(m.queue)?;
        authorize::queue_delete(cx, &name)?;
        let (message_count, commit) = cx
            .vhost
            .delete_queue(&name, m.if_unused, m.if_empty, cx.id)?
            .into_parts();
        let ok = Self::ok_unless(m.no_wait, queue::DeleteOk { message_count });
        cx.reply_when_durable(
            self.id,
            commit,
            ok,
            (queue::Delete::CLASS_ID, queue::Delete::METHOD_ID),
        );
        Ok(())
    }
}

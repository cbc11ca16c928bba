//! `exchange.*` and `queue.*` methods.

use warren_broker::{AmqpError, AmqpResult, ExchangeDeclare, QueueDeclare};
use warren_protocol::method::{exchange, queue};

use super::durable::{
    binding_record, durable_exchange, exchange_record, queue_record, stored_queue, write_synced,
};
use super::{Channel, ConnCtx};

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

    pub(super) fn exchange_declare(
        &mut self,
        cx: &mut ConnCtx,
        m: exchange::Declare,
    ) -> AmqpResult<()> {
        let exchange = cx.vhost.declare_exchange(&ExchangeDeclare {
            name: m.exchange,
            kind: m.kind.clone(),
            passive: m.passive,
            durable: m.durable,
            auto_delete: m.auto_delete,
            internal: m.internal,
            arguments: m.arguments,
        })?;
        if !m.passive && exchange.config().durable {
            let record = exchange_record(cx, &exchange, &m.kind);
            write_synced(cx, |s| s.put_exchange(&record))?;
        }
        if !m.no_wait {
            cx.send(self.id, exchange::DeclareOk {});
        }
        Ok(())
    }

    pub(super) fn exchange_delete(
        &mut self,
        cx: &mut ConnCtx,
        m: exchange::Delete,
    ) -> AmqpResult<()> {
        let durable = durable_exchange(cx, &m.exchange);
        cx.vhost.delete_exchange(&m.exchange, m.if_unused)?;
        if durable {
            let vhost = cx.vhost.name().clone();
            write_synced(cx, |s| s.delete_exchange(&vhost, &m.exchange))?;
        }
        if !m.no_wait {
            cx.send(self.id, exchange::DeleteOk {});
        }
        Ok(())
    }

    pub(super) fn exchange_bind(&mut self, cx: &mut ConnCtx, m: exchange::Bind) -> AmqpResult<()> {
        cx.vhost
            .bind_exchange(&m.destination, &m.source, &m.routing_key, &m.arguments)?;
        if durable_exchange(cx, &m.source) && durable_exchange(cx, &m.destination) {
            let b = binding_record(
                cx,
                &m.source,
                &m.destination,
                true,
                &m.routing_key,
                &m.arguments,
            );
            write_synced(cx, |s| s.put_binding(&b))?;
        }
        if !m.no_wait {
            cx.send(self.id, exchange::BindOk {});
        }
        Ok(())
    }

    pub(super) fn exchange_unbind(
        &mut self,
        cx: &mut ConnCtx,
        m: exchange::Unbind,
    ) -> AmqpResult<()> {
        let durable = durable_exchange(cx, &m.source) && durable_exchange(cx, &m.destination);
        cx.vhost
            .unbind_exchange(&m.destination, &m.source, &m.routing_key, &m.arguments)?;
        if durable {
            let b = binding_record(
                cx,
                &m.source,
                &m.destination,
                true,
                &m.routing_key,
                &m.arguments,
            );
            write_synced(cx, |s| s.delete_binding(&b))?;
        }
        if !m.no_wait {
            cx.send(self.id, exchange::UnbindOk {});
        }
        Ok(())
    }

    pub(super) fn queue_declare(&mut self, cx: &mut ConnCtx, m: queue::Declare) -> AmqpResult<()> {
        if m.queue == super::reply_to::PSEUDO_QUEUE {
            return self.declare_reply_to_pseudo_queue(cx, m.no_wait);
        }
        let declared = cx.vhost.declare_queue(
            &QueueDeclare {
                name: m.queue,
                passive: m.passive,
                durable: m.durable,
                exclusive: m.exclusive,
                auto_delete: m.auto_delete,
                arguments: m.arguments,
            },
            cx.id,
        )?;
        let q = &declared.queue;
        if !m.passive && q.config().durable && q.persistence().is_none() {
            let record = queue_record(cx, q);
            if let Some(id) = write_synced(cx, |s| s.put_queue(&record))? {
                if let Some(store) = &cx.store {
                    q.set_persistence(store.0.clone(), id, cx.limits.paging);
                }
            }
        }
        let name = declared.queue.name().to_string();
        self.last_queue = Some(name.clone());
        if !m.no_wait {
            cx.send(
                self.id,
                queue::DeclareOk {
                    queue: name,
                    message_count: declared.message_count,
                    consumer_count: declared.consumer_count,
                },
            );
        }
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
        cx.vhost
            .bind_queue(&name, &m.exchange, &key, &m.arguments, cx.id)?;
        if durable_exchange(cx, &m.exchange) && stored_queue(cx, &name) {
            let b = binding_record(cx, &m.exchange, &name, false, &key, &m.arguments);
            write_synced(cx, |s| s.put_binding(&b))?;
        }
        if !m.no_wait {
            cx.send(self.id, queue::BindOk {});
        }
        Ok(())
    }

    pub(super) fn queue_unbind(&mut self, cx: &mut ConnCtx, m: queue::Unbind) -> AmqpResult<()> {
        let (name, key) = self.binding_target(m.queue, m.routing_key)?;
        let durable = durable_exchange(cx, &m.exchange) && stored_queue(cx, &name);
        cx.vhost
            .unbind_queue(&name, &m.exchange, &key, &m.arguments, cx.id)?;
        if durable {
            let b = binding_record(cx, &m.exchange, &name, false, &key, &m.arguments);
            write_synced(cx, |s| s.delete_binding(&b))?;
        }
        cx.send(self.id, queue::UnbindOk {});
        Ok(())
    }

    pub(super) fn queue_purge(&mut self, cx: &mut ConnCtx, m: queue::Purge) -> AmqpResult<()> {
        let name = self.queue_name(m.queue)?;
        let message_count = cx.vhost.purge_queue(&name, cx.id)?;
        if !m.no_wait {
            cx.send(self.id, queue::PurgeOk { message_count });
        }
        Ok(())
    }

    pub(super) fn queue_delete(&mut self, cx: &mut ConnCtx, m: queue::Delete) -> AmqpResult<()> {
        let name = self.queue_name(m.queue)?;
        let stored = stored_queue(cx, &name);
        let message_count = cx
            .vhost
            .delete_queue(&name, m.if_unused, m.if_empty, cx.id)?;
        if stored {
            // The queue's deletion wrote to the store; make it durable before the -ok.
            write_synced(cx, |_| Ok(()))?;
        }
        if !m.no_wait {
            cx.send(self.id, queue::DeleteOk { message_count });
        }
        Ok(())
    }
}

//! Permission checks, made where RabbitMQ's channel makes them (`rabbit_channel`), in
//! its order, so a refused method gets the same 403 ACCESS_REFUSED text:
//!
//! | method | needs |
//! |---|---|
//! | `exchange.declare` (not passive) | configure on the exchange; with `alternate-exchange`: read on it and write on the AE; an `x-super-stream` (Warren's): also read on it and configure and write on each partition queue it creates and binds |
//! | `exchange.delete` | configure on the exchange |
//! | `queue.declare` (not passive) | configure on the queue (a server-named one under its generated name); with `x-dead-letter-exchange`: read on the queue and write on the DLX |
//! | `queue.delete` | configure on the queue |
//! | `queue.purge`, `basic.get`, `basic.consume` | read on the queue |
//! | `queue.bind`/`unbind`, `exchange.bind`/`unbind` | write on the destination, read on the source; on a topic source, topic read on the key |
//! | `basic.publish` | write on the exchange (the default one is `amq.default`); on a topic exchange, topic write on the routing key |
//!
//! Passive declares check nothing. The default exchange's own refusals (it cannot be
//! declared, deleted or bound) come from the broker before any permission.

use warren_broker::access::{Access, Resource};
use warren_broker::routing::ExchangeKind;
use warren_broker::vhost::super_streams::{partition_name, partitions};
use warren_broker::vhost::SUPER_STREAM_EXCHANGE_TYPE;
use warren_broker::{AmqpResult, Exchange};
use warren_protocol::FieldTable;

use super::ConnCtx;

fn arg<'a>(args: &'a FieldTable, key: &str) -> Option<&'a str> {
    args.get(key).and_then(|v| v.as_str())
}

/// `exchange.declare`.
pub(super) fn exchange_declare(
    cx: &mut ConnCtx,
    name: &str,
    kind: &str,
    passive: bool,
    args: &FieldTable,
) -> AmqpResult<()> {
    if passive || name.is_empty() {
        return Ok(());
    }
    cx.access
        .check(Access::Configure, Resource::Exchange, name)?;
    if let Some(ae) = arg(args, "alternate-exchange") {
        cx.access.check(Access::Read, Resource::Exchange, name)?;
        cx.access.check(Access::Write, Resource::Exchange, ae)?;
    }
    if kind == SUPER_STREAM_EXCHANGE_TYPE {
        // Declaring it declares and binds its partitions: what queue.declare and
        // queue.bind of each would need. A bad x-partitions is the broker's refusal.
        if let Ok(n) = partitions(name, "", args, cx.vhost.max_super_stream_partitions()) {
            cx.access.check(Access::Read, Resource::Exchange, name)?;
            for i in 0..n {
                let partition = partition_name(name, i);
                cx.access
                    .check(Access::Configure, Resource::Queue, &partition)?;
                cx.access
                    .check(Access::Write, Resource::Queue, &partition)?;
            }
        }
    }
    Ok(())
}

/// `exchange.delete`.
pub(super) fn exchange_delete(cx: &mut ConnCtx, name: &str) -> AmqpResult<()> {
    if name.is_empty() {
        return Ok(());
    }
    cx.access.check(Access::Configure, Resource::Exchange, name)
}

/// `queue.declare` of `name` (already generated for a server-named queue).
pub(super) fn queue_declare(
    cx: &mut ConnCtx,
    name: &str,
    server_named: bool,
    passive: bool,
    args: &FieldTable,
) -> AmqpResult<()> {
    // A reserved `amq.` name is refused by the broker with its own text first.
    if passive || (!server_named && name.starts_with("amq.")) {
        return Ok(());
    }
    cx.access.check(Access::Configure, Resource::Queue, name)?;
    if let Some(dlx) = arg(args, "x-dead-letter-exchange") {
        cx.access.check(Access::Read, Resource::Queue, name)?;
        cx.access.check(Access::Write, Resource::Exchange, dlx)?;
    }
    Ok(())
}

/// `queue.delete`.
pub(super) fn queue_delete(cx: &mut ConnCtx, name: &str) -> AmqpResult<()> {
    cx.access.check(Access::Configure, Resource::Queue, name)
}

/// `queue.purge`, `basic.get`, `basic.consume`.
pub(super) fn queue_read(cx: &mut ConnCtx, name: &str) -> AmqpResult<()> {
    cx.access.check(Access::Read, Resource::Queue, name)
}

/// A binding (or unbinding) from exchange `source` to a queue or exchange.
pub(super) fn binding(
    cx: &mut ConnCtx,
    destination: Resource,
    destination_name: &str,
    source: &str,
    routing_key: &str,
) -> AmqpResult<()> {
    cx.access
        .check(Access::Write, destination, destination_name)?;
    if destination_name.is_empty() || source.is_empty() {
        // The broker refuses bindings of the default exchange with its own text.
        return Ok(());
    }
    cx.access.check(Access::Read, Resource::Exchange, source)?;
    if let Ok(exchange) = cx.vhost.exchange(source) {
        if is_topic(&exchange) {
            cx.access.check_topic(Access::Read, source, routing_key)?;
        }
    }
    Ok(())
}

/// `basic.publish`, before the exchange is looked up.
pub(super) fn publish(cx: &mut ConnCtx, exchange: &str) -> AmqpResult<()> {
    cx.access.check_publish(exchange)
}

/// `basic.publish` to a topic exchange: the routing key against the topic permission.
pub(super) fn publish_topic(
    cx: &mut ConnCtx,
    exchange: &Exchange,
    routing_key: &str,
) -> AmqpResult<()> {
    if is_topic(exchange) {
        cx.access
            .check_topic(Access::Write, exchange.name(), routing_key)?;
    }
    Ok(())
}

/// A `topic` exchange (a delayed-message exchange is of type `x-delayed-message`, which
/// RabbitMQ's topic check does not cover either).
fn is_topic(exchange: &Exchange) -> bool {
    let c = exchange.config();
    c.kind == ExchangeKind::Topic && !c.delayed
}

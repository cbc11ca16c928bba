//! `declare queue|exchange|binding`: `PUT /api/queues/{vhost}/{name}`,
//! `PUT /api/exchanges/{vhost}/{name}`, `POST /api/bindings/{vhost}/e/{src}/q|e/{dst}`.

use serde_json::{json, Value};

use super::Ctx;
use crate::args;
use crate::cli::{DeclareBinding, DeclareCmd, DeclareExchange, DeclareQueue};
use crate::client::{Reply, Subject};
use crate::encode;
use crate::error::Result;
use crate::output;

/// Runs `declare`.
pub fn run(ctx: &Ctx, cmd: &DeclareCmd) -> Result<()> {
    match cmd {
        DeclareCmd::Queue(q) => queue(ctx, q),
        DeclareCmd::Exchange(x) => exchange(ctx, x),
        DeclareCmd::Binding(b) => binding(ctx, b),
    }
}

/// The body of a queue declaration; `--type` becomes `x-queue-type`.
pub fn queue_body(q: &DeclareQueue) -> Value {
    let mut arguments = args::to_object(&q.args);
    if let Some(t) = q.queue_type {
        arguments.insert("x-queue-type".into(), Value::from(t.as_str()));
    }
    json!({"durable": !q.no_durable, "auto_delete": q.auto_delete, "arguments": arguments})
}

fn queue(ctx: &Ctx, q: &DeclareQueue) -> Result<()> {
    let vhost = ctx.vhost();
    let reply = ctx.client.put_json(
        &encode::api_path(&["queues", vhost, &q.name]),
        &queue_body(q),
        &Subject::vhost(vhost),
    )?;
    report(&reply, "queue", &q.name, vhost)
}

fn exchange(ctx: &Ctx, x: &DeclareExchange) -> Result<()> {
    let vhost = ctx.vhost();
    let body = json!({
        "type": x.exchange_type,
        "durable": !x.no_durable,
        "auto_delete": x.auto_delete,
        "internal": x.internal,
        "arguments": args::to_object(&x.args),
    });
    let reply = ctx.client.put_json(
        &encode::api_path(&["exchanges", vhost, &x.name]),
        &body,
        &Subject::vhost(vhost),
    )?;
    report(&reply, "exchange", &x.name, vhost)
}

/// RabbitMQ answers 201 for a new object and 204 for one that was already there.
fn report(reply: &Reply, kind: &str, name: &str, vhost: &str) -> Result<()> {
    if reply.status == 201 {
        output::println(&format!("declared {kind} '{name}' in vhost '{vhost}'"))
    } else {
        output::println(&format!(
            "{kind} '{name}' in vhost '{vhost}' already exists"
        ))
    }
}

fn binding(ctx: &Ctx, b: &DeclareBinding) -> Result<()> {
    let vhost = ctx.vhost();
    let path = encode::api_path(&[
        "bindings",
        vhost,
        "e",
        encode::exchange_in_path(&b.source),
        b.destination_type.path_letter(),
        &b.destination,
    ]);
    let body = json!({"routing_key": b.routing_key, "arguments": args::to_object(&b.args)});
    let subject = Subject::in_vhost(
        "exchange or destination",
        &format!("{} -> {}", b.source, b.destination),
        vhost,
    );
    let reply = ctx.client.post_json(&path, &body, &subject)?;
    let key = reply
        .location
        .as_deref()
        .and_then(|l| l.rsplit('/').next())
        .map(|k| format!(" (properties key {})", encode::decode(k)))
        .unwrap_or_default();
    output::println(&format!(
        "bound {} '{}' to exchange '{}' with routing key '{}' in vhost '{vhost}'{key}",
        b.destination_type.as_str(),
        b.destination,
        b.source,
        b.routing_key
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::QueueType;

    #[test]
    fn queue_body_carries_type_and_typed_arguments() {
        let q = DeclareQueue {
            name: "q".into(),
            durable: false,
            no_durable: false,
            auto_delete: true,
            queue_type: Some(QueueType::Quorum),
            args: vec![("x-max-length".into(), json!(10))],
        };
        assert_eq!(
            queue_body(&q),
            json!({"durable": true, "auto_delete": true,
                   "arguments": {"x-max-length": 10, "x-queue-type": "quorum"}})
        );
    }
}

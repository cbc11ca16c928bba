//! Declaring (and optionally deleting) the queues, exchange and bindings of a run.

use warren_protocol::method::{exchange, queue};
use warren_protocol::{FieldTable, Method};

use crate::cli::Args;
use crate::conn::Connection;
use crate::error::Result;

/// Deletes the run's queues (when asked), then declares the queues, the exchange and
/// the bindings. Returns the routing key each queue's producers publish with.
pub async fn declare(conn: &mut Connection, args: &Args) -> Result<Vec<String>> {
    let names = args.queue_names();
    if args.delete_queues {
        delete_queues(conn, &names).await?;
    }
    let arguments = args.queue_arguments();
    for name in &names {
        conn.rpc(
            queue::Declare {
                queue: name.clone(),
                durable: args.persistent,
                arguments: arguments.clone(),
                ..Default::default()
            }
            .into(),
            |m| matches!(m, Method::QueueDeclareOk(_)),
        )
        .await?;
    }
    let (ex, kind) = args.exchange();
    if ex.is_empty() {
        return Ok(names
            .iter()
            .map(|n| args.routing_key.clone().unwrap_or_else(|| n.clone()))
            .collect());
    }
    conn.rpc(
        exchange::Declare {
            exchange: ex.clone(),
            kind,
            // RabbitMQ refuses to declare amq.* exchanges, but allows a passive check.
            passive: ex.starts_with("amq."),
            durable: args.persistent,
            ..Default::default()
        }
        .into(),
        |m| matches!(m, Method::ExchangeDeclareOk(_)),
    )
    .await?;
    let mut keys = Vec::with_capacity(names.len());
    for name in &names {
        let key = args.routing_key.clone().unwrap_or_else(|| name.clone());
        conn.rpc(
            queue::Bind {
                queue: name.clone(),
                exchange: ex.clone(),
                routing_key: key.clone(),
                arguments: FieldTable::new(),
                ..Default::default()
            }
            .into(),
            |m| matches!(m, Method::QueueBindOk(_)),
        )
        .await?;
        keys.push(key);
    }
    Ok(keys)
}

/// Deletes each queue (a queue that does not exist is not an error).
pub async fn delete_queues(conn: &mut Connection, names: &[String]) -> Result<()> {
    for name in names {
        conn.rpc(
            queue::Delete {
                queue: name.clone(),
                ..Default::default()
            }
            .into(),
            |m| matches!(m, Method::QueueDeleteOk(_)),
        )
        .await?;
    }
    Ok(())
}

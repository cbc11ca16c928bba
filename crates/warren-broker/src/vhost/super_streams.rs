//! Super streams (partitioned streams) over AMQP 0-9-1: declaring an exchange of type
//! `x-super-stream` with the argument `x-partitions: N` creates the N partition streams
//! `<name>-0` … `<name>-(N-1)` and binds each to it with weight 1; the exchange routes
//! like an `x-consistent-hash` exchange on the routing key, so every message with one
//! key lands in one partition, in publish order.
//!
//! Why an exchange type rather than a management operation: one `exchange.declare`
//! from any AMQP client (or a definitions file) creates the whole topology, durable with
//! it; redeclaring is idempotent and recreates missing partitions; and the routing is
//! the consistent-hash ring's, so binding a further stream by hand moves only its share of
//! the keys. RabbitMQ creates super streams with `rabbitmq-streams add_super_stream` and
//! routes them with a direct exchange and its stream clients' hashing; neither exists
//! over AMQP 0-9-1.
//!
//! Each partition is declared with `x-queue-type: stream` and
//! [`PARTITION_ARG`] = its index, which its consumer groups read to spread partitions
//! over their members ([`crate::stream::group`]). Deleting the exchange leaves the
//! partition streams (and their data) in place; they are deleted like any queue.

use std::sync::Arc;

use warren_protocol::{FieldTable, FieldValue};

use super::{QueueDeclare, VHost};
use crate::applied::Applied;
use crate::error::{AmqpError, AmqpResult};
use crate::exchange::Exchange;
use crate::routing::Destination;

/// The exchange type name.
pub const SUPER_STREAM_EXCHANGE_TYPE: &str = "x-super-stream";
/// The exchange argument giving the number of partitions.
pub const PARTITIONS_ARG: &str = "x-partitions";
/// The queue argument marking a partition stream with its index.
pub const PARTITION_ARG: &str = "x-super-stream-partition";
/// The name of partition `index` of super stream `exchange`.
pub fn partition_name(exchange: &str, index: u32) -> String {
    format!("{exchange}-{index}")
}

/// The `x-partitions` argument of an `x-super-stream` declare: a positive integer up to
/// `max` ([`crate::Limits::max_super_stream_partitions`] for a new super stream; 406
/// otherwise, in the form of RabbitMQ's argument errors).
pub fn partitions(name: &str, vhost: &str, args: &FieldTable, max: u32) -> AmqpResult<u32> {
    let invalid = |detail: String| {
        AmqpError::precondition_failed(format!(
            "invalid arg '{PARTITIONS_ARG}' for exchange '{name}' in vhost '{vhost}': {detail}"
        ))
    };
    let Some(value) = args.get(PARTITIONS_ARG) else {
        return Err(invalid(
            "required for exchanges of type 'x-super-stream'".into(),
        ));
    };
    match value.as_i64() {
        Some(n) if !matches!(value, FieldValue::Bool(_)) && (1..=i64::from(max)).contains(&n) => {
            Ok(n as u32)
        }
        Some(n) if !matches!(value, FieldValue::Bool(_)) => {
            Err(invalid(format!("{n} is not between 1 and {max}")))
        }
        _ => Err(invalid("not an integer".into())),
    }
}

/// The partition index a queue was declared with (`x-super-stream-partition`), if any.
pub fn partition_index(arguments: &FieldTable) -> Option<u32> {
    arguments
        .get(PARTITION_ARG)
        .and_then(FieldValue::as_i64)
        .and_then(|i| u32::try_from(i).ok())
}

impl VHost {
    /// Makes sure every partition of super stream `exchange` (declared with `n`
    /// partitions) exists and is bound to it, creating what is missing (stored first when
    /// the exchange is durable). Returns the declaration with a commit covering it all.
    pub(super) fn ensure_partitions(
        &self,
        declared: Applied<Arc<Exchange>>,
        n: u32,
    ) -> AmqpResult<Applied<Arc<Exchange>>> {
        let (exchange, commit) = declared.into_parts();
        let durable = exchange.config().durable;
        let mut wrote = commit.is_some();
        for index in 0..n {
            let name = partition_name(exchange.name(), index);
            let arguments: FieldTable = [
                ("x-queue-type", FieldValue::string("stream")),
                (PARTITION_ARG, FieldValue::I64(i64::from(index))),
            ]
            .into_iter()
            .collect();
            let queue = self.declare_queue(
                &QueueDeclare {
                    name: name.clone(),
                    durable,
                    arguments,
                    ..QueueDeclare::default()
                },
                0,
            )?;
            wrote |= queue.needs_commit();
            let q = queue.into_parts().0.queue;
            let bound_durable = durable && q.persistence().is_some();
            let dest = Destination::Queue(q.name().clone());
            let bound = self.bind(&exchange, dest, "1", &FieldTable::new(), bound_durable)?;
            wrote |= bound.needs_commit();
        }
        // One commit after every write covers them all.
        let commit = match self.store_for(durable) {
            Some(p) if wrote => Some(p.sync()),
            _ => None,
        };
        Ok(Applied::written(exchange, commit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: FieldValue) -> FieldTable {
        [(PARTITIONS_ARG, v)].into_iter().collect()
    }

    #[test]
    fn partition_counts() {
        let partitions = |name, vhost, args: &FieldTable| partitions(name, vhost, args, 1_024);
        assert_eq!(partitions("s", "/", &args(FieldValue::I32(3))).unwrap(), 3);
        assert_eq!(partitions("s", "/", &args(FieldValue::U8(1))).unwrap(), 1);
        assert_eq!(
            partitions("s", "/", &FieldTable::new()).unwrap_err().reply_text(),
            "PRECONDITION_FAILED - invalid arg 'x-partitions' for exchange 's' in vhost '/': required for exchanges of type 'x-super-stream'"
        );
        assert_eq!(
            partitions("s", "/", &args(FieldValue::I32(0))).unwrap_err().reply_text(),
            "PRECONDITION_FAILED - invalid arg 'x-partitions' for exchange 's' in vhost '/': 0 is not between 1 and 1024"
        );
        assert!(partitions("s", "/", &args(FieldValue::I64(1_024))).is_ok());
        assert!(partitions("s", "/", &args(FieldValue::I64(1_025))).is_err());
        assert_eq!(
            super::partitions("s", "v", &args(FieldValue::I64(9)), 8).unwrap_err().reply_text(),
            "PRECONDITION_FAILED - invalid arg 'x-partitions' for exchange 's' in vhost 'v': 9 is not between 1 and 8"
        );
        assert!(partitions("s", "/", &args(FieldValue::string("3"))).is_err());
        assert!(partitions("s", "/", &args(FieldValue::Bool(true))).is_err());
        assert_eq!(partition_name("orders", 2), "orders-2");
        let marked: FieldTable = [(PARTITION_ARG, FieldValue::I64(2))].into_iter().collect();
        assert_eq!(partition_index(&marked), Some(2));
        assert_eq!(partition_index(&FieldTable::new()), None);
    }
}

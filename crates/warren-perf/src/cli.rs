//! Command-line options, named after RabbitMQ PerfTest's where PerfTest has one.

use clap::Parser;
use warren_protocol::{FieldTable, FieldValue};

use crate::error::{PerfError, Result};
use crate::uri::DEFAULT_URI;

/// warren-perf: an AMQP 0-9-1 load generator (RabbitMQ PerfTest's options).
#[derive(Debug, Clone, Parser)]
#[command(name = "warren-perf", version, about)]
pub struct Args {
    /// Broker URI: amqp://, or amqps:// (TLS; needs --cacert).
    #[arg(long, default_value = DEFAULT_URI)]
    pub uri: String,
    /// CA certificates (PEM) to verify an amqps:// broker's certificate with.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<std::path::PathBuf>,
    /// Number of producers (one connection each).
    #[arg(short = 'x', long, default_value_t = 1)]
    pub producers: usize,
    /// Number of consumers (one connection each).
    #[arg(short = 'y', long, default_value_t = 1)]
    pub consumers: usize,
    /// Message body size in bytes (bodies of 8 bytes or more carry a send timestamp).
    #[arg(short = 's', long = "size", default_value_t = 12)]
    pub size: usize,
    /// Queue name (with --queues N: the prefix of <name>-1 .. <name>-N).
    #[arg(short = 'u', long = "queue", default_value = "warren-perf")]
    pub queue: String,
    /// Number of queues; producers and consumers are spread over them round-robin.
    #[arg(long, default_value_t = 1)]
    pub queues: usize,
    /// Exchange to publish to (declared unless it is the default exchange or amq.*).
    #[arg(short = 'e', long, default_value = "")]
    pub exchange: String,
    /// Exchange type.
    #[arg(short = 't', long = "type", default_value = "direct")]
    pub exchange_type: String,
    /// Routing key (default: the queue name).
    #[arg(short = 'k', long = "routing-key")]
    pub routing_key: Option<String>,
    /// Fanout scenario: N queues bound to one fanout exchange (named by -e or
    /// "<queue>-fanout"); every message reaches every queue.
    #[arg(long)]
    pub fanout_queues: Option<usize>,
    /// Consumer prefetch (basic.qos per consumer; 0 means unlimited).
    #[arg(short = 'q', long, default_value_t = 0)]
    pub prefetch: u16,
    /// Publisher confirms with at most N unconfirmed messages per producer.
    #[arg(short = 'c', long)]
    pub confirm: Option<u32>,
    /// Persistent messages (delivery_mode 2) to durable queues.
    #[arg(short = 'f', long)]
    pub persistent: bool,
    /// Consumers use no-ack (auto-ack) mode.
    #[arg(short = 'a', long)]
    pub auto_ack: bool,
    /// Acknowledge with multiple=true every N messages (0: one ack per message).
    #[arg(short = 'A', long = "multi-ack-every", default_value_t = 0)]
    pub multi_ack_every: u32,
    /// Producer rate limit in messages per second, per producer (0: unlimited).
    #[arg(short = 'r', long, default_value_t = 0.0)]
    pub rate: f64,
    /// Run time in seconds (0: until -C is reached).
    #[arg(short = 'z', long = "time", default_value_t = 0)]
    pub time_secs: u64,
    /// Messages to publish per producer, then stop once they are consumed (0: no limit).
    #[arg(short = 'C', long = "pmessages", default_value_t = 0)]
    pub message_count: u64,
    /// Queue argument k=v (integers are sent as numbers, anything else as a string);
    /// repeatable.
    #[arg(long = "queue-args", value_parser = parse_kv)]
    pub queue_args: Vec<(String, String)>,
    /// Consumer argument k=v for basic.consume, typed as --queue-args; repeatable. A
    /// stream consumer needs `x-stream-offset` (first, last, next, an offset) and -q.
    #[arg(long = "consumer-args", value_parser = parse_kv)]
    pub consumer_args: Vec<(String, String)>,
    /// Delete the queues before declaring them and again at the end of the run.
    #[arg(long)]
    pub delete_queues: bool,
    /// PID of the broker: report its CPU time per message from /proc/PID/stat.
    #[arg(long)]
    pub broker_pid: Option<u32>,
    /// Print the summary as one JSON object (per-second lines go to stderr).
    #[arg(long)]
    pub json: bool,
    /// Runtime worker threads (1 selects tokio's current-thread runtime).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
}

fn parse_kv(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected key=value, got {s:?}")),
    }
}

impl Args {
    /// Rejects contradictory or meaningless combinations.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(PerfError::Option(m.to_owned()));
        if self.producers == 0 && self.consumers == 0 {
            return bad("need at least one producer (-x) or consumer (-y)");
        }
        if self.queue_count() == 0 {
            return bad("--queues and --fanout-queues must be at least 1");
        }
        if self.time_secs == 0 && self.message_count == 0 {
            return bad("give a run time (-z) or a message count (-C)");
        }
        if self.confirm == Some(0) {
            return bad("-c must be at least 1");
        }
        if !(self.rate >= 0.0 && self.rate.is_finite()) {
            return bad("-r must be a non-negative number");
        }
        if self.threads == 0 {
            return bad("--threads must be at least 1");
        }
        Ok(())
    }

    /// How many queues the run uses.
    pub fn queue_count(&self) -> usize {
        self.fanout_queues.unwrap_or(self.queues)
    }

    /// The names of the queues, in order.
    pub fn queue_names(&self) -> Vec<String> {
        let n = self.queue_count();
        if n == 1 && self.fanout_queues.is_none() {
            vec![self.queue.clone()]
        } else {
            (1..=n).map(|i| format!("{}-{i}", self.queue)).collect()
        }
    }

    /// The exchange producers publish to and its type.
    pub fn exchange(&self) -> (String, String) {
        match self.fanout_queues {
            Some(_) if self.exchange.is_empty() => {
                (format!("{}-fanout", self.queue), "fanout".into())
            }
            Some(_) => (self.exchange.clone(), "fanout".into()),
            None => (self.exchange.clone(), self.exchange_type.clone()),
        }
    }

    /// How many queues one published message reaches.
    pub fn fan_out(&self) -> u64 {
        match self.exchange().1.as_str() {
            "fanout" => self.queue_count() as u64,
            _ => 1,
        }
    }

    /// The queue arguments as a field table.
    pub fn queue_arguments(&self) -> FieldTable {
        table(&self.queue_args)
    }

    /// The basic.consume arguments as a field table.
    pub fn consumer_arguments(&self) -> FieldTable {
        table(&self.consumer_args)
    }

    /// Whether the queues are streams (`--queue-args x-queue-type=stream`): every
    /// consumer of a stream reads every message, instead of sharing them.
    pub fn is_stream(&self) -> bool {
        self.queue_args
            .iter()
            .any(|(k, v)| k == "x-queue-type" && v == "stream")
    }

    /// How many deliveries one published message makes: one per queue it reaches, and
    /// on streams one per consumer of that queue.
    pub fn deliveries_per_message(&self) -> u64 {
        if self.is_stream() {
            let per_queue = self.consumers.div_ceil(self.queue_count()).max(1);
            self.fan_out() * per_queue as u64
        } else {
            self.fan_out()
        }
    }
}

/// k=v pairs as a field table: integers as signed 64-bit numbers, the rest as strings.
fn table(pairs: &[(String, String)]) -> FieldTable {
    let mut t = FieldTable::new();
    for (k, v) in pairs {
        let value = match v.parse::<i64>() {
            Ok(n) => FieldValue::I64(n),
            Err(_) => FieldValue::string(v.as_str()),
        };
        t.insert(k.as_str(), value);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Args {
        Args::try_parse_from(std::iter::once("warren-perf").chain(line.split_whitespace())).unwrap()
    }

    #[test]
    fn queue_names_and_exchange() {
        let a = args("-z 1 -u q");
        assert_eq!(a.queue_names(), vec!["q"]);
        assert_eq!(a.exchange(), ("".to_owned(), "direct".to_owned()));
        let a = args("-z 1 -u q --queues 3");
        assert_eq!(a.queue_names(), vec!["q-1", "q-2", "q-3"]);
        assert_eq!(a.fan_out(), 1);
        let a = args("-z 1 -u q --fanout-queues 2");
        assert_eq!(a.queue_names(), vec!["q-1", "q-2"]);
        assert_eq!(a.exchange(), ("q-fanout".to_owned(), "fanout".to_owned()));
        assert_eq!(a.fan_out(), 2);
    }

    #[test]
    fn queue_args_are_typed() {
        let a = args("-z 1 --queue-args x-max-priority=10 --queue-args x-queue-type=classic");
        let t = a.queue_arguments();
        assert_eq!(t.get("x-max-priority"), Some(&FieldValue::I64(10)));
        assert_eq!(t.get("x-queue-type"), Some(&FieldValue::string("classic")));
        assert!(Args::try_parse_from(["warren-perf", "--queue-args", "novalue"]).is_err());
    }

    #[test]
    fn consumer_args_and_stream_readers() {
        let a = args("-z 1 -y 3 --queue-args x-queue-type=stream --consumer-args x-stream-offset=first --consumer-args x-priority=5");
        let t = a.consumer_arguments();
        assert_eq!(t.get("x-stream-offset"), Some(&FieldValue::string("first")));
        assert_eq!(t.get("x-priority"), Some(&FieldValue::I64(5)));
        assert!(a.is_stream());
        assert_eq!(
            a.deliveries_per_message(),
            3,
            "each stream reader gets each message"
        );
        let a = args("-z 1 -y 3");
        assert!(!a.is_stream());
        assert_eq!(
            a.deliveries_per_message(),
            1,
            "a classic queue's consumers share"
        );
        assert!(a.consumer_arguments().is_empty());
    }

    #[test]
    fn validation() {
        assert!(args("-z 1").validate().is_ok());
        assert!(args("-x 1").validate().is_err(), "no stop condition");
        assert!(args("-z 1 -x 0 -y 0").validate().is_err());
        assert!(args("-z 1 -c 0").validate().is_err());
        assert!(args("-z 1 --queues 0").validate().is_err());
    }
}

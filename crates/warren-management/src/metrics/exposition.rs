//! Prometheus' text exposition format (version 0.0.4), written the way
//! `rabbitmq_prometheus` writes it: `# TYPE` then `# HELP` per family, integral values
//! without a fraction, label values escaped.
//!
//! Written here rather than with the `prometheus-client` crate because that crate
//! emits OpenMetrics (HELP before TYPE, `# EOF`, no `untyped` type), and the point of
//! this endpoint is to look exactly like RabbitMQ's to dashboards and alert rules.

use std::fmt::Write;

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Goes up and down.
    Gauge,
    /// Only goes up (its name ends in `_total`).
    Counter,
    /// RabbitMQ's type for alarms and info metrics.
    Untyped,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Untyped => "untyped",
        }
    }
}

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// An exposition being written.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// Starts a family.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) -> &mut Self {
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        self
    }

    /// One sample of the current family.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) -> &mut Self {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
        self
    }

    /// A family with one unlabelled sample.
    pub fn single(&mut self, name: &str, kind: Kind, help: &str, value: u64) -> &mut Self {
        self.family(name, kind, help).sample(name, &[], value)
    }

    /// The text.
    pub fn finish(self) -> String {
        self.out
    }
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_written_type_first_with_escaped_labels() {
        let mut e = Exposition::default();
        e.family(
            "rabbitmq_queue_messages",
            Kind::Gauge,
            "Sum of ready and unacked",
        )
        .sample(
            "rabbitmq_queue_messages",
            &[("vhost", "/"), ("queue", "a\"b\\c")],
            3,
        );
        e.single("rabbitmq_queues", Kind::Gauge, "Queues available", 1);
        assert_eq!(
            e.finish(),
            "# TYPE rabbitmq_queue_messages gauge\n\
             # HELP rabbitmq_queue_messages Sum of ready and unacked\n\
             rabbitmq_queue_messages{vhost=\"/\",queue=\"a\\\"b\\\\c\"} 3\n\
             # TYPE rabbitmq_queues gauge\n\
             # HELP rabbitmq_queues Queues available\n\
             rabbitmq_queues 1\n"
        );
    }
}

//! Exchanges: a name, a type and a routing table, and the policies that apply.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use warren_protocol::FieldTable;

use crate::clock::now_ms;
use crate::definitions::JsonMap;
use crate::message::Message;
use crate::policy::effective::alternate_exchange;
use crate::policy::{Policy, Selected};
use crate::queue::args::DedupConfig;
use crate::queue::dedup::DedupCache;
use crate::routing::{Binding, Destination, ExchangeKind, MessageFields, RoutingTable};

/// How an exchange was declared.
#[derive(Debug, Clone)]
pub struct ExchangeConfig {
    /// Exchange name.
    pub name: Arc<str>,
    /// Routing type.
    pub kind: ExchangeKind,
    /// Survives a restart.
    pub durable: bool,
    /// Deleted when its last binding (as source) goes.
    pub auto_delete: bool,
    /// Cannot be published to directly, only reached through exchange bindings.
    pub internal: bool,
    /// Declare arguments (e.g. `alternate-exchange`).
    pub arguments: FieldTable,
    /// Declared as `x-delayed-message`: messages with an `x-delay` header are held
    /// until due, then routed by `kind` (the `x-delayed-type`).
    pub delayed: bool,
    /// Declared as `x-super-stream`: routes as `x-consistent-hash` (`kind`) over the
    /// partition streams its declaration created (`vhost/super_streams.rs`).
    pub super_stream: bool,
}

impl ExchangeConfig {
    /// The type name the exchange was declared with.
    pub fn type_name(&self) -> &'static str {
        if self.delayed {
            crate::delayed::DELAYED_EXCHANGE_TYPE
        } else if self.super_stream {
            crate::vhost::SUPER_STREAM_EXCHANGE_TYPE
        } else {
            self.kind.as_str()
        }
    }
}

/// An exchange and its bindings.
#[derive(Debug)]
pub struct Exchange {
    config: ExchangeConfig,
    /// The `alternate-exchange` argument.
    alternate: Option<Arc<str>>,
    /// Whether the policies make the alternate exchange other than the argument:
    /// routing reads `policy` only then, so an exchange without policies (or whose
    /// argument wins) takes no lock for it.
    policy_alternate: AtomicBool,
    policy: RwLock<ExchangePolicy>,
    table: RwLock<RoutingTable>,
    /// Recently seen message ids, if `x-message-deduplication` is on.
    dedup: Option<Mutex<DedupCache>>,
}

/// The policies an exchange runs with and the alternate exchange they give it.
#[derive(Debug, Default)]
struct ExchangePolicy {
    policy: Option<Arc<Policy>>,
    operator_policy: Option<Arc<Policy>>,
    alternate: Option<Arc<str>>,
}

impl Exchange {
    /// Whether `message` repeats an id this exchange saw within its deduplication
    /// window (always false without `x-message-deduplication`).
    pub fn is_duplicate(&self, message: &Message) -> bool {
        self.dedup
            .as_ref()
            .is_some_and(|d| d.lock().is_duplicate(message, now_ms()))
    }

    /// Whether a message with these headers must be held by this delayed exchange, and
    /// for how long (ms).
    pub fn delay_for(&self, headers: Option<&FieldTable>) -> Option<u64> {
        if self.config.delayed {
            crate::delayed::requested_delay_ms(headers)
        } else {
            None
        }
    }

    /// A new exchange with no bindings.
    pub fn new(config: ExchangeConfig) -> Arc<Self> {
        let alternate = config
            .arguments
            .get("alternate-exchange")
            .and_then(|v| v.as_str())
            .map(Arc::from);
        let dedup = DedupConfig::from_exchange_arguments(&config.arguments)
            .map(|c| Mutex::new(DedupCache::new(&c)));
        Arc::new(Exchange {
            dedup,
            table: RwLock::new(RoutingTable::for_exchange(config.kind, &config.arguments)),
            alternate,
            policy_alternate: AtomicBool::new(false),
            policy: RwLock::default(),
            config,
        })
    }

    /// The exchange's name.
    pub fn name(&self) -> &Arc<str> {
        &self.config.name
    }

    /// How it was declared.
    pub fn config(&self) -> &ExchangeConfig {
        &self.config
    }

    /// The alternate exchange unroutable messages go to: the `alternate-exchange`
    /// argument, else the policies' (the merge table's rule,
    /// [`Setting::AlternateExchange`](crate::policy::effective::Setting)).
    pub fn alternate(&self) -> Option<Arc<str>> {
        if self.policy_alternate.load(Ordering::Acquire) {
            self.policy.read().alternate.clone()
        } else {
            self.alternate.clone()
        }
    }

    /// Runs the exchange with `policy` and `operator_policy` (None: none of that kind)
    /// from now on; `(None, None)` goes back to the declared arguments.
    pub fn apply_policy(&self, policy: Option<Arc<Policy>>, operator_policy: Option<Arc<Policy>>) {
        let alternate = alternate_exchange(
            self.alternate.as_ref(),
            policy.as_deref().map(Policy::definition),
            operator_policy.as_deref().map(Policy::definition),
        );
        let mut applied = self.policy.write();
        self.policy_alternate
            .store(alternate != self.alternate, Ordering::Release);
        *applied = ExchangePolicy {
            policy,
            operator_policy,
            alternate,
        };
    }

    /// The name of the policy applied, if any.
    pub fn policy_name(&self) -> Option<Arc<str>> {
        self.selected_policies().policy_name()
    }

    /// The name of the operator policy applied, if any.
    pub fn operator_policy_name(&self) -> Option<Arc<str>> {
        self.selected_policies().operator_policy_name()
    }

    /// The policy and the operator policy applied.
    pub fn selected_policies(&self) -> Selected {
        let applied = self.policy.read();
        Selected {
            policy: applied.policy.clone(),
            operator_policy: applied.operator_policy.clone(),
        }
    }

    /// The policy's and operator policy's definitions merged, as RabbitMQ's
    /// `/api/exchanges` shows `effective_policy_definition` (empty without policies).
    pub fn effective_policy_definition(&self) -> JsonMap {
        self.selected_policies().effective_definition()
    }

    /// Appends the destinations a message with this key and headers goes to.
    pub fn route(
        &self,
        routing_key: &str,
        headers: Option<&FieldTable>,
        out: &mut Vec<Destination>,
    ) {
        self.table.read().route(routing_key, headers, out);
    }

    /// Appends the destinations a message with this key and these fields goes to.
    pub fn route_message(
        &self,
        routing_key: &str,
        fields: &MessageFields<'_>,
        out: &mut Vec<Destination>,
    ) {
        self.table.read().route_message(routing_key, fields, out);
    }

    /// Adds a binding; false if it existed.
    pub fn bind(&self, binding: Binding) -> bool {
        self.table.write().bind(binding)
    }

    /// Removes a binding; false if it did not exist.
    pub fn unbind(
        &self,
        destination: &Destination,
        routing_key: &str,
        arguments: &FieldTable,
    ) -> bool {
        self.table
            .write()
            .unbind(destination, routing_key, arguments)
    }

    /// Removes every binding to `destination`; returns how many.
    pub fn remove_destination(&self, destination: &Destination) -> usize {
        self.table.write().remove_destination(destination)
    }

    /// Whether the exchange has any bindings as a source.
    pub fn has_bindings(&self) -> bool {
        !self.table.read().is_empty()
    }

    /// A snapshot of its bindings.
    pub fn bindings(&self) -> Vec<Binding> {
        self.table.read().bindings()
    }
}

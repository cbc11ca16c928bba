//! The fuzz input: a client script decoded from bytes with `arbitrary`. Names, keys and
//! arguments come from small pools, so steps of one script meet on the same queues,
//! exchanges, consumer tags and delivery tags instead of missing each other.

use arbitrary::{Arbitrary, Result, Unstructured};

/// Most steps one input runs; the rest of the input is ignored.
pub const MAX_STEPS: usize = 48;
/// Most raw bytes one broken step writes.
pub const MAX_RAW_BYTES: usize = 512;

/// A connection's worth of client behaviour, replayed against a fresh broker state.
#[derive(Debug, Clone)]
pub struct Script {
    /// The `frame_max` the client agrees in `tune-ok` (bodies are split to fit it).
    pub frame_max: FrameMax,
    /// Channels opened right after `connection.open` (1 to 4).
    pub channels: u8,
    /// Whether a channel the server closed is opened again before the next step on it
    /// (otherwise the step goes to a closed channel, a connection error).
    pub auto_reopen: bool,
    /// What the client does, in order.
    pub steps: Vec<Step>,
}

impl<'a> Arbitrary<'a> for Script {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let frame_max = FrameMax::arbitrary(u)?;
        let channels = u.int_in_range(1..=4)?;
        let auto_reopen = bool::arbitrary(u)?;
        let mut steps = Vec::new();
        // Steps until the input is used up: every byte string is a script.
        while !u.is_empty() && steps.len() < MAX_STEPS {
            steps.push(Step::arbitrary(u)?);
        }
        Ok(Script {
            frame_max,
            channels,
            auto_reopen,
            steps,
        })
    }
}

/// The `frame_max` agreed in tune-ok.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum FrameMax {
    /// 4096, the minimum: most bodies span several frames.
    Min,
    /// 8192.
    Small,
    /// 131072, the server's offer.
    Offered,
}

impl FrameMax {
    /// In bytes.
    pub fn bytes(self) -> u32 {
        match self {
            FrameMax::Min => 4096,
            FrameMax::Small => 8192,
            FrameMax::Offered => 131_072,
        }
    }
}

/// One client action on a channel.
#[derive(Arbitrary, Debug, Clone)]
pub struct Step {
    /// Channel selector: almost always 1 to 4; now and then 0 or one never opened.
    pub channel: u8,
    /// What is sent.
    pub action: Action,
}

impl Step {
    /// The channel number this step uses.
    pub fn channel_number(&self) -> u16 {
        match self.channel {
            0..=247 => 1 + u16::from(self.channel % 4),
            248..=250 => 0,
            251..=253 => 9,
            _ => u16::MAX,
        }
    }
}

/// A queue name from the pool.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueRef {
    /// `fz.q0`..`fz.q2`.
    Named(u8),
    /// The empty name: a server-named queue on declare, the channel's last declared
    /// queue elsewhere.
    Empty,
    /// A name the server generated earlier in this script (index into them).
    Generated(u8),
    /// A reserved name (`amq.gen-fz`): declaring it is refused.
    Reserved,
    /// Direct reply-to's pseudo-queue.
    ReplyTo,
}

/// An exchange name from the pool.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeRef {
    /// The default exchange.
    Default,
    /// `amq.direct`.
    AmqDirect,
    /// `amq.fanout`.
    AmqFanout,
    /// `amq.topic`.
    AmqTopic,
    /// `amq.headers`.
    AmqHeaders,
    /// `fz.x0`..`fz.x2`.
    Named(u8),
    /// An `amq.` name nobody declared (declaring it is refused).
    AmqMissing,
}

impl ExchangeRef {
    /// The exchange's name.
    pub fn name(self) -> String {
        match self {
            ExchangeRef::Default => String::new(),
            ExchangeRef::AmqDirect => "amq.direct".into(),
            ExchangeRef::AmqFanout => "amq.fanout".into(),
            ExchangeRef::AmqTopic => "amq.topic".into(),
            ExchangeRef::AmqHeaders => "amq.headers".into(),
            ExchangeRef::Named(n) => format!("fz.x{}", n % 3),
            ExchangeRef::AmqMissing => "amq.fz-missing".into(),
        }
    }
}

/// An exchange type.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum ExchangeKind {
    /// `direct`.
    Direct,
    /// `fanout`.
    Fanout,
    /// `topic`.
    Topic,
    /// `headers`.
    Headers,
    /// `x-delayed-message` (with an `x-delayed-type` argument).
    Delayed,
    /// An unknown type.
    Bogus,
}

impl ExchangeKind {
    /// The type name sent.
    pub fn name(self) -> &'static str {
        match self {
            ExchangeKind::Direct => "direct",
            ExchangeKind::Fanout => "fanout",
            ExchangeKind::Topic => "topic",
            ExchangeKind::Headers => "headers",
            ExchangeKind::Delayed => "x-delayed-message",
            ExchangeKind::Bogus => "x-fz-bogus",
        }
    }
}

/// A routing or binding key.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Key {
    /// One of a few fixed keys and patterns.
    Fixed(u8),
    /// A queue's name (routes through the default exchange).
    Queue(QueueRef),
}

/// The fixed keys [`Key::Fixed`] picks from.
pub const KEYS: [&str; 6] = ["", "k0", "k1", "#", "*.k1", "k0.k1"];

/// An optional argument: a key from the pool with a value from the pool.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Arg {
    /// Index into the step's key pool.
    pub key: u8,
    /// The value.
    pub value: ArgValue,
}

/// Queue argument keys [`Arg::key`] picks from for `queue.declare`. Dead-lettering is
/// left out: a dead-lettered copy is a legitimate second delivery of a message, which
/// the "acked message never delivered again" check would have to track.
pub const QUEUE_ARG_KEYS: [&str; 12] = [
    "x-max-length",
    "x-max-length-bytes",
    "x-overflow",
    "x-message-ttl",
    "x-expires",
    "x-max-priority",
    "x-queue-type",
    "x-single-active-consumer",
    "x-queue-mode",
    "x-consumer-timeout",
    "x-queue-master-locator",
    "x-fz-unknown",
];

/// Argument keys for `basic.consume`.
pub const CONSUME_ARG_KEYS: [&str; 3] =
    ["x-priority", "x-cancel-on-ha-failover", "x-stream-offset"];

/// Argument keys for bindings (headers exchanges match on them).
pub const BIND_ARG_KEYS: [&str; 3] = ["x-match", "h", "g"];

/// An argument value.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum ArgValue {
    /// A small signed 32-bit integer.
    Int(i8),
    /// A signed 64-bit integer (large or negative limits).
    Long(i64),
    /// A string from a pool ("drop-head", "classic", "all", ...).
    Text(u8),
    /// A boolean.
    Bool(bool),
    /// A double.
    Double(i16),
    /// Void.
    Void,
    /// An empty table.
    Table,
    /// An array of one string.
    Array(u8),
}

/// The strings [`ArgValue::Text`] picks from.
pub const TEXTS: [&str; 12] = [
    "drop-head",
    "reject-publish",
    "reject-publish-dlx",
    "classic",
    "quorum",
    "stream",
    "lazy",
    "all",
    "any",
    "a",
    "first",
    "",
];

/// Delivery tag selection for acks, nacks and rejects.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum TagRef {
    /// The last delivery tag seen on the channel.
    Last,
    /// An outstanding (unacknowledged) delivery, by index.
    Outstanding(u8),
    /// The last tag plus a little: usually a tag never delivered.
    Ahead(u8),
    /// The last tag minus a little: often one already settled.
    Behind(u8),
    /// Zero ("everything so far" with multiple).
    Zero,
    /// Any value.
    Raw(u64),
}

/// A consumer tag.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum ConsumerTag {
    /// Let the server pick (only on `basic.consume`).
    ServerChosen,
    /// `fz.c0`..`fz.c2`.
    Named(u8),
}

impl ConsumerTag {
    /// The tag sent.
    pub fn name(self) -> String {
        match self {
            ConsumerTag::ServerChosen => String::new(),
            ConsumerTag::Named(n) => format!("fz.c{}", n % 3),
        }
    }
}

/// Message properties, picked from pools.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Props {
    /// `delivery_mode`: none, 1, 2, or an out-of-range value.
    pub delivery_mode: Option<u8>,
    /// `priority`.
    pub priority: Option<u8>,
    /// `expiration`: an index into ["0", "5", "1000", "-1", "x"].
    pub expiration: Option<u8>,
    /// `reply_to`: direct reply-to or a queue name.
    pub reply_to: Option<QueueRef>,
    /// `user_id`: "guest" or someone else (refused).
    pub user_id: Option<bool>,
    /// Headers: `x-delay` (for delayed exchanges) and the `h`/`g` keys headers
    /// bindings match.
    pub headers: Option<Headers>,
    /// `timestamp`.
    pub timestamp: Option<u32>,
}

/// Message headers.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Headers {
    /// `x-delay` in ms (small: delayed messages come due within the script).
    pub delay: Option<i8>,
    /// `h`: one of the texts.
    pub h: Option<u8>,
    /// `g`: one of the texts.
    pub g: Option<u8>,
}

/// How big a published body is.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum BodySize {
    /// Up to 255 bytes.
    Small(u8),
    /// Up to 64 KiB.
    Medium(u16),
    /// 128 KiB to 256 KiB: several frames at any frame_max.
    Large(u8),
}

impl BodySize {
    /// In bytes.
    pub fn bytes(self) -> usize {
        match self {
            BodySize::Small(n) => usize::from(n),
            BodySize::Medium(n) => usize::from(n),
            BodySize::Large(n) => 128 * 1024 + 512 * usize::from(n),
        }
    }
}

/// A well-formed method (or a publish with its content) or broken bytes. Fields are
/// the method's own, names and keys picked from the pools.
#[allow(missing_docs)]
#[derive(Arbitrary, Debug, Clone)]
pub enum Action {
    /// `queue.declare`.
    QueueDeclare {
        queue: QueueRef,
        passive: bool,
        durable: bool,
        exclusive: bool,
        auto_delete: bool,
        no_wait: bool,
        args: [Option<Arg>; 2],
    },
    /// `queue.bind`.
    QueueBind {
        queue: QueueRef,
        exchange: ExchangeRef,
        key: Key,
        no_wait: bool,
        args: [Option<Arg>; 2],
    },
    /// `queue.unbind`.
    QueueUnbind {
        queue: QueueRef,
        exchange: ExchangeRef,
        key: Key,
        args: [Option<Arg>; 2],
    },
    /// `queue.purge`.
    QueuePurge { queue: QueueRef, no_wait: bool },
    /// `queue.delete`.
    QueueDelete {
        queue: QueueRef,
        if_unused: bool,
        if_empty: bool,
        no_wait: bool,
    },
    /// `exchange.declare` (`alternate` becomes an `alternate-exchange` argument).
    ExchangeDeclare {
        exchange: ExchangeRef,
        kind: ExchangeKind,
        passive: bool,
        durable: bool,
        auto_delete: bool,
        internal: bool,
        no_wait: bool,
        alternate: Option<ExchangeRef>,
    },
    /// `exchange.delete`.
    ExchangeDelete {
        exchange: ExchangeRef,
        if_unused: bool,
        no_wait: bool,
    },
    /// `exchange.bind`.
    ExchangeBind {
        destination: ExchangeRef,
        source: ExchangeRef,
        key: Key,
        no_wait: bool,
    },
    /// `exchange.unbind`.
    ExchangeUnbind {
        destination: ExchangeRef,
        source: ExchangeRef,
        key: Key,
        no_wait: bool,
    },
    /// `basic.publish`, its header and its body frames.
    Publish {
        exchange: ExchangeRef,
        key: Key,
        mandatory: bool,
        immediate: bool,
        props: Props,
        size: BodySize,
        /// Several publishes of the same shape in one write (1 to 4).
        count: u8,
    },
    /// `basic.consume`.
    Consume {
        queue: QueueRef,
        tag: ConsumerTag,
        no_local: bool,
        no_ack: bool,
        exclusive: bool,
        no_wait: bool,
        args: Option<Arg>,
    },
    /// `basic.cancel`.
    Cancel { tag: ConsumerTag, no_wait: bool },
    /// `basic.get`.
    Get { queue: QueueRef, no_ack: bool },
    /// `basic.ack`.
    Ack { tag: TagRef, multiple: bool },
    /// `basic.nack`.
    Nack {
        tag: TagRef,
        multiple: bool,
        requeue: bool,
    },
    /// `basic.reject`.
    Reject { tag: TagRef, requeue: bool },
    /// `basic.recover`.
    Recover { requeue: bool },
    /// `basic.recover-async`.
    RecoverAsync { requeue: bool },
    /// `basic.qos`.
    Qos {
        /// Non-zero sizes are refused (540), as in RabbitMQ.
        prefetch_size: Option<u16>,
        prefetch_count: u8,
        global: bool,
    },
    /// `confirm.select`.
    ConfirmSelect { no_wait: bool },
    /// `tx.select`.
    TxSelect,
    /// `tx.commit`.
    TxCommit,
    /// `tx.rollback`.
    TxRollback,
    /// `channel.flow`.
    Flow { active: bool },
    /// `channel.open` (whether or not the channel is open).
    ChannelOpen,
    /// `channel.close` from the client.
    ChannelClose,
    /// A heartbeat frame.
    Heartbeat,
    /// Reads for a few milliseconds (deliveries, confirms, delayed messages arrive).
    Wait { ms: u8 },
    /// Bytes no well-behaved client sends.
    Broken(Broken),
}

/// Broken input: bad framing, bad content sequences, wrong channels, garbage.
#[allow(missing_docs)]
#[derive(Arbitrary, Debug, Clone)]
pub enum Broken {
    /// Arbitrary bytes.
    Raw(Vec<u8>),
    /// A well-formed method frame cut short (the rest of the stream continues it).
    Truncated { keep: u16 },
    /// A method frame with another frame type octet.
    FrameType { kind: u8 },
    /// A method frame whose end octet is not 0xCE.
    FrameEnd { end: u8 },
    /// A frame announcing more than frame_max.
    Oversized { extra: u16 },
    /// A content header with no publish before it.
    HeaderFirst { body_size: u16 },
    /// A body frame with no publish before it.
    BodyFirst { len: u8 },
    /// A publish followed by a method instead of its header.
    PublishThenMethod,
    /// A publish whose header has another class id.
    HeaderClass { class_id: u16 },
    /// A publish whose body frames carry more than the header announced.
    BodyTooLong { announced: u8, extra: u8 },
    /// A publish whose header announces more than `max_message_bytes`... or simply a
    /// huge size, then nothing.
    HugeBodySize { body_size: u64 },
    /// A method frame with an unknown class/method id and arbitrary arguments.
    UnknownMethod {
        class_id: u16,
        method_id: u16,
        payload: Vec<u8>,
    },
    /// A method only the server sends (`basic.deliver`, `connection.start`, ...).
    ServerMethod { which: u8 },
    /// A `queue.declare` whose argument table has a bad field type octet.
    BadTable { kind: u8 },
    /// `connection.close` from the client (ends the connection cleanly).
    ConnectionClose { reply_code: u16 },
}

/// Turns a byte string into a script exactly as the fuzz target does (libFuzzer's
/// `fuzz_target!` with a typed input calls `arbitrary_take_rest`), so a crash input
/// replays the same script in a plain test.
pub fn decode(data: &[u8]) -> Option<Script> {
    Script::arbitrary_take_rest(Unstructured::new(data)).ok()
}

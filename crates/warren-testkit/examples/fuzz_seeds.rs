//! Writes the seed corpus of the `connection_sequences` fuzz target: a few dozen
//! meaningful scripts (declare, publish, consume, get, acks near the real tags,
//! transactions, confirms, topology, broken frames after real traffic), encoded in the
//! `arbitrary` format the target decodes. Each seed is decoded back and its step kinds
//! compared with the intended ones, so a change to the script types that this encoder
//! does not follow fails here instead of writing meaningless seeds.
//!
//! cargo run -p warren-testkit --features fuzz --example fuzz_seeds -- \
//!     crates/warren-server/fuzz/corpus/connection_sequences

use warren_testkit::fuzz::decode;

/// Builds bytes the way `arbitrary` 1.x reads them: integers little-endian, a bool
/// one octet, an Option a bool then the value, an enum variant a u32 `x` read as
/// `(x * variants) >> 32`.
#[derive(Default)]
struct Enc {
    bytes: Vec<u8>,
    kinds: Vec<&'static str>,
}

const ACTIONS: u64 = 29;

impl Enc {
    fn script(frame_max: u64, channels: u8, auto_reopen: bool) -> Self {
        let mut e = Enc::default();
        e.variant(frame_max, 3);
        e.bytes.push(channels - 1);
        e.bool(auto_reopen);
        e
    }
    fn variant(&mut self, i: u64, n: u64) {
        let x = (i << 32).div_ceil(n);
        self.bytes.extend_from_slice(&(x as u32).to_le_bytes());
    }
    fn bool(&mut self, b: bool) {
        self.bytes.push(u8::from(b));
    }
    fn u8(&mut self, v: u8) {
        self.bytes.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }
    fn none(&mut self) {
        self.bool(false);
    }
    /// Starts a step: channel selector (1 + n % 4) and the action's variant.
    fn step(&mut self, channel: u8, action: u64, kind: &'static str) -> &mut Self {
        self.u8(channel - 1);
        self.variant(action, ACTIONS);
        self.kinds.push(kind);
        self
    }
    /// QueueRef::Named(n).
    fn queue(&mut self, n: u8) {
        self.variant(0, 5);
        self.u8(n);
    }
    /// ExchangeRef: 0 default, 1-4 amq.*, 5 Named(n), 6 missing.
    fn exchange(&mut self, which: u64, n: u8) {
        self.variant(which, 7);
        if which == 5 {
            self.u8(n);
        }
    }
    /// Key::Queue(Named(n)).
    fn key_queue(&mut self, n: u8) {
        self.variant(1, 2);
        self.queue(n);
    }
    /// Key::Fixed(i).
    fn key(&mut self, i: u8) {
        self.variant(0, 2);
        self.u8(i);
    }
    /// TagRef: 0 last, 1 outstanding(i), 2 ahead, 3 behind, 4 zero.
    fn tag(&mut self, which: u64, n: u8) {
        self.variant(which, 6);
        if (1..=3).contains(&which) {
            self.u8(n);
        }
    }

    fn declare(&mut self, ch: u8, q: u8, durable: bool, exclusive: bool) -> &mut Self {
        self.step(ch, 0, "QueueDeclare");
        self.queue(q);
        for b in [false, durable, exclusive, false, false] {
            self.bool(b);
        }
        self.none();
        self.none();
        self
    }
    fn bind(&mut self, ch: u8, q: u8, x: u64, xn: u8, key: u8) -> &mut Self {
        self.step(ch, 1, "QueueBind");
        self.queue(q);
        self.exchange(x, xn);
        self.key(key);
        self.bool(false);
        self.none();
        self.none();
        self
    }
    fn purge(&mut self, ch: u8, q: u8) -> &mut Self {
        self.step(ch, 3, "QueuePurge");
        self.queue(q);
        self.bool(false);
        self
    }
    fn delete(&mut self, ch: u8, q: u8, if_unused: bool, if_empty: bool) -> &mut Self {
        self.step(ch, 4, "QueueDelete");
        self.queue(q);
        self.bool(if_unused);
        self.bool(if_empty);
        self.bool(false);
        self
    }
    /// Kind: 0 direct, 1 fanout, 2 topic, 3 headers, 4 delayed.
    fn exchange_declare(&mut self, ch: u8, xn: u8, kind: u64, durable: bool) -> &mut Self {
        self.step(ch, 5, "ExchangeDeclare");
        self.exchange(5, xn);
        self.variant(kind, 6);
        for b in [false, durable, false, false, false] {
            self.bool(b);
        }
        self.none();
        self
    }
    fn exchange_bind(&mut self, ch: u8, dest: (u64, u8), src: (u64, u8), key: u8) -> &mut Self {
        self.step(ch, 7, "ExchangeBind");
        self.exchange(dest.0, dest.1);
        self.exchange(src.0, src.1);
        self.key(key);
        self.bool(false);
        self
    }
    /// Publishes `count` (1-4) bodies of `size` bytes (Small) to exchange `x` with a
    /// routing key naming queue `q`; `persistent` sets delivery_mode 2.
    fn publish(&mut self, ch: u8, x: (u64, u8), q: u8, size: u8, count: u8) -> &mut Self {
        self.publish_with(ch, x, q, size, count, false, false)
    }
    #[allow(clippy::too_many_arguments)]
    fn publish_with(
        &mut self,
        ch: u8,
        x: (u64, u8),
        q: u8,
        size: u8,
        count: u8,
        persistent: bool,
        mandatory: bool,
    ) -> &mut Self {
        self.step(ch, 9, "Publish");
        self.exchange(x.0, x.1);
        self.key_queue(q);
        self.bool(mandatory);
        self.bool(false);
        // Props: delivery_mode, priority, expiration, reply_to, user_id, headers,
        // timestamp.
        if persistent {
            self.bool(true);
            self.u8(1); // 1 + 1 % 2 = 2
        } else {
            self.none();
        }
        for _ in 0..6 {
            self.none();
        }
        self.variant(0, 3); // BodySize::Small
        self.u8(size);
        self.u8(count - 1);
        self
    }
    fn consume(&mut self, ch: u8, q: u8, tag: u8, no_ack: bool) -> &mut Self {
        self.step(ch, 10, "Consume");
        self.queue(q);
        self.variant(1, 2); // ConsumerTag::Named
        self.u8(tag);
        for b in [false, no_ack, false, false] {
            self.bool(b);
        }
        self.none();
        self
    }
    fn cancel(&mut self, ch: u8, tag: u8) -> &mut Self {
        self.step(ch, 11, "Cancel");
        self.variant(1, 2);
        self.u8(tag);
        self.bool(false);
        self
    }
    fn get(&mut self, ch: u8, q: u8, no_ack: bool) -> &mut Self {
        self.step(ch, 12, "Get");
        self.queue(q);
        self.bool(no_ack);
        self
    }
    fn ack(&mut self, ch: u8, which: u64, n: u8, multiple: bool) -> &mut Self {
        self.step(ch, 13, "Ack");
        self.tag(which, n);
        self.bool(multiple);
        self
    }
    fn nack(&mut self, ch: u8, which: u64, multiple: bool, requeue: bool) -> &mut Self {
        self.step(ch, 14, "Nack");
        self.tag(which, 0);
        self.bool(multiple);
        self.bool(requeue);
        self
    }
    fn reject(&mut self, ch: u8, which: u64, requeue: bool) -> &mut Self {
        self.step(ch, 15, "Reject");
        self.tag(which, 0);
        self.bool(requeue);
        self
    }
    fn recover(&mut self, ch: u8) -> &mut Self {
        self.step(ch, 16, "Recover");
        self.bool(true);
        self
    }
    fn qos(&mut self, ch: u8, prefetch: u8, global: bool) -> &mut Self {
        self.step(ch, 18, "Qos");
        self.none();
        self.u8(prefetch);
        self.bool(global);
        self
    }
    fn confirm(&mut self, ch: u8) -> &mut Self {
        self.step(ch, 19, "ConfirmSelect");
        self.bool(false);
        self
    }
    fn tx(&mut self, ch: u8, which: u64) -> &mut Self {
        let kind = ["TxSelect", "TxCommit", "TxRollback"][which as usize];
        self.step(ch, 20 + which, kind);
        self
    }
    fn flow(&mut self, ch: u8, active: bool) -> &mut Self {
        self.step(ch, 23, "Flow");
        self.bool(active);
        self
    }
    fn close(&mut self, ch: u8) -> &mut Self {
        self.step(ch, 25, "ChannelClose");
        self
    }
    fn wait(&mut self, ms: u8) -> &mut Self {
        self.step(1, 27, "Wait");
        self.u8(ms);
        self
    }
    /// Broken variants without byte vectors: 1 truncated(keep), 2 frame type,
    /// 3 frame end, 4 oversized, 5 header first, 6 body first, 7 publish then method,
    /// 8 header class, 9 body too long, 10 huge body size, 12 server method,
    /// 13 bad table, 14 connection.close.
    fn broken(&mut self, ch: u8, which: u64, arg: u16) -> &mut Self {
        const NAMES: [&str; 15] = [
            "Broken:Raw",
            "Broken:Truncated",
            "Broken:FrameType",
            "Broken:FrameEnd",
            "Broken:Oversized",
            "Broken:HeaderFirst",
            "Broken:BodyFirst",
            "Broken:PublishThenMethod",
            "Broken:HeaderClass",
            "Broken:BodyTooLong",
            "Broken:HugeBodySize",
            "Broken:UnknownMethod",
            "Broken:ServerMethod",
            "Broken:BadTable",
            "Broken:ConnectionClose",
        ];
        self.step(ch, 28, NAMES[which as usize]);
        self.variant(which, 15);
        match which {
            1 | 4 | 5 | 8 | 14 => self.u16(arg),
            2 | 3 | 6 | 12 | 13 => self.u8(arg as u8),
            9 => {
                self.u8(arg as u8);
                self.u8(3);
            }
            10 => self.bytes.extend_from_slice(&u64::from(arg).to_le_bytes()),
            _ => {}
        }
        self
    }
}

const DEFAULT: (u64, u8) = (0, 0);

fn seeds() -> Vec<(String, Enc)> {
    let mut out = Vec::new();
    let mut add = |name: &str, e: Enc| out.push((name.to_owned(), e));

    for (fm, tag) in [(2, "offered"), (0, "min")] {
        let mut e = Enc::script(fm, 1, true);
        e.declare(1, 0, false, false)
            .publish(1, DEFAULT, 0, 40, 2)
            .get(1, 0, false)
            .ack(1, 0, 0, false)
            .get(1, 0, false)
            .get(1, 0, false)
            .ack(1, 4, 0, true);
        add(&format!("get-ack-{tag}"), e);
    }

    let mut e = Enc::script(2, 2, true);
    e.declare(1, 0, false, false)
        .consume(2, 0, 0, false)
        .publish(1, DEFAULT, 0, 30, 4)
        .wait(10)
        .ack(2, 0, 0, true)
        .cancel(2, 0)
        .publish(1, DEFAULT, 0, 30, 1)
        .get(1, 0, true);
    add("consume-ack-multiple-cancel", e);

    let mut e = Enc::script(2, 1, true);
    e.qos(1, 1, false)
        .declare(1, 1, false, false)
        .consume(1, 1, 1, false)
        .publish(1, DEFAULT, 1, 20, 3)
        .wait(5)
        .ack(1, 0, 0, false)
        .wait(5)
        .ack(1, 0, 0, false)
        .wait(5)
        .ack(1, 1, 0, false)
        .ack(1, 3, 1, false);
    add("prefetch-one", e);

    let mut e = Enc::script(1, 1, true);
    e.confirm(1)
        .declare(1, 1, true, false)
        .publish_with(1, DEFAULT, 1, 200, 4, true, false)
        .publish_with(1, DEFAULT, 2, 20, 1, false, true)
        .wait(15)
        .get(1, 1, false)
        .ack(1, 0, 0, false);
    add("confirms-durable-mandatory", e);

    let mut e = Enc::script(2, 2, false);
    e.declare(1, 0, false, false)
        .publish(1, DEFAULT, 0, 12, 3)
        .tx(2, 0)
        .get(2, 0, false)
        .get(2, 0, false)
        .ack(2, 0, 0, true)
        .tx(2, 2)
        .ack(2, 1, 0, false)
        .tx(2, 1)
        .get(2, 0, false)
        .ack(2, 2, 0, false);
    add("tx-rollback-commit", e);

    let mut e = Enc::script(2, 1, true);
    e.declare(1, 0, false, false)
        .declare(1, 2, false, false)
        .exchange_declare(1, 0, 2, false)
        .bind(1, 0, 5, 0, 3)
        .bind(1, 2, 5, 0, 3)
        .exchange_bind(1, (2, 0), (5, 0), 3)
        .publish(1, (5, 0), 0, 16, 2)
        .consume(1, 0, 0, true)
        .consume(1, 2, 1, false)
        .wait(10)
        .ack(1, 4, 0, true)
        .delete(1, 0, true, false)
        .purge(1, 2);
    add("topic-fanout-routing", e);

    let mut e = Enc::script(2, 1, true);
    e.declare(1, 0, false, false)
        .publish(1, DEFAULT, 0, 14, 4)
        .get(1, 0, false)
        .nack(1, 0, false, true)
        .get(1, 0, false)
        .reject(1, 0, false)
        .get(1, 0, false)
        .get(1, 0, false)
        .recover(1)
        .get(1, 0, false)
        .nack(1, 4, true, false);
    add("nack-reject-recover", e);

    let mut e = Enc::script(2, 3, true);
    e.declare(1, 0, false, true)
        .consume(1, 0, 0, false)
        .consume(2, 0, 1, false)
        .publish(3, DEFAULT, 0, 40, 4)
        .flow(1, false)
        .publish(3, DEFAULT, 0, 40, 2)
        .wait(5)
        .flow(1, true)
        .close(2)
        .wait(5)
        .ack(1, 4, 0, true)
        .close(1);
    add("flow-close-requeue", e);

    let mut e = Enc::script(2, 1, true);
    e.exchange_declare(1, 1, 4, false)
        .declare(1, 0, false, false)
        .bind(1, 0, 5, 1, 0)
        .exchange_declare(1, 2, 3, true)
        .delete(1, 1, false, true);
    add("delayed-headers-exchanges", e);

    // Broken input after real traffic: the connection must end with a close code.
    for which in [1u64, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14] {
        let mut e = Enc::script(2, 2, true);
        e.declare(1, 0, false, false)
            .publish(1, DEFAULT, 0, 20, 2)
            .consume(2, 0, 0, false)
            .wait(2)
            .broken(1 + (which % 2) as u8, which, 7)
            .declare(1, 0, false, false)
            .get(1, 0, false)
            .ack(1, 0, 0, false);
        add(&format!("broken-{which}"), e);
    }
    out
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: fuzz_seeds <corpus directory>");
    std::fs::create_dir_all(&dir).expect("create the corpus directory");
    for (name, e) in seeds() {
        let script = decode(&e.bytes).expect("a seed decodes");
        let kinds: Vec<String> = script
            .steps
            .iter()
            .map(|s| {
                let debug = format!("{:?}", s.action);
                let mut words = debug.split(|c: char| !c.is_alphanumeric());
                let kind = words.next().unwrap_or_default();
                if kind == "Broken" {
                    format!("Broken:{}", words.next().unwrap_or_default())
                } else {
                    kind.to_owned()
                }
            })
            .collect();
        assert_eq!(
            kinds, e.kinds,
            "seed {name} decodes to other steps: {script:#?}"
        );
        std::fs::write(format!("{dir}/seed-{name}"), &e.bytes).expect("write seed");
    }
}

//! The chaos test's clients: publishers with confirms and consumers that ack, reject
//! and requeue, and the ledger of what each was told (which copies were confirmed, and
//! which settlements were sent, processed and made durable) that the check compares the
//! broker's contents against.

use super::*;

/// Where a publisher sends a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Dest {
    Work,
    Wait,
    Delayed,
    Prio,
    Fifo,
}

impl Dest {
    pub(crate) fn pick(rng: &mut Rng) -> Dest {
        match rng.range(0, 100) {
            0..40 => Dest::Work,
            40..55 => Dest::Wait,
            55..70 => Dest::Delayed,
            70..85 => Dest::Prio,
            _ => Dest::Fifo,
        }
    }

    pub(crate) fn code(self) -> i64 {
        self as i64
    }

    /// Whether the message moves between queues (delayed exchange, TTL dead-letter)
    /// before any consumer sees it: such moves are at-least-once.
    pub(crate) fn moves(self) -> bool {
        matches!(self, Dest::Wait | Dest::Delayed)
    }
}

/// One copy of a message: its id and how many times it was dead-lettered.
pub(crate) type CopyKey = (String, u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settle {
    Ack,
    Reject,
}

/// What the clients know of one copy's settlement.
#[derive(Debug, Default)]
pub(crate) struct CopyState {
    /// An ack or reject was written for it.
    pub(crate) sent: Option<Settle>,
    /// When a `qos-ok` after it arrived.
    pub(crate) processed_at: Option<Instant>,
    /// Further copies under the same key the last check found (an at-least-once move
    /// made it twice): each may be delivered once more after a settlement.
    pub(crate) extra: u32,
}

/// Everything the clients were told, across all rounds.
#[derive(Default)]
pub(crate) struct Ledger {
    /// Confirmed messages: id → destination.
    pub(crate) confirmed: HashMap<String, Dest>,
    pub(crate) nacked: u64,
    /// The latest send time of a publish whose confirm arrived: store writes the broker
    /// made before it are durable.
    pub(crate) horizon: Option<Instant>,
    pub(crate) copies: HashMap<CopyKey, CopyState>,
    /// Ids one of whose copies an ack was sent for.
    pub(crate) acked_ids: HashSet<String>,
    pub(crate) violations: Vec<String>,
    /// What happened to each message (for the report of a violation).
    pub(crate) history: HashMap<String, Vec<String>>,
    /// The broker's lifetime (bumped at each start), for the history.
    pub(crate) lifetime: u32,
    pub(crate) acked: u64,
    pub(crate) rejected: u64,
    pub(crate) requeued: u64,
    pub(crate) deliveries: u64,
}

impl Ledger {
    pub(crate) fn durable(&self, processed_at: Instant) -> bool {
        self.horizon.is_some_and(|h| processed_at < h)
    }
}

pub(crate) type Shared = Arc<Mutex<Ledger>>;

pub(crate) struct Publish {
    pub(crate) id: String,
    pub(crate) sent_at: Instant,
    pub(crate) dest: Dest,
}

/// Publishes until the connection dies (or `stop` is set, then waits for every
/// outstanding confirm), recording confirms in the ledger.
pub(crate) async fn publisher(
    addr: SocketAddr,
    publisher: u32,
    mut rng: Rng,
    ledger: Shared,
    stop: Arc<AtomicBool>,
) {
    let Ok(conn) = connect(addr).await else {
        return;
    };
    let Ok(ch) = conn.create_channel().await else {
        return;
    };
    if ch
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .is_err()
    {
        return;
    }
    let mut seqs: HashMap<Dest, i64> = HashMap::new();
    let mut in_flight = VecDeque::new();
    let settle = |p: Publish, c: lapin::Result<Confirmation>| -> bool {
        let mut l = ledger.lock().unwrap();
        match c {
            Ok(Confirmation::Ack(_)) => {
                let event = format!("life {}: confirmed", l.lifetime);
                l.history.entry(p.id.clone()).or_default().push(event);
                l.confirmed.insert(p.id, p.dest);
                if l.horizon.is_none_or(|h| h < p.sent_at) {
                    l.horizon = Some(p.sent_at);
                }
                true
            }
            Ok(Confirmation::Nack(_)) => {
                l.nacked += 1;
                true
            }
            _ => false,
        }
    };
    for n in 0u64.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let dest = Dest::pick(&mut rng);
        let seq = seqs.entry(dest).or_default();
        *seq += 1;
        let id = format!("p{publisher}-{n}");
        let mut headers = vec![
            ("chaos-pub", AMQPValue::LongLongInt(i64::from(publisher))),
            ("chaos-seq", AMQPValue::LongLongInt(*seq)),
            ("chaos-dest", AMQPValue::LongLongInt(dest.code())),
        ];
        let mut props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_message_id(id.as_str().into());
        let (exchange, key) = match dest {
            Dest::Work => (IN, "work"),
            Dest::Wait => (IN, "wait"),
            Dest::Fifo => (IN, "fifo"),
            Dest::Prio => {
                props = props.with_priority(rng.range(0, 6) as u8);
                (IN, "prio")
            }
            Dest::Delayed => {
                let delay = rng.range(20, MAX_DELAY_MS) as i64;
                headers.push(("x-delay", AMQPValue::LongLongInt(delay)));
                (DELAYED, "work")
            }
        };
        props = props.with_headers(table(&headers));
        let body = vec![b'c'; rng.range(16, 2048) as usize];
        let sent_at = Instant::now();
        let Ok(pending) = ch
            .basic_publish(
                exchange.into(),
                key.into(),
                BasicPublishOptions::default(),
                &body,
                props,
            )
            .await
        else {
            return;
        };
        in_flight.push_back((Publish { id, sent_at, dest }, pending));
        while in_flight.len() >= WINDOW {
            let Some((p, pending)) = in_flight.pop_front() else {
                break;
            };
            if !settle(p, pending.await) {
                return;
            }
        }
    }
    while let Some((p, pending)) = in_flight.pop_front() {
        if !settle(p, pending.await) {
            return;
        }
    }
    let _ = conn.close(200, "done".into()).await;
}

/// The number of dead-letter events in a message's `x-death` header.
pub(crate) fn deaths(props: &BasicProperties) -> u32 {
    let Some(AMQPValue::FieldArray(a)) = props
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("x-death"))
    else {
        return 0;
    };
    a.as_slice()
        .iter()
        .map(|e| match e {
            AMQPValue::FieldTable(t) => match t.inner().get("count") {
                Some(AMQPValue::LongLongInt(n)) => *n as u32,
                Some(AMQPValue::LongInt(n)) => *n as u32,
                _ => 1,
            },
            _ => 1,
        })
        .sum()
}

pub(crate) fn header_i64(props: &BasicProperties, key: &str) -> i64 {
    match props.headers().as_ref().and_then(|h| h.inner().get(key)) {
        Some(AMQPValue::LongLongInt(n)) => *n,
        Some(AMQPValue::LongInt(n)) => i64::from(*n),
        other => panic!("header {key}: {other:?}"),
    }
}

pub(crate) fn message_id(props: &BasicProperties) -> String {
    props
        .message_id()
        .as_ref()
        .map(|s| s.as_str().to_owned())
        .expect("every chaos message has a message_id")
}

/// The order key of a message in an ordered queue: (publisher, priority).
pub(crate) fn order_key(props: &BasicProperties) -> (i64, u8) {
    (
        header_i64(props, "chaos-pub"),
        props.priority().unwrap_or(0),
    )
}

/// Consumes `queue` until the connection dies or `stop` is set; in `chaos.work` acks
/// 80%, rejects 12% and requeues 8%, elsewhere acks everything. Settlements are marked
/// processed by a `basic.qos` round trip every [`SETTLE_BATCH`] of them (or when idle).
pub(crate) async fn consumer(
    addr: SocketAddr,
    queue: &'static str,
    mut rng: Rng,
    ledger: Shared,
    stop: Arc<AtomicBool>,
) {
    let Ok(conn) = connect(addr).await else {
        return;
    };
    let Ok(ch) = conn.create_channel().await else {
        return;
    };
    if ch
        .basic_qos(PREFETCH, BasicQosOptions::default())
        .await
        .is_err()
    {
        return;
    }
    let Ok(mut deliveries) = ch
        .basic_consume(
            queue.into(),
            format!("chaos-{queue}").as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
    else {
        return;
    };
    let ordered = queue == FIFO || queue == PRIO;
    let mut last_seq: HashMap<(i64, u8), i64> = HashMap::new();
    let mut pending: Vec<CopyKey> = Vec::new();
    loop {
        let next = tokio::time::timeout(Duration::from_millis(30), deliveries.next()).await;
        let idle = next.is_err();
        if let Ok(next) = next {
            let Some(Ok(d)) = next else { return };
            let key: CopyKey = (message_id(&d.properties), deaths(&d.properties));
            if ordered && !d.redelivered {
                let seq = header_i64(&d.properties, "chaos-seq");
                let last = last_seq.entry(order_key(&d.properties)).or_insert(0);
                if seq <= *last {
                    ledger.lock().unwrap().violations.push(format!(
                        "{queue}: {key:?} (seq {seq}) delivered after seq {last} of the same publisher and priority"
                    ));
                }
                *last = seq;
            }
            let roll = rng.range(0, 100);
            let action = match queue {
                WORK if roll < 12 => Some(Settle::Reject),
                WORK if roll < 20 => None,
                _ => Some(Settle::Ack),
            };
            {
                let mut l = ledger.lock().unwrap();
                l.deliveries += 1;
                let event = format!(
                    "life {}: {queue} delivered copy {} (redelivered={}) -> {action:?}",
                    l.lifetime, key.1, d.redelivered
                );
                l.history.entry(key.0.clone()).or_default().push(event);
                // This copy is here again (it came back at a restart), so whatever
                // dead-lettering it makes is new: its later copies start over.
                for later in key.1 + 1..=key.1 + 4 {
                    if let Some(c) = l.copies.get_mut(&(key.0.clone(), later)) {
                        c.sent = None;
                        c.processed_at = None;
                    }
                }
                if let Some(c) = l.copies.get_mut(&key) {
                    if c.processed_at.is_some() && c.extra > 0 {
                        // The next of the copies the check counted.
                        c.extra -= 1;
                        c.sent = None;
                        c.processed_at = None;
                    }
                }
                if let Some(c) = l.copies.get(&key) {
                    if let (Some(s), Some(_)) = (c.sent, c.processed_at) {
                        let history = l.history.get(&key.0).cloned();
                        l.violations.push(format!(
                            "{queue}: {key:?} delivered again (redelivered={}) after its {s:?} was processed; history: {history:?}",
                            d.redelivered
                        ));
                    }
                }
                match action {
                    Some(s) => {
                        let c = l.copies.entry(key.clone()).or_default();
                        c.sent = Some(s);
                        c.processed_at = None;
                        if s == Settle::Ack {
                            l.acked_ids.insert(key.0.clone());
                        }
                    }
                    None => l.requeued += 1,
                }
            }
            let sent = match action {
                Some(Settle::Ack) => {
                    ch.basic_ack(d.delivery_tag, BasicAckOptions::default())
                        .await
                }
                Some(Settle::Reject) => {
                    ch.basic_reject(d.delivery_tag, BasicRejectOptions { requeue: false })
                        .await
                }
                None => {
                    ch.basic_nack(
                        d.delivery_tag,
                        BasicNackOptions {
                            multiple: false,
                            requeue: true,
                        },
                    )
                    .await
                }
            };
            if sent.is_err() {
                return;
            }
            if action.is_some() {
                pending.push(key);
            }
        }
        if pending.len() >= SETTLE_BATCH || (idle && !pending.is_empty()) {
            if ch
                .basic_qos(PREFETCH, BasicQosOptions::default())
                .await
                .is_err()
            {
                return;
            }
            let now = Instant::now();
            let mut l = ledger.lock().unwrap();
            for key in pending.drain(..) {
                let c = l.copies.entry(key).or_default();
                c.processed_at = Some(now);
                match c.sent {
                    Some(Settle::Ack) => l.acked += 1,
                    Some(Settle::Reject) => l.rejected += 1,
                    None => {}
                }
            }
        }
        if idle && stop.load(Ordering::Relaxed) {
            break;
        }
    }
    let _ = conn.close(200, "done".into()).await;
}

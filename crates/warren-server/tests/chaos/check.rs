//! What the chaos test finds after each restart and checks against its ledger: the
//! messages in every queue (`snapshot`) and the invariants (`check`).

use super::*;

/// One message found in a queue by the check.
pub(super) struct Found {
    pub(super) queue: &'static str,
    pub(super) key: CopyKey,
    pub(super) dest: Dest,
    pub(super) order: (i64, u8),
    pub(super) seq: i64,
}

/// Reads every message of every queue (consumed, left unacknowledged: closing the
/// connection puts them back in place), once nothing moves by itself any more.
pub(super) async fn snapshot(broker: &Broker) -> Vec<Found> {
    // Every delayed message is due MAX_DELAY_MS after it was published, before the
    // kill; then chaos.wait's last messages expire within its TTL.
    tokio::time::sleep(Duration::from_millis(MAX_DELAY_MS + 100)).await;
    let conn = connect(broker.amqp).await.expect("connect");
    let ch = conn.create_channel().await.expect("channel");
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let emptied = eventually(Duration::from_secs(10), || {
        let ch = ch.clone();
        async move {
            ch.queue_declare(WAIT.into(), passive, FieldTable::default())
                .await
                .expect("passive declare")
                .message_count()
                == 0
        }
    })
    .await;
    assert!(emptied, "{WAIT} did not expire into {WORK} within 10 s");
    let mut found = Vec::new();
    for q in QUEUES {
        let depth = ch
            .queue_declare(q.into(), passive, FieldTable::default())
            .await
            .expect("passive declare")
            .message_count() as usize;
        if depth == 0 {
            continue;
        }
        let mut c = ch
            .basic_consume(
                q.into(),
                format!("check-{q}").as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("basic.consume");
        for _ in 0..depth {
            let d = tokio::time::timeout(Duration::from_secs(10), c.next())
                .await
                .unwrap_or_else(|_| panic!("{q}: fewer deliveries than its depth {depth}"))
                .expect("consumer open")
                .expect("delivery");
            let dest = match header_i64(&d.properties, "chaos-dest") {
                0 => Dest::Work,
                1 => Dest::Wait,
                2 => Dest::Delayed,
                3 => Dest::Prio,
                _ => Dest::Fifo,
            };
            found.push(Found {
                queue: q,
                key: (message_id(&d.properties), deaths(&d.properties)),
                dest,
                order: order_key(&d.properties),
                seq: header_i64(&d.properties, "chaos-seq"),
            });
        }
    }
    let _ = conn.close(200, "checked".into()).await;
    found
}

/// Counts over the whole run.
#[derive(Default, Debug)]
pub(super) struct Totals {
    pub(super) crashes: u64,
    pub(super) found: u64,
    pub(super) move_duplicates: u64,
    /// Copies whose ack or reject was processed but not yet durable at the kill, found
    /// back in a queue (at-least-once acks).
    pub(super) undone_settlements: u64,
}

/// Checks the invariants (see the module comment) against `found`. With `graceful`,
/// every processed settlement must hold.
pub(super) fn check(
    ledger: &mut Ledger,
    found: &[Found],
    graceful: bool,
    totals: &mut Totals,
) -> Vec<String> {
    let mut bad = Vec::new();
    let mut count: HashMap<&CopyKey, u32> = HashMap::new();
    let mut present: HashSet<&str> = HashSet::new();
    let mut copies_of: HashMap<&str, HashSet<u32>> = HashMap::new();
    let mut order: HashMap<(&str, (i64, u8)), i64> = HashMap::new();
    for f in found {
        *count.entry(&f.key).or_default() += 1;
        present.insert(&f.key.0);
        copies_of.entry(&f.key.0).or_default().insert(f.key.1);
        if let Some(c) = ledger.copies.get(&f.key) {
            if let (Some(s), Some(at)) = (c.sent, c.processed_at) {
                if graceful || ledger.durable(at) {
                    bad.push(format!(
                        "{}: {:?} is back after its {s:?} was {}",
                        f.queue,
                        f.key,
                        if graceful {
                            "processed and the broker stopped gracefully"
                        } else {
                            "durable"
                        }
                    ));
                } else {
                    totals.undone_settlements += 1;
                }
            }
        }
        if f.queue == FIFO || f.queue == PRIO {
            let last = order.entry((f.queue, f.order)).or_insert(0);
            if f.seq <= *last {
                bad.push(format!(
                    "{}: {:?} (seq {}) after seq {} of the same publisher and priority",
                    f.queue, f.key, f.seq, *last
                ));
            }
            *last = f.seq;
        }
    }
    for f in found {
        let n = count[&f.key];
        let moved = f.dest.moves() || f.key.1 > 0;
        if n > 1 && !moved {
            bad.push(format!("{}: {:?} is there {n} times", f.queue, f.key));
        }
    }
    for (id, copies) in &copies_of {
        let n: u32 = found.iter().filter(|f| f.key.0 == *id).count() as u32;
        if n > 1 && (copies.len() > 1 || found.iter().any(|f| f.key.0 == *id && f.dest.moves())) {
            totals.move_duplicates += u64::from(n - 1);
        }
    }
    for (id, dest) in &ledger.confirmed {
        if !present.contains(id.as_str()) && !ledger.acked_ids.contains(id) {
            bad.push(format!(
                "LOST: confirmed {id} ({dest:?}) is in no queue and was never acked; history: {:?}",
                ledger.history.get(id)
            ));
        }
    }
    // A copy found again may be delivered again, and so may the copies dead-lettering
    // it makes again (its later ones): their settlements start over.
    let mut earliest: HashMap<&str, u32> = HashMap::new();
    for f in found {
        let d = earliest.entry(&f.key.0).or_insert(f.key.1);
        *d = (*d).min(f.key.1);
    }
    for (key, c) in ledger.copies.iter_mut() {
        if earliest.get(key.0.as_str()).is_some_and(|&d| key.1 >= d) {
            c.sent = None;
            c.processed_at = None;
            c.extra = 0;
        }
    }
    for (key, n) in count {
        if n > 1 {
            ledger.copies.entry(key.clone()).or_default().extra = n - 1;
        }
    }
    totals.found += found.len() as u64;
    bad
}

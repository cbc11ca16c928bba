//! Crash safety of the real `warren` binary: publishers on several connections send
//! persistent messages with confirms to a durable queue, the broker is SIGKILLed at a
//! random moment, restarted on the same data directory, and every message whose confirm
//! was received must be there exactly once (unconfirmed ones may be there or not, but
//! never twice). Repeated over several kill points on one directory; every earlier
//! round's queue is checked again after each restart.
//!
//! The binary is the one Cargo builds for this package's integration tests
//! (`CARGO_BIN_EXE_warren`), so the test always runs it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Confirmation, Connection, ConnectionProperties};
use warren_testkit::eventually;

/// Kill rounds on the same data directory.
const ROUNDS: usize = 4;
/// Publishing connections.
const PUBLISHERS: usize = 3;
/// Unconfirmed publishes each publisher keeps in flight.
const WINDOW: usize = 64;

/// The `warren` binary Cargo built for this test.
const WARREN: &str = env!("CARGO_BIN_EXE_warren");

/// A broker child process, killed when dropped.
struct Broker {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts the binary on `dir` and waits (up to 20 s) until it accepts connections.
async fn start(dir: &Path, log: &Path) -> Broker {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let child = Command::new(WARREN)
        .arg("--listen")
        .arg(addr.to_string())
        .args(["--management-listen", "off"])
        .arg("--data-dir")
        .arg(dir)
        .arg("--log")
        .arg("info")
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .expect("warren starts");
    let mut broker = Broker { child, addr };
    let listening = eventually(Duration::from_secs(20), || {
        if let Ok(Some(status)) = broker.child.try_wait() {
            panic!("warren exited at start-up: {status}");
        }
        std::future::ready(TcpStream::connect(addr).is_ok())
    })
    .await;
    assert!(listening, "warren did not start listening");
    broker
}

async fn connect(addr: SocketAddr) -> Connection {
    Connection::connect(
        &format!("amqp://guest:guest@{addr}/%2f"),
        ConnectionProperties::default(),
    )
    .await
    .expect("lapin connects")
}

/// Publishes persistent messages to `queue` until the connection dies, recording the
/// bodies whose confirm was an ack.
async fn publish_until_killed(
    addr: SocketAddr,
    queue: String,
    publisher: usize,
    confirmed: Arc<Mutex<HashSet<String>>>,
) {
    let conn = connect(addr).await;
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
    let mut in_flight = VecDeque::new();
    for i in 0u64.. {
        let body = format!("{publisher}-{i}");
        let Ok(pending) = ch
            .basic_publish(
                "".into(),
                queue.as_str().into(),
                BasicPublishOptions::default(),
                body.as_bytes(),
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
        else {
            return;
        };
        in_flight.push_back((body, pending));
        while in_flight.len() >= WINDOW {
            let Some((body, pending)) = in_flight.pop_front() else {
                break;
            };
            match pending.await {
                Ok(Confirmation::Ack(_)) => {
                    confirmed.lock().unwrap().insert(body);
                }
                _ => return,
            }
        }
    }
}

/// Every body in `queue`, taken with basic.get and left unacknowledged (they return
/// to the queue when the connection closes).
async fn contents(addr: SocketAddr, queue: &str) -> Vec<String> {
    let conn = connect(addr).await;
    let ch = conn.create_channel().await.expect("channel");
    let mut bodies = Vec::new();
    while let Some(m) = ch
        .basic_get(queue.into(), BasicGetOptions::default())
        .await
        .expect("basic.get")
    {
        bodies.push(String::from_utf8_lossy(&m.data).into_owned());
    }
    let _ = conn.close(200, "checked".into()).await;
    bodies
}

/// Asserts every confirmed body is in `found` and nothing is there twice.
fn check(round: usize, confirmed: &HashSet<String>, found: &[String], log: &Path) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for b in found {
        *seen.entry(b).or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    let missing: Vec<_> = confirmed
        .iter()
        .filter(|b| !seen.contains_key(b.as_str()))
        .collect();
    if !twice.is_empty() || !missing.is_empty() {
        let log = std::fs::read_to_string(log).unwrap_or_default();
        panic!(
            "round {round}: {} confirmed, {} found; missing {missing:?}; duplicated {twice:?}\n\
             broker log:\n{log}",
            confirmed.len(),
            found.len(),
        );
    }
}

/// A pseudo-random kill delay in 50..650 ms (seeded from the clock: each run tries
/// other kill points).
fn kill_delay(state: &mut u64) -> Duration {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    Duration::from_millis(50 + *state % 600)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_confirmed_message_survives_sigkill_exactly_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let log = dir.path().join("warren.log");
    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    let mut rounds: Vec<(String, HashSet<String>)> = Vec::new();
    let mut broker = start(&data, &log).await;
    for round in 0..ROUNDS {
        let queue = format!("crash-{round}");
        {
            let conn = connect(broker.addr).await;
            let ch = conn.create_channel().await.unwrap();
            ch.queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("durable declare");
            let _ = conn.close(200, "declared".into()).await;
        }
        let confirmed = Arc::new(Mutex::new(HashSet::new()));
        let publishers: Vec<_> = (0..PUBLISHERS)
            .map(|p| {
                tokio::spawn(publish_until_killed(
                    broker.addr,
                    queue.clone(),
                    p,
                    confirmed.clone(),
                ))
            })
            .collect();
        let delay = kill_delay(&mut seed);
        tokio::time::sleep(delay).await;
        broker.child.kill().expect("SIGKILL");
        let _ = broker.child.wait();
        for p in publishers {
            let _ = tokio::time::timeout(Duration::from_secs(10), p).await;
        }
        let confirmed = std::mem::take(&mut *confirmed.lock().unwrap());
        eprintln!(
            "round {round}: killed after {delay:?} with {} confirmed",
            confirmed.len()
        );
        rounds.push((queue, confirmed));
        drop(broker);
        broker = start(&data, &log).await;
        for (r, (queue, confirmed)) in rounds.iter().enumerate() {
            let found = contents(broker.addr, queue).await;
            check(r, confirmed, &found, &log);
        }
    }
    assert!(
        rounds.iter().any(|(_, c)| !c.is_empty()),
        "no publish was ever confirmed: the test proved nothing"
    );
}

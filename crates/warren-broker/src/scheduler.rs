//! One background task that fires timers for the whole broker: message expiry at queue
//! heads, queue expiry (`x-expires`) and delayed messages. It reads and sleeps on the
//! [`clock`](crate::clock), so paused tokio time drives it in tests.
//!
//! Targets are held weakly, so a deleted queue's timers simply lapse. A target that
//! fires re-arms itself if it still has work in the future.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::clock::now_ms;

/// Something that wants to be called at a time on the [`clock`](crate::clock).
pub trait Timed: Send + Sync {
    /// Called at or after the time it was scheduled for.
    fn on_timer(&self, now_ms: u64);
}

type Entry = (u64, Weak<dyn Timed>);

/// The broker's timer service.
pub struct Scheduler {
    tx: UnboundedSender<Entry>,
    rx: Mutex<Option<UnboundedReceiver<Entry>>>,
    started: AtomicBool,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler").finish_non_exhaustive()
    }
}

impl Scheduler {
    /// A scheduler; its task starts on the first [`Scheduler::schedule`] made inside a
    /// tokio runtime.
    pub fn new() -> Arc<Self> {
        let (tx, rx) = unbounded_channel();
        Arc::new(Scheduler {
            tx,
            rx: Mutex::new(Some(rx)),
            started: AtomicBool::new(false),
        })
    }

    /// Calls `target.on_timer` at `due_ms` ([`clock`](crate::clock) ms), if it still exists.
    pub fn schedule(&self, due_ms: u64, target: Weak<dyn Timed>) {
        if !self.started.load(Ordering::Acquire) {
            self.start();
        }
        let _ = self.tx.send((due_ms, target));
    }

    fn start(&self) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if let Some(rx) = self.rx.lock().take() {
            self.started.store(true, Ordering::Release);
            handle.spawn(run(rx));
        }
    }
}

struct Due(u64, u64, Weak<dyn Timed>);

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.0, self.1) == (other.0, other.1)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.0, self.1).cmp(&(other.0, other.1))
    }
}

async fn run(mut rx: UnboundedReceiver<Entry>) {
    let mut heap: BinaryHeap<Reverse<Due>> = BinaryHeap::new();
    let mut seq = 0u64;
    loop {
        let now = now_ms();
        while heap.peek().is_some_and(|Reverse(d)| d.0 <= now) {
            if let Some(Reverse(Due(_, _, target))) = heap.pop() {
                if let Some(t) = target.upgrade() {
                    t.on_timer(now);
                }
            }
        }
        let wait = heap
            .peek()
            .map(|Reverse(d)| Duration::from_millis(d.0.saturating_sub(now)));
        tokio::select! {
            entry = rx.recv() => match entry {
                Some((due, target)) => {
                    seq += 1;
                    heap.push(Reverse(Due(due, seq, target)));
                }
                None => return,
            },
            _ = sleep_opt(wait) => {}
        }
    }
}

async fn sleep_opt(wait: Option<Duration>) {
    match wait {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

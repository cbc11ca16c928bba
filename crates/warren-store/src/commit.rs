//! Group commit: writers register after writing and are woken when a flush that *began
//! after their write* has completed. One background thread runs one flush at a time, and
//! each flush covers every write that arrived while the previous one ran, from every
//! connection, so durable throughput does not collapse to one fsync per message.
//!
//! Generations: flush `n` is the n-th flush started. A writer registering while flush
//! `k` runs (or after it finished) needs flush `k + 1`, the first one to start after its
//! write. After a failed flush the store is failed: that flush's waiters and every later
//! one get the error (sled stops after an I/O error; the broker must restart).

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::error::{StoreError, StoreResult};

/// What the flush thread runs.
pub(crate) trait Flusher: Send + 'static {
    /// Makes every write so far durable; `generation` is this flush's number.
    fn flush(&mut self, generation: u64) -> Result<(), String>;
    /// Called after waiters of `generation` were woken (bookkeeping off the hot path).
    fn flushed(&mut self, generation: u64);
    /// Called when no flush was asked for during the idle interval.
    fn idle(&mut self) {}
}

#[derive(Default)]
struct State {
    started: u64,
    completed: u64,
    wanted: u64,
    failed: Option<(u64, String)>,
    shutdown: bool,
    wakers: Vec<Waker>,
}

impl State {
    fn outcome(&self, target: u64, path: &std::path::Path) -> Option<StoreResult<()>> {
        if let Some((at, reason)) = &self.failed {
            if target >= *at {
                return Some(Err(StoreError::Failed {
                    path: path.to_path_buf(),
                    reason: reason.clone(),
                }));
            }
        }
        (self.completed >= target).then_some(Ok(()))
    }
}

struct Shared {
    state: Mutex<State>,
    work: Condvar,
    done: Condvar,
    path: PathBuf,
}

/// The group-commit handle: cheap to share, one flush thread behind it.
pub(crate) struct GroupCommit {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl GroupCommit {
    /// Starts the flush thread; generations continue after `base` (the last one
    /// recorded on disk). `path` names the store in errors. With `idle`, the thread
    /// calls [`Flusher::idle`] whenever that long passes without a flush asked for.
    pub(crate) fn start(
        path: PathBuf,
        base: u64,
        flusher: impl Flusher,
        idle: Option<Duration>,
    ) -> StoreResult<GroupCommit> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                started: base,
                completed: base,
                wanted: base,
                ..State::default()
            }),
            work: Condvar::new(),
            done: Condvar::new(),
            path: path.clone(),
        });
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("warren-store-sync".into())
            .spawn(move || run(&thread_shared, flusher, idle))
            .map_err(|source| StoreError::Io { path, source })?;
        Ok(GroupCommit {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Registers a request for durability of every write completed before this call.
    pub(crate) fn ticket(&self) -> SyncTicket {
        let mut st = self.shared.state.lock();
        let target = st.started + 1;
        if let Some(done) = st.outcome(target, &self.shared.path) {
            return SyncTicket::ready(done);
        }
        if st.shutdown {
            return SyncTicket::ready(Err(StoreError::Closed));
        }
        if st.wanted < target {
            st.wanted = target;
            self.shared.work.notify_one();
        }
        SyncTicket(Inner::Waiting {
            shared: self.shared.clone(),
            target,
        })
    }

    /// The generation of the last completed flush.
    pub(crate) fn completed(&self) -> u64 {
        self.shared.state.lock().completed
    }

    /// Runs the outstanding flushes and stops the thread.
    pub(crate) fn shutdown(&self) {
        {
            let mut st = self.shared.state.lock();
            st.shutdown = true;
            self.shared.work.notify_one();
        }
        if let Some(thread) = self.thread.lock().take() {
            if thread.join().is_err() {
                tracing::error!("warren-store sync thread panicked");
            }
        }
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn run(shared: &Shared, mut flusher: impl Flusher, idle: Option<Duration>) {
    loop {
        let generation = {
            let mut st = shared.state.lock();
            while st.wanted <= st.completed && !st.shutdown {
                match idle {
                    Some(every) => {
                        if shared.work.wait_for(&mut st, every).timed_out()
                            && st.wanted <= st.completed
                            && !st.shutdown
                        {
                            drop(st);
                            flusher.idle();
                            st = shared.state.lock();
                        }
                    }
                    None => shared.work.wait(&mut st),
                }
            }
            if st.wanted <= st.completed || st.failed.is_some() {
                return;
            }
            st.started += 1;
            st.started
        };
        let result = flusher.flush(generation);
        let wakers = {
            let mut st = shared.state.lock();
            st.completed = generation;
            if let Err(reason) = &result {
                tracing::error!(store = %shared.path.display(), "sync failed: {reason}");
                st.failed = Some((generation, reason.clone()));
            }
            shared.done.notify_all();
            std::mem::take(&mut st.wakers)
        };
        for w in wakers {
            w.wake();
        }
        if result.is_err() {
            return;
        }
        flusher.flushed(generation);
    }
}

enum Inner {
    Ready(Option<StoreResult<()>>),
    Waiting { shared: Arc<Shared>, target: u64 },
    Manual(Arc<ManualSlot>),
}

/// The outcome of a ticket resolved by hand ([`SyncTicket::manual`]).
#[derive(Default)]
struct ManualSlot {
    state: Mutex<ManualState>,
    done: Condvar,
}

#[derive(Default)]
struct ManualState {
    result: Option<StoreResult<()>>,
    /// The completer was dropped or used: no outcome will come after this.
    finished: bool,
    waker: Option<Waker>,
}

impl ManualSlot {
    fn finish(&self, result: StoreResult<()>) {
        let waker = {
            let mut st = self.state.lock();
            if st.finished {
                return;
            }
            st.finished = true;
            st.result = Some(result);
            self.done.notify_all();
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn take(st: &mut ManualState) -> StoreResult<()> {
        st.result.take().unwrap_or(Err(StoreError::Closed))
    }
}

/// Resolves the ticket made with it by [`SyncTicket::manual`]. Dropping it unused
/// resolves the ticket with [`StoreError::Closed`], so a waiter never hangs.
pub struct SyncCompleter(Arc<ManualSlot>);

impl SyncCompleter {
    /// Resolves the ticket with `result`.
    pub fn complete(self, result: StoreResult<()>) {
        self.0.finish(result);
    }
}

impl Drop for SyncCompleter {
    fn drop(&mut self) {
        self.0.finish(Err(StoreError::Closed));
    }
}

/// A pending sync: resolves once every write made before it was created is on disk.
/// Await it (async) or call [`SyncTicket::wait`] (blocking). Dropping it is harmless:
/// the flush it asked for still runs.
#[must_use = "a sync ticket does nothing unless awaited or waited on"]
pub struct SyncTicket(Inner);

impl SyncTicket {
    /// A ticket that is already resolved (a store with nothing to flush, or an error).
    pub fn ready(result: StoreResult<()>) -> SyncTicket {
        SyncTicket(Inner::Ready(Some(result)))
    }

    /// A ticket resolved by whoever holds the returned [`SyncCompleter`]: for stores
    /// that wrap another (e.g. one that injects faults or delays in tests).
    pub fn manual() -> (SyncTicket, SyncCompleter) {
        let slot = Arc::new(ManualSlot::default());
        (SyncTicket(Inner::Manual(slot.clone())), SyncCompleter(slot))
    }

    /// Blocks the calling thread until the sync completes. Never call it on an async
    /// runtime's worker thread: await the ticket there instead.
    pub fn wait(mut self) -> StoreResult<()> {
        match &mut self.0 {
            Inner::Ready(result) => result.take().unwrap_or(Err(StoreError::Closed)),
            Inner::Manual(slot) => {
                let mut st = slot.state.lock();
                while !st.finished {
                    slot.done.wait(&mut st);
                }
                ManualSlot::take(&mut st)
            }
            Inner::Waiting { shared, target } => {
                let mut st = shared.state.lock();
                loop {
                    if let Some(done) = st.outcome(*target, &shared.path) {
                        return done;
                    }
                    shared.done.wait(&mut st);
                }
            }
        }
    }
}

impl std::fmt::Debug for SyncTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.0 {
            Inner::Ready(_) => "ready",
            Inner::Waiting { .. } => "waiting for a flush",
            Inner::Manual(_) => "manual",
        };
        f.debug_tuple("SyncTicket").field(&state).finish()
    }
}

impl Future for SyncTicket {
    type Output = StoreResult<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().0 {
            Inner::Ready(result) => Poll::Ready(result.take().unwrap_or(Err(StoreError::Closed))),
            Inner::Manual(slot) => {
                let mut st = slot.state.lock();
                if st.finished {
                    return Poll::Ready(ManualSlot::take(&mut st));
                }
                st.waker = Some(cx.waker().clone());
                Poll::Pending
            }
            Inner::Waiting { shared, target } => {
                let mut st = shared.state.lock();
                match st.outcome(*target, &shared.path) {
                    Some(done) => Poll::Ready(done),
                    None => {
                        if !st.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                            st.wakers.push(cx.waker().clone());
                        }
                        Poll::Pending
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    struct Counting {
        flushes: Arc<AtomicU64>,
        fail_at: Option<u64>,
    }

    impl Flusher for Counting {
        fn flush(&mut self, generation: u64) -> Result<(), String> {
            std::thread::sleep(std::time::Duration::from_millis(2));
            self.flushes.fetch_add(1, Ordering::SeqCst);
            match self.fail_at {
                Some(at) if generation >= at => Err("disk on fire".into()),
                _ => Ok(()),
            }
        }
        fn flushed(&mut self, _generation: u64) {}
    }

    #[test]
    fn many_waiters_share_few_flushes() {
        let flushes = Arc::new(AtomicU64::new(0));
        let gc = Arc::new(
            GroupCommit::start(
                "t".into(),
                0,
                Counting {
                    flushes: flushes.clone(),
                    fail_at: None,
                },
                None,
            )
            .unwrap(),
        );
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let gc = gc.clone();
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        gc.ticket().wait().unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let n = flushes.load(Ordering::SeqCst);
        assert!(n >= 50, "each waiter needs its own later flush: {n}");
        assert!(n < 400, "400 syncs took {n} flushes: not grouped");
    }

    #[test]
    fn a_failed_flush_fails_its_waiters_and_every_later_sync() {
        let gc = GroupCommit::start(
            "/data".into(),
            0,
            Counting {
                flushes: Arc::new(AtomicU64::new(0)),
                fail_at: Some(2),
            },
            None,
        )
        .unwrap();
        gc.ticket().wait().unwrap();
        let err = gc.ticket().wait().unwrap_err();
        assert!(err.to_string().contains("disk on fire"), "{err}");
        assert!(matches!(gc.ticket().wait(), Err(StoreError::Failed { .. })));
    }

    #[test]
    fn manual_tickets_resolve_when_completed_or_dropped() {
        let (ticket, done) = SyncTicket::manual();
        let waiter = std::thread::spawn(move || ticket.wait());
        done.complete(Ok(()));
        assert!(waiter.join().unwrap().is_ok());
        let (ticket, done) = SyncTicket::manual();
        drop(done);
        assert!(matches!(ticket.wait(), Err(StoreError::Closed)));
    }

    #[test]
    fn tickets_resolve_as_futures() {
        let gc = GroupCommit::start(
            "t".into(),
            100,
            Counting {
                flushes: Arc::new(AtomicU64::new(0)),
                fail_at: None,
            },
            None,
        )
        .unwrap();
        let ticket = gc.ticket();
        struct Noop;
        impl std::task::Wake for Noop {
            fn wake(self: Arc<Self>) {}
        }
        let waker = Waker::from(Arc::new(Noop));
        let mut cx = Context::from_waker(&waker);
        let mut ticket = std::pin::pin!(ticket);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Poll::Ready(r) = ticket.as_mut().poll(&mut cx) {
                r.unwrap();
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "ticket never resolved"
            );
            std::thread::yield_now();
        }
        assert!(gc.completed() >= 101, "generations continue from the base");
    }
}

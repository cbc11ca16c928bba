//! Waiting for a state with a deadline instead of a sleep.

use std::cell::Cell;
use std::future::Future;
use std::time::{Duration, Instant};

use lapin::Channel;

/// How long a test waits for something that should happen (a reply, a delivery, a
/// timer of tens to hundreds of milliseconds): it only bounds a failing test.
pub const WAIT: Duration = Duration::from_secs(5);

/// How often [`eventually`] looks again.
const POLL_EVERY: Duration = Duration::from_millis(10);

/// Polls `check` every 10 ms until it yields true or `timeout` has passed; returns
/// whether it became true (the last look is after the deadline). For a plain condition,
/// return `std::future::ready(cond)` from the closure.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Waits until `queue` holds exactly `n` ready messages; panics with the last depth
/// seen if it does not within [`WAIT`].
pub async fn wait_depth(ch: &Channel, queue: &str, n: u32) {
    let last = &Cell::new(None);
    let reached = eventually(WAIT, || async move {
        let d = crate::depth(ch, queue).await;
        last.set(Some(d));
        d == n
    })
    .await;
    assert!(
        reached,
        "queue '{queue}' should reach {n} ready messages, last saw {:?}",
        last.get()
    );
}

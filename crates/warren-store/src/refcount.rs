//! Message reference counts, in memory only (rebuilt from the entries at open, so they
//! cost no disk writes). Almost every message sits in exactly one queue, so a count of
//! one is implicit: the map holds only messages with another count (0 = written but
//! not enqueued yet, 2+ = fanned out), which keeps millions of stored messages cheap.

use std::collections::HashMap;

use parking_lot::Mutex;

const SHARDS: usize = 16;

/// What a decrement left.
#[derive(Debug, PartialEq, Eq)]
pub enum Released {
    /// Other entries still reference the message.
    StillReferenced,
    /// That was the last reference: delete the message.
    Last,
}

/// Reference counts of stored messages, sharded by id.
pub struct RefCounts {
    shards: Vec<Mutex<HashMap<u64, u32>>>,
}

impl Default for RefCounts {
    fn default() -> Self {
        RefCounts {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }
}

impl RefCounts {
    fn shard(&self, id: u64) -> &Mutex<HashMap<u64, u32>> {
        &self.shards[(id as usize) % SHARDS]
    }

    /// A message was written and has no entries yet.
    pub fn written(&self, id: u64) {
        self.shard(id).lock().insert(id, 0);
    }

    /// Sets a recovered message's count (`count >= 1`).
    pub fn recovered(&self, id: u64, count: u32) {
        if count != 1 {
            self.shard(id).lock().insert(id, count);
        }
    }

    /// One more entry references the message.
    pub fn acquire(&self, id: u64) {
        let mut shard = self.shard(id).lock();
        match shard.get_mut(&id) {
            Some(0) => {
                shard.remove(&id);
            }
            Some(n) => *n += 1,
            None => {
                shard.insert(id, 2);
            }
        }
    }

    /// One entry referencing the message is gone.
    pub fn release(&self, id: u64) -> Released {
        let mut shard = self.shard(id).lock();
        match shard.get_mut(&id) {
            None | Some(0) => {
                shard.remove(&id);
                Released::Last
            }
            Some(n) => {
                *n -= 1;
                if *n == 1 {
                    shard.remove(&id);
                }
                Released::StillReferenced
            }
        }
    }

    /// Whether the message was written and has no entries (count 0).
    pub fn is_unreferenced(&self, id: u64) -> bool {
        self.shard(id).lock().get(&id) == Some(&0)
    }

    /// Forgets a message that was deleted without entries.
    pub fn forget(&self, id: u64) {
        self.shard(id).lock().remove(&id);
    }

    /// Messages tracked explicitly (not at the implicit count of one).
    pub fn tracked(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_in_three_queues_is_released_by_the_third() {
        let rc = RefCounts::default();
        rc.written(7);
        rc.acquire(7);
        rc.acquire(7);
        rc.acquire(7);
        assert_eq!(rc.release(7), Released::StillReferenced);
        assert_eq!(rc.release(7), Released::StillReferenced);
        assert_eq!(rc.release(7), Released::Last);
        assert_eq!(rc.tracked(), 0);
    }

    #[test]
    fn single_queue_messages_take_no_memory() {
        let rc = RefCounts::default();
        for id in 0..1000 {
            rc.written(id);
            rc.acquire(id);
        }
        assert_eq!(rc.tracked(), 0);
        rc.recovered(5000, 1);
        rc.recovered(5001, 3);
        assert_eq!(rc.tracked(), 1);
        assert_eq!(rc.release(5000), Released::Last);
        assert_eq!(rc.release(5001), Released::StillReferenced);
    }
}

//! Counting publisher confirms, which may confirm one tag or every tag up to one
//! (`multiple`), possibly after single confirms of tags above an earlier watermark.

use std::collections::BTreeSet;

/// Tracks which delivery tags (1, 2, 3, … in publish order) the broker has confirmed.
#[derive(Debug, Default)]
pub struct ConfirmTracker {
    /// Every tag up to and including this one is confirmed.
    low: u64,
    /// Tags above `low` confirmed one at a time.
    singles: BTreeSet<u64>,
}

impl ConfirmTracker {
    /// Applies a basic.ack or basic.nack; returns how many messages it newly settles.
    pub fn settle(&mut self, tag: u64, multiple: bool) -> u64 {
        if tag <= self.low {
            return 0;
        }
        if !multiple {
            return u64::from(self.singles.insert(tag));
        }
        let singles_below = self.singles.range(..=tag).count() as u64;
        let newly = tag - self.low - singles_below;
        self.singles = self.singles.split_off(&(tag + 1));
        self.low = tag;
        newly
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_single_and_multiple() {
        let mut t = ConfirmTracker::default();
        assert_eq!(t.settle(2, false), 1);
        assert_eq!(t.settle(2, false), 0, "duplicate");
        assert_eq!(t.settle(5, false), 1);
        assert_eq!(t.settle(4, true), 3, "1, 3 and 4 (2 already settled)");
        assert_eq!(t.settle(3, true), 0, "below the watermark");
        assert_eq!(t.settle(6, true), 1, "6 (5 already settled)");
        assert_eq!(t.settle(7, false), 1);
        assert_eq!(t.settle(10, true), 3, "8, 9 and 10 (7 already settled)");
    }
}

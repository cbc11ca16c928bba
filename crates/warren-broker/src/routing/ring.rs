//! A weighted consistent-hash ring: every member owns points on a 64-bit circle in
//! proportion to its weight, and a key belongs to the owner of the first point at or
//! after the key's hash (wrapping round). Used by `x-consistent-hash` exchanges and, through
//! them, by super streams.
//!
//! Properties the callers rely on:
//!
//! * **Stable**: a member's points depend only on its identity (a hash of its name) and
//!   its point count, never on the order members were added in, so the same members give
//!   the same ring after a restart, and the hash function is written out here (FNV-1a
//!   followed by MurmurHash3's 64-bit finaliser) rather than borrowed from `std`, whose
//!   hasher may change between Rust releases.
//! * **Consistent**: adding a member only takes keys from others onto it, and removing
//!   one only moves its own keys, as long as the ring keeps [`POINTS_PER_WEIGHT`] points
//!   per unit of weight (total weight up to `MAX_POINTS / POINTS_PER_WEIGHT`, 1,638).
//!   Above that the ring keeps [`MAX_POINTS`] points in all, shared in proportion to the
//!   weights, so memory and rebuild time stay bounded whatever the weights; a change then
//!   moves more than its own share.
//! * **Cheap to route**: a lookup is one binary search over a sorted `Vec<u64>`; no
//!   allocation. Building is `O(P log P)` for `P` points, done on membership changes only.

/// Points a member gets per unit of weight while the ring is below [`MAX_POINTS`]. With
/// 160 points (ketama's figure) a member's share of the keys is within about 8% of its
/// weight's share (one standard deviation).
pub const POINTS_PER_WEIGHT: u64 = 160;

/// Most points a ring holds (8 bytes of hash + 4 of owner each: 3 MiB), so that weights
/// as large as RabbitMQ accepts (any positive integer) cost bounded memory and a bounded
/// rebuild (a few milliseconds).
pub const MAX_POINTS: u64 = 1 << 18;

/// A stable 64-bit hash: FNV-1a over the bytes, then MurmurHash3's `fmix64` so that
/// short keys differing in one byte land far apart on the ring.
#[derive(Debug, Clone, Copy)]
pub struct KeyHasher(u64);

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl Default for KeyHasher {
    fn default() -> Self {
        KeyHasher(FNV_OFFSET)
    }
}

impl KeyHasher {
    /// Feeds bytes.
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(FNV_PRIME);
        }
    }

    /// Feeds one byte (a type tag).
    pub fn write_u8(&mut self, b: u8) {
        self.write(&[b]);
    }

    /// Feeds an unsigned integer as its decimal digits, so that `7` hashes like the
    /// string `"7"` whatever integer type carried it; no allocation.
    pub fn write_decimal(&mut self, mut n: u64) {
        let mut buf = [0u8; 20];
        let mut at = buf.len();
        loop {
            at -= 1;
            buf[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.write(&buf[at..]);
    }

    /// Feeds a signed integer as its decimal digits (with a `-` when negative).
    pub fn write_signed_decimal(&mut self, n: i64) {
        if n < 0 {
            self.write(b"-");
        }
        self.write_decimal(n.unsigned_abs());
    }

    /// The hash of everything fed so far.
    pub fn finish(&self) -> u64 {
        fmix64(self.0)
    }
}

/// The hash of `bytes` (what a routing key hashes to).
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = KeyHasher::default();
    h.write(bytes);
    h.finish()
}

/// MurmurHash3's 64-bit finaliser: a bijection that mixes every input bit into every
/// output bit.
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// The `i`-th point of the member whose identity hashes to `identity`.
fn point(identity: u64, i: u64) -> u64 {
    fmix64(identity ^ fmix64(i.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15)))
}

/// A ring over members of type `T`.
#[derive(Debug, Clone)]
pub struct Ring<T> {
    /// Point positions, ascending.
    points: Vec<u64>,
    /// `owners[i]` is the index in `members` of the owner of `points[i]`.
    owners: Vec<u32>,
    members: Vec<T>,
}

impl<T> Default for Ring<T> {
    fn default() -> Self {
        Ring {
            points: Vec::new(),
            owners: Vec::new(),
            members: Vec::new(),
        }
    }
}

impl<T> Ring<T> {
    /// A ring over `members`, each given as (member, identity hash, weight). Members of
    /// weight 0 get no points. Identity hashes should be distinct (two members with the
    /// same identity would share their points' positions).
    pub fn build(members: impl IntoIterator<Item = (T, u64, u64)>) -> Self {
        let members: Vec<(T, u64, u64)> = members.into_iter().filter(|m| m.2 > 0).collect();
        let total: u128 = members.iter().map(|m| u128::from(m.2)).sum();
        if total == 0 {
            return Ring::default();
        }
        let per_weight = u128::from(POINTS_PER_WEIGHT);
        let max = u128::from(MAX_POINTS);
        let count = |weight: u64| -> u64 {
            let w = u128::from(weight);
            if total * per_weight <= max {
                (w * per_weight) as u64
            } else {
                // Shared in proportion, at least one point each.
                ((w * max / total) as u64).max(1)
            }
        };
        let capacity: u64 = members.iter().map(|m| count(m.2)).sum();
        let mut pairs: Vec<(u64, u32)> = Vec::with_capacity(capacity as usize);
        for (index, (_, identity, weight)) in members.iter().enumerate() {
            pairs.extend((0..count(*weight)).map(|i| (point(*identity, i), index as u32)));
        }
        // Ties (practically never) break by member index: deterministic for a given
        // member order, which callers keep sorted.
        pairs.sort_unstable();
        let (points, owners) = pairs.into_iter().unzip();
        Ring {
            points,
            owners,
            members: members.into_iter().map(|m| m.0).collect(),
        }
    }

    /// The member owning `hash`: the owner of the first point at or after it, wrapping
    /// round to the first point. None for an empty ring.
    pub fn owner(&self, hash: u64) -> Option<&T> {
        if self.points.is_empty() {
            return None;
        }
        let at = self.points.partition_point(|&p| p < hash);
        let at = if at == self.points.len() { 0 } else { at };
        self.members.get(self.owners[at] as usize)
    }

    /// Number of points on the ring.
    pub fn points(&self) -> usize {
        self.points.len()
    }

    /// Whether the ring has no points (no member of positive weight).
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(members: &[(&'static str, u64)]) -> Ring<&'static str> {
        Ring::build(
            members
                .iter()
                .map(|&(name, w)| (name, hash_bytes(name.as_bytes()), w)),
        )
    }

    fn shares(r: &Ring<&'static str>, keys: u32) -> std::collections::BTreeMap<&'static str, u32> {
        let mut counts = std::collections::BTreeMap::new();
        for k in 0..keys {
            let owner = r.owner(hash_bytes(k.to_string().as_bytes())).unwrap();
            *counts.entry(*owner).or_insert(0) += 1;
        }
        counts
    }

    #[test]
    fn hash_is_stable_and_spreads() {
        // Fixed values: a change here changes where every key goes after an upgrade.
        assert_eq!(hash_bytes(b""), fmix64(FNV_OFFSET));
        assert_eq!(hash_bytes(b"a"), 0x82a2_a958_a9be_ce5b);
        assert_eq!(hash_bytes(b"user-1"), 0x41a2_fca5_c684_01c5);
        assert_ne!(hash_bytes(b"k1"), hash_bytes(b"k2"));
        let mut h = KeyHasher::default();
        h.write_decimal(1234);
        assert_eq!(h.finish(), hash_bytes(b"1234"));
        let mut h = KeyHasher::default();
        h.write_signed_decimal(-5);
        assert_eq!(h.finish(), hash_bytes(b"-5"));
        let mut h = KeyHasher::default();
        h.write_decimal(0);
        assert_eq!(h.finish(), hash_bytes(b"0"));
        let mut h = KeyHasher::default();
        h.write_decimal(u64::MAX);
        assert_eq!(h.finish(), hash_bytes(u64::MAX.to_string().as_bytes()));
    }

    #[test]
    fn empty_rings_route_nowhere() {
        assert!(ring(&[]).owner(1).is_none());
        assert!(ring(&[("a", 0)]).owner(1).is_none());
        assert!(ring(&[("a", 0)]).is_empty());
    }

    #[test]
    fn shares_follow_weights() {
        let r = ring(&[("q1", 1), ("q2", 1), ("q3", 2)]);
        assert_eq!(r.points(), 4 * POINTS_PER_WEIGHT as usize);
        let counts = shares(&r, 40_000);
        for (name, expected) in [("q1", 10_000.0), ("q2", 10_000.0), ("q3", 20_000.0)] {
            let got = f64::from(counts[name]);
            assert!(
                (got - expected).abs() / expected < 0.25,
                "{name}: {got} of 40000, expected about {expected}: {counts:?}"
            );
        }
    }

    #[test]
    fn order_of_members_does_not_matter() {
        let a = ring(&[("q1", 1), ("q2", 3)]);
        let b = ring(&[("q2", 3), ("q1", 1)]);
        for k in 0..1000u32 {
            let h = hash_bytes(&k.to_le_bytes());
            assert_eq!(a.owner(h), b.owner(h));
        }
    }

    #[test]
    fn adding_a_member_only_takes_keys_onto_it() {
        let before = ring(&[("q1", 1), ("q2", 1), ("q3", 1)]);
        let after = ring(&[("q1", 1), ("q2", 1), ("q3", 1), ("q4", 1)]);
        let mut moved = 0;
        for k in 0..20_000u32 {
            let h = hash_bytes(k.to_string().as_bytes());
            let (b, a) = (before.owner(h).unwrap(), after.owner(h).unwrap());
            if a != b {
                assert_eq!(*a, "q4", "key {k} moved from {b} to {a}");
                moved += 1;
            }
        }
        // About a quarter moves (the new member's share), nothing else.
        assert!((3_000..7_000).contains(&moved), "{moved} of 20000 moved");
        // Removing it again puts every key back.
        for k in 0..2_000u32 {
            let h = hash_bytes(k.to_string().as_bytes());
            let again = ring(&[("q1", 1), ("q2", 1), ("q3", 1)]);
            assert_eq!(again.owner(h), before.owner(h));
        }
    }

    #[test]
    fn huge_weights_are_bounded() {
        let r = ring(&[("a", u64::MAX / 2), ("b", u64::MAX / 2), ("c", 1)]);
        assert!(r.points() as u64 <= MAX_POINTS + 3, "{}", r.points());
        // The tiny member still has a point; the big ones split the keys.
        let counts = shares(&r, 10_000);
        assert!(counts["a"] > 3_000 && counts["b"] > 3_000, "{counts:?}");
    }
}

//! Connections open per client address (`Limits::max_connections_per_ip`): counted at
//! accept, before a byte is read, and uncounted when the connection's task ends. The
//! map holds only addresses with a connection open (an entry goes at zero), so it is
//! bounded by `max_connections`. One short lock at accept and one at close; nothing on
//! the message path.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

type Open = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// The per-address counts and their limit (0: no limit, nothing counted).
#[derive(Debug, Default)]
pub(crate) struct PerIp {
    max: usize,
    open: Open,
}

/// A connection's place in its address's count, given back when dropped.
#[derive(Debug)]
pub(crate) struct PerIpSlot {
    counted: Option<(IpAddr, Open)>,
}

fn lock(open: &Open) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
    // Nothing panics while holding it; a poisoned map is still consistent.
    open.lock().unwrap_or_else(|e| e.into_inner())
}

/// The address counted: an IPv4-mapped IPv6 address (a dual-stack listener's view of
/// an IPv4 client) as its IPv4 one.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl PerIp {
    /// At most `max` connections per address; 0 turns the limit off.
    pub(crate) fn new(max: usize) -> Self {
        PerIp {
            max,
            open: Open::default(),
        }
    }

    /// The limit (0: none).
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// A slot for a new connection from `ip`, or `None` if that address has its
    /// maximum open already.
    pub(crate) fn admit(&self, ip: IpAddr) -> Option<PerIpSlot> {
        if self.max == 0 {
            return Some(PerIpSlot { counted: None });
        }
        let ip = key(ip);
        let mut open = lock(&self.open);
        let n = open.entry(ip).or_default();
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(PerIpSlot {
            counted: Some((ip, self.open.clone())),
        })
    }

    /// Connections open from `ip` (counted ones only).
    #[cfg(test)]
    fn open_from(&self, ip: IpAddr) -> usize {
        lock(&self.open).get(&key(ip)).copied().unwrap_or(0)
    }

    /// Addresses with a connection open.
    #[cfg(test)]
    fn addresses(&self) -> usize {
        lock(&self.open).len()
    }
}

impl Drop for PerIpSlot {
    fn drop(&mut self) {
        if let Some((ip, open)) = self.counted.take() {
            let mut open = lock(&open);
            if let Some(n) = open.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    open.remove(&ip);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_address_gets_at_most_max_and_its_entry_goes_at_zero() {
        let per_ip = PerIp::new(2);
        let a = ip("192.0.2.1");
        let s1 = per_ip.admit(a).unwrap();
        let s2 = per_ip.admit(ip("::ffff:192.0.2.1")).unwrap();
        assert!(per_ip.admit(a).is_none(), "a third from the same address");
        let other = per_ip.admit(ip("192.0.2.2")).unwrap();
        assert_eq!((per_ip.open_from(a), per_ip.addresses()), (2, 2));
        drop(s1);
        let s3 = per_ip.admit(a).expect("a slot came back");
        drop((s2, s3, other));
        assert_eq!(per_ip.addresses(), 0, "no entry stays for a closed address");
    }

    #[test]
    fn zero_counts_nothing() {
        let per_ip = PerIp::new(0);
        let slots: Vec<_> = (0..1000)
            .map(|_| per_ip.admit(ip("192.0.2.1")).unwrap())
            .collect();
        assert_eq!(per_ip.addresses(), 0);
        drop(slots);
    }
}

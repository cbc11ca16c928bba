//! SASL mechanisms PLAIN and AMQPLAIN, and the user check.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv6Addr};

use warren_protocol::wire::Reader;
use warren_protocol::FieldValue;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use warren_broker::access::{AccessControl, LoginRefusal, User};
use warren_broker::Limits;

/// Mechanisms offered in `connection.start`, in preference order.
pub const MECHANISMS: &str = "PLAIN AMQPLAIN";
/// Mechanisms offered on a TLS connection that verifies client certificates.
pub const MECHANISMS_WITH_EXTERNAL: &str = "PLAIN AMQPLAIN EXTERNAL";
/// SASL EXTERNAL: the user is the one the verified client certificate names
/// (`tls::identity`); the response is ignored, as RabbitMQ does.
pub const EXTERNAL: &str = "EXTERNAL";

/// Why a login failed. The client only ever sees 403 ACCESS_REFUSED.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// The client picked a mechanism we do not offer.
    #[error("unsupported authentication mechanism '{0}'")]
    UnsupportedMechanism(String),
    /// The response could not be parsed for its mechanism.
    #[error("malformed {0} response")]
    Malformed(&'static str),
    /// Unknown user, a user without a password, or a wrong password: RabbitMQ's log
    /// text, with which of them it was (the client is never told).
    #[error("user '{user}' - invalid credentials ({reason})")]
    InvalidCredentials {
        /// The login name given.
        user: String,
        /// Which check failed.
        reason: LoginRefusal,
    },
    /// EXTERNAL found no user to log in as (no client certificate, no name in it,
    /// or no such user).
    #[error("EXTERNAL login refused: {0}")]
    External(String),
    /// The user may only connect from loopback.
    #[error("user '{0}' can only connect via localhost")]
    LoopbackOnly(String),
}

/// Credentials extracted from a SASL response. Its `Debug` does not show the password.
#[derive(PartialEq, Eq)]
pub struct Credentials {
    /// Login name.
    pub user: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Parses the `connection.start-ok` response for `mechanism`.
pub fn parse_response(mechanism: &str, response: &[u8]) -> Result<Credentials, AuthError> {
    match mechanism {
        // PLAIN: [authzid] NUL authcid NUL password
        "PLAIN" => {
            let mut parts = response.split(|&b| b == 0);
            let (_authz, user, pass) =
                match (parts.next(), parts.next(), parts.next(), parts.next()) {
                    (Some(a), Some(u), Some(p), None) => (a, u, p),
                    _ => return Err(AuthError::Malformed("PLAIN")),
                };
            let text =
                |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| AuthError::Malformed("PLAIN"));
            Ok(Credentials {
                user: text(user)?,
                password: text(pass)?,
            })
        }
        // AMQPLAIN: a field table without its length prefix, holding LOGIN and PASSWORD.
        "AMQPLAIN" => {
            let mut framed = Vec::with_capacity(response.len() + 4);
            framed.extend_from_slice(&(response.len() as u32).to_be_bytes());
            framed.extend_from_slice(response);
            let table = Reader::new(&framed, "AMQPLAIN response")
                .table()
                .map_err(|_| AuthError::Malformed("AMQPLAIN"))?;
            let field = |k: &str| match table.get(k) {
                Some(FieldValue::LongString(b)) => String::from_utf8(b.to_vec()).ok(),
                _ => None,
            };
            match (field("LOGIN"), field("PASSWORD")) {
                (Some(user), Some(password)) => Ok(Credentials { user, password }),
                _ => Err(AuthError::Malformed("AMQPLAIN")),
            }
        }
        other => Err(AuthError::UnsupportedMechanism(other.to_owned())),
    }
}

/// Whether `ip` is a loopback address for `loopback_users` (IPv4-mapped IPv6 included).
pub use warren_broker::access::is_loopback;

/// Checks credentials against the broker's users and the peer's address: users named
/// in `loopback_users` may only log in from a loopback address (checked after the
/// password, as RabbitMQ does; the client is refused the same way either way).
pub fn authenticate(
    access: &AccessControl,
    loopback_users: &[String],
    creds: &Credentials,
    peer: IpAddr,
) -> Result<Arc<User>, AuthError> {
    let user = access
        .check_password(&creds.user, &creds.password)
        .map_err(|reason| AuthError::InvalidCredentials {
            user: creds.user.clone(),
            reason,
        })?;
    if loopback_users.contains(&user.name) && !is_loopback(peer) {
        return Err(AuthError::LoopbackOnly(user.name.clone()));
    }
    Ok(user)
}

/// Slows down password guessing, per client address and overall.
///
/// - Per address: the first failed login from an address is answered after
///   `Limits::failed_login_delay`, each further one from it after twice the one before,
///   up to `Limits::failed_login_max_delay`. A successful login from the address, or
///   `Limits::failed_login_reset_after` without a failure, starts it over. IPv6 addresses
///   count by their /64 (one host usually has a whole /64 to pick from). At most
///   `Limits::failed_login_tracked_peers` addresses are remembered; past that the one
///   whose last failure is oldest is forgotten, so a flood from many addresses holds
///   bounded memory.
/// - Overall: at most `Limits::failed_login_max_waiting` failures wait at once; past that
///   a failed login's socket is closed at once without an answer, so a flood of bad
///   logins holds neither memory nor connections.
///
/// A successful login is never delayed, so nobody can lock a user out.
#[derive(Debug)]
pub struct FailedLogins {
    waiting: Arc<Semaphore>,
    peers: Mutex<PeerTable>,
    first_delay: Duration,
    max_delay: Duration,
    reset_after: Duration,
}

/// Recent failures by address, and the addresses by their last failure.
#[derive(Debug)]
struct PeerTable {
    capacity: usize,
    by_peer: HashMap<IpAddr, Failures>,
    /// Oldest last failure first: keyed by a sequence number taken at each failure.
    by_age: BTreeMap<u64, IpAddr>,
    next_seq: u64,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    /// Consecutive failures, this one included.
    count: u32,
    /// When the last one was.
    last: Instant,
    /// Its key in `by_age`.
    seq: u64,
}

/// The address failures are counted under: IPv4 (an IPv4-mapped IPv6 address as its
/// IPv4 one), or an IPv6 address's /64.
fn peer_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl PeerTable {
    /// Forgets the addresses whose last failure is `reset_after` old.
    fn expire(&mut self, now: Instant, reset_after: Duration) {
        while let Some((&seq, &ip)) = self.by_age.first_key_value() {
            let stale = self
                .by_peer
                .get(&ip)
                .is_none_or(|f| f.seq != seq || now.duration_since(f.last) >= reset_after);
            if !stale {
                break;
            }
            self.by_age.remove(&seq);
            if self.by_peer.get(&ip).is_some_and(|f| f.seq == seq) {
                self.by_peer.remove(&ip);
            }
        }
    }

    /// Counts a failure from `key`; returns its consecutive failures.
    fn record(&mut self, key: IpAddr, now: Instant) -> u32 {
        if self.capacity == 0 {
            return 1;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let count = match self.by_peer.get(&key) {
            Some(f) => {
                self.by_age.remove(&f.seq);
                f.count.saturating_add(1)
            }
            None => {
                if self.by_peer.len() >= self.capacity {
                    if let Some((_, oldest)) = self.by_age.pop_first() {
                        self.by_peer.remove(&oldest);
                    }
                }
                1
            }
        };
        self.by_peer.insert(
            key,
            Failures {
                count,
                last: now,
                seq,
            },
        );
        self.by_age.insert(seq, key);
        count
    }

    fn forget(&mut self, key: IpAddr) {
        if let Some(f) = self.by_peer.remove(&key) {
            self.by_age.remove(&f.seq);
        }
    }
}

impl FailedLogins {
    /// The gate and the table `limits` set (`failed_login_*`).
    pub fn new(limits: &Limits) -> Self {
        FailedLogins {
            waiting: Arc::new(Semaphore::new(limits.failed_login_max_waiting)),
            peers: Mutex::new(PeerTable {
                capacity: limits.failed_login_tracked_peers,
                by_peer: HashMap::new(),
                by_age: BTreeMap::new(),
                next_seq: 0,
            }),
            first_delay: limits.failed_login_delay,
            max_delay: limits.failed_login_max_delay,
            reset_after: limits.failed_login_reset_after,
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, PeerTable> {
        // Nothing panics while holding it; a poisoned table is still consistent.
        self.peers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a failed login from `ip` and returns how long to wait before answering
    /// it.
    pub fn failed(&self, ip: IpAddr) -> Duration {
        let now = Instant::now();
        let count = {
            let mut table = self.table();
            table.expire(now, self.reset_after);
            table.record(peer_key(ip), now)
        };
        self.delay_after(count)
    }

    /// A successful login from `ip`: its next failure starts from the first delay.
    pub fn succeeded(&self, ip: IpAddr) {
        self.table().forget(peer_key(ip));
    }

    /// The wait for a first failure (for a failure whose address is unknown).
    pub fn first_delay(&self) -> Duration {
        self.first_delay.min(self.max_delay)
    }

    /// How many addresses are remembered now.
    pub fn tracked_peers(&self) -> usize {
        self.table().by_peer.len()
    }

    /// The wait for the `count`th consecutive failure: the first delay, doubled for each
    /// failure before it, at most the maximum.
    fn delay_after(&self, count: u32) -> Duration {
        let factor = 1u32
            .checked_shl(count.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.first_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// A slot to wait in, or `None` if too many failures are waiting already.
    pub fn wait_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.waiting.clone().try_acquire_owned().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guest() -> AccessControl {
        let access = AccessControl::new();
        access.put_user(User::with_password("guest", "guest", vec![]));
        access
    }

    fn loopback() -> Vec<String> {
        vec!["guest".into()]
    }

    #[test]
    fn plain_response_parses_and_authenticates_from_loopback_only() {
        let creds = parse_response("PLAIN", b"\0guest\0guest").unwrap();
        assert_eq!(creds.user, "guest");
        assert!(authenticate(&guest(), &loopback(), &creds, "127.0.0.1".parse().unwrap()).is_ok());
        assert_eq!(
            authenticate(&guest(), &loopback(), &creds, "10.1.2.3".parse().unwrap()).unwrap_err(),
            AuthError::LoopbackOnly("guest".into())
        );
        assert!(authenticate(&guest(), &[], &creds, "10.1.2.3".parse().unwrap()).is_ok());
    }

    #[test]
    fn wrong_password_and_malformed_responses_are_refused() {
        let creds = parse_response("PLAIN", b"\0guest\0nope").unwrap();
        assert_eq!(
            authenticate(&guest(), &loopback(), &creds, "127.0.0.1".parse().unwrap()),
            Err(AuthError::InvalidCredentials {
                user: "guest".into(),
                reason: LoginRefusal::WrongPassword
            })
        );
        let creds = parse_response("PLAIN", b"\0nobody\0guest").unwrap();
        let refused = authenticate(&guest(), &[], &creds, "127.0.0.1".parse().unwrap());
        assert_eq!(
            refused,
            Err(AuthError::InvalidCredentials {
                user: "nobody".into(),
                reason: LoginRefusal::UnknownUser
            })
        );
        assert_eq!(
            refused.unwrap_err().to_string(),
            "user 'nobody' - invalid credentials (no such user)"
        );
        assert!(parse_response("PLAIN", b"guest").is_err());
        assert!(parse_response("EXTERNAL", b"").is_err());
    }

    #[test]
    fn amqplain_response_parses() {
        let mut t = warren_protocol::FieldTable::new();
        t.insert("LOGIN", FieldValue::string("guest"));
        t.insert("PASSWORD", FieldValue::string("guest"));
        let mut buf = bytes::BytesMut::new();
        warren_protocol::wire::put_table(&mut buf, &t);
        let creds = parse_response("AMQPLAIN", &buf[4..]).unwrap();
        assert_eq!(creds.password, "guest");
    }

    #[test]
    fn credentials_debug_hides_the_password() {
        let creds = parse_response("PLAIN", b"\0guest\0s3cret-pw").unwrap();
        let shown = format!("{creds:?} {creds:#?}");
        assert!(
            shown.contains("guest") && !shown.contains("s3cret-pw"),
            "{shown}"
        );
    }

    #[test]
    fn loopback_includes_ipv4_mapped_ipv6() {
        for ip in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
            assert!(is_loopback(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "10.1.2.3",
            "::ffff:10.1.2.3",
            "2001:db8::1",
            "0.0.0.0",
            "::",
        ] {
            assert!(!is_loopback(ip.parse().unwrap()), "{ip}");
        }
        let creds = parse_response("PLAIN", b"\0guest\0guest").unwrap();
        let mapped = "::ffff:127.0.0.1".parse().unwrap();
        assert!(authenticate(&guest(), &loopback(), &creds, mapped).is_ok());
    }

    fn gate(first_ms: u64, max_ms: u64, reset_ms: u64, tracked: usize) -> FailedLogins {
        FailedLogins::new(&Limits {
            failed_login_delay: Duration::from_millis(first_ms),
            failed_login_max_delay: Duration::from_millis(max_ms),
            failed_login_reset_after: Duration::from_millis(reset_ms),
            failed_login_tracked_peers: tracked,
            ..Limits::default()
        })
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[tokio::test(start_paused = true)]
    async fn each_failure_from_an_address_waits_twice_as_long_up_to_the_cap() {
        let g = gate(1000, 8000, 300_000, 100);
        let a = ip("192.0.2.1");
        let waits: Vec<_> = (0..6).map(|_| g.failed(a)).collect();
        assert_eq!(waits, [1000, 2000, 4000, 8000, 8000, 8000].map(MS).to_vec());
        // Another address is not slowed by the first one's failures.
        assert_eq!(g.failed(ip("192.0.2.2")), MS(1000));
        // Hundreds of failures neither overflow nor pass the cap.
        for _ in 0..200 {
            assert!(g.failed(ip("192.0.2.3")) <= MS(8000));
        }
        assert_eq!(g.failed(ip("192.0.2.3")), MS(8000));
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_or_a_quiet_spell_starts_an_address_over() {
        let g = gate(100, 10_000, 60_000, 100);
        let a = ip("192.0.2.1");
        g.failed(a);
        g.failed(a);
        assert_eq!(g.failed(a), MS(400));
        g.succeeded(a);
        assert_eq!(g.failed(a), MS(100));
        assert_eq!(g.failed(a), MS(200));
        // Failures keep it remembered...
        tokio::time::advance(MS(59_000)).await;
        assert_eq!(g.failed(a), MS(400));
        // ...a minute without one forgets it.
        tokio::time::advance(MS(60_000)).await;
        assert_eq!(g.failed(a), MS(100));
        assert_eq!(g.tracked_peers(), 1);
        tokio::time::advance(MS(60_000)).await;
        g.failed(ip("192.0.2.9"));
        assert_eq!(g.tracked_peers(), 1, "the quiet address was dropped");
    }

    #[tokio::test(start_paused = true)]
    async fn the_table_is_bounded_and_forgets_the_oldest_first() {
        let g = gate(100, 10_000, 600_000, 3);
        let (a, b, c, d) = (
            ip("192.0.2.1"),
            ip("192.0.2.2"),
            ip("192.0.2.3"),
            ip("192.0.2.4"),
        );
        for p in [a, b, c] {
            g.failed(p);
            tokio::time::advance(MS(10)).await;
        }
        // a fails again: now b is the oldest.
        assert_eq!(g.failed(a), MS(200));
        g.failed(d);
        assert_eq!(g.tracked_peers(), 3);
        assert_eq!(g.failed(b), MS(100), "b was forgotten");
        assert_eq!(g.failed(a), MS(400), "a was kept");
        // A flood from 100,000 addresses holds no more than the limit.
        let g = gate(100, 10_000, 600_000, 1000);
        for i in 0..100_000u32 {
            g.failed(IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i)));
        }
        assert_eq!(g.tracked_peers(), 1000);
        let t = g.table();
        assert_eq!(t.by_age.len(), 1000, "the age index is bounded too");
    }

    #[tokio::test(start_paused = true)]
    async fn ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        let g = gate(100, 10_000, 600_000, 100);
        g.failed(ip("2001:db8:1:2::1"));
        assert_eq!(g.failed(ip("2001:db8:1:2:ffff::7")), MS(200));
        assert_eq!(g.failed(ip("2001:db8:1:3::1")), MS(100));
        g.failed(ip("192.0.2.1"));
        assert_eq!(g.failed(ip("::ffff:192.0.2.1")), MS(200));
    }

    #[tokio::test(start_paused = true)]
    async fn zero_tracked_peers_or_a_zero_delay_turn_the_back_off_off() {
        let g = gate(100, 10_000, 600_000, 0);
        let a = ip("192.0.2.1");
        assert_eq!([g.failed(a), g.failed(a), g.failed(a)], [MS(100); 3]);
        assert_eq!(g.tracked_peers(), 0);
        let g = gate(0, 10_000, 600_000, 10);
        assert_eq!([g.failed(a), g.failed(a)], [MS(0); 2]);
    }
}

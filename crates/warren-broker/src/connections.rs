//! The open client connections: who is connected to which vhost, counted against the
//! per-vhost and per-user limits, and a way to close them from outside (deleting their
//! vhost closes them with 320 CONNECTION_FORCED).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::watch;

use crate::access::{UserLimits, VHostLimits};
use crate::queue::ConnectionId;
use crate::stats::{BrokerTotals, ChannelStats, ConnectionStats, MessageTotals};

/// Who a connection is.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// Its id.
    pub id: ConnectionId,
    /// The authenticated user.
    pub user: String,
    /// The vhost it opened.
    pub vhost: String,
    /// The client's address.
    pub peer: SocketAddr,
    /// When it opened, milliseconds since the Unix epoch.
    pub connected_at_ms: u64,
    /// What was negotiated and what the client said about itself.
    pub details: ConnectionDetails,
}

/// What a connection negotiated and what its client told about itself (shown by the
/// management API; nothing decides on it).
#[derive(Debug, Clone, Default)]
pub struct ConnectionDetails {
    /// RabbitMQ's connection name, `"peer -> local"`, e.g.
    /// `127.0.0.1:50000 -> 127.0.0.1:5672`.
    pub name: String,
    /// The listener address it came in on.
    pub local: Option<SocketAddr>,
    /// The client's `client-properties` table.
    pub client_properties: warren_protocol::FieldTable,
    /// The SASL mechanism it authenticated with.
    pub auth_mechanism: String,
    /// Negotiated most channels (0: no limit).
    pub channel_max: u16,
    /// Negotiated largest frame.
    pub frame_max: u32,
    /// Negotiated heartbeat interval, seconds (0: none).
    pub heartbeat_secs: u16,
    /// The TLS session, on an `amqps` connection.
    pub tls: Option<TlsDetails>,
}

/// An `amqps` connection's TLS session, as the management API shows it (`ssl: true`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsDetails {
    /// RabbitMQ's name for the version: `tlsv1.3` or `tlsv1.2`.
    pub protocol: String,
    /// The cipher suite's IANA name, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher: String,
    /// The verified client certificate's subject, if one was presented.
    pub peer_cert_subject: Option<String>,
    /// Its issuer.
    pub peer_cert_issuer: Option<String>,
}

impl ConnectionDetails {
    /// RabbitMQ's name for a connection from `peer` to `local`.
    pub fn name_for(peer: SocketAddr, local: Option<SocketAddr>) -> String {
        match local {
            Some(local) => format!("{peer} -> {local}"),
            None => peer.to_string(),
        }
    }

    /// The name the client gave itself (`connection_name` client property), if any.
    pub fn user_provided_name(&self) -> Option<&str> {
        self.client_properties
            .get("connection_name")
            .and_then(warren_protocol::FieldValue::as_str)
    }
}

/// A limit that refused a connection or channel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitReached {
    /// The vhost's `max-connections`.
    #[error("access to vhost '{vhost}' refused for user '{user}': connection limit ({limit}) is reached")]
    VHostConnections {
        /// The vhost.
        vhost: String,
        /// The user refused.
        user: String,
        /// The limit.
        limit: u64,
    },
    /// The user's `max-connections`.
    #[error("connection refused for user '{user}': user connection limit ({limit}) is reached")]
    UserConnections {
        /// The user.
        user: String,
        /// The limit.
        limit: u64,
    },
    /// The user's `max-channels`.
    #[error("number of channels opened for user '{user}' has reached the maximum allowed user limit of ({limit})")]
    UserChannels {
        /// The user.
        user: String,
        /// The limit.
        limit: u64,
    },
}

/// One open connection.
#[derive(Debug)]
pub struct ConnectionEntry {
    /// Who it is.
    pub info: ConnectionInfo,
    /// Its traffic and channels.
    pub stats: ConnectionStats,
    forced: watch::Sender<Option<String>>,
}

impl ConnectionEntry {
    /// Resolves to the reason once someone closes the connection from outside.
    pub fn forced_close(&self) -> watch::Receiver<Option<String>> {
        self.forced.subscribe()
    }
}

#[derive(Debug, Default)]
struct Counts {
    entries: HashMap<ConnectionId, Arc<ConnectionEntry>>,
    per_vhost: HashMap<String, u64>,
    per_user: HashMap<String, u64>,
    channels_per_user: HashMap<String, u64>,
}

fn decrement(map: &mut HashMap<String, u64>, key: &str, by: u64) {
    if let Some(n) = map.get_mut(key) {
        *n = n.saturating_sub(by);
        if *n == 0 {
            map.remove(key);
        }
    }
}

/// Every open connection.
#[derive(Debug, Default)]
pub struct Connections {
    counts: Mutex<Counts>,
    totals: Arc<BrokerTotals>,
}

impl Connections {
    /// No connections.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Broker-wide totals (closed channels' counters, dead-lettering, churn).
    pub fn totals(&self) -> &Arc<BrokerTotals> {
        &self.totals
    }

    /// Every message counted since start: what closed channels counted plus what the
    /// open ones count now (the global counters of the management API and metrics).
    pub fn message_totals(&self) -> MessageTotals {
        let mut totals = self.totals.retired();
        for c in self.list() {
            for (_, ch) in c.stats.channels() {
                totals.add(&ch.counters.totals());
            }
        }
        totals
    }

    /// One connection by its name ([`ConnectionDetails::name`]).
    pub fn by_name(&self, name: &str) -> Option<Arc<ConnectionEntry>> {
        self.counts
            .lock()
            .entries
            .values()
            .find(|e| e.info.details.name == name)
            .cloned()
    }

    /// Registers a connection that has been allowed into its vhost, unless a limit
    /// refuses it. It is unregistered when the returned handle is dropped.
    pub fn register(
        self: &Arc<Self>,
        info: ConnectionInfo,
        vhost_limits: VHostLimits,
        user_limits: UserLimits,
    ) -> Result<Registration, LimitReached> {
        let mut c = self.counts.lock();
        let in_vhost = c.per_vhost.get(&info.vhost).copied().unwrap_or(0);
        if let Some(limit) = vhost_limits.max_connections.filter(|l| in_vhost >= *l) {
            return Err(LimitReached::VHostConnections {
                vhost: info.vhost.clone(),
                user: info.user.clone(),
                limit,
            });
        }
        let of_user = c.per_user.get(&info.user).copied().unwrap_or(0);
        if let Some(limit) = user_limits.max_connections.filter(|l| of_user >= *l) {
            return Err(LimitReached::UserConnections {
                user: info.user.clone(),
                limit,
            });
        }
        *c.per_vhost.entry(info.vhost.clone()).or_default() += 1;
        *c.per_user.entry(info.user.clone()).or_default() += 1;
        let entry = Arc::new(ConnectionEntry {
            info,
            stats: ConnectionStats::default(),
            forced: watch::channel(None).0,
        });
        self.totals
            .connections_opened
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        c.entries.insert(entry.info.id, entry.clone());
        Ok(Registration {
            entry,
            connections: self.clone(),
            channels: Mutex::new(0),
        })
    }

    /// Every open connection.
    pub fn list(&self) -> Vec<Arc<ConnectionEntry>> {
        let mut v: Vec<_> = self.counts.lock().entries.values().cloned().collect();
        v.sort_by_key(|e| e.info.id);
        v
    }

    /// How many connections are open to `vhost`.
    pub fn count_in_vhost(&self, vhost: &str) -> u64 {
        self.counts
            .lock()
            .per_vhost
            .get(vhost)
            .copied()
            .unwrap_or(0)
    }

    /// Asks every connection to `vhost` to close with `reason` (320 CONNECTION_FORCED).
    /// Returns how many were asked.
    pub fn close_vhost(&self, vhost: &str, reason: &str) -> usize {
        self.close_where(|e| e.info.vhost == vhost, reason)
    }

    /// Asks every connection of `user` to close with `reason`.
    pub fn close_user(&self, user: &str, reason: &str) -> usize {
        self.close_where(|e| e.info.user == user, reason)
    }

    /// Asks connection `id` to close with `reason`. Returns whether it was open.
    pub fn close(&self, id: ConnectionId, reason: &str) -> bool {
        self.close_where(|e| e.info.id == id, reason) > 0
    }

    fn close_where(&self, doomed: impl Fn(&ConnectionEntry) -> bool, reason: &str) -> usize {
        let entries = self.list();
        let mut n = 0;
        for e in entries.iter().filter(|e| doomed(e)) {
            e.forced.send_replace(Some(reason.to_owned()));
            n += 1;
        }
        n
    }
}

/// A registered connection; dropping it unregisters the connection and its channels.
#[derive(Debug)]
pub struct Registration {
    entry: Arc<ConnectionEntry>,
    connections: Arc<Connections>,
    channels: Mutex<u64>,
}

impl Registration {
    /// The connection's entry.
    pub fn entry(&self) -> &Arc<ConnectionEntry> {
        &self.entry
    }

    /// Counts channel `number` being opened, unless the user's `max-channels` refuses
    /// it, and returns the stats it keeps for the management API.
    pub fn open_channel(
        &self,
        number: u16,
        user_limits: UserLimits,
    ) -> Result<Arc<ChannelStats>, LimitReached> {
        let mut c = self.connections.counts.lock();
        let user = &self.entry.info.user;
        let open = c.channels_per_user.get(user).copied().unwrap_or(0);
        if let Some(limit) = user_limits.max_channels.filter(|l| open >= *l) {
            return Err(LimitReached::UserChannels {
                user: user.clone(),
                limit,
            });
        }
        *c.channels_per_user.entry(user.clone()).or_default() += 1;
        *self.channels.lock() += 1;
        self.connections
            .totals
            .channels_opened
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(self.entry.stats.add_channel(number))
    }

    /// Counts channel `number` closed, folding its counters into the broker's totals.
    pub fn close_channel(&self, number: u16) {
        if let Some(stats) = self.entry.stats.remove_channel(number) {
            self.connections.totals.retire(&stats);
        }
        let mut mine = self.channels.lock();
        if *mine == 0 {
            return;
        }
        *mine -= 1;
        decrement(
            &mut self.connections.counts.lock().channels_per_user,
            &self.entry.info.user,
            1,
        );
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let channels = *self.channels.lock();
        for (_, stats) in self.entry.stats.channels() {
            self.connections.totals.retire(&stats);
        }
        self.connections
            .totals
            .connections_closed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let info = &self.entry.info;
        let mut c = self.connections.counts.lock();
        c.entries.remove(&info.id);
        decrement(&mut c.per_vhost, &info.vhost, 1);
        decrement(&mut c.per_user, &info.user, 1);
        decrement(&mut c.channels_per_user, &info.user, channels);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: u64, user: &str, vhost: &str) -> ConnectionInfo {
        ConnectionInfo {
            id,
            user: user.into(),
            vhost: vhost.into(),
            peer: "127.0.0.1:1".parse().unwrap(),
            connected_at_ms: 0,
            details: ConnectionDetails::default(),
        }
    }

    #[test]
    fn limits_refuse_and_a_dropped_registration_frees_its_slots() {
        let conns = Connections::new();
        let vl = VHostLimits {
            max_connections: Some(1),
            max_queues: None,
        };
        let ul = UserLimits {
            max_connections: None,
            max_channels: Some(1),
        };
        let a = conns.register(info(1, "bob", "/"), vl, ul).unwrap();
        assert!(matches!(
            conns.register(info(2, "bob", "/"), vl, ul),
            Err(LimitReached::VHostConnections { limit: 1, .. })
        ));
        a.open_channel(1, ul).unwrap();
        assert!(a.open_channel(2, ul).is_err());
        a.close_channel(1);
        a.open_channel(1, ul).unwrap();
        drop(a);
        let b = conns.register(info(3, "bob", "/"), vl, ul).unwrap();
        b.open_channel(1, ul).unwrap();
        assert_eq!(conns.count_in_vhost("/"), 1);
    }

    #[test]
    fn closing_a_vhost_signals_only_its_connections() {
        let conns = Connections::new();
        let none = (VHostLimits::default(), UserLimits::default());
        let a = conns.register(info(1, "u", "a"), none.0, none.1).unwrap();
        let b = conns.register(info(2, "u", "b"), none.0, none.1).unwrap();
        let (ra, rb) = (a.entry().forced_close(), b.entry().forced_close());
        assert_eq!(conns.close_vhost("a", "vhost 'a' is deleted"), 1);
        assert_eq!(ra.borrow().as_deref(), Some("vhost 'a' is deleted"));
        assert!(rb.borrow().is_none());
    }
}

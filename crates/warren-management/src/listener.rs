//! The management API's listener, bounded three ways so that no client can take the
//! API (or the node's file descriptors) away from the others:
//! - at most `limits.http_max_connections` connections are served at once; the next is
//!   accepted only when a slot frees (it waits in the kernel's backlog);
//! - one client address may hold at most `limits.http_max_connections_per_ip`; more
//!   are closed as they are accepted;
//! - a connection silent for `limits.http_idle_timeout` (headers trickled in, or an idle
//!   keep-alive) is closed.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use warren_broker::Limits;

use crate::tls::{HttpStream, TlsConfigSource};

/// Connections open per client address.
type PerIp = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// A TCP listener that holds a slot per open connection.
#[derive(Debug)]
pub struct BoundedListener {
    inner: TcpListener,
    slots: Arc<Semaphore>,
    per_ip: PerIp,
    max_per_ip: usize,
    idle_timeout: Duration,
    tls: Option<Arc<dyn TlsConfigSource>>,
}

impl BoundedListener {
    /// Serves `inner` within `limits`' HTTP bounds.
    pub fn new(inner: TcpListener, limits: &Limits) -> Self {
        BoundedListener {
            inner,
            slots: Arc::new(Semaphore::new(limits.http_max_connections.max(1))),
            per_ip: PerIp::default(),
            max_per_ip: limits.http_max_connections_per_ip.max(1),
            idle_timeout: limits.http_idle_timeout,
            tls: None,
        }
    }

    /// Serves HTTPS: each connection's TLS handshake (with `tls`'s configuration at the
    /// time) runs on the connection's task, bounded by the idle timeout.
    pub fn with_tls(mut self, tls: Arc<dyn TlsConfigSource>) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Counts a connection from `ip`, unless that address has its maximum already.
    fn admit(&self, ip: IpAddr) -> bool {
        let mut open = self.per_ip.lock();
        let n = open.entry(ip).or_default();
        if *n >= self.max_per_ip {
            return false;
        }
        *n += 1;
        true
    }
}

/// The client address of a request's connection (axum's `ConnectInfo`).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, BoundedListener>>
    for Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, BoundedListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// A connection, the slot it holds until it is dropped, and its idle deadline.
#[derive(Debug)]
pub struct Bounded {
    stream: HttpStream,
    _slot: OwnedSemaphorePermit,
    ip: IpAddr,
    per_ip: PerIp,
    idle_timeout: Duration,
    idle: Pin<Box<Sleep>>,
}

impl Drop for Bounded {
    fn drop(&mut self) {
        let mut open = self.per_ip.lock();
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

impl axum::serve::Listener for BoundedListener {
    type Io = Bounded;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let slot = match self.slots.clone().acquire_owned().await {
                Ok(slot) => slot,
                Err(_) => unreachable!("the semaphore is never closed"),
            };
            let (stream, addr) = match self.inner.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "management API: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            if !self.admit(addr.ip()) {
                tracing::warn!(peer = %addr, max = self.max_per_ip, "management API: too many connections from one address, closing");
                continue;
            }
            let _ = stream.set_nodelay(true);
            let io = Bounded {
                stream: HttpStream::new(stream, self.tls.as_ref()),
                _slot: slot,
                ip: addr.ip(),
                per_ip: self.per_ip.clone(),
                idle_timeout: self.idle_timeout,
                idle: Box::pin(tokio::time::sleep(self.idle_timeout)),
            };
            return (io, addr);
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl Bounded {
    fn touched(&mut self) {
        let deadline = Instant::now() + self.idle_timeout;
        self.idle.as_mut().reset(deadline);
    }

    fn timed_out(&mut self, cx: &mut Context<'_>) -> bool {
        self.idle.as_mut().poll(cx).is_ready()
    }
}

impl AsyncRead for Bounded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.touched();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending if self.timed_out(cx) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "management API connection idle for too long",
            ))),
            other => other,
        }
    }
}

impl AsyncWrite for Bounded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.touched();
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

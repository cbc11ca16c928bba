//! HTTPS for the API: a connection's TLS handshake runs on its first read or write,
//! that is on the connection's own task (never in the accept loop), within the
//! listener's idle timeout. The rustls configuration comes from the server through
//! [`TlsConfigSource`], taken afresh for each connection so a reload applies to the next
//! one.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls::ServerConfig;

/// Where the HTTPS listener takes its current TLS configuration from.
pub trait TlsConfigSource: Send + Sync + std::fmt::Debug {
    /// The configuration for the next connection.
    fn server_config(&self) -> Arc<ServerConfig>;
}

/// A management API connection: plain, or TLS (handshaking, then established).
pub(crate) enum HttpStream {
    Plain(TcpStream),
    Handshaking(Box<tokio_rustls::Accept<TcpStream>>),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    Failed,
}

impl std::fmt::Debug for HttpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HttpStream::Plain(_) => "Plain",
            HttpStream::Handshaking(_) => "Handshaking",
            HttpStream::Tls(_) => "Tls",
            HttpStream::Failed => "Failed",
        })
    }
}

impl HttpStream {
    /// `tcp` as is, or starting a TLS handshake with `tls`'s current configuration.
    pub(crate) fn new(tcp: TcpStream, tls: Option<&Arc<dyn TlsConfigSource>>) -> Self {
        match tls {
            Some(tls) => HttpStream::Handshaking(Box::new(
                tokio_rustls::TlsAcceptor::from(tls.server_config()).accept(tcp),
            )),
            None => HttpStream::Plain(tcp),
        }
    }

    /// Drives the TLS handshake to its end, if one is under way.
    fn poll_established(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let HttpStream::Handshaking(accept) = self {
            match ready!(Pin::new(accept.as_mut()).poll(cx)) {
                Ok(stream) => *self = HttpStream::Tls(Box::new(stream)),
                Err(e) => {
                    *self = HttpStream::Failed;
                    tracing::debug!(error = %e, "management API: TLS handshake failed");
                    return Poll::Ready(Err(e));
                }
            }
        }
        match self {
            HttpStream::Failed => Poll::Ready(Err(aborted())),
            _ => Poll::Ready(Ok(())),
        }
    }
}

fn aborted() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "TLS handshake failed")
}

impl AsyncRead for HttpStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        ready!(self.poll_established(cx))?;
        match &mut *self {
            HttpStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            HttpStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            HttpStream::Handshaking(_) | HttpStream::Failed => Poll::Ready(Err(aborted())),
        }
    }
}

impl AsyncWrite for HttpStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_established(cx))?;
        match &mut *self {
            HttpStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            HttpStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            HttpStream::Handshaking(_) | HttpStream::Failed => Poll::Ready(Err(aborted())),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_established(cx))?;
        match &mut *self {
            HttpStream::Plain(s) => Pin::new(s).poll_flush(cx),
            HttpStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            HttpStream::Handshaking(_) | HttpStream::Failed => Poll::Ready(Err(aborted())),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_established(cx))?;
        match &mut *self {
            HttpStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            HttpStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            HttpStream::Handshaking(_) | HttpStream::Failed => Poll::Ready(Err(aborted())),
        }
    }
}

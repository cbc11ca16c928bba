//! `amqps://`: the connection's stream is a rustls client session over TCP, trusting
//! the CA file given with `--cacert` (no system roots: a benchmark names its broker's
//! CA). Plain `amqp://` connections stay bare TCP sockets, split without a lock.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::error::{PerfError, Result};

/// The TLS client configuration `amqps://` connections use.
#[derive(Debug, Clone)]
pub struct TlsClient(Arc<ClientConfig>);

impl PartialEq for TlsClient {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for TlsClient {}

impl TlsClient {
    /// Trusts the CA certificates in the PEM file `ca`; TLS 1.2 and 1.3, ring.
    pub fn with_ca_file(ca: &Path) -> Result<TlsClient> {
        let bad = |reason: String| PerfError::Tls(format!("{}: {reason}", ca.display()));
        let pem = std::fs::read(ca).map_err(|e| bad(e.to_string()))?;
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| bad(e.to_string()))?;
            roots.add(cert).map_err(|e| bad(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(bad("no certificate in it".into()));
        }
        // ring has no post-quantum key exchange (rustls deprecates it for that); it is
        // what the broker under test runs too.
        #[allow(deprecated)]
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| PerfError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsClient(Arc::new(config)))
    }

    /// Runs the TLS handshake over `tcp` for the server `host`.
    pub async fn connect(&self, host: &str, tcp: TcpStream) -> Result<Stream> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| PerfError::Tls(format!("{host}: {e}")))?;
        let tls = tokio_rustls::TlsConnector::from(self.0.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| PerfError::Tls(format!("TLS handshake with {host}: {e}")))?;
        Ok(Stream::Tls(Box::new(tls)))
    }
}

/// A connection's byte stream.
#[derive(Debug)]
pub enum Stream {
    /// `amqp://`.
    Tcp(TcpStream),
    /// `amqps://`.
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// The reading half of a split [`Stream`].
pub type ReadHalf = Box<dyn AsyncRead + Unpin + Send>;
/// The writing half of a split [`Stream`].
pub type WriteHalf = Box<dyn AsyncWrite + Unpin + Send>;

impl Stream {
    /// Splits into halves owned by different tasks: a TCP socket without a lock
    /// (`into_split`), a TLS session through `tokio::io::split`.
    pub fn into_split(self) -> (ReadHalf, WriteHalf) {
        match self {
            Stream::Tcp(s) => {
                let (r, w) = s.into_split();
                (Box::new(r), Box::new(w))
            }
            Stream::Tls(s) => {
                let (r, w) = tokio::io::split(*s);
                (Box::new(r), Box::new(w))
            }
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

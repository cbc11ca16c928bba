//! TLS for the `amqps` listeners and the management API over HTTPS: the certificate,
//! key and client-certificate verification of `[tls]`, loaded at boot (a bad file stops
//! the start naming it) and reloaded on SIGHUP for new connections (a bad file then
//! keeps the previous configuration). rustls with the ring provider, TLS 1.2 and 1.3.
//!
//! The TLS handshake of an accepted socket runs on that connection's own task, within
//! `limits.handshake_timeout`, never in the accept loop: a slow or silent client holds
//! nothing but its own task.

pub mod identity;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, error, info, warn};

use warren_broker::connections::TlsDetails;

use crate::config::{CertLoginFrom, TlsSettings};
use crate::connection;
use crate::connection::stream::Halves;
use crate::server::ServerContext;

/// Why the TLS configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read or holds nothing usable.
    #[error("{key} {}: {message}", .path.display())]
    File {
        /// The config key naming the file (`tls.cert_file`).
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The files do not make a configuration (a key that does not match the
    /// certificate, a CA that cannot verify clients).
    #[error("TLS configuration: {0}")]
    Config(String),
}

impl From<TlsError> for std::io::Error {
    fn from(e: TlsError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
    }
}

/// The rustls configurations built from the files, one per protocol (they differ only
/// in ALPN).
#[derive(Debug)]
struct Configs {
    amqp: Arc<ServerConfig>,
    http: Arc<ServerConfig>,
}

/// The server's TLS state: its settings and the current configurations, swapped whole
/// by [`Tls::reload`]. Each accepted TLS connection takes the current one under a short
/// read lock; a connection keeps the configuration it started with.
#[derive(Debug)]
pub struct Tls {
    settings: TlsSettings,
    current: RwLock<Configs>,
}

impl Tls {
    /// Loads the certificate, key and CA `settings` name.
    pub fn load(settings: &TlsSettings) -> Result<Arc<Tls>, TlsError> {
        Ok(Arc::new(Tls {
            settings: settings.clone(),
            current: RwLock::new(build(settings)?),
        }))
    }

    /// Reads the files again; new connections use them, open ones keep theirs. On an
    /// error the previous configuration stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = build(&self.settings)?;
        *self.current.write() = fresh;
        Ok(())
    }

    /// The acceptor for the next `amqps` connection.
    pub fn amqp_acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current.read().amqp.clone())
    }

    /// Where EXTERNAL reads the user name from.
    pub fn cert_login_from(&self) -> CertLoginFrom {
        self.settings.cert_login_from
    }

    /// Whether clients are asked for certificates (and EXTERNAL is offered).
    pub fn verify_peer(&self) -> bool {
        self.settings.verify_peer
    }
}

impl warren_management::TlsConfigSource for Tls {
    fn server_config(&self) -> Arc<ServerConfig> {
        self.current.read().http.clone()
    }
}

fn file_err(key: &'static str, path: &Path, message: impl Into<String>) -> TlsError {
    TlsError::File {
        key,
        path: path.to_owned(),
        message: message.into(),
    }
}

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| file_err(key, path, e.to_string()))
}

/// Every certificate in a PEM file (at least one).
fn certificates(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(key, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(key, path, format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(file_err(
            key,
            path,
            "no certificate in it (expected -----BEGIN CERTIFICATE-----)",
        ));
    }
    Ok(certs)
}

fn build(s: &TlsSettings) -> Result<Configs, TlsError> {
    let required = |key: &'static str, p: &Option<PathBuf>| {
        p.clone()
            .ok_or_else(|| TlsError::Config(format!("{key} is not set")))
    };
    let cert_path = required("tls.cert_file", &s.cert_file)?;
    let key_path = required("tls.key_file", &s.key_file)?;
    let chain = certificates("tls.cert_file", &cert_path)?;
    let key = PrivateKeyDer::from_pem_slice(&read("tls.key_file", &key_path)?).map_err(|e| {
        file_err(
            "tls.key_file",
            &key_path,
            format!("no usable private key (PKCS#8, PKCS#1 or SEC1 PEM): {e}"),
        )
    })?;
    // rustls deprecates ring's provider for lacking post-quantum key exchange; the
    // alternative, aws-lc-rs, needs cmake and a large C build. ring's classical suites
    // (ECDHE X25519/P-256/P-384, AES-GCM, ChaCha20-Poly1305) are what RabbitMQ offers.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = match (&s.ca_file, s.verify_peer) {
        (Some(ca_path), true) => {
            let mut roots = RootCertStore::empty();
            for ca in certificates("tls.ca_file", ca_path)? {
                roots.add(ca).map_err(|e| {
                    file_err(
                        "tls.ca_file",
                        ca_path,
                        format!("not a usable CA certificate: {e}"),
                    )
                })?;
            }
            let builder =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            let builder = if s.fail_if_no_peer_cert {
                builder
            } else {
                builder.allow_unauthenticated()
            };
            Some(builder.build().map_err(|e| {
                file_err(
                    "tls.ca_file",
                    ca_path,
                    format!("cannot verify clients with it: {e}"),
                )
            })?)
        }
        (None, true) => return Err(TlsError::Config("tls.verify_peer needs tls.ca_file".into())),
        (_, false) => None,
    };
    let config = |alpn: Vec<Vec<u8>>| -> Result<Arc<ServerConfig>, TlsError> {
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let builder = match &verifier {
            Some(v) => builder.with_client_cert_verifier(v.clone()),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(|e| {
                TlsError::Config(format!(
                    "{} and {}: {e}",
                    cert_path.display(),
                    key_path.display()
                ))
            })?;
        config.alpn_protocols = alpn;
        Ok(Arc::new(config))
    };
    Ok(Configs {
        amqp: config(Vec::new())?,
        http: config(vec![b"http/1.1".to_vec()])?,
    })
}

/// What the handshake knows of a TLS connection.
#[derive(Debug)]
pub(crate) struct TlsSession {
    /// With `verify_peer`: the user the client certificate names for EXTERNAL, or why
    /// there is none. `None` when clients are not verified (EXTERNAL is not offered).
    pub external: Option<Result<String, String>>,
    /// The session as the management API shows it.
    pub details: TlsDetails,
}

/// Runs the TLS handshake on an accepted socket (on this connection's task, within the
/// handshake timeout), then serves AMQP over the session and closes it with
/// `close_notify`.
pub(crate) async fn serve(
    tcp: TcpStream,
    peer: SocketAddr,
    local: Option<SocketAddr>,
    tls: Arc<Tls>,
    ctx: Arc<ServerContext>,
    shutdown: watch::Receiver<bool>,
) {
    let mut stop = shutdown.clone();
    let accepted = tokio::select! {
        a = tokio::time::timeout(
            ctx.config.limits.handshake_timeout,
            tls.amqp_acceptor().accept(tcp),
        ) => a,
        _ = stop.wait_for(|s| *s) => {
            debug!(%peer, "shutting down during the TLS handshake");
            return;
        }
    };
    let stream = match accepted {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            // A plain AMQP client on the TLS port lands here too: the socket is closed.
            warn!(%peer, error = %e, "TLS handshake failed, closing the socket");
            return;
        }
        Err(_) => {
            warn!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let session = {
        let (_, conn) = stream.get_ref();
        debug!(
            %peer,
            protocol = ?conn.protocol_version(),
            cipher = ?conn.negotiated_cipher_suite().map(|c| c.suite()),
            "TLS session established"
        );
        let leaf = match conn.peer_certificates() {
            Some([leaf, ..]) => Some(leaf),
            _ => None,
        };
        let (peer_cert_subject, peer_cert_issuer) =
            match leaf.and_then(|c| identity::subject_and_issuer(c)) {
                Some((s, i)) => (Some(s), Some(i)),
                None => (None, None),
            };
        TlsSession {
            external: tls.verify_peer().then(|| match leaf {
                Some(leaf) => identity::login_name(leaf, tls.cert_login_from()),
                None => Err("connection peer presented no TLS (x.509) certificate".into()),
            }),
            details: TlsDetails {
                protocol: match conn.protocol_version() {
                    Some(rustls::ProtocolVersion::TLSv1_3) => "tlsv1.3".into(),
                    Some(rustls::ProtocolVersion::TLSv1_2) => "tlsv1.2".into(),
                    other => format!("{other:?}"),
                },
                cipher: conn
                    .negotiated_cipher_suite()
                    .and_then(|c| c.suite().as_str())
                    .unwrap_or("unknown")
                    .to_owned(),
                peer_cert_subject,
                peer_cert_issuer,
            },
        }
    };
    let mut stream = Halves(Flushing(stream));
    connection::serve(
        &mut stream,
        peer,
        local,
        Some(session),
        ctx.clone(),
        shutdown,
    )
    .await;
    let _ = tokio::time::timeout(ctx.config.limits.close_timeout, stream.0 .0.shutdown()).await;
}

/// A server TLS session that also pushes out TLS records still buffered in rustls
/// whenever it is read. tokio-rustls accepts a write once rustls holds it, so when the
/// socket is full the last records of a burst wait in rustls for the next write or
/// flush; the connection loop writes only while it has output, but it reads whenever it
/// may, and the socket's write readiness wakes that same task, so flushing from the
/// read side sends them without a flush on the (plain TCP) hot path.
struct Flushing(tokio_rustls::server::TlsStream<TcpStream>);

impl AsyncRead for Flushing {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.0.get_ref().1.wants_write() {
            // Pending (socket still full) registers this task for write readiness; an
            // error shows again on the next write or read.
            let _ = Pin::new(&mut self.0).poll_flush(cx);
        }
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Flushing {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Handles SIGHUP until the process ends: reloads `tls` (logging the outcome), or logs
/// that there is nothing to reload. (Without a handler SIGHUP would end the process.)
pub fn reload_on_sighup(tls: Option<Arc<Tls>>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, "cannot listen for SIGHUP: TLS certificates will not be reloaded");
            return;
        }
    };
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            let Some(tls) = tls.clone() else {
                info!("SIGHUP: no TLS listener, nothing to reload");
                continue;
            };
            // A few small files, read off the async workers all the same.
            match tokio::task::spawn_blocking(move || tls.reload()).await {
                Ok(Ok(())) => info!("SIGHUP: TLS certificates reloaded for new connections"),
                Ok(Err(e)) => {
                    error!(error = %e, "SIGHUP: TLS reload failed, keeping the previous certificates")
                }
                Err(e) => error!(error = %e, "SIGHUP: TLS reload failed"),
            }
        }
    });
}

//! The byte stream a connection is served over: a plain TCP socket, a TLS session, or
//! (in tests and the fuzz harness) an in-memory pipe.
//!
//! The connection loop reads and writes in branches of one `select!`, so it needs the
//! stream as two halves borrowed at once. A TCP socket splits for free
//! ([`TcpStream::split`]); any other stream is split through [`tokio::io::split`] by
//! wrapping it in [`Halves`].

use tokio::io::{AsyncRead, AsyncWrite, ReadHalf, WriteHalf};
use tokio::net::tcp;
use tokio::net::TcpStream;

/// A stream a client connection can be served over.
pub trait ClientStream: AsyncRead + AsyncWrite + Unpin + Send {
    /// The reading half while split.
    type Reader<'a>: AsyncRead + Unpin + Send
    where
        Self: 'a;
    /// The writing half while split.
    type Writer<'a>: AsyncWrite + Unpin + Send
    where
        Self: 'a;

    /// Borrows the stream as a reading and a writing half that can be used concurrently.
    fn halves(&mut self) -> (Self::Reader<'_>, Self::Writer<'_>);
}

impl ClientStream for TcpStream {
    type Reader<'a> = tcp::ReadHalf<'a>;
    type Writer<'a> = tcp::WriteHalf<'a>;

    fn halves(&mut self) -> (Self::Reader<'_>, Self::Writer<'_>) {
        self.split()
    }
}

/// Any other stream (TLS, an in-memory duplex), split with [`tokio::io::split`].
#[derive(Debug)]
pub struct Halves<S>(pub S);

impl<S: AsyncRead + AsyncWrite + Unpin + Send> ClientStream for Halves<S> {
    type Reader<'a>
        = ReadHalf<&'a mut S>
    where
        S: 'a;
    type Writer<'a>
        = WriteHalf<&'a mut S>
    where
        S: 'a;

    fn halves(&mut self) -> (Self::Reader<'_>, Self::Writer<'_>) {
        tokio::io::split(&mut self.0)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Halves<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Halves<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

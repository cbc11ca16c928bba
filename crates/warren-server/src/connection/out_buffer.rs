//! A connection's outgoing bytes, written in batches with one vectored write.
//!
//! Small frames are encoded into a staging buffer. Large message bodies are not copied:
//! they are queued as shared [`Bytes`] segments between staged parts, and the socket
//! write gathers everything with `writev`. Many deliveries therefore cost one syscall.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Bodies at least this large are sent from their own buffer instead of being copied
/// into the staging buffer; below it a copy is cheaper than another iovec.
pub const ZERO_COPY_MIN_BODY: usize = 2048;

/// Most buffers gathered into one `writev`.
const MAX_IOVECS: usize = 64;

/// Pending output of one connection.
#[derive(Debug, Default)]
pub struct OutBuffer {
    segments: VecDeque<Bytes>,
    segments_len: usize,
    staging: BytesMut,
}

impl OutBuffer {
    /// The staging buffer to encode frames into; it goes out after all queued segments.
    pub fn staging(&mut self) -> &mut BytesMut {
        &mut self.staging
    }

    /// Queues `data` after everything staged so far, without copying it.
    pub fn push_shared(&mut self, data: Bytes) {
        if !self.staging.is_empty() {
            let staged = self.staging.split().freeze();
            self.segments_len += staged.len();
            self.segments.push_back(staged);
        }
        self.segments_len += data.len();
        self.segments.push_back(data);
    }

    /// Bytes waiting to be written.
    pub fn len(&self) -> usize {
        self.segments_len + self.staging.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes as much as one vectored write takes. Cancel-safe: if the future is dropped
    /// before it completes, nothing was written.
    pub async fn write_to<W: AsyncWrite + Unpin>(&mut self, w: &mut W) -> std::io::Result<usize> {
        let n = {
            let mut slices: Vec<IoSlice<'_>> =
                Vec::with_capacity(self.segments.len().min(MAX_IOVECS) + 1);
            for seg in self.segments.iter().take(MAX_IOVECS) {
                slices.push(IoSlice::new(seg));
            }
            if slices.len() < MAX_IOVECS + 1
                && self.segments.len() <= MAX_IOVECS
                && !self.staging.is_empty()
            {
                slices.push(IoSlice::new(&self.staging));
            }
            w.write_vectored(&slices).await?
        };
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        self.advance(n);
        Ok(n)
    }

    fn advance(&mut self, mut n: usize) {
        while n > 0 {
            match self.segments.front_mut() {
                Some(seg) if seg.len() <= n => {
                    n -= seg.len();
                    self.segments_len -= seg.len();
                    self.segments.pop_front();
                }
                Some(seg) => {
                    seg.advance(n);
                    self.segments_len -= n;
                    return;
                }
                None => {
                    self.staging.advance(n);
                    return;
                }
            }
        }
    }

    /// Writes everything, for the last words before a connection closes.
    pub async fn flush_all<W: AsyncWrite + Unpin>(&mut self, w: &mut W) -> std::io::Result<()> {
        while !self.is_empty() {
            self.write_to(w).await?;
        }
        w.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn segments_and_staging_come_out_in_order() {
        let mut out = OutBuffer::default();
        out.staging().extend_from_slice(b"head-");
        out.push_shared(Bytes::from_static(b"BODY"));
        out.staging().extend_from_slice(b"-tail");
        assert_eq!(out.len(), 14);
        let mut sink = Vec::new();
        out.flush_all(&mut sink).await.unwrap();
        assert_eq!(sink, b"head-BODY-tail");
        assert!(out.is_empty());
    }

    #[test]
    fn partial_advance_keeps_the_rest() {
        let mut out = OutBuffer::default();
        out.staging().extend_from_slice(b"ab");
        out.push_shared(Bytes::from_static(b"cdef"));
        out.staging().extend_from_slice(b"gh");
        out.advance(3);
        assert_eq!(out.len(), 5);
        out.advance(4);
        assert_eq!(out.len(), 1);
        assert_eq!(&out.staging[..], b"h");
    }
}

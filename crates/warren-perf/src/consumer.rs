//! A consumer: one connection, one `basic.consume`, deliveries scanned in place,
//! acknowledgements for everything one socket read brought sent in one write.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use warren_protocol::frame::write_method;
use warren_protocol::method::{basic, channel, connection};
use warren_protocol::{FieldTable, Method};

use crate::conn::{close_method, Connection, CHANNEL};
use crate::error::{PerfError, Result};
use crate::scanner::{Event, Scanner};
use crate::stats::{now_nanos, Counters};
use crate::tls::Stream;

/// How one consumer consumes.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Queue to consume from.
    pub queue: String,
    /// no-ack mode.
    pub auto_ack: bool,
    /// basic.qos prefetch count (0: none set).
    pub prefetch: u16,
    /// Ack with multiple=true every N deliveries (0: ack each).
    pub multi_ack_every: u32,
    /// Reject (`basic.reject`, requeue=false: dead-lettered if the queue has a
    /// dead-letter exchange) every Nth delivery instead of acking it (0: never; ignored
    /// with auto-ack).
    pub reject_every: u32,
    /// basic.consume arguments (a stream consumer's `x-stream-offset`, say).
    pub arguments: FieldTable,
}

/// Sets the prefetch and starts consuming; call before [`run`] so that consumers are
/// in place before producers start.
pub async fn subscribe(conn: &mut Connection, cfg: &ConsumerConfig) -> Result<()> {
    if cfg.prefetch > 0 {
        conn.rpc(
            basic::Qos {
                prefetch_count: cfg.prefetch,
                ..Default::default()
            }
            .into(),
            |m| matches!(m, Method::BasicQosOk(_)),
        )
        .await?;
    }
    conn.rpc(
        basic::Consume {
            queue: cfg.queue.clone(),
            no_ack: cfg.auto_ack,
            arguments: cfg.arguments.clone(),
            ..Default::default()
        }
        .into(),
        |m| matches!(m, Method::BasicConsumeOk(_)),
    )
    .await?;
    Ok(())
}

/// When to send acknowledgements.
#[derive(Debug)]
struct AckPolicy {
    auto_ack: bool,
    every: u64,
    prefetch: u64,
    /// Deliveries not yet acknowledged, and the newest tag among them.
    pending: u64,
    last_tag: u64,
    reject_every: u64,
    /// Deliveries since the last reject, and how many were rejected since the last
    /// read.
    seen: u64,
    rejected: u64,
}

impl AckPolicy {
    fn new(cfg: &ConsumerConfig) -> Self {
        AckPolicy {
            auto_ack: cfg.auto_ack,
            every: u64::from(cfg.multi_ack_every),
            prefetch: u64::from(cfg.prefetch),
            pending: 0,
            last_tag: 0,
            reject_every: u64::from(cfg.reject_every),
            seen: 0,
            rejected: 0,
        }
    }

    /// Called per delivery; appends an ack to `out` when one is due.
    fn delivered(&mut self, tag: u64, out: &mut BytesMut) {
        if self.auto_ack {
            return;
        }
        self.seen += 1;
        if self.seen == self.reject_every {
            self.seen = 0;
            // A later multiple=true ack covers only what is still unacknowledged, so
            // the rejected tag may sit inside its range.
            reject(out, tag);
            self.rejected += 1;
            return;
        }
        if self.every == 0 {
            ack(out, tag, false);
            return;
        }
        self.pending += 1;
        self.last_tag = tag;
        if self.pending >= self.every {
            self.flush(out);
        }
    }

    /// Called after each socket read: with a prefetch no larger than the multi-ack
    /// interval, acks what is pending so the broker is not left waiting for room.
    fn after_read(&mut self, out: &mut BytesMut) {
        if self.pending > 0 && self.prefetch > 0 && self.pending >= self.prefetch {
            self.flush(out);
        }
    }

    fn flush(&mut self, out: &mut BytesMut) {
        ack(out, self.last_tag, true);
        self.pending = 0;
    }
}

fn reject(out: &mut BytesMut, delivery_tag: u64) {
    write_method(
        out,
        CHANNEL,
        &basic::Reject {
            delivery_tag,
            requeue: false,
        }
        .into(),
    );
}

fn ack(out: &mut BytesMut, delivery_tag: u64, multiple: bool) {
    write_method(
        out,
        CHANNEL,
        &basic::Ack {
            delivery_tag,
            multiple,
        }
        .into(),
    );
}

/// Consumes until `stop` is cancelled, then closes the connection.
pub async fn run(
    conn: Connection,
    cfg: ConsumerConfig,
    counters: Arc<Counters>,
    stop: CancellationToken,
) -> Result<()> {
    let parts = conn.into_parts();
    let mut stream = parts.stream;
    let mut rbuf = parts.rbuf;
    rbuf.reserve(256 * 1024);
    let mut wbuf = BytesMut::with_capacity(64 * 1024);
    let mut scanner = Scanner::new(parts.frame_max);
    let mut acks = AckPolicy::new(&cfg);
    // The newest `x-stream-offset` seen: a stream reader's offsets must only grow.
    let mut last_offset: Option<i64> = None;
    loop {
        // Frames already buffered (deliveries that arrived with consume-ok) come first.
        let mut at = 0;
        let mut received = 0;
        let mut stamp_now = None;
        let (mut offsets, mut regressions) = (0, 0);
        while let Some((len, event)) = scanner.next(&rbuf[at..])? {
            at += len;
            match event {
                Event::Deliver(tag) => {
                    received += 1;
                    acks.delivered(tag, &mut wbuf);
                }
                Event::Stamp(sent) => {
                    let now = *stamp_now.get_or_insert_with(now_nanos);
                    counters.latency.record(now.saturating_sub(sent) / 1000);
                }
                Event::StreamOffset(offset) => {
                    offsets += 1;
                    if last_offset.is_some_and(|last| offset <= last) {
                        regressions += 1;
                    }
                    last_offset = Some(offset);
                }
                Event::Control(ch, m) => control(&mut stream, ch, m).await?,
                Event::Publish | Event::Nothing => {}
            }
        }
        rbuf.advance(at);
        Counters::add(&counters.stream_offsets, offsets);
        Counters::add(&counters.stream_offset_regressions, regressions);
        acks.after_read(&mut wbuf);
        Counters::add(&counters.received, received);
        Counters::add(&counters.rejected, std::mem::take(&mut acks.rejected));
        if !wbuf.is_empty() {
            stream.write_all(&wbuf).await?;
            stream.flush().await?;
            wbuf.clear();
        }
        if rbuf.capacity() - rbuf.len() < 64 * 1024 {
            rbuf.reserve(256 * 1024);
        }
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            r = stream.read_buf(&mut rbuf) => {
                if r? == 0 {
                    return Err(PerfError::Eof);
                }
            }
        }
    }
    close(&mut stream, &mut rbuf, &mut scanner).await
}

/// Acts on a non-delivery method: closes and cancels end the consumer with an error.
async fn control(stream: &mut Stream, ch: u16, m: Method) -> Result<()> {
    let mut out = BytesMut::new();
    let err = match m {
        Method::ConnectionClose(c) => {
            write_method(&mut out, 0, &connection::CloseOk.into());
            PerfError::Closed {
                scope: "connection",
                code: c.reply_code,
                text: c.reply_text,
            }
        }
        Method::ChannelClose(c) => {
            write_method(&mut out, ch, &channel::CloseOk.into());
            PerfError::Closed {
                scope: "channel",
                code: c.reply_code,
                text: c.reply_text,
            }
        }
        Method::BasicCancel(c) => {
            PerfError::Unexpected(format!("the broker cancelled consumer {}", c.consumer_tag))
        }
        _ => return Ok(()),
    };
    if !out.is_empty() {
        stream.write_all(&out).await?;
        stream.flush().await?;
    }
    Err(err)
}

/// Sends connection.close and reads (discarding deliveries) until close-ok.
async fn close(stream: &mut Stream, rbuf: &mut BytesMut, scanner: &mut Scanner) -> Result<()> {
    let mut out = BytesMut::new();
    write_method(&mut out, 0, &close_method());
    stream.write_all(&out).await?;
    stream.flush().await?;
    let wait = async {
        loop {
            let mut at = 0;
            while let Some((len, event)) = scanner.next(&rbuf[at..])? {
                at += len;
                if let Event::Control(_, Method::ConnectionCloseOk(_)) = event {
                    return Ok(());
                }
            }
            rbuf.advance(at);
            if stream.read_buf(rbuf).await? == 0 {
                return Ok(());
            }
        }
    };
    match tokio::time::timeout(Duration::from_secs(5), wait).await {
        Ok(r) => r,
        Err(_) => Err(PerfError::Timeout("connection.close-ok")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_util::codec::Decoder;
    use warren_protocol::Frame;

    fn acks_in(buf: &mut BytesMut) -> Vec<(u64, bool)> {
        let mut codec = warren_protocol::FrameCodec::default();
        let mut out = Vec::new();
        while let Some(Frame::Method {
            method: Method::BasicAck(a),
            ..
        }) = codec.decode(buf).unwrap()
        {
            out.push((a.delivery_tag, a.multiple));
        }
        out
    }

    fn cfg(auto_ack: bool, prefetch: u16, every: u32) -> ConsumerConfig {
        ConsumerConfig {
            queue: "q".into(),
            auto_ack,
            prefetch,
            multi_ack_every: every,
            reject_every: 0,
            arguments: FieldTable::new(),
        }
    }

    #[test]
    fn ack_each_multi_and_auto() {
        let mut out = BytesMut::new();
        let mut p = AckPolicy::new(&cfg(false, 0, 0));
        p.delivered(1, &mut out);
        p.delivered(2, &mut out);
        assert_eq!(acks_in(&mut out), vec![(1, false), (2, false)]);

        let mut p = AckPolicy::new(&cfg(false, 0, 3));
        for tag in 1..=7 {
            p.delivered(tag, &mut out);
        }
        p.after_read(&mut out);
        assert_eq!(acks_in(&mut out), vec![(3, true), (6, true)]);

        let mut p = AckPolicy::new(&cfg(true, 0, 0));
        p.delivered(1, &mut out);
        assert!(out.is_empty());
    }

    fn rejects_in(buf: &mut BytesMut) -> Vec<Method> {
        let mut codec = warren_protocol::FrameCodec::default();
        let mut out = Vec::new();
        while let Some(Frame::Method { method, .. }) = codec.decode(buf).unwrap() {
            out.push(method);
        }
        out
    }

    #[test]
    fn every_nth_delivery_is_rejected_without_requeue() {
        let mut out = BytesMut::new();
        let mut c = cfg(false, 0, 0);
        c.reject_every = 3;
        let mut p = AckPolicy::new(&c);
        for tag in 1..=7 {
            p.delivered(tag, &mut out);
        }
        assert_eq!(p.rejected, 2);
        let methods = rejects_in(&mut out);
        let rejected: Vec<_> = methods
            .iter()
            .filter_map(|m| match m {
                Method::BasicReject(r) => Some((r.delivery_tag, r.requeue)),
                _ => None,
            })
            .collect();
        assert_eq!(rejected, vec![(3, false), (6, false)]);
        assert_eq!(methods.len(), 7, "the other five are acked one by one");
    }

    #[test]
    fn prefetch_below_multi_ack_interval_does_not_stall() {
        let mut out = BytesMut::new();
        let mut p = AckPolicy::new(&cfg(false, 2, 10));
        p.delivered(1, &mut out);
        p.after_read(&mut out);
        assert!(out.is_empty(), "one pending, room for one more");
        p.delivered(2, &mut out);
        p.after_read(&mut out);
        assert_eq!(acks_in(&mut out), vec![(2, true)]);
    }
}

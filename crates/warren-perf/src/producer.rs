//! A producer: one connection publishing as fast as allowed, many messages per socket
//! write, with an optional window of unconfirmed messages and an optional rate.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;
use warren_protocol::frame::{write_body, write_header, write_method};
use warren_protocol::method::{basic, confirm};
use warren_protocol::{BasicProperties, Frame, FrameCodec, Method};

use crate::confirms::ConfirmTracker;
use crate::conn::{close_method, Connection, CHANNEL};
use crate::error::{PerfError, Result};
use crate::stats::{now_nanos, Counters};

/// Bytes of messages encoded per socket write, at most.
const BATCH_BYTES: usize = 64 * 1024;
/// Messages encoded per socket write, at most.
const BATCH_MESSAGES: usize = 1024;

/// What one producer publishes.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    /// Exchange to publish to ("" for the default exchange).
    pub exchange: String,
    /// Routing key.
    pub routing_key: String,
    /// Body size in bytes.
    pub body_size: usize,
    /// delivery_mode 2.
    pub persistent: bool,
    /// Unconfirmed messages allowed in flight (confirm mode), or `None`.
    pub confirm: Option<u32>,
    /// Messages per second (0: unlimited).
    pub rate: f64,
    /// Messages to publish (0: until stopped).
    pub count: u64,
}

/// Puts the channel in confirm mode when asked; call before [`run`].
pub async fn prepare(conn: &mut Connection, cfg: &ProducerConfig) -> Result<()> {
    if cfg.confirm.is_some() {
        conn.rpc(confirm::Select { nowait: false }.into(), |m| {
            matches!(m, Method::ConfirmSelectOk(_))
        })
        .await?;
    }
    Ok(())
}

/// Publishes until `stop` is cancelled or `cfg.count` messages are out (and, with
/// confirms, confirmed), then closes the connection. `done` is incremented on success.
pub async fn run(
    conn: Connection,
    cfg: ProducerConfig,
    counters: Arc<Counters>,
    stop: CancellationToken,
    done: Arc<AtomicUsize>,
) -> Result<()> {
    let parts = conn.into_parts();
    let frame_max = parts.frame_max;
    let (rd, mut wr) = parts.stream.into_split();
    let window = cfg.confirm.map(|n| Arc::new(Semaphore::new(n as usize)));
    let closing = CancellationToken::new();
    let mut reader = tokio::spawn(read_loop(
        rd,
        parts.rbuf,
        frame_max,
        window.clone(),
        counters.clone(),
        closing.clone(),
    ));

    let template = publish_template(&cfg);
    let mut body = vec![0u8; cfg.body_size];
    let per_message = template.len() + cfg.body_size + 16;
    let batch_max = (BATCH_BYTES / per_message).clamp(1, BATCH_MESSAGES);
    let mut wbuf = BytesMut::with_capacity(batch_max * per_message + 1024);
    let started = Instant::now();
    let mut sent: u64 = 0;

    let outcome: Result<()> = async {
        loop {
            if stop.is_cancelled() || (cfg.count > 0 && sent >= cfg.count) {
                return Ok(());
            }
            if reader.is_finished() {
                return Err(reader_outcome(&mut reader).await);
            }
            let mut n = batch_max as u64;
            if cfg.count > 0 {
                n = n.min(cfg.count - sent);
            }
            if cfg.rate > 0.0 {
                let allowed = (started.elapsed().as_secs_f64() * cfg.rate) as u64 + 1;
                if allowed <= sent {
                    let due = started + Duration::from_secs_f64(sent as f64 / cfg.rate);
                    tokio::select! {
                        _ = stop.cancelled() => return Ok(()),
                        _ = tokio::time::sleep_until(due.into()) => continue,
                    }
                }
                n = n.min(allowed - sent);
            }
            if let Some(w) = &window {
                tokio::select! {
                    _ = stop.cancelled() => return Ok(()),
                    r = &mut reader => return Err(joined(r)),
                    p = w.acquire() => p.map_err(|_| PerfError::Eof)?.forget(),
                }
                let extra = (w.available_permits() as u64).min(n - 1);
                if extra > 0 {
                    if let Ok(p) = w.try_acquire_many(extra as u32) {
                        p.forget();
                    }
                }
                n = 1 + extra;
            }
            wbuf.clear();
            if cfg.body_size >= 8 {
                body[..8].copy_from_slice(&now_nanos().to_be_bytes());
            }
            for _ in 0..n {
                wbuf.extend_from_slice(&template);
                write_body(&mut wbuf, CHANNEL, &body, frame_max);
            }
            wr.write_all(&wbuf).await?;
            wr.flush().await?;
            wr.flush().await?;
            sent += n;
            Counters::add(&counters.sent, n);
        }
    }
    .await;
    let outcome = match outcome {
        Ok(()) => wait_for_confirms(&window, &cfg, &stop, &mut reader).await,
        Err(e) => Err(e),
    };
    if let Err(e) = outcome {
        reader.abort();
        return Err(e);
    }
    // Close politely; the read loop ends when close-ok (or EOF) arrives.
    closing.cancel();
    wbuf.clear();
    write_method(&mut wbuf, 0, &close_method());
    wr.write_all(&wbuf).await?;
    wr.flush().await?;
    match tokio::time::timeout(Duration::from_secs(5), &mut reader).await {
        Ok(r) => joined_ok(r)?,
        Err(_) => reader.abort(),
    }
    done.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// With confirms, waits until every published message is settled.
async fn wait_for_confirms(
    window: &Option<Arc<Semaphore>>,
    cfg: &ProducerConfig,
    stop: &CancellationToken,
    reader: &mut tokio::task::JoinHandle<Result<()>>,
) -> Result<()> {
    let (Some(w), Some(n)) = (window, cfg.confirm) else {
        return Ok(());
    };
    tokio::select! {
        _ = stop.cancelled() => Ok(()),
        r = reader => Err(joined(r)),
        p = w.acquire_many(n) => p.map(|_| ()).map_err(|_| PerfError::Eof),
    }
}

/// The method and header frames every message starts with.
fn publish_template(cfg: &ProducerConfig) -> BytesMut {
    let mut t = BytesMut::new();
    let publish = basic::Publish {
        exchange: cfg.exchange.clone(),
        routing_key: cfg.routing_key.clone(),
        ..Default::default()
    };
    write_method(&mut t, CHANNEL, &publish.into());
    let props = BasicProperties {
        delivery_mode: Some(if cfg.persistent { 2 } else { 1 }),
        ..Default::default()
    };
    write_header(&mut t, CHANNEL, cfg.body_size as u64, &props);
    t
}

/// Reads confirms and anything else the broker sends to a producer. Ends with `Ok`
/// once `closing` is set and the broker confirms the close (or hangs up).
async fn read_loop(
    mut rd: crate::tls::ReadHalf,
    mut rbuf: BytesMut,
    frame_max: u32,
    window: Option<Arc<Semaphore>>,
    counters: Arc<Counters>,
    closing: CancellationToken,
) -> Result<()> {
    let mut codec = FrameCodec::new(frame_max);
    let mut tracker = ConfirmTracker::default();
    loop {
        while let Some(frame) = codec.decode(&mut rbuf)? {
            let Frame::Method { method, .. } = frame else {
                continue;
            };
            let (settled, counter) = match method {
                Method::BasicAck(a) => (
                    tracker.settle(a.delivery_tag, a.multiple),
                    &counters.confirmed,
                ),
                Method::BasicNack(n) => {
                    (tracker.settle(n.delivery_tag, n.multiple), &counters.nacked)
                }
                Method::ConnectionCloseOk(_) if closing.is_cancelled() => return Ok(()),
                Method::ConnectionClose(c) => {
                    return Err(closed("connection", c.reply_code, c.reply_text))
                }
                Method::ChannelClose(c) => {
                    return Err(closed("channel", c.reply_code, c.reply_text))
                }
                _ => continue,
            };
            Counters::add(counter, settled);
            if let Some(w) = &window {
                w.add_permits(settled as usize);
            }
        }
        if rd.read_buf(&mut rbuf).await? == 0 {
            return if closing.is_cancelled() {
                Ok(())
            } else {
                Err(PerfError::Eof)
            };
        }
    }
}

fn closed(scope: &'static str, code: u16, text: String) -> PerfError {
    PerfError::Closed { scope, code, text }
}

/// The error a finished read loop ended with (a read loop only ends early on error).
async fn reader_outcome(reader: &mut tokio::task::JoinHandle<Result<()>>) -> PerfError {
    joined(reader.await)
}

fn joined(r: std::result::Result<Result<()>, tokio::task::JoinError>) -> PerfError {
    match r {
        Ok(Ok(())) => PerfError::Eof,
        Ok(Err(e)) => e,
        Err(e) => PerfError::Unexpected(format!("producer read loop failed: {e}")),
    }
}

fn joined_ok(r: std::result::Result<Result<()>, tokio::task::JoinError>) -> Result<()> {
    match r {
        Ok(r) => r,
        Err(e) => Err(PerfError::Unexpected(format!(
            "producer read loop failed: {e}"
        ))),
    }
}

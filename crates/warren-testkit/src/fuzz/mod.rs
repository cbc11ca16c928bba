//! The in-process connection fuzz harness (feature `fuzz`): a [`Script`] of channel
//! operations, well-formed and broken, played against a real server over in-memory
//! pipes (`RunningServer::connect_in_memory`: the real handshake and connection loop,
//! no sockets). `crates/warren-server/fuzz` (target `connection_sequences`) feeds it
//! libFuzzer's inputs; `crates/warren-server/tests/fuzz_regressions.rs` replays saved
//! ones. docs/fuzzing.md describes both.
//!
//! Checked after every step, panicking (a libFuzzer crash) when broken:
//! - nothing in the server panicked (a panic hook watches every thread);
//! - every `connection.close` the server sends carries a reply code of the
//!   specification and a text, every `channel.close` a soft (channel) code and a text,
//!   and the server never ends a connection without `connection.close`;
//! - every frame the server sends decodes within the agreed frame_max, content comes
//!   whole and in order, replies answer a request and well-formed synchronous methods
//!   get one (within 5 s);
//! - queue counters (ready, unacknowledged, bytes) never wrap;
//! - delivery tags on a channel only grow; a message acknowledged for good (ack,
//!   nack/reject without requeue, once the server has answered a later method on the
//!   channel or committed the transaction) or delivered without ack is never delivered
//!   from that queue again; no delivery for a cancelled consumer; publisher confirms
//!   name published sequence numbers, once;
//! - after the script, a fresh connection still publishes and gets a message, and the
//!   script's connections are gone from the broker.
//!
//! One server and one tokio runtime serve every input of a process; after each input
//! the harness deletes every queue, exchange and exchange-to-exchange binding it could
//! have made, so no input sees another's state.

mod client;
mod script;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::Decoder;
use warren_broker::routing::Destination;
use warren_protocol::frame::{write_body, write_header, write_method};
use warren_protocol::method::{basic, channel, connection as conn, queue};
use warren_protocol::{BasicProperties, FieldTable, FieldValue, Frame, FrameCodec, Method};
use warren_server::{MemoryWatermark, RunningServer, Server, ServerConfig};

pub use script::*;

/// The process's server, runtime and data directory.
struct Harness {
    runtime: tokio::runtime::Runtime,
    server: RunningServer,
    _dir: tempfile::TempDir,
}

static HARNESS: OnceLock<Harness> = OnceLock::new();
/// One input at a time (tests may run on several threads).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
/// Set by the panic hook: a panic anywhere (a server task included) fails the input.
static PANICKED: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

fn harness() -> &'static Harness {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICKED.store(true, Ordering::SeqCst);
            previous(info);
        }));
    });
    HARNESS.get_or_init(|| {
        // A current-thread runtime: the server's tasks run only while an input is
        // played, so nothing of one input runs on into the next unseen.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        // Durable queues and persistent messages hit the store: keep it in memory.
        let base = std::path::Path::new("/dev/shm");
        let dir = if base.is_dir() {
            tempfile::tempdir_in(base)
        } else {
            tempfile::tempdir()
        }
        .expect("data directory");
        let mut config = ServerConfig {
            listen: vec![],
            management_listen: None,
            data_dir: dir.path().to_path_buf(),
            ..ServerConfig::default()
        };
        config.limits.memory_high_watermark = MemoryWatermark::Off;
        config.limits.disk_free_limit_bytes = 0;
        let server = runtime
            .block_on(Server::start(config))
            .expect("server starts");
        Harness {
            runtime,
            server,
            _dir: dir,
        }
    })
}

/// Decodes `data` into a script and plays it (the fuzz target's body). Inputs that do
/// not decode are skipped, as libFuzzer does.
pub fn run_bytes(data: &[u8]) {
    if let Some(script) = decode(data) {
        run(&script);
    }
}

/// Plays `script` against the process's server and checks every invariant; panics
/// when one breaks.
pub fn run(script: &Script) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let h = harness();
    h.runtime.block_on(async {
        let mut run = client::Run::new(&h.server, script);
        run.play().await;
        run.hang_up();
        check_alive(&h.server).await;
        wait_connections_gone(&h.server).await;
        clean_up(&h.server).await;
    });
    if PANICKED.load(Ordering::SeqCst) {
        panic!("a panic happened while the script ran (see above)");
    }
}

/// A fresh connection declares a queue, publishes to it and gets the message back.
async fn check_alive(server: &RunningServer) {
    let result = tokio::time::timeout(Duration::from_secs(10), round_trip(server)).await;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("the server is not serving after the script: {e}"),
        Err(_) => panic!("the server did not complete a publish/get round trip in 10 s"),
    }
}

async fn round_trip(server: &RunningServer) -> Result<(), String> {
    let mut pipe = server.connect_in_memory(std::net::SocketAddr::from(([127, 0, 0, 1], 40_001)));
    let mut inbuf = BytesMut::new();
    let mut codec = FrameCodec::new(131_072);
    pipe.write_all(&warren_protocol::PROTOCOL_HEADER)
        .await
        .map_err(|e| e.to_string())?;
    expect(&mut pipe, &mut inbuf, &mut codec, "connection.start").await?;
    let mut out = BytesMut::new();
    write_method(
        &mut out,
        0,
        &conn::StartOk {
            client_properties: FieldTable::new(),
            mechanism: "PLAIN".into(),
            response: bytes::Bytes::from_static(b"\0guest\0guest"),
            locale: "en_US".into(),
        }
        .into(),
    );
    send(&mut pipe, &mut out).await?;
    expect(&mut pipe, &mut inbuf, &mut codec, "connection.tune").await?;
    write_method(
        &mut out,
        0,
        &conn::TuneOk {
            channel_max: 16,
            frame_max: 131_072,
            heartbeat: 0,
        }
        .into(),
    );
    write_method(
        &mut out,
        0,
        &conn::Open {
            virtual_host: "/".into(),
            ..Default::default()
        }
        .into(),
    );
    write_method(&mut out, 1, &channel::Open::default().into());
    let mut args = FieldTable::new();
    args.insert("x-fz-alive", FieldValue::Bool(true));
    write_method(
        &mut out,
        1,
        &queue::Declare {
            queue: "fz.alive".into(),
            exclusive: true,
            arguments: args,
            ..Default::default()
        }
        .into(),
    );
    write_method(
        &mut out,
        1,
        &basic::Publish {
            routing_key: "fz.alive".into(),
            ..Default::default()
        }
        .into(),
    );
    write_header(&mut out, 1, 5, &BasicProperties::default());
    write_body(&mut out, 1, b"alive", 131_072);
    write_method(
        &mut out,
        1,
        &basic::Get {
            queue: "fz.alive".into(),
            no_ack: true,
            ..Default::default()
        }
        .into(),
    );
    send(&mut pipe, &mut out).await?;
    for name in [
        "connection.open-ok",
        "channel.open-ok",
        "queue.declare-ok",
        "basic.get-ok",
    ] {
        expect(&mut pipe, &mut inbuf, &mut codec, name).await?;
    }
    match next(&mut pipe, &mut inbuf, &mut codec).await? {
        Frame::Header { .. } => {}
        other => return Err(format!("expected the content header, got {other:?}")),
    }
    match next(&mut pipe, &mut inbuf, &mut codec).await? {
        Frame::Body { payload, .. } if &payload[..] == b"alive" => {}
        other => return Err(format!("expected the body \"alive\", got {other:?}")),
    }
    write_method(
        &mut out,
        0,
        &conn::Close {
            reply_code: 200,
            reply_text: "done".into(),
            class_id: 0,
            method_id: 0,
        }
        .into(),
    );
    send(&mut pipe, &mut out).await?;
    expect(&mut pipe, &mut inbuf, &mut codec, "connection.close-ok").await?;
    Ok(())
}

async fn send(pipe: &mut tokio::io::DuplexStream, out: &mut BytesMut) -> Result<(), String> {
    let bytes = out.split();
    pipe.write_all(&bytes).await.map_err(|e| e.to_string())
}

async fn next(
    pipe: &mut tokio::io::DuplexStream,
    inbuf: &mut BytesMut,
    codec: &mut FrameCodec,
) -> Result<Frame, String> {
    loop {
        if let Some(frame) = codec.decode(inbuf).map_err(|e| e.to_string())? {
            return Ok(frame);
        }
        if pipe.read_buf(inbuf).await.map_err(|e| e.to_string())? == 0 {
            return Err("end of stream".into());
        }
    }
}

async fn expect(
    pipe: &mut tokio::io::DuplexStream,
    inbuf: &mut BytesMut,
    codec: &mut FrameCodec,
    name: &str,
) -> Result<Method, String> {
    match next(pipe, inbuf, codec).await? {
        Frame::Method { method, .. } if method.name() == name => Ok(method),
        other => Err(format!("expected {name}, got {other:?}")),
    }
}

/// The script's connections (their pipes are closed) leave the broker: their exclusive
/// queues go, and the next input starts with none.
async fn wait_connections_gone(server: &RunningServer) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !server.broker.connections().list().is_empty() {
        if tokio::time::Instant::now() > deadline {
            panic!(
                "{} connection(s) still registered 10 s after their clients hung up",
                server.broker.connections().list().len()
            );
        }
        // The server's tasks run on this runtime: yielding lets them finish.
        tokio::task::yield_now().await;
    }
}

/// Deletes what a script may have made on vhost `/`: exchange-to-exchange bindings
/// (also between the `amq.*` exchanges, which stay), every queue, every exchange but
/// the default and `amq.*` ones.
async fn clean_up(server: &RunningServer) {
    let vhost = server.broker.vhost("/").expect("vhost /");
    for x in vhost.exchanges() {
        for b in x.bindings() {
            if let Destination::Exchange(dest) = &b.destination {
                let applied = vhost
                    .unbind_exchange(dest, x.name(), &b.routing_key, &b.arguments)
                    .expect("unbind");
                applied.committed().await.expect("unbind committed");
            }
        }
    }
    for q in vhost.queues() {
        vhost.remove_queue(&q);
    }
    for x in vhost.exchanges() {
        let name = x.name();
        if name.is_empty() || name.starts_with("amq.") {
            continue;
        }
        let applied = vhost.delete_exchange(name, false).expect("delete exchange");
        applied.committed().await.expect("delete committed");
    }
}

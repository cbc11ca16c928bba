//! Request/reply (RPC) over a broker, with direct reply-to, correlation ids and a
//! timeout.
//!
//! ```text
//!   client --request (reply_to = amq.rabbitmq.reply-to, correlation_id = 7)--> (example.rpc)
//!      ^                                                                          |
//!      +---------- reply (correlation_id = 7), straight to the client's channel <-- server
//! ```
//!
//! - The client consumes the pseudo-queue `amq.rabbitmq.reply-to` (no-ack) before it
//!   sends: replies come straight back on its channel, with no reply queue to declare or
//!   clean up.
//! - Every request carries a fresh `correlation_id`; the client matches each reply to its
//!   request with it and ignores anything else (a late reply to a call that timed out).
//! - A call gives up after its timeout: with no server running, the request waits in the
//!   queue and the caller gets an error instead of hanging.
//!
//! Run a broker (`cargo run --release --bin warren`, or a RabbitMQ), then
//! `cargo run --example rpc [amqp://guest:guest@127.0.0.1:5672/%2f]`.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    QueueDeclareOptions, QueuePurgeOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer};

/// The queue the server takes requests from.
pub const QUEUE: &str = "example.rpc";
/// RabbitMQ's direct reply-to pseudo-queue (Warren has it too).
pub const REPLY_TO: &str = "amq.rabbitmq.reply-to";

/// Why a call failed.
#[derive(Debug)]
pub enum RpcError {
    /// No reply within the timeout.
    Timeout,
    /// The broker or the connection failed.
    Amqp(lapin::Error),
    /// The reply was not a number.
    BadReply(String),
}

impl From<lapin::Error> for RpcError {
    fn from(e: lapin::Error) -> Self {
        RpcError::Amqp(e)
    }
}

/// The work the server does: the n-th Fibonacci number.
pub fn fib(n: u64) -> u64 {
    (0..n)
        .fold((0u64, 1u64), |(a, b), _| (b, a.wrapping_add(b)))
        .0
}

/// Serves requests on `queue` until the connection closes.
pub async fn serve(uri: String, queue: &'static str) -> lapin::Result<()> {
    let conn = Connection::connect(&uri, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.queue_declare(
        queue.into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await?;
    ch.basic_qos(1, BasicQosOptions::default()).await?;
    let mut requests = ch
        .basic_consume(
            queue.into(),
            "rpc-server".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    while let Some(request) = requests.next().await {
        let request = request?;
        let n: u64 = String::from_utf8_lossy(&request.data).parse().unwrap_or(0);
        if let Some(reply_to) = request.properties.reply_to() {
            let props = BasicProperties::default().with_correlation_id(
                request
                    .properties
                    .correlation_id()
                    .clone()
                    .unwrap_or_else(|| ShortString::from("")),
            );
            ch.basic_publish(
                "".into(),
                reply_to.as_str().into(),
                BasicPublishOptions::default(),
                fib(n).to_string().as_bytes(),
                props,
            )
            .await?;
        }
        request.ack(BasicAckOptions::default()).await?;
    }
    Ok(())
}

/// A client: one channel consuming its direct replies.
pub struct Client {
    ch: Channel,
    replies: Consumer,
    next_id: u64,
}

impl Client {
    /// Opens a client channel on `conn`.
    pub async fn new(conn: &Connection) -> lapin::Result<Self> {
        let ch = conn.create_channel().await?;
        let replies = ch
            .basic_consume(
                REPLY_TO.into(),
                "".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        Ok(Client {
            ch,
            replies,
            next_id: 0,
        })
    }

    /// Sends `n` to `queue` and waits up to `timeout` for the matching reply.
    pub async fn call(&mut self, queue: &str, n: u64, timeout: Duration) -> Result<u64, RpcError> {
        self.next_id += 1;
        let id = format!("call-{}", self.next_id);
        let props = BasicProperties::default()
            .with_reply_to(REPLY_TO.into())
            .with_correlation_id(id.as_str().into());
        self.ch
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                n.to_string().as_bytes(),
                props,
            )
            .await?;
        let wait = async {
            while let Some(reply) = self.replies.next().await {
                let reply = reply?;
                let matches = reply
                    .properties
                    .correlation_id()
                    .as_ref()
                    .is_some_and(|c| c.as_str() == id);
                if matches {
                    let text = String::from_utf8_lossy(&reply.data).into_owned();
                    return text.parse().map_err(|_| RpcError::BadReply(text));
                }
                // A reply to an earlier call that gave up: not ours.
            }
            Err(RpcError::Timeout)
        };
        tokio::time::timeout(timeout, wait)
            .await
            .unwrap_or(Err(RpcError::Timeout))
    }
}

/// Starts a server, calls it once per input, and returns the answers.
pub async fn run(uri: &str, inputs: &[u64]) -> Result<Vec<u64>, RpcError> {
    let conn = Connection::connect(uri, ConnectionProperties::default()).await?;
    let setup = conn.create_channel().await?;
    setup
        .queue_declare(
            QUEUE.into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await?;
    setup
        .queue_purge(QUEUE.into(), QueuePurgeOptions::default())
        .await?;
    let server = tokio::spawn(serve(uri.to_owned(), QUEUE));
    let mut client = Client::new(&conn).await?;
    let mut answers = Vec::new();
    for &n in inputs {
        answers.push(client.call(QUEUE, n, Duration::from_secs(5)).await?);
    }
    server.abort();
    conn.close(200, "done".into()).await?;
    Ok(answers)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let uri = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
    let inputs = [10, 20, 30, 40, 50];
    let answers = run(&uri, &inputs)
        .await
        .map_err(|e| format!("rpc failed: {e:?}"))?;
    for (n, f) in inputs.iter().zip(&answers) {
        println!("fib({n}) = {f}");
    }
    Ok(())
}

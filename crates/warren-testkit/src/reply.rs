//! Reply codes and texts: what a refused operation or a channel close said.

use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Consumer};

use crate::poll::WAIT;

/// The AMQP reply code and text of a lapin error that carries one (a channel or
/// connection close), e.g. `(404, "NOT_FOUND - no queue 'q' in vhost '/'")`.
pub fn reply(err: &lapin::Error) -> Option<(u16, String)> {
    match err.kind() {
        lapin::ErrorKind::ProtocolError(e) => Some((e.get_id(), e.get_message().to_string())),
        _ => None,
    }
}

/// Asserts that `result` failed with reply `code` and exactly `text`.
#[track_caller]
pub fn assert_reply<T: std::fmt::Debug>(result: lapin::Result<T>, code: u16, text: &str) {
    match result {
        Ok(v) => panic!("expected {code} {text:?}, got Ok({v:?})"),
        Err(e) => assert_eq!(reply(&e), Some((code, text.to_owned())), "error: {e:?}"),
    }
}

/// A consumer on a private queue of `ch` whose only job is to report how the channel
/// ends: lapin hands the close reason to every consumer of a closed channel, while a
/// later call on the channel may only see "channel closed".
pub async fn watch(ch: &Channel) -> Consumer {
    let q = ch
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("watch queue");
    ch.basic_consume(
        q.name().as_str().into(),
        "watch".into(),
        BasicConsumeOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("watch consumer")
}

/// The reply code and text that closed the channel `watch` was made on (within
/// [`WAIT`]).
pub async fn closed_with(watch: &mut Consumer) -> (u16, String) {
    match tokio::time::timeout(WAIT, watch.next()).await {
        Ok(Some(Err(e))) => reply(&e).unwrap_or_else(|| panic!("not an AMQP error: {e}")),
        other => panic!("expected the channel to close with an error, got {other:?}"),
    }
}

/// Asserts that the channel `watch` was made on closed with `code` and `text`.
pub async fn assert_closed_with(watch: &mut Consumer, code: u16, text: &str) {
    assert_eq!(closed_with(watch).await, (code, text.to_owned()));
}

//! Connection lifecycle against RabbitMQ 3.10's measured behaviour
//! (docs/rabbitmq-reference.md §1): handshake, tuning, heartbeats, channels, content
//! framing, client and server closes. Inputs lapin will not send go through the raw
//! client in `warren_testkit::raw`, which also sees the class/method ids of a close.

use std::time::{Duration, Instant};

use lapin::options::{BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable as LapinTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use warren_protocol::method::{channel, connection as conn, queue};
use warren_protocol::{Frame, PROTOCOL_HEADER};
use warren_testkit::raw::{Event, RawClient, TuneOk, REPLY_TIMEOUT};
use warren_testkit::TestBroker;

/// Longest a silent close may take: RabbitMQ's 3 s delay plus slack.
const SILENT_CLOSE: Duration = Duration::from_secs(6);

fn close(code: u16, text: &str, class_id: u16, method_id: u16) -> (u16, String, u16, u16) {
    (code, text.to_owned(), class_id, method_id)
}

// ---- protocol header and login

#[tokio::test]
async fn wrong_protocol_version_gets_the_0_9_1_header_then_the_socket_closes() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::tcp(broker.addr).await;
    c.send_bytes(b"AMQP\x00\x00\x09\x00").await;
    let (bytes, closed) = c.read_until_eof(REPLY_TIMEOUT).await;
    assert_eq!(bytes, PROTOCOL_HEADER);
    assert!(closed);
}

#[tokio::test]
async fn http_request_gets_the_0_9_1_header_then_the_socket_closes() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::tcp(broker.addr).await;
    c.send_bytes(b"GET / HTTP/1.1\r\n\r\n").await;
    let (bytes, closed) = c.read_until_eof(REPLY_TIMEOUT).await;
    assert_eq!(bytes, PROTOCOL_HEADER);
    assert!(closed);
}

#[tokio::test]
async fn legacy_0_9_header_is_served_as_0_9_1() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::tcp(broker.addr).await;
    c.send_bytes(b"AMQP\x01\x01\x00\x09").await;
    c.expect_method(0, "connection.start").await;
}

#[tokio::test]
async fn bad_password_is_refused_with_403() {
    let broker = TestBroker::start().await;
    let uri = format!("amqp://guest:wrong@{}/%2f", broker.addr);
    let err = Connection::connect(&uri, ConnectionProperties::default())
        .await
        .expect_err("login must fail");
    assert_eq!(
        warren_testkit::reply(&err),
        Some((403, "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.".to_owned()))
    );
}

#[tokio::test]
async fn unknown_user_gets_the_same_403_close_with_ids_0_0() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::started(broker.addr).await;
    c.start_ok("nosuchuser", "guest", true).await;
    assert_eq!(
        c.expect_connection_close().await,
        close(
            403,
            "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.",
            0,
            0
        )
    );
}

#[tokio::test]
async fn bad_password_without_auth_failure_close_capability_closes_silently() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::started(broker.addr).await;
    c.start_ok("guest", "wrong", false).await;
    c.expect_silent_close(SILENT_CLOSE).await;
}

#[tokio::test]
async fn unknown_mechanism_closes_silently() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::started(broker.addr).await;
    c.send_method(
        0,
        conn::StartOk {
            mechanism: "FOO".into(),
            response: b"x".to_vec().into(),
            locale: "en_US".into(),
            ..Default::default()
        },
    )
    .await;
    c.expect_silent_close(SILENT_CLOSE).await;
}

#[tokio::test]
async fn unknown_vhost_is_refused_with_530() {
    let broker = TestBroker::start().await;
    let uri = format!("amqp://guest:guest@{}/nosuchvhost", broker.addr);
    let err = Connection::connect(&uri, ConnectionProperties::default())
        .await
        .expect_err("vhost must be refused");
    assert_eq!(
        warren_testkit::reply(&err),
        Some((530, "NOT_ALLOWED - vhost nosuchvhost not found".to_owned()))
    );
}

#[tokio::test]
async fn unknown_vhost_close_names_connection_open() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::tuning(broker.addr).await;
    c.send_method(
        0,
        conn::TuneOk {
            channel_max: 2047,
            frame_max: 131_072,
            heartbeat: 0,
        },
    )
    .await;
    c.send_method(
        0,
        conn::Open {
            virtual_host: "nosuchvhost".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        c.expect_connection_close().await,
        close(530, "NOT_ALLOWED - vhost nosuchvhost not found", 10, 40)
    );
}

#[tokio::test]
async fn channel_open_before_connection_open_is_505_with_the_frame_octets() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::tuning(broker.addr).await;
    c.send_method(
        0,
        conn::TuneOk {
            channel_max: 2047,
            frame_max: 131_072,
            heartbeat: 0,
        },
    )
    .await;
    c.send_method(1, channel::Open::default()).await;
    assert_eq!(
        c.expect_connection_close().await,
        close(
            505,
            "UNEXPECTED_FRAME - type 1, all octets = <<0,20,0,10,0>>",
            0,
            0
        )
    );
}

#[tokio::test]
async fn handshake_timeout_drops_a_client_that_sends_nothing() {
    let broker = TestBroker::start_with(|c| {
        c.limits.handshake_timeout = Duration::from_millis(300);
    })
    .await;
    let started = Instant::now();
    let mut c = RawClient::tcp(broker.addr).await;
    let (bytes, closed) = c.read_until_eof(Duration::from_secs(5)).await;
    assert!(closed, "socket still open");
    assert!(bytes.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn handshake_timeout_drops_a_client_that_stops_after_the_header() {
    let broker = TestBroker::start_with(|c| {
        c.limits.handshake_timeout = Duration::from_millis(300);
    })
    .await;
    let mut c = RawClient::started(broker.addr).await;
    c.expect_silent_close(Duration::from_secs(5)).await;
}

// ---- tune-ok

async fn tune_ok_is_refused_silently(channel_max: u16, frame_max: u32) {
    let broker = TestBroker::start().await;
    let mut c = RawClient::tuning(broker.addr).await;
    c.send_method(
        0,
        conn::TuneOk {
            channel_max,
            frame_max,
            heartbeat: 0,
        },
    )
    .await;
    c.send_method(
        0,
        conn::Open {
            virtual_host: "/".into(),
            ..Default::default()
        },
    )
    .await;
    c.expect_silent_close(SILENT_CLOSE).await;
}

#[tokio::test]
async fn tune_ok_frame_max_below_4096_closes_silently() {
    tune_ok_is_refused_silently(2047, 4095).await;
}

#[tokio::test]
async fn tune_ok_frame_max_0_closes_silently() {
    tune_ok_is_refused_silently(2047, 0).await;
}

#[tokio::test]
async fn tune_ok_frame_max_above_the_servers_closes_silently() {
    tune_ok_is_refused_silently(2047, 131_073).await;
}

#[tokio::test]
async fn tune_ok_channel_max_0_closes_silently() {
    tune_ok_is_refused_silently(0, 131_072).await;
}

#[tokio::test]
async fn tune_ok_channel_max_above_the_servers_closes_silently() {
    tune_ok_is_refused_silently(2048, 131_072).await;
}

#[tokio::test]
async fn tune_ok_with_the_smallest_limits_is_accepted() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::open_with(
        broker.addr,
        TuneOk {
            channel_max: Some(1),
            frame_max: Some(4096),
            heartbeat: 0,
        },
    )
    .await;
    c.open_channel(1).await;
}

// ---- heartbeats

#[tokio::test]
async fn server_sends_heartbeats_to_an_idle_client() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::open_with(
        broker.addr,
        TuneOk {
            heartbeat: 1,
            ..Default::default()
        },
    )
    .await;
    match c.next_event(Duration::from_millis(1500)).await {
        Event::Frame(Frame::Heartbeat) => {}
        other => panic!("expected a heartbeat, got {other:?}"),
    }
}

#[tokio::test]
async fn client_silent_for_two_heartbeat_intervals_is_disconnected() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::open_with(
        broker.addr,
        TuneOk {
            heartbeat: 1,
            ..Default::default()
        },
    )
    .await;
    let started = Instant::now();
    c.expect_silent_close(Duration::from_secs(6)).await;
    let after = started.elapsed();
    assert!(
        after >= Duration::from_millis(1900),
        "closed after {after:?}, before two intervals"
    );
}

#[tokio::test]
async fn server_heartbeats_come_every_half_interval() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::open_with(
        broker.addr,
        TuneOk {
            heartbeat: 1,
            ..Default::default()
        },
    )
    .await;
    let until = Instant::now() + Duration::from_millis(2600);
    let mut received = 0;
    while Instant::now() < until {
        c.send_heartbeat().await;
        if let Event::Frame(Frame::Heartbeat) = c.next_event(Duration::from_millis(300)).await {
            received += 1;
        }
    }
    assert!(received >= 4, "{received} heartbeats in 2.6 s");
}

#[tokio::test]
async fn client_sending_heartbeats_stays_connected() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::open_with(
        broker.addr,
        TuneOk {
            heartbeat: 1,
            ..Default::default()
        },
    )
    .await;
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        c.send_heartbeat().await;
        match c.next_event(Duration::from_millis(400)).await {
            Event::Frame(Frame::Heartbeat) | Event::Silence => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    c.open_channel(1).await;
}

// ---- closing

#[tokio::test]
async fn client_connection_close_gets_close_ok() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::with_channel(broker.addr).await;
    c.send_method(
        0,
        conn::Close {
            reply_code: 200,
            reply_text: "bye".into(),
            ..Default::default()
        },
    )
    .await;
    c.expect_method(0, "connection.close-ok").await;
    // Like RabbitMQ, the server leaves closing the socket to the client.
    assert!(matches!(
        c.next_event(Duration::from_millis(500)).await,
        Event::Silence
    ));
}

#[tokio::test]
async fn lapin_close_completes() {
    let broker = TestBroker::start().await;
    let (conn, _ch) = broker.channel().await;
    conn.close(200, "bye".into()).await.expect("close-ok");
    assert!(
        conn.create_channel().await.is_err(),
        "connection still usable"
    );
}

#[tokio::test]
async fn graceful_shutdown_sends_320_connection_forced() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::with_channel(broker.addr).await;
    let stopping = tokio::spawn(broker.stop());
    assert_eq!(
        c.expect_connection_close().await,
        close(
            320,
            "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'",
            0,
            0
        )
    );
    tokio::time::timeout(Duration::from_secs(5), stopping)
        .await
        .expect("server stops once clients answered")
        .expect("stop task");
}

#[tokio::test]
async fn channel_exception_leaves_the_connection_and_other_channels_working() {
    let broker = TestBroker::start().await;
    let conn = broker.connect().await;
    let ch1 = conn.create_channel().await.unwrap();
    let ch2 = conn.create_channel().await.unwrap();
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    warren_testkit::assert_reply(
        ch1.queue_declare("missing".into(), passive, LapinTable::default())
            .await,
        404,
        "NOT_FOUND - no queue 'missing' in vhost '/'",
    );
    ch2.queue_declare(
        "ok-q".into(),
        QueueDeclareOptions::default(),
        LapinTable::default(),
    )
    .await
    .expect("other channel still works");
    ch2.basic_publish(
        "".into(),
        "ok-q".into(),
        BasicPublishOptions::default(),
        b"m",
        BasicProperties::default(),
    )
    .await
    .expect("publish on the other channel");
    let ch3 = conn.create_channel().await.expect("new channel opens");
    let q = ch3
        .queue_declare("ok-q".into(), passive, LapinTable::default())
        .await
        .unwrap();
    assert!(
        warren_testkit::eventually(Duration::from_secs(2), || std::future::ready({
            broker.broker().vhost("/").is_some_and(|v| {
                v.queues()
                    .iter()
                    .any(|q| q.name().as_ref() == "ok-q" && q.message_count() == 1)
            })
        }))
        .await
    );
    assert_eq!(q.name().as_str(), "ok-q");
    assert!(conn.status().connected());
}

// ---- channels

#[tokio::test]
async fn channel_ids_above_channel_max_are_allowed() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::open_with(
        broker.addr,
        TuneOk {
            channel_max: Some(10),
            ..Default::default()
        },
    )
    .await;
    c.open_channel(11).await;
    c.open_channel(65535).await;
}

#[tokio::test]
async fn opening_more_channels_than_channel_max_is_530() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::open_with(
        broker.addr,
        TuneOk {
            channel_max: Some(2),
            ..Default::default()
        },
    )
    .await;
    c.open_channel(1).await;
    c.open_channel(2).await;
    c.send_method(3, channel::Open::default()).await;
    assert_eq!(
        c.expect_connection_close().await,
        close(
            530,
            "NOT_ALLOWED - number of channels opened (2) has reached the negotiated channel_max (2)",
            0,
            0
        )
    );
}

#[tokio::test]
async fn closing_a_channel_makes_room_under_channel_max() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::open_with(
        broker.addr,
        TuneOk {
            channel_max: Some(2),
            ..Default::default()
        },
    )
    .await;
    c.open_channel(1).await;
    c.open_channel(2).await;
    c.send_method(
        1,
        channel::Close {
            reply_code: 200,
            ..Default::default()
        },
    )
    .await;
    c.expect_method(1, "channel.close-ok").await;
    c.open_channel(3).await;
}

#[tokio::test]
async fn second_channel_open_is_504() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::with_channel(broker.addr).await;
    c.send_method(1, channel::Open::default()).await;
    assert_eq!(
        c.expect_connection_close().await,
        close(504, "CHANNEL_ERROR - second 'channel.open' seen", 20, 10)
    );
}

#[tokio::test]
async fn method_on_a_never_opened_channel_is_504() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::open(broker.addr).await;
    c.send_method(
        5,
        queue::Declare {
            queue: "q".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        c.expect_connection_close().await,
        close(504, "CHANNEL_ERROR - expected 'channel.open'", 50, 10)
    );
}

#[tokio::test]
async fn channel_close_on_a_never_opened_channel_is_504() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::open(broker.addr).await;
    c.send_method(5, channel::Close::default()).await;
    assert_eq!(
        c.expect_connection_close().await,
        close(504, "CHANNEL_ERROR - expected 'channel.open'", 20, 40)
    );
}

#[tokio::test]
async fn channel_close_ok_on_a_never_opened_channel_is_504() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::open(broker.addr).await;
    c.send_method(5, channel::CloseOk {}).await;
    assert_eq!(
        c.expect_connection_close().await,
        close(504, "CHANNEL_ERROR - expected 'channel.open'", 20, 41)
    );
}

#[tokio::test]
async fn method_on_a_closed_channel_is_504() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::with_channel(broker.addr).await;
    c.send_method(1, channel::Close::default()).await;
    c.expect_method(1, "channel.close-ok").await;
    c.send_method(1, warren_protocol::method::basic::Qos::default())
        .await;
    assert_eq!(
        c.expect_connection_close().await,
        close(504, "CHANNEL_ERROR - expected 'channel.open'", 60, 10)
    );
}

#[tokio::test]
async fn channel_flow_active_false_is_540() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::with_channel(broker.addr).await;
    c.send_method(1, channel::Flow { active: false }).await;
    assert_eq!(
        c.expect_connection_close().await,
        close(540, "NOT_IMPLEMENTED - active=false", 20, 20)
    );
}

#[tokio::test]
async fn channel_flow_active_true_gets_flow_ok() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::with_channel(broker.addr).await;
    c.send_method(1, channel::Flow { active: true }).await;
    match c.expect_method(1, "channel.flow-ok").await {
        warren_protocol::Method::ChannelFlowOk(ok) => assert!(ok.active),
        other => unreachable!("{other:?}"),
    }
}

#[tokio::test]
async fn channel_method_on_channel_0_is_504() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::open(broker.addr).await;
    c.send_method(0, channel::Open::default()).await;
    assert_eq!(
        c.expect_connection_close().await,
        close(
            504,
            "CHANNEL_ERROR - unexpected method in connection state running",
            20,
            10
        )
    );
}

#[tokio::test]
async fn queue_method_on_channel_0_is_504() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::open(broker.addr).await;
    c.send_method(0, queue::Declare::default()).await;
    assert_eq!(
        c.expect_connection_close().await,
        close(
            504,
            "CHANNEL_ERROR - unexpected method in connection state running",
            50,
            10
        )
    );
}

#[tokio::test]
async fn tune_ok_after_open_is_504() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::open(broker.addr).await;
    c.send_method(0, conn::TuneOk::default()).await;
    assert_eq!(
        c.expect_connection_close().await,
        close(
            504,
            "CHANNEL_ERROR - unexpected method in connection state running",
            10,
            31
        )
    );
}

#[tokio::test]
async fn unsolicited_connection_close_ok_is_504() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::open(broker.addr).await;
    c.send_method(0, conn::CloseOk {}).await;
    assert_eq!(
        c.expect_connection_close().await,
        close(
            504,
            "CHANNEL_ERROR - unexpected method in connection state running",
            10,
            51
        )
    );
}

#[tokio::test]
async fn connection_close_on_channel_1_is_503() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::with_channel(broker.addr).await;
    c.send_method(1, conn::Close::default()).await;
    assert_eq!(
        c.expect_connection_close().await,
        close(503, "COMMAND_INVALID - unimplemented method", 10, 50)
    );
}

#[tokio::test]
async fn unknown_method_drops_the_socket() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::with_channel(broker.addr).await;
    // A method frame for class 99, method 1, with no arguments.
    c.send_bytes(&[1, 0, 1, 0, 0, 0, 4, 0, 99, 0, 1, 0xCE])
        .await;
    c.expect_silent_close(REPLY_TIMEOUT).await;
}

// ---- content framing

/// Expects 505 with `text` and ids.
async fn expect_505(c: &mut RawClient, text: &str, class_id: u16, method_id: u16) {
    assert_eq!(
        c.expect_connection_close().await,
        close(
            505,
            &format!("UNEXPECTED_FRAME - {text}"),
            class_id,
            method_id
        )
    );
}

const EXPECTED_METHOD: &str = "expected method frame, got non method frame instead";
const EXPECTED_HEADER: &str =
    "expected content header for class 60, got non content header frame instead";
const EXPECTED_BODY: &str = "expected content body, got non content body frame instead";

#[tokio::test]
async fn body_frame_without_a_publish_is_505() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::with_channel(broker.addr).await;
    c.send_body(1, b"abc").await;
    expect_505(&mut c, EXPECTED_METHOD, 0, 0).await;
}

#[tokio::test]
async fn header_frame_without_a_publish_is_505() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::with_channel(broker.addr).await;
    c.send_header(1, 60, 3).await;
    expect_505(&mut c, EXPECTED_METHOD, 0, 0).await;
}

#[tokio::test]
async fn content_frame_on_a_never_opened_channel_is_505() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::open(broker.addr).await;
    c.send_header(5, 60, 3).await;
    expect_505(&mut c, EXPECTED_METHOD, 0, 0).await;
}

#[tokio::test]
async fn body_frame_after_publish_without_header_is_505() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::with_channel(broker.addr).await;
    c.send_publish(1, "q").await;
    c.send_body(1, b"abc").await;
    expect_505(&mut c, EXPECTED_HEADER, 60, 40).await;
}

#[tokio::test]
async fn method_while_header_expected_is_505() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::with_channel(broker.addr).await;
    c.send_publish(1, "q").await;
    c.send_method(1, warren_protocol::method::basic::Qos::default())
        .await;
    expect_505(&mut c, EXPECTED_HEADER, 60, 40).await;
}

#[tokio::test]
async fn method_while_body_expected_is_505() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::with_channel(broker.addr).await;
    c.send_publish(1, "q").await;
    c.send_header(1, 60, 3).await;
    c.send_method(1, warren_protocol::method::basic::Qos::default())
        .await;
    expect_505(&mut c, EXPECTED_BODY, 60, 40).await;
}

#[tokio::test]
async fn channel_close_while_body_expected_is_505() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::with_channel(broker.addr).await;
    c.send_publish(1, "q").await;
    c.send_header(1, 60, 3).await;
    c.send_method(1, channel::Close::default()).await;
    expect_505(&mut c, EXPECTED_BODY, 60, 40).await;
}

#[tokio::test]
async fn header_of_another_class_is_505() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::with_channel(broker.addr).await;
    c.send_publish(1, "q").await;
    c.send_header(1, 50, 3).await;
    expect_505(
        &mut c,
        "expected content header for class 60, got one for class 50 instead",
        60,
        40,
    )
    .await;
}

#[tokio::test]
async fn header_on_another_channel_than_its_publish_is_505() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::with_channel(broker.addr).await;
    c.open_channel(2).await;
    c.send_publish(1, "q").await;
    c.send_header(2, 60, 3).await;
    expect_505(&mut c, EXPECTED_METHOD, 0, 0).await;
}

#[tokio::test]
async fn extra_body_frame_after_a_complete_message_is_505() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::with_channel(broker.addr).await;
    c.send_publish(1, "q").await;
    c.send_header(1, 60, 3).await;
    c.send_body(1, b"abc").await;
    c.send_body(1, b"def").await;
    expect_505(&mut c, EXPECTED_METHOD, 0, 0).await;
}

#[tokio::test]
async fn body_frame_after_an_empty_message_is_505() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::with_channel(broker.addr).await;
    c.send_publish(1, "q").await;
    c.send_header(1, 60, 0).await;
    c.send_body(1, b"").await;
    expect_505(&mut c, EXPECTED_METHOD, 0, 0).await;
}

#[tokio::test]
async fn body_overflowing_the_announced_size_is_505() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::with_channel(broker.addr).await;
    c.send_publish(1, "q").await;
    c.send_header(1, 60, 3).await;
    c.send_body(1, b"abcdef").await;
    expect_505(&mut c, EXPECTED_METHOD, 0, 0).await;
}

#[tokio::test]
async fn content_frame_on_channel_0_is_505_with_its_octets() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::open(broker.addr).await;
    c.send_body(0, b"abc").await;
    expect_505(&mut c, "type 3, all octets = <<\"abc\">>", 0, 0).await;
}

#[tokio::test]
async fn heartbeat_between_header_and_body_is_ignored() {
    let broker = TestBroker::start().await;
    let (_conn, ch) = broker.channel().await;
    ch.queue_declare(
        "hb-q".into(),
        QueueDeclareOptions::default(),
        LapinTable::default(),
    )
    .await
    .unwrap();
    let mut c = RawClient::with_channel(broker.addr).await;
    c.send_publish(1, "hb-q").await;
    c.send_header(1, 60, 3).await;
    c.send_heartbeat().await;
    c.send_body(1, b"abc").await;
    let vhost = broker.broker().vhost("/").expect("default vhost");
    assert!(
        warren_testkit::eventually(Duration::from_secs(2), || std::future::ready(
            vhost
                .queues()
                .iter()
                .any(|q| q.name().as_ref() == "hb-q" && q.message_count() == 1)
        ))
        .await,
        "message not published"
    );
}

#[tokio::test]
async fn connection_close_while_body_expected_gets_close_ok() {
    let broker = TestBroker::start().await;
    let mut c = RawClient::with_channel(broker.addr).await;
    c.send_publish(1, "q").await;
    c.send_header(1, 60, 3).await;
    c.send_method(0, conn::Close::default()).await;
    c.expect_method(0, "connection.close-ok").await;
}

//! warren-perf end to end: against its own null broker and against an in-process
//! Warren, checking that every published message is counted, confirmed and consumed.

use clap::Parser;
use warren_perf::{run::run, Args, PerfError};
use warren_server::{Server, ServerConfig};

fn args(uri: &str, line: &str) -> Args {
    let a = Args::try_parse_from(
        ["warren-perf", "--uri", uri]
            .into_iter()
            .chain(line.split_whitespace()),
    )
    .expect("valid options");
    a.validate().expect("consistent options");
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_broker_confirms_and_floods() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("amqp://guest:guest@{}/%2f", listener.local_addr().unwrap());
    tokio::spawn(warren_perf::null_broker::serve(listener, 64));
    let s = run(&args(&uri, "-x 1 -y 1 -s 64 -C 20000 -c 100 -q 50"), |_| {})
        .await
        .expect("run succeeds");
    assert_eq!(s.sent_total, 20_000);
    assert_eq!(s.confirmed_total, 20_000);
    assert!(s.received_total >= 20_000, "received {}", s.received_total);
    assert!(
        s.latency_p50_overall_us.is_some(),
        "64-byte bodies carry stamps"
    );
    assert!(s.perf_cpu_percent.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_broker_stream_deliveries_are_counted_in_order() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("amqp://guest:guest@{}/%2f", listener.local_addr().unwrap());
    tokio::spawn(warren_perf::null_broker::serve(listener, 64));
    let s = run(
        &args(
            &uri,
            "-x 0 -y 2 -s 64 -z 1 -q 100 --queue-args x-queue-type=stream --consumer-args x-stream-offset=first",
        ),
        |_| {},
    )
    .await
    .expect("run succeeds");
    assert!(s.received_total > 1000, "received {}", s.received_total);
    assert_eq!(
        s.stream_offsets_total, s.received_total,
        "every delivery carried an offset"
    );
    assert_eq!(s.stream_offset_regressions, 0);
}

async fn warren() -> (warren_server::RunningServer, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        data_dir: dir.path().to_path_buf(),
        management_listen: None,
        ..ServerConfig::default()
    };
    let server = Server::start(config).await.expect("warren starts");
    let uri = format!("amqp://guest:guest@{}/%2f", server.addrs[0]);
    (server, uri, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warren_every_message_confirmed_and_acked_across_queues() {
    let (server, uri, _dir) = warren().await;
    let s = run(
        &args(
            &uri,
            "-x 2 -y 2 --queues 2 -s 32 -C 5000 -c 100 -q 100 -A 10 --delete-queues",
        ),
        |_| {},
    )
    .await
    .expect("run succeeds");
    assert_eq!(s.sent_total, 10_000);
    assert_eq!(s.confirmed_total, 10_000);
    assert_eq!(s.received_total, 10_000);
    assert_eq!(s.nacked_total, 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warren_fanout_reaches_every_queue() {
    let (server, uri, _dir) = warren().await;
    let s = run(
        &args(
            &uri,
            "-x 1 -y 3 --fanout-queues 3 -s 4 -C 1000 -a --delete-queues",
        ),
        |_| {},
    )
    .await
    .expect("run succeeds");
    assert_eq!(s.sent_total, 1000);
    assert_eq!(s.received_total, 3000);
    assert_eq!(
        s.latency_p50_overall_us, None,
        "4-byte bodies carry no stamp"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warren_refusal_during_setup_fails_the_run_with_its_reply_code() {
    let (server, uri, _dir) = warren().await;
    // amq.* exchanges are only checked passively, and this one does not exist.
    let a = args(&uri, "-x 1 -y 0 -s 16 -z 5 -e amq.no-such-exchange");
    let err = run(&a, |_| {}).await.expect_err("setup must fail");
    assert!(matches!(err, PerfError::Closed { code: 404, .. }), "{err}");
    server.stop().await;
}

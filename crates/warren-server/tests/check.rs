//! `warren --check`: exit 0 when a broker answers on the AMQP address, 1 with a message
//! when nothing does (what a container HEALTHCHECK or an exec probe runs).

use std::process::Command;

use warren_testkit::TestBroker;

const WARREN: &str = env!("CARGO_BIN_EXE_warren");

fn check(addr: &str) -> std::process::Output {
    Command::new(WARREN)
        .args(["--check", "--listen", addr])
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_against_a_running_broker_and_fails_without_one() {
    let broker = TestBroker::start().await;
    let addr = broker.addr.to_string();
    let ok = tokio::task::spawn_blocking(move || check(&addr))
        .await
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let down = tokio::task::spawn_blocking(move || check(&free))
        .await
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&down.stderr).contains("check failed: cannot connect"),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    // The broker still serves after being probed.
    let (_c, ch) = broker.channel().await;
    warren_testkit::basic::declare(&ch, "after-check").await;
}

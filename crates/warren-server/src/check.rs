//! `warren --check`: is a broker answering on its AMQP listener? For container health
//! checks and exec probes, where no HTTP client or credentials are at hand. It sends the
//! AMQP 0-9-1 protocol header and expects `connection.start` back (no login, so no
//! password in the probe), then closes the socket.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use warren_protocol::constants::{FRAME_METHOD, PROTOCOL_HEADER};

/// How long the probe waits for the connection and for the answer.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// The address a probe on this host uses for listener `addr`: a wildcard address is
/// reached through loopback.
pub fn probe_address(addr: SocketAddr) -> SocketAddr {
    let mut probe = addr;
    if addr.ip().is_unspecified() {
        probe.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    probe
}

/// Checks that `addr` answers the protocol header with `connection.start`.
pub async fn check(addr: SocketAddr) -> Result<(), String> {
    let addr = probe_address(addr);
    let answer = tokio::time::timeout(CHECK_TIMEOUT, async {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        stream
            .write_all(&PROTOCOL_HEADER)
            .await
            .map_err(|e| format!("cannot write to {addr}: {e}"))?;
        let mut head = [0u8; 11];
        stream
            .read_exact(&mut head)
            .await
            .map_err(|e| format!("no answer from {addr}: {e}"))?;
        // Read the rest of the frame (payload and frame-end octet) before closing, so the
        // broker sees a client leave during the handshake, not a reset connection.
        let size = u32::from_be_bytes([head[3], head[4], head[5], head[6]]) as usize;
        if size < 1 << 20 {
            let mut rest = vec![0u8; (size + 1).saturating_sub(4)];
            let _ = stream.read_exact(&mut rest).await;
        }
        let _ = stream.shutdown().await;
        Ok::<_, String>(head)
    })
    .await
    .map_err(|_| format!("no answer from {addr} within {CHECK_TIMEOUT:?}"))??;
    // Frame type, channel 0, size (4 bytes), then class 10 method 10: connection.start.
    let is_start =
        answer[0] == FRAME_METHOD && answer[1..3] == [0, 0] && answer[7..11] == [0, 10, 0, 10];
    if is_start {
        Ok(())
    } else {
        Err(format!("{addr} answered, but not with connection.start"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_listener_is_probed_on_loopback() {
        assert_eq!(
            probe_address("0.0.0.0:5672".parse().unwrap()),
            "127.0.0.1:5672".parse().unwrap()
        );
        assert_eq!(
            probe_address("[::]:5672".parse().unwrap()),
            "[::1]:5672".parse().unwrap()
        );
        assert_eq!(
            probe_address("10.0.0.1:5672".parse().unwrap()),
            "10.0.0.1:5672".parse().unwrap()
        );
    }

    #[tokio::test]
    async fn nothing_listening_is_a_failed_check() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let err = check(port).await.unwrap_err();
        assert!(err.contains("cannot connect"), "{err}");
    }
}

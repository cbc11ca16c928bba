//! A connection over an in-memory pipe (`RunningServer::connect_in_memory`) runs the
//! same handshake and connection loop as a socket: the fuzz harness relies on it.

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::Decoder;
use warren_protocol::{Frame, FrameCodec};
use warren_server::{Server, ServerConfig};

async fn next_frame(pipe: &mut tokio::io::DuplexStream, buf: &mut BytesMut) -> Option<Frame> {
    let mut codec = FrameCodec::default();
    loop {
        if let Some(frame) = codec.decode(buf).expect("a well-formed frame") {
            return Some(frame);
        }
        if pipe.read_buf(buf).await.expect("read") == 0 {
            return None;
        }
    }
}

#[tokio::test]
async fn a_client_on_an_in_memory_pipe_gets_connection_start_and_a_wrong_header_gets_ours() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(ServerConfig {
        listen: vec![],
        management_listen: None,
        data_dir: dir.path().to_path_buf(),
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    assert!(server.addrs.is_empty(), "no socket is bound");
    let peer = "127.0.0.1:40000".parse().unwrap();

    let mut client = server.connect_in_memory(peer);
    client.write_all(b"AMQP\x00\x00\x09\x01").await.unwrap();
    let mut buf = BytesMut::new();
    match next_frame(&mut client, &mut buf).await {
        Some(Frame::Method { channel: 0, method }) => {
            assert_eq!(method.name(), "connection.start", "{method:?}")
        }
        other => panic!("expected connection.start, got {other:?}"),
    }

    // A wrong protocol header is answered with ours, then the pipe is closed.
    let mut client = server.connect_in_memory(peer);
    client.write_all(b"HTTP/1.1").await.unwrap();
    let mut answer = Vec::new();
    client.read_to_end(&mut answer).await.unwrap();
    assert_eq!(answer, b"AMQP\x00\x00\x09\x01");
    server.stop().await;
}

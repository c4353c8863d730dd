//! A minimal RTMP client: the handshake, asking to publish or play and reading the
//! `onStatus` code, and sending raw chunks (for the bad-input tests).

use super::command;
use bytes::BytesMut;
use lectern_relay::rtmp::{self, Amf0Limits, Amf0Value, ChunkDecoder, ChunkEncoder, Message};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Handshakes, connects to `app`, creates a stream and publishes or plays `name`.
pub async fn rtmp_ask(addr: SocketAddr, app: &str, name: &str, publish: bool) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    rtmp_ask_on(&mut s, app, name, publish).await;
    s
}

/// [`rtmp_ask`] on a connection the caller made.
pub async fn rtmp_ask_on(s: &mut TcpStream, app: &str, name: &str, publish: bool) {
    handshake(s).await;
    let mut enc = ChunkEncoder::new();
    let mut out = command(
        &mut enc,
        0,
        &[
            Amf0Value::string("connect"),
            Amf0Value::Number(1.0),
            Amf0Value::object([("app", Amf0Value::string(app))]),
        ],
    );
    out.extend(command(
        &mut enc,
        0,
        &[
            Amf0Value::string("createStream"),
            Amf0Value::Number(2.0),
            Amf0Value::Null,
        ],
    ));
    out.extend(command(
        &mut enc,
        1,
        &[
            Amf0Value::string(if publish { "publish" } else { "play" }),
            Amf0Value::Number(3.0),
            Amf0Value::Null,
            Amf0Value::string(name),
        ],
    ));
    s.write_all(&out).await.unwrap();
}

/// The code of the first `onStatus` the server sends.
pub async fn rtmp_status(addr: SocketAddr, app: &str, name: &str, publish: bool) -> String {
    let mut s = rtmp_ask(addr, app, name, publish).await;
    let mut dec = ChunkDecoder::new(Default::default());
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while let Some((_, msg)) = dec.poll_message().unwrap() {
            if msg.type_id == 1 {
                let size = u32::from_be_bytes(msg.payload[..4].try_into().unwrap());
                dec.set_chunk_size(size).unwrap();
            }
            if msg.type_id != 20 {
                continue;
            }
            let values = rtmp::amf0::decode_all(&msg.payload, Amf0Limits::default()).unwrap();
            if values.first().and_then(Amf0Value::as_str) == Some("onStatus") {
                let info = values.get(3).expect("an info object");
                return info
                    .get("code")
                    .and_then(Amf0Value::as_str)
                    .unwrap()
                    .to_owned();
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(n > 0, "closed before any onStatus");
        dec.push(&buf[..n]);
    }
}

/// Writes `bytes` and waits for the server to close the connection.
pub async fn expect_dropped(what: &str, mut s: TcpStream, bytes: &[u8]) {
    // The server may close before reading everything; a reset is a drop too.
    let _ = s.write_all(bytes).await;
    let mut buf = vec![0u8; 8192];
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "{what}: the server kept the connection open"
    );
}

/// A connection to `addr` past the RTMP handshake.
pub async fn handshaken(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    handshake(&mut s).await;
    s
}

/// The simple (version 3, zero-filled) RTMP handshake, as ffmpeg does it.
pub async fn handshake(s: &mut TcpStream) {
    let mut c0c1 = vec![3u8];
    c0c1.extend([0u8; 1536]);
    s.write_all(&c0c1).await.unwrap();
    let mut s0s1s2 = vec![0u8; 1 + 2 * 1536];
    s.read_exact(&mut s0s1s2).await.unwrap();
    assert_eq!(s0s1s2[0], 3);
    s.write_all(&s0s1s2[1..1537]).await.unwrap();
}

/// One message in chunks, as a client would send it.
pub fn chunked(csid: u32, type_id: u8, payload: Vec<u8>) -> Vec<u8> {
    let mut out = BytesMut::new();
    ChunkEncoder::new().encode(
        csid,
        &Message {
            type_id,
            stream_id: 0,
            timestamp: 0,
            payload: payload.into(),
        },
        &mut out,
    );
    out.to_vec()
}

//! A player that stops reading: its queue fills, delta frames are dropped, the next
//! keyframe that does not fit evicts it, and the connection ends by the write time-out
//! instead of holding memory or a task forever.

mod common;

use bytes::Bytes;
use common::command;
use lectern_relay::flv::{Tag, TagKind};
use lectern_relay::rtmp::{
    self, Amf0Value, Bridge, ChunkEncoder, PushOutcome, Rejection, RtmpError, ShellConfig,
    StreamRequest, ViewerReceiver, ViewerSender,
};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;

/// Hands the test the relay's end of every viewer queue.
struct Feed(mpsc::Sender<ViewerSender>);

impl Bridge for Feed {
    async fn publish(&mut self, _: &StreamRequest) -> Result<mpsc::Sender<Tag>, Rejection> {
        Err(Rejection::Unauthorized)
    }

    async fn play(&mut self, _: &StreamRequest) -> Result<ViewerReceiver, Rejection> {
        let (tx, rx) = rtmp::viewer_channel(16);
        self.0.send(tx).await.map_err(|_| Rejection::BadName)?;
        Ok(rx)
    }
}

/// Connects with a small receive buffer, handshakes and asks to play; then never reads.
async fn lazy_player(addr: std::net::SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut s = socket.connect(addr).await.unwrap();
    let mut c0c1 = vec![3u8];
    c0c1.extend([0u8; 1536]);
    s.write_all(&c0c1).await.unwrap();
    let mut s0s1s2 = vec![0u8; 1 + 2 * 1536];
    s.read_exact(&mut s0s1s2).await.unwrap();
    s.write_all(&s0s1s2[1..1537]).await.unwrap();
    let mut enc = ChunkEncoder::new();
    let mut out = command(
        &mut enc,
        0,
        &[
            Amf0Value::string("connect"),
            Amf0Value::Number(1.0),
            Amf0Value::object([("app", Amf0Value::string("room1"))]),
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
            Amf0Value::string("play"),
            Amf0Value::Number(3.0),
            Amf0Value::Null,
            Amf0Value::string("teacher?token=t"),
        ],
    ));
    s.write_all(&out).await.unwrap();
    s
}

fn video(keyframe: bool, timestamp: u32) -> Tag {
    let mut data = vec![if keyframe { 0x17 } else { 0x27 }, 1, 0, 0, 0];
    data.resize(32 * 1024, 0x55);
    Tag {
        kind: TagKind::Video,
        timestamp,
        data: Bytes::from(data),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_that_stops_reading_is_skipped_then_evicted_then_dropped() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (feeds_tx, mut feeds) = mpsc::channel(1);
    let config = ShellConfig {
        write_timeout: Duration::from_secs(1),
        ..ShellConfig::default()
    };
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        rtmp::serve_connection(stream, config, Feed(feeds_tx)).await
    });
    let _player = lazy_player(addr).await;
    let mut viewer = tokio::time::timeout(Duration::from_secs(5), feeds.recv())
        .await
        .expect("the play reaches the bridge")
        .unwrap();

    // 25 fps with a keyframe every 10 frames, 32 KiB each, until the viewer is evicted.
    let started = Instant::now();
    let (mut queued, mut dropped) = (0, 0);
    let mut evicted_at = None;
    for n in 0..2000u32 {
        match viewer.push(video(n % 10 == 0, n * 40)) {
            PushOutcome::Queued => queued += 1,
            PushOutcome::Dropped => dropped += 1,
            PushOutcome::Disconnected => {
                evicted_at = Some(n);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let evicted_at = evicted_at.expect("a viewer that never reads is evicted");
    assert_eq!(evicted_at % 10, 0, "evicted on a keyframe that did not fit");
    assert!(dropped > 0, "delta frames were dropped first");
    assert!(queued >= 16, "{queued}");
    assert_eq!(viewer.push(video(true, 0)), PushOutcome::Disconnected);

    // The connection's task was stuck writing to a socket nobody reads: the write
    // time-out ends it.
    let result = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the connection ends")
        .unwrap();
    assert!(
        matches!(result, Err(RtmpError::Timeout(_))),
        "{result:?} after {:?}",
        started.elapsed()
    );
}

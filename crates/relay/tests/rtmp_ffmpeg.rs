//! The RTMP server and FLV muxer against real ffmpeg: publish (baseline 48 kHz mono,
//! 16 kHz, and with B-frames), play back over RTMP and over HTTP-FLV, and bad input on
//! one connection while ffmpeg publishes on another.
//!
//! The server is the crate's tokio shell (`rtmp::serve_connection`) with a test bridge
//! that records what is published and replays it to players; the relay's rooms and
//! tokens are not involved yet.

mod common;

use bytes::{Bytes, BytesMut};
use common::client::{chunked, expect_dropped, handshaken};
use common::have_ffmpeg;
use lectern_relay::flv::{
    AAC_SEQUENCE_HEADER, AVC_NALU, AVC_SEQUENCE_HEADER, AudioSpecificConfig, AvcConfig, FlvMuxer,
    Tag, TagKind, VideoHeader, parse_aac_body,
};
use lectern_relay::rtmp::{
    self, Amf0Value, Bridge, Rejection, RtmpError, ShellConfig, StreamRequest, ViewerReceiver,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

type Key = (String, String);

#[derive(Default)]
struct State {
    publishes: Vec<StreamRequest>,
    plays: Vec<StreamRequest>,
    recorded: HashMap<Key, Vec<Tag>>,
    /// Streams whose publisher has gone (their recording is complete).
    finished: Vec<Key>,
    /// How each connection ended: `None` for Ok, else the error's text.
    results: Vec<Option<String>>,
}

#[derive(Clone, Default)]
struct TestBridge(Arc<Mutex<State>>);

impl Bridge for TestBridge {
    fn publish(
        &mut self,
        request: &StreamRequest,
    ) -> impl Future<Output = Result<mpsc::Sender<Tag>, Rejection>> + Send {
        let state = self.0.clone();
        let request = request.clone();
        async move {
            if request.token.as_deref() != Some("abc") {
                return Err(Rejection::Unauthorized);
            }
            let key = (request.room.clone(), request.stream.clone());
            state.lock().unwrap().publishes.push(request);
            let (tx, mut rx) = mpsc::channel::<Tag>(256);
            tokio::spawn(async move {
                while let Some(tag) = rx.recv().await {
                    let mut s = state.lock().unwrap();
                    s.recorded.entry(key.clone()).or_default().push(tag);
                }
                state.lock().unwrap().finished.push(key);
            });
            Ok(tx)
        }
    }

    fn play(
        &mut self,
        request: &StreamRequest,
    ) -> impl Future<Output = Result<ViewerReceiver, Rejection>> + Send {
        let state = self.0.clone();
        let request = request.clone();
        async move {
            let key = (request.room.clone(), request.stream.clone());
            let tags = {
                let mut s = state.lock().unwrap();
                s.plays.push(request);
                s.recorded.get(&key).cloned().ok_or(Rejection::BadName)?
            };
            let (mut tx, rx) = rtmp::viewer_channel(tags.len() + 1);
            for tag in tags {
                assert_eq!(tx.push(tag), rtmp::PushOutcome::Queued);
            }
            // Dropping the sender ends the play once the recording is out.
            Ok(rx)
        }
    }
}

async fn start_server(bridge: TestBridge) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let bridge = bridge.clone();
            tokio::spawn(async move {
                let state = bridge.0.clone();
                let result = rtmp::serve_connection(stream, ShellConfig::default(), bridge).await;
                state
                    .lock()
                    .unwrap()
                    .results
                    .push(result.err().map(|e: RtmpError| e.to_string()));
            });
        }
    });
    addr
}

async fn run(bin: &'static str, args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(bin)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("ffmpeg runs")
    })
    .await
    .unwrap()
}

/// `ffmpeg -re` publishing 3 s of test pattern and a 440 Hz tone.
async fn publish(url: &str, audio_rate: u32, video_codec_args: &[&str]) -> Output {
    let mut args: Vec<String> = [
        "-hide_banner",
        "-loglevel",
        "error",
        "-re",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25",
        "-f",
        "lavfi",
        "-i",
        &format!("sine=frequency=440:sample_rate={audio_rate}"),
        "-c:v",
        "libx264",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(video_codec_args.iter().map(|s| s.to_string()));
    args.extend(
        [
            "-g",
            "25",
            "-c:a",
            "aac",
            "-ar",
            &audio_rate.to_string(),
            "-ac",
            "1",
            "-t",
            "3",
            "-f",
            "flv",
            url,
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    run("ffmpeg", args).await
}

const BASELINE: &[&str] = &["-profile:v", "baseline", "-bf", "0"];
const WITH_B_FRAMES: &[&str] = &["-profile:v", "main", "-bf", "2"];

async fn recording(bridge: &TestBridge, room: &str, stream: &str) -> Vec<Tag> {
    let key = (room.to_owned(), stream.to_owned());
    for _ in 0..100 {
        {
            let s = bridge.0.lock().unwrap();
            if s.finished.contains(&key) {
                return s.recorded.get(&key).cloned().unwrap_or_default();
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the publisher of {room}/{stream} never finished");
}

struct Summary {
    avc: AvcConfig,
    asc: AudioSpecificConfig,
    video_frames: usize,
    audio_frames: usize,
    last_video_ms: u32,
    last_audio_ms: u32,
    nonzero_cts: usize,
}

/// Checks what a publish delivered and sums it up.
fn check(tags: &[Tag]) -> Summary {
    let mut avc = None;
    let mut asc = None;
    let (mut video_frames, mut audio_frames, mut nonzero_cts) = (0, 0, 0);
    let (mut last_video_ms, mut last_audio_ms) = (0u32, 0u32);
    assert_eq!(
        tags.first().map(|t| t.kind),
        Some(TagKind::Script),
        "metadata first"
    );
    for tag in tags {
        match tag.kind {
            TagKind::Video => {
                let (h, body) = VideoHeader::parse(&tag.data).unwrap();
                assert!(
                    tag.timestamp >= last_video_ms,
                    "video timestamps go forward"
                );
                last_video_ms = tag.timestamp;
                if h.packet_type == AVC_SEQUENCE_HEADER {
                    avc = Some(AvcConfig::parse(body).unwrap());
                } else if h.packet_type == AVC_NALU {
                    assert!(avc.is_some(), "sequence header before frames");
                    video_frames += 1;
                    nonzero_cts += usize::from(h.composition_time != 0);
                    let nalus = lectern_relay::flv::avcc_nalus(body, 4).unwrap();
                    assert!(!nalus.is_empty());
                }
            }
            TagKind::Audio => {
                let (packet_type, body) = parse_aac_body(&tag.data).unwrap();
                assert!(
                    tag.timestamp >= last_audio_ms,
                    "audio timestamps go forward"
                );
                last_audio_ms = tag.timestamp;
                if packet_type == AAC_SEQUENCE_HEADER {
                    asc = Some(AudioSpecificConfig::parse(body).unwrap());
                } else {
                    assert!(asc.is_some(), "sequence header before frames");
                    audio_frames += 1;
                }
            }
            TagKind::Script => {}
        }
    }
    Summary {
        avc: avc.expect("an AVC sequence header"),
        asc: asc.expect("an AAC sequence header"),
        video_frames,
        audio_frames,
        last_video_ms,
        last_audio_ms,
        nonzero_cts,
    }
}

fn assert_ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_publishes_baseline_48k_mono_then_plays_back_over_rtmp_and_http_flv() {
    if !have_ffmpeg() {
        return;
    }
    let bridge = TestBridge::default();
    let addr = start_server(bridge.clone()).await;
    let url = format!("rtmp://{addr}/room1/teacher?token=abc");
    assert_ok("ffmpeg publish", &publish(&url, 48000, BASELINE).await);
    let tags = recording(&bridge, "room1", "teacher").await;
    {
        let s = bridge.0.lock().unwrap();
        assert_eq!(
            s.publishes,
            [StreamRequest {
                room: "room1".into(),
                stream: "teacher".into(),
                token: Some("abc".into())
            }]
        );
    }
    let sum = check(&tags);
    assert_eq!(sum.avc.profile, 66, "baseline");
    assert_eq!(sum.asc, AudioSpecificConfig::aac_lc(48000, 1));
    // 3 s at 25 fps; 3 s at 48 kHz in 1024-sample frames (≈ 141).
    assert!(
        (70..=80).contains(&sum.video_frames),
        "{}",
        sum.video_frames
    );
    assert!(
        (130..=150).contains(&sum.audio_frames),
        "{}",
        sum.audio_frames
    );
    assert!(
        (2800..=3100).contains(&sum.last_video_ms),
        "{}",
        sum.last_video_ms
    );
    assert!(
        (2800..=3100).contains(&sum.last_audio_ms),
        "{}",
        sum.last_audio_ms
    );
    assert_eq!(sum.nonzero_cts, 0, "no B-frames asked for");

    // Play over RTMP: ffprobe finds both codecs and decodes every frame.
    let play_url = format!("rtmp://{addr}/room1/teacher?token=abc");
    let probe = run(
        "ffprobe",
        [
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,nb_read_frames,sample_rate,channels,width,height",
            "-of",
            "compact",
            &play_url,
        ]
        .map(String::from)
        .to_vec(),
    )
    .await;
    assert_ok("ffprobe over RTMP", &probe);
    let text = String::from_utf8_lossy(&probe.stdout);
    assert_decoded(&text, sum.video_frames, sum.audio_frames);

    let null = run(
        "ffmpeg",
        ["-v", "error", "-i", &play_url, "-t", "2", "-f", "null", "-"]
            .map(String::from)
            .to_vec(),
    )
    .await;
    assert_ok("ffmpeg play to null", &null);
    assert!(
        null.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&null.stderr)
    );

    // The same tags through the FLV muxer over a minimal HTTP responder.
    let mut flv = BytesMut::from(&FlvMuxer::header(true, true)[..]);
    for tag in &tags {
        FlvMuxer::tag(tag, &mut flv).unwrap();
    }
    let http = serve_http_once(flv.freeze()).await;
    let probe = run(
        "ffprobe",
        [
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,nb_read_frames,sample_rate,channels,width,height",
            "-of",
            "compact",
            &format!("http://{http}/flv/room1/teacher.flv"),
        ]
        .map(String::from)
        .to_vec(),
    )
    .await;
    assert_ok("ffprobe over HTTP-FLV", &probe);
    assert_decoded(
        &String::from_utf8_lossy(&probe.stdout),
        sum.video_frames,
        sum.audio_frames,
    );
    let s = bridge.0.lock().unwrap();
    assert_eq!(s.plays.len(), 2);
    assert!(s.results.iter().all(Option::is_none), "{:?}", s.results);
}

/// ffprobe's compact output names h264 and aac, with all frames decoded.
fn assert_decoded(text: &str, video_frames: usize, audio_frames: usize) {
    let line = |codec: &str| {
        text.lines()
            .find(|l| l.contains(&format!("codec_name={codec}")))
            .unwrap_or_else(|| panic!("no {codec} in {text}"))
            .to_owned()
    };
    let frames = |l: &str| -> usize {
        l.split('|')
            .find_map(|kv| kv.strip_prefix("nb_read_frames="))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let video = line("h264");
    assert!(
        video.contains("width=320") && video.contains("height=240"),
        "{video}"
    );
    assert!(
        frames(&video) + 2 >= video_frames,
        "{video} of {video_frames}"
    );
    let audio = line("aac");
    assert!(
        audio.contains("sample_rate=48000") && audio.contains("channels=1"),
        "{audio}"
    );
    assert!(
        frames(&audio) + 2 >= audio_frames,
        "{audio} of {audio_frames}"
    );
}

/// Answers one HTTP GET with `body` as `video/x-flv`.
async fn serve_http_once(body: Bytes) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 1024];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0);
            req.extend_from_slice(&buf[..n]);
        }
        assert!(req.starts_with(b"GET /flv/room1/teacher.flv"));
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        s.write_all(&body).await.unwrap();
        s.shutdown().await.unwrap();
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_publishes_16k_audio() {
    if !have_ffmpeg() {
        return;
    }
    let bridge = TestBridge::default();
    let addr = start_server(bridge.clone()).await;
    // The token on the app this time: ffmpeg sends app `room1?token=abc`, name `student1`.
    let url = format!("rtmp://{addr}/room1?token=abc/student1");
    assert_ok("ffmpeg publish", &publish(&url, 16000, BASELINE).await);
    let sum = check(&recording(&bridge, "room1", "student1").await);
    assert_eq!(
        bridge.0.lock().unwrap().publishes[0].token.as_deref(),
        Some("abc")
    );
    assert_eq!(sum.asc, AudioSpecificConfig::aac_lc(16000, 1));
    // 3 s at 16 kHz in 1024-sample frames (≈ 47).
    assert!(
        (42..=52).contains(&sum.audio_frames),
        "{}",
        sum.audio_frames
    );
    assert!(
        (70..=80).contains(&sum.video_frames),
        "{}",
        sum.video_frames
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_publishes_b_frames_with_composition_times() {
    if !have_ffmpeg() {
        return;
    }
    let bridge = TestBridge::default();
    let addr = start_server(bridge.clone()).await;
    let url = format!("rtmp://{addr}/room1/student2?token=abc");
    assert_ok("ffmpeg publish", &publish(&url, 48000, WITH_B_FRAMES).await);
    let sum = check(&recording(&bridge, "room1", "student2").await);
    assert_eq!(sum.avc.profile, 77, "main");
    assert!(
        sum.nonzero_cts > 10,
        "{} frames with a composition time",
        sum.nonzero_cts
    );

    // Played back, a real decoder sees the B-frames and decodes every frame.
    let probe = run(
        "ffprobe",
        [
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,has_b_frames,nb_read_frames",
            "-of",
            "compact",
            &format!("rtmp://{addr}/room1/student2?token=abc"),
        ]
        .map(String::from)
        .to_vec(),
    )
    .await;
    assert_ok("ffprobe over RTMP", &probe);
    let text = String::from_utf8_lossy(&probe.stdout);
    eprintln!("{text}");
    let video = text
        .lines()
        .find(|l| l.contains("codec_name=h264"))
        .unwrap_or_else(|| panic!("no h264 in {text}"));
    assert!(!video.contains("has_b_frames=0"), "{video}");
    let frames: usize = video
        .split('|')
        .find_map(|kv| kv.strip_prefix("nb_read_frames="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        frames + 2 >= sum.video_frames,
        "{video} of {}",
        sum.video_frames
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_refused_with_a_status() {
    if !have_ffmpeg() {
        return;
    }
    let bridge = TestBridge::default();
    let addr = start_server(bridge.clone()).await;
    let url = format!("rtmp://{addr}/room1/teacher?token=wrong");
    let out = publish(&url, 48000, BASELINE).await;
    assert!(!out.status.success());
    assert!(bridge.0.lock().unwrap().recorded.is_empty());
}

// ---- bad input ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_peers_are_dropped_while_ffmpeg_keeps_publishing() {
    if !have_ffmpeg() {
        return;
    }
    let bridge = TestBridge::default();
    let addr = start_server(bridge.clone()).await;
    let url = format!("rtmp://{addr}/room1/teacher?token=abc");
    let ffmpeg = tokio::spawn(async move { publish(&url, 48000, BASELINE).await });
    tokio::time::sleep(Duration::from_millis(800)).await;

    // A garbage handshake (HTTP on the RTMP port).
    let s = TcpStream::connect(addr).await.unwrap();
    expect_dropped("garbage handshake", s, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    // A malformed chunk stream: a fmt 1 header on a chunk stream never opened.
    expect_dropped(
        "fmt 1 first",
        handshaken(addr).await,
        &[0x44, 0, 0, 0, 0, 0, 4, 9, 1, 2, 3, 4],
    )
    .await;
    // A message claiming 16 MiB − 1 bytes (more than the 8 MiB limit).
    expect_dropped(
        "too long",
        handshaken(addr).await,
        &[0x04, 0, 0, 0, 0xff, 0xff, 0xff, 9, 1, 0, 0, 0],
    )
    .await;
    // An AMF bomb: `connect` with objects nested 2000 deep.
    let mut bomb = rtmp::amf0::encode_all(&[Amf0Value::string("connect"), Amf0Value::Number(1.0)])
        .unwrap()
        .to_vec();
    for _ in 0..2000 {
        bomb.extend_from_slice(&[3, 0, 1, b'a']);
    }
    expect_dropped("amf bomb", handshaken(addr).await, &chunked(3, 20, bomb)).await;
    // A strict array claiming four billion elements.
    let mut lying = rtmp::amf0::encode_all(&[Amf0Value::string("connect"), Amf0Value::Number(1.0)])
        .unwrap()
        .to_vec();
    lying.extend_from_slice(&[0x0a, 0xff, 0xff, 0xff, 0xff, 5]);
    expect_dropped(
        "lying strict array",
        handshaken(addr).await,
        &chunked(3, 20, lying),
    )
    .await;
    // Set Chunk Size 0.
    expect_dropped(
        "chunk size 0",
        handshaken(addr).await,
        &chunked(2, 1, vec![0, 0, 0, 0]),
    )
    .await;

    let out = ffmpeg.await.unwrap();
    assert_ok("the concurrent ffmpeg publish", &out);
    let sum = check(&recording(&bridge, "room1", "teacher").await);
    assert!(
        (70..=80).contains(&sum.video_frames),
        "{}",
        sum.video_frames
    );

    // Every bad connection ended with its own error; ffmpeg's ended well.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let s = bridge.0.lock().unwrap();
    let errors: Vec<&String> = s.results.iter().flatten().collect();
    assert_eq!(errors.len(), 6, "{:?}", s.results);
    for expected in [
        "not RTMP",
        "continues a header it never sent",
        "exceeds",
        "nest deeper",
        "AMF0 input ends",
        "chunk size 0 refused",
    ] {
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "no error like {expected:?} in {errors:?}"
        );
    }
    assert_eq!(s.results.iter().filter(|r| r.is_none()).count(), 1);
}

// ---- seed corpora ---------------------------------------------------------------------

/// Passes reads and writes through and keeps a copy of what was read.
struct Tap<S> {
    inner: S,
    read: Arc<Mutex<Vec<u8>>>,
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Tap<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        let new = buf.filled()[before..].to_vec();
        self.read.lock().unwrap().extend_from_slice(&new);
        polled
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Tap<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Regenerates the fuzz seeds from real ffmpeg traffic:
/// `LECTERN_RTMP_CAPTURE=crates/relay/fuzz/corpus cargo nextest run -p lectern-relay
/// --test rtmp_ffmpeg --run-ignored only capture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes fuzz seeds; run by hand with LECTERN_RTMP_CAPTURE set"]
async fn capture_ffmpeg_seeds() {
    let Some(dir) = std::env::var_os("LECTERN_RTMP_CAPTURE").map(std::path::PathBuf::from) else {
        eprintln!("SKIPPED: set LECTERN_RTMP_CAPTURE to the fuzz corpus directory");
        return;
    };
    if !have_ffmpeg() {
        return;
    }
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let d = dir.join(target);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(name), bytes).unwrap();
    };
    for (name, args) in [("baseline", BASELINE), ("bframes", WITH_B_FRAMES)] {
        let bridge = TestBridge::default();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let read = Arc::new(Mutex::new(Vec::new()));
        let tap_read = read.clone();
        let server_bridge = bridge.clone();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let tap = Tap {
                inner: stream,
                read: tap_read,
            };
            rtmp::serve_connection(tap, ShellConfig::default(), server_bridge).await
        });
        let url = format!("rtmp://{addr}/room1/teacher?token=abc");
        assert_ok("ffmpeg publish", &publish(&url, 48000, args).await);
        server.await.unwrap().unwrap();
        let read = read.lock().unwrap().clone();
        // After the handshake: the chunk stream (connect … the first frames).
        let chunks = &read[1 + 2 * 1536..];
        let cut = chunks.len().min(12 * 1024);
        write(
            "rtmp_session",
            &format!("seed-ffmpeg-{name}"),
            &chunks[..cut],
        );
        write("rtmp_chunk", &format!("seed-ffmpeg-{name}"), &chunks[..cut]);
        // FLV of the first tags.
        let tags = recording(&bridge, "room1", "teacher").await;
        let mut flv = BytesMut::from(&FlvMuxer::header(true, true)[..]);
        for tag in tags.iter().take(12) {
            FlvMuxer::tag(tag, &mut flv).unwrap();
        }
        write("flv_tag", &format!("seed-ffmpeg-{name}"), &flv);
        let script = tags.iter().find(|t| t.kind == TagKind::Script).unwrap();
        write(
            "amf0",
            &format!("seed-ffmpeg-onmetadata-{name}"),
            &script.data,
        );
    }
    // The commands ffmpeg sends, as AMF0 bodies.
    let connect = rtmp::amf0::encode_all(&[
        Amf0Value::string("connect"),
        Amf0Value::Number(1.0),
        Amf0Value::object([
            ("app", Amf0Value::string("room1")),
            ("type", Amf0Value::string("nonprivate")),
            (
                "flashVer",
                Amf0Value::string("FMLE/3.0 (compatible; Lavf59.27.100)"),
            ),
            ("tcUrl", Amf0Value::string("rtmp://127.0.0.1:1935/room1")),
        ]),
    ])
    .unwrap();
    write("amf0", "seed-connect", &connect);
    let publish = rtmp::amf0::encode_all(&[
        Amf0Value::string("publish"),
        Amf0Value::Number(5.0),
        Amf0Value::Null,
        Amf0Value::string("teacher?token=abc"),
        Amf0Value::string("live"),
    ])
    .unwrap();
    write("amf0", "seed-publish", &publish);
    let mixed = rtmp::amf0::encode_all(&[
        Amf0Value::StrictArray(vec![Amf0Value::Number(1.0), Amf0Value::Undefined]),
        Amf0Value::Date {
            millis: 1.7e12,
            timezone: 0,
        },
        Amf0Value::String("x".repeat(300)),
    ])
    .unwrap();
    write("amf0", "seed-strict-array-date", &mixed);
}

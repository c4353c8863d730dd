//! The RTMP / HTTP-FLV bridge in a real relay: ffmpeg publishes as the teacher with a
//! token, students play over RTMP and HTTP-FLV; refusals come back as the right
//! `onStatus` or HTTP status while the class goes on; a viewer that stops reading does
//! not slow the others.

mod common;

use common::client::{rtmp_ask_on, rtmp_status};
use common::have_ffmpeg;
use lectern_proto::{PeerId, Role, RoomId};
use lectern_relay::flv::{FlvDemuxer, TagKind};
use lectern_relay::{Relay, RelayConfig};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const ROOM: &str = "math-7b";
const TEACHER: &str = "teacher-1";

async fn start() -> Relay {
    Relay::start(RelayConfig {
        http: "127.0.0.1:0".parse().unwrap(),
        media: "127.0.0.1:0".parse().unwrap(),
        rtmp: Some("127.0.0.1:0".parse().unwrap()),
        secret: "rtmp-relay-test-secret-rtmp-relay".into(),
        ..RelayConfig::default()
    })
    .await
    .expect("relay starts")
}

fn token(relay: &Relay, room: &str, peer: &str, role: Role) -> String {
    relay.signer().issue(
        RoomId::new(room).unwrap(),
        PeerId::new(peer).unwrap(),
        peer,
        role,
        Duration::from_secs(600),
    )
}

fn rtmp_url(relay: &Relay, room: &str, stream: &str, token: &str) -> String {
    format!(
        "rtmp://{}/{room}/{stream}?token={token}",
        relay.rtmp_addr().unwrap()
    )
}

fn flv_url(relay: &Relay, room: &str, stream: &str, token: &str) -> String {
    format!(
        "http://{}/flv/{room}/{stream}.flv?token={token}",
        relay.http_addr()
    )
}

/// `ffmpeg -re` pushing `secs` of test pattern (H.264 baseline, a keyframe every 2 s)
/// and a 48 kHz mono AAC tone, like a mini-program `live-pusher`.
fn spawn_publish(url: &str, secs: u32, fps: u32, video: &[&str]) -> Child {
    let mut args: Vec<String> = [
        "-hide_banner",
        "-loglevel",
        "error",
        "-re",
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc2=size=320x240:rate={fps}"),
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-c:v",
        "libx264",
        "-profile:v",
        "baseline",
        "-bf",
        "0",
        "-g",
        "50",
        "-preset",
        "veryfast",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(video.iter().map(|s| s.to_string()));
    args.extend(
        [
            "-c:a",
            "aac",
            "-ar",
            "48000",
            "-ac",
            "1",
            "-t",
            &secs.to_string(),
            "-f",
            "flv",
            url,
        ]
        .map(String::from),
    );
    Command::new("ffmpeg")
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ffmpeg runs")
}

async fn finish(child: Child) -> std::process::Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap()
}

/// Waits until `n` streams have a publisher.
async fn wait_live(relay: &Relay, n: i64) {
    let started = Instant::now();
    while relay.metrics().flv_publishers.load(Relaxed) < n {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the publish never went live"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What an ffmpeg viewer saw.
#[derive(Debug)]
struct Decoded {
    h264: bool,
    aac_48k_mono: bool,
    video_frames: usize,
    /// From starting ffmpeg to its first decoded video frame.
    first_frame: Option<Duration>,
    first_is_key: bool,
    ok: bool,
    log: String,
}

/// Plays `url` with ffmpeg for `secs` of media, decoding audio and video, and times the
/// first decoded picture.
async fn decode(url: String, secs: u32) -> Decoded {
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut child = Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-nostats",
                "-i",
                &url,
                "-t",
                &secs.to_string(),
                "-filter:v",
                "showinfo",
                "-f",
                "null",
                "-",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ffmpeg runs");
        let mut d = Decoded {
            h264: false,
            aac_48k_mono: false,
            video_frames: 0,
            first_frame: None,
            first_is_key: false,
            ok: false,
            log: String::new(),
        };
        // ffmpeg ends lines of its log with \n; progress lines would use \r (-nostats).
        for line in BufReader::new(child.stderr.take().unwrap()).lines() {
            let Ok(line) = line else { break };
            if line.contains("Video: h264") {
                d.h264 = true;
            }
            if line.contains("Audio: aac") && line.contains("48000 Hz, mono") {
                d.aac_48k_mono = true;
            }
            if line.contains("Parsed_showinfo") && line.contains(" n:") {
                if d.video_frames == 0 {
                    d.first_frame = Some(started.elapsed());
                    d.first_is_key = line.contains("iskey:1");
                }
                d.video_frames += 1;
            } else if d.log.len() < 8000 {
                d.log.push_str(&line);
                d.log.push('\n');
            }
        }
        d.ok = child.wait().unwrap().success();
        d
    })
    .await
    .unwrap()
}

/// Opens HTTP-FLV and reads up to the first video frame: the time it took, whether the
/// configuration came before it, and whether it is a keyframe.
async fn first_video_over_http(url: &str) -> (Duration, bool, bool) {
    let started = Instant::now();
    let mut resp = reqwest::get(url).await.expect("the relay answers");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "video/x-flv");
    assert_eq!(resp.headers()["cache-control"], "no-cache");
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    let mut demux = FlvDemuxer::new(1 << 24);
    let (mut avc, mut aac) = (false, false);
    loop {
        let chunk = tokio::time::timeout(Duration::from_secs(5), resp.chunk())
            .await
            .expect("tags in time")
            .unwrap()
            .expect("the stream goes on");
        demux.push(&chunk);
        while let Some(tag) = demux.poll_tag().unwrap() {
            match tag.kind {
                _ if tag.is_config() && tag.kind == TagKind::Video => avc = true,
                _ if tag.is_config() && tag.kind == TagKind::Audio => aac = true,
                TagKind::Video => return (started.elapsed(), avc && aac, tag.is_keyframe()),
                _ => {}
            }
        }
    }
}

async fn http_status(url: &str) -> u16 {
    reqwest::get(url).await.unwrap().status().as_u16()
}

// ---- the scenarios -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teacher_publishes_and_students_join_mid_stream_over_rtmp_and_http_flv() {
    if !have_ffmpeg() {
        return;
    }
    let relay = start().await;
    let teacher = token(&relay, ROOM, TEACHER, Role::Teacher);
    let student = token(&relay, ROOM, "student-1", Role::Student);
    let publisher = spawn_publish(&rtmp_url(&relay, ROOM, TEACHER, &teacher), 6, 25, &[]);
    wait_live(&relay, 1).await;
    // Join in the middle of a 2 s GOP: the cache must start viewers on its keyframe.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let flv = flv_url(&relay, ROOM, TEACHER, &student);
    let (over_rtmp, over_http, first) = tokio::join!(
        decode(rtmp_url(&relay, ROOM, TEACHER, &student), 3),
        decode(flv.clone(), 3),
        first_video_over_http(&flv),
    );
    let published = finish(publisher).await;
    assert!(
        published.status.success(),
        "{}",
        String::from_utf8_lossy(&published.stderr)
    );
    eprintln!(
        "first frame: RTMP {:?}, HTTP-FLV {:?} (ffmpeg start to decoded picture); \
         first keyframe over HTTP-FLV after {:?}; frames {} / {}",
        over_rtmp.first_frame,
        over_http.first_frame,
        first.0,
        over_rtmp.video_frames,
        over_http.video_frames
    );
    for (what, d) in [("RTMP", &over_rtmp), ("HTTP-FLV", &over_http)] {
        assert!(d.ok, "{what}: {}", d.log);
        assert!(d.h264 && d.aac_48k_mono, "{what}: {}", d.log);
        // 3 s at 25 fps.
        assert!(d.video_frames >= 70, "{what}: {} frames", d.video_frames);
        assert!(d.first_is_key, "{what} started on a delta frame");
        let first_frame = d.first_frame.unwrap();
        assert!(
            first_frame < Duration::from_millis(1500),
            "{what}: first picture after {first_frame:?}"
        );
    }
    let (elapsed, configured, key) = first;
    assert!(configured, "sequence headers come before the first frame");
    assert!(key, "the first video frame is a keyframe");
    assert!(
        elapsed < Duration::from_millis(500),
        "the cached keyframe took {elapsed:?}"
    );

    let m = relay.metrics();
    assert!(m.flv_bytes_in.load(Relaxed) > 50_000);
    assert!(m.flv_bytes_out.load(Relaxed) > 2 * 50_000);
    assert!(m.rtmp_accepted.load(Relaxed) >= 2);
    let text = reqwest::get(format!("http://{}/metrics", relay.http_addr()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("lectern_relay_flv_bytes_total{direction=\"in\"}"));
    assert!(text.contains("lectern_relay_rtmp_connections"));
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_get_their_status_while_the_class_goes_on() {
    if !have_ffmpeg() {
        return;
    }
    let relay = start().await;
    let addr = relay.rtmp_addr().unwrap();
    let teacher = token(&relay, ROOM, TEACHER, Role::Teacher);
    let student = token(&relay, ROOM, "student-1", Role::Student);
    let stranger = token(&relay, "other-room", TEACHER, Role::Teacher);
    let publisher = spawn_publish(&rtmp_url(&relay, ROOM, TEACHER, &teacher), 6, 25, &[]);
    wait_live(&relay, 1).await;
    let viewer = tokio::spawn(decode(flv_url(&relay, ROOM, TEACHER, &student), 4));

    let publish = |name: String| async move { rtmp_status(addr, ROOM, &name, true).await };
    assert_eq!(
        publish(TEACHER.to_string()).await,
        "NetStream.Publish.Unauthorized",
        "no token"
    );
    assert_eq!(
        publish(format!("{TEACHER}?token={stranger}")).await,
        "NetStream.Publish.Unauthorized",
        "a token of another room"
    );
    assert_eq!(
        publish(format!("student-1?token={student}")).await,
        "NetStream.Publish.Unauthorized",
        "a student without a stage place"
    );
    assert_eq!(
        publish(format!("student-1?token={teacher}")).await,
        "NetStream.Publish.Unauthorized",
        "someone else's stream name"
    );
    assert_eq!(
        publish(format!("{TEACHER}?token={teacher}")).await,
        "NetStream.Publish.BadName",
        "a second publisher of a live stream"
    );
    let play = |name: String| async move { rtmp_status(addr, ROOM, &name, false).await };
    assert_eq!(
        play(TEACHER.to_string()).await,
        "NetStream.Play.Unauthorized"
    );
    assert_eq!(
        play(format!("{TEACHER}?token={stranger}")).await,
        "NetStream.Play.Unauthorized"
    );
    assert_eq!(
        play(format!("nobody?token={student}")).await,
        "NetStream.Play.StreamNotFound"
    );
    // The token on the app works as well as on the stream name.
    assert_eq!(
        rtmp_status(addr, &format!("{ROOM}?token={student}"), TEACHER, false).await,
        "NetStream.Play.Reset"
    );

    assert_eq!(http_status(&flv_url(&relay, ROOM, TEACHER, "")).await, 401);
    assert_eq!(
        http_status(&flv_url(&relay, ROOM, TEACHER, &stranger)).await,
        403
    );
    assert_eq!(
        http_status(&flv_url(&relay, ROOM, "nobody", &student)).await,
        404
    );
    assert_eq!(
        http_status(&format!(
            "http://{}/flv/{ROOM}/{TEACHER}.mp4?token={student}",
            relay.http_addr()
        ))
        .await,
        404
    );

    // A page of another origin may play: the preflight is answered.
    let preflight = reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            flv_url(&relay, ROOM, TEACHER, &student),
        )
        .header("origin", "https://servicewechat.com")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");

    // A real pusher without a token is refused too.
    let refused = finish(spawn_publish(
        &format!("rtmp://{addr}/{ROOM}/{TEACHER}"),
        2,
        25,
        &[],
    ))
    .await;
    assert!(!refused.status.success());

    let seen = viewer.await.unwrap();
    let published = finish(publisher).await;
    assert!(
        published.status.success(),
        "{}",
        String::from_utf8_lossy(&published.stderr)
    );
    assert!(seen.ok && seen.h264 && seen.aac_48k_mono, "{}", seen.log);
    assert!(seen.video_frames >= 95, "{} frames", seen.video_frames);
    let m = relay.metrics();
    assert!(m.stream_refusals("unauthorized") >= 7);
    assert!(m.stream_refusals("busy") >= 1);
    assert!(m.stream_refusals("not_found") >= 2);
    relay.shutdown().await;
}

/// Connects with a tiny receive buffer, asks to play, and never reads again.
async fn lazy_rtmp_player(addr: SocketAddr, name: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut s = socket.connect(addr).await.unwrap();
    rtmp_ask_on(&mut s, ROOM, name, false).await;
    s
}

async fn lazy_flv_reader(addr: SocketAddr, path: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut s = socket.connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: relay\r\n\r\n").as_bytes())
        .await
        .unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_that_stop_reading_do_not_slow_the_others() {
    if !have_ffmpeg() {
        return;
    }
    let relay = start().await;
    let teacher = token(&relay, ROOM, TEACHER, Role::Teacher);
    let student = token(&relay, ROOM, "student-1", Role::Student);
    // 60 fps at a constant 12 Mbit/s (filler NAL units): the stalled sockets fill in
    // about a second and their tag queues within seconds more.
    let publisher = spawn_publish(
        &rtmp_url(&relay, ROOM, TEACHER, &teacher),
        14,
        60,
        &[
            "-b:v",
            "12M",
            "-minrate",
            "12M",
            "-maxrate",
            "12M",
            "-bufsize",
            "2M",
            "-x264-params",
            "nal-hrd=cbr",
        ],
    );
    wait_live(&relay, 1).await;
    let _stalled_rtmp = lazy_rtmp_player(
        relay.rtmp_addr().unwrap(),
        &format!("{TEACHER}?token={student}"),
    )
    .await;
    let _stalled_http = lazy_flv_reader(
        relay.http_addr(),
        &format!("/flv/{ROOM}/{TEACHER}.flv?token={student}"),
    )
    .await;
    let started = Instant::now();
    while relay.metrics().flv_viewers.load(Relaxed) < 2 {
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let healthy = decode(flv_url(&relay, ROOM, TEACHER, &student), 6).await;
    // The publisher goes on for a few seconds more: the stalled viewers must have been
    // cut off by then (evicted for a keyframe that did not fit), not merely ended with
    // the stream.
    let started = Instant::now();
    while relay.metrics().flv_viewers.load(Relaxed) > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{} viewers still attached while the stream is live",
            relay.metrics().flv_viewers.load(Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        relay.metrics().flv_publishers.load(Relaxed),
        1,
        "still live"
    );
    let published = finish(publisher).await;
    let viewers_left = relay.metrics().flv_viewers.load(Relaxed);
    let dropped = relay.metrics().flv_tags_dropped.load(Relaxed);
    let bytes_in = relay.metrics().flv_bytes_in.load(Relaxed);
    eprintln!(
        "healthy viewer: {} frames, first after {:?}; tags dropped for stalled viewers: {dropped}; \
         viewers attached at the end: {viewers_left}; {bytes_in} bytes published",
        healthy.video_frames, healthy.first_frame
    );
    assert!(
        published.status.success(),
        "{}",
        String::from_utf8_lossy(&published.stderr)
    );
    assert!(healthy.ok && healthy.h264, "{}", healthy.log);
    assert!(
        healthy.video_frames >= 330,
        "{} frames in 6 s at 60 fps",
        healthy.video_frames
    );
    assert!(dropped > 0, "the stalled viewers lost tags");
    relay.shutdown().await;
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

async fn signaling(relay: &Relay, token: &str) -> Ws {
    let url = format!("ws://{}/ws/{ROOM}?token={token}", relay.http_addr());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    wait_for(&mut ws, "welcome").await;
    ws
}

async fn wait_for(ws: &mut Ws, kind: &str) -> serde_json::Value {
    use futures_util::StreamExt;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} in time"))
            .expect("socket open")
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(text) = frame {
            let msg: serde_json::Value = serde_json::from_str(&text).unwrap();
            if msg["type"] == kind {
                return msg;
            }
        }
    }
}

async fn say(ws: &mut Ws, msg: serde_json::Value) {
    use futures_util::SinkExt;
    ws.send(tokio_tungstenite::tungstenite::Message::text(
        msg.to_string(),
    ))
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_student_on_stage_publishes_by_rtmp_until_the_teacher_takes_them_off() {
    if !have_ffmpeg() {
        return;
    }
    let relay = start().await;
    let teacher = token(&relay, ROOM, TEACHER, Role::Teacher);
    let student = token(&relay, ROOM, "student-1", Role::Student);
    let mut teacher_ws = signaling(&relay, &teacher).await;
    let mut student_ws = signaling(&relay, &student).await;
    say(
        &mut teacher_ws,
        serde_json::json!({"v": 1, "type": "invite", "peer": "student-1"}),
    )
    .await;
    wait_for(&mut student_ws, "invited").await;
    say(
        &mut student_ws,
        serde_json::json!({"v": 1, "type": "answer_invite", "accept": true}),
    )
    .await;
    let stage = wait_for(&mut teacher_ws, "stage").await;
    assert_eq!(stage["peers"], serde_json::json!(["student-1"]));

    let started = Instant::now();
    let pusher = spawn_publish(&rtmp_url(&relay, ROOM, "student-1", &student), 10, 25, &[]);
    wait_live(&relay, 1).await;
    // The teacher's console watches the student (over HTTP-FLV here).
    let (_, configured, key) =
        first_video_over_http(&flv_url(&relay, ROOM, "student-1", &teacher)).await;
    assert!(configured && key);

    let mut watching = reqwest::get(flv_url(&relay, ROOM, "student-1", &teacher))
        .await
        .unwrap();
    assert_eq!(watching.status(), 200);
    say(
        &mut teacher_ws,
        serde_json::json!({"v": 1, "type": "remove_from_stage", "peer": "student-1"}),
    )
    .await;
    let removed = Instant::now();
    while relay.metrics().flv_publishers.load(Relaxed) > 0 {
        assert!(
            removed.elapsed() < Duration::from_secs(3),
            "the RTMP publish outlived the stage place"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ended = finish(pusher).await;
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "the pusher was cut off, not left to finish ({:?}, {})",
        started.elapsed(),
        ended.status
    );
    // The viewer's body ends cleanly once no republish came within the grace.
    let ended_after = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match watching.chunk().await {
                Ok(Some(_)) => {}
                Ok(None) => return removed.elapsed(),
                Err(e) => panic!("the body was cut off, not ended: {e}"),
            }
        }
    })
    .await
    .expect("the body ends");
    assert!(
        ended_after >= Duration::from_secs(4) && ended_after < Duration::from_secs(8),
        "{ended_after:?}"
    );
    assert_eq!(relay.metrics().flv_viewers.load(Relaxed), 0);
    // Off stage, a new publish is refused.
    assert_eq!(
        rtmp_status(
            relay.rtmp_addr().unwrap(),
            ROOM,
            &format!("student-1?token={student}"),
            true
        )
        .await,
        "NetStream.Publish.Unauthorized"
    );
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_are_closed_at_once_and_off_means_no_listener() {
    let relay = Relay::start(RelayConfig {
        http: "127.0.0.1:0".parse().unwrap(),
        media: "127.0.0.1:0".parse().unwrap(),
        rtmp: Some("127.0.0.1:0".parse().unwrap()),
        max_rtmp_connections: 1,
        ..RelayConfig::default()
    })
    .await
    .unwrap();
    let addr = relay.rtmp_addr().unwrap();
    let mut first = TcpStream::connect(addr).await.unwrap();
    let mut c0c1 = vec![3u8];
    c0c1.extend([0u8; 1536]);
    first.write_all(&c0c1).await.unwrap();
    let mut s0 = [0u8; 1];
    first.read_exact(&mut s0).await.unwrap();
    assert_eq!(s0[0], 3, "the first connection is served");
    let mut second = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(2), second.read(&mut buf))
        .await
        .expect("closed at once");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert_eq!(relay.metrics().stream_refusals("capacity"), 1);
    assert_eq!(relay.metrics().rtmp_connections.load(Relaxed), 1);
    drop(first);
    // The slot comes back.
    let started = Instant::now();
    while relay.metrics().rtmp_connections.load(Relaxed) > 0 {
        assert!(started.elapsed() < Duration::from_secs(2));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut third = TcpStream::connect(addr).await.unwrap();
    third.write_all(&c0c1).await.unwrap();
    third.read_exact(&mut s0).await.unwrap();
    relay.shutdown().await;

    let off = Relay::start(RelayConfig {
        http: "127.0.0.1:0".parse().unwrap(),
        media: "127.0.0.1:0".parse().unwrap(),
        rtmp: None,
        ..RelayConfig::default()
    })
    .await
    .unwrap();
    assert_eq!(off.rtmp_addr(), None);
    off.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pusher_that_reconnects_within_the_grace_resumes_its_viewers() {
    if !have_ffmpeg() {
        return;
    }
    let relay = start().await;
    let teacher = token(&relay, ROOM, TEACHER, Role::Teacher);
    let student = token(&relay, ROOM, "student-1", Role::Student);
    let url = rtmp_url(&relay, ROOM, TEACHER, &teacher);
    let first = spawn_publish(&url, 3, 25, &[]);
    wait_live(&relay, 1).await;
    let mut resp = reqwest::get(flv_url(&relay, ROOM, TEACHER, &student))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let reader = tokio::spawn(async move {
        let mut demux = FlvDemuxer::new(1 << 24);
        let mut tags = Vec::new();
        while let Some(chunk) = tokio::time::timeout(Duration::from_secs(15), resp.chunk())
            .await
            .expect("the body goes on or ends")
            .expect("ended cleanly, not cut off")
        {
            demux.push(&chunk);
            while let Some(tag) = demux.poll_tag().unwrap() {
                tags.push(tag);
            }
        }
        tags
    });
    assert!(finish(first).await.status.success());
    // The pusher comes back (a network change) and starts its clock at 0 again.
    let second = spawn_publish(&url, 3, 25, &[]);
    assert!(finish(second).await.status.success());
    let tags = reader.await.unwrap();

    let video: Vec<_> = tags.iter().filter(|t| t.kind == TagKind::Video).collect();
    let configs: Vec<usize> = video
        .iter()
        .enumerate()
        .filter(|(_, t)| t.is_config())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(configs.len(), 2, "one AVC header per publish");
    assert!(video[configs[1] + 1].is_keyframe(), "resumed on a keyframe");
    let frames = video.iter().filter(|t| !t.is_config()).count();
    assert!(frames >= 120, "{frames} frames over two publishes");
    let times: Vec<u32> = video
        .iter()
        .filter(|t| !t.is_config())
        .map(|t| t.timestamp)
        .collect();
    assert!(
        times.windows(2).all(|w| w[1] >= w[0]),
        "the viewer's clock never goes back"
    );
    relay.shutdown().await;
}

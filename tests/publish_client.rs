//! The console's publisher (synthetic camera and microphone → openh264/Opus → WHIP)
//! against the bundled relay, watched by a real `rtc` viewer whose video is decoded
//! with openh264 and whose pictures are read back through the camera's barcode.

use lectern_client::{WatchConfig, Watcher};
use lectern_e2e::bot::Role as BotRole;
use lectern_e2e::class::{Teacher, decoding_viewer};
use lectern_e2e::relay::{Bots, SECRET, start_loopback, token, wait_until};
use lectern_e2e::shim::WhipShim;
use lectern_proto::{ErrorCode, PublishState, Role, VideoMode};
use lectern_relay::{Relay, RelayConfig};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

const SMALL: VideoMode = VideoMode {
    width: 640,
    height: 360,
    fps: 30,
};

fn whip(relay: &Relay, room: &str) -> String {
    format!("http://{}/whip/{room}", relay.http_addr())
}

fn teacher(relay: &Relay, room: &str, mode: VideoMode) -> Teacher {
    Teacher::start(
        whip(relay, room),
        token(relay, room, "teacher", Role::Teacher),
        mode,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_teachers_camera_and_microphone_reach_a_viewer_decodable() {
    let relay = start_loopback().await;
    let teacher = teacher(&relay, "math", VideoMode::HD_30);
    teacher
        .wait_for(PublishState::Live, Duration::from_secs(15))
        .await;

    let mut bots = Bots::new();
    let (viewer, probe) = decoding_viewer(&mut bots, &relay, "math", "s1", teacher.clock);
    wait_until("60 decoded frames", Duration::from_secs(20), || {
        probe.count() >= 60
    })
    .await;
    let frames = probe.snapshot();
    // The picture is the camera's: frame counters rise, capture times rise with them.
    assert!(
        frames
            .windows(2)
            .all(|w| w[1].seq > w[0].seq && w[1].captured > w[0].captured),
        "frames out of order: {:?}",
        &frames[..5]
    );
    let span = frames.last().unwrap().seq - frames[0].seq;
    assert!(
        span < frames.len() as u64 + 10,
        "{} frames decoded over a span of {span} camera frames",
        frames.len()
    );
    assert!(viewer.first_video_was_keyframe.load(Relaxed));
    assert!(
        viewer.audio_packets.load(Relaxed) > 50,
        "{} Opus packets",
        viewer.audio_packets.load(Relaxed)
    );
    assert_eq!(*probe.undecodable.lock().unwrap(), 0);
    // Every decoded picture was captured before it was decoded, and not long before.
    assert!(frames.iter().all(|f| f.decoded > f.captured));
    let stats = teacher.live.publisher().stats().borrow().clone();
    assert!(stats.fps > 20.0, "publish stats: {stats:?}");
    assert!(
        stats.video_kbps > 100.0 && stats.audio_kbps > 10.0,
        "{stats:?}"
    );
    assert!(stats.estimate_kbps > 0.0, "{stats:?}");
    eprintln!("publish stats after 60 frames: {stats:?}");
    assert_eq!((stats.width, stats.height), (1280, 720));

    teacher.live.stop().await;
    bots.stop().await;
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewers_keyframe_request_reaches_the_encoder() {
    let relay = start_loopback().await;
    let teacher = teacher(&relay, "art", VideoMode::HD_30);
    teacher
        .wait_for(PublishState::Live, Duration::from_secs(15))
        .await;
    let mut bots = Bots::new();
    let viewer = bots.spawn(
        &relay,
        "art",
        token(&relay, "art", "s1", Role::Observer),
        BotRole::Subscribe {
            peer: None,
            pli_every: Some(Duration::from_millis(700)),
            light: false,
        },
    );
    wait_until("video", Duration::from_secs(20), || {
        viewer.video_packets.load(Relaxed) > 0
    })
    .await;
    let keyframes = &teacher.live.video.keyframes;
    let before = keyframes.load(Relaxed);
    // No periodic keyframe is due for 10 s: these come from the viewer's PLIs.
    wait_until("three more keyframes", Duration::from_secs(6), || {
        keyframes.load(Relaxed) >= before + 3
    })
    .await;
    assert!(viewer.keyframes.load(Relaxed) >= 3);
    teacher.live.stop().await;
    bots.stop().await;
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_publisher_comes_back_by_itself_after_the_relay_restarts() {
    let relay = start_loopback().await;
    let (http, media) = (relay.http_addr(), relay.media_addr());
    let teacher = teacher(&relay, "bio", SMALL);
    teacher
        .wait_for(PublishState::Live, Duration::from_secs(15))
        .await;

    relay.shutdown().await;
    // The publisher notices the relay is gone.
    teacher
        .wait_for(PublishState::Reconnecting, Duration::from_secs(10))
        .await;
    // The relay is down a moment, as when its process restarts.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let relay = Relay::start(RelayConfig {
        http,
        media,
        secret: SECRET.into(),
        rtmp: None,
        ..RelayConfig::default()
    })
    .await
    .expect("relay restarts on the same ports");
    let back = teacher
        .wait_for(PublishState::Live, Duration::from_secs(20))
        .await;
    assert_eq!(back.reconnects, 1);

    let mut bots = Bots::new();
    let (_, probe) = decoding_viewer(&mut bots, &relay, "bio", "s1", teacher.clock);
    wait_until("video after the restart", Duration::from_secs(20), || {
        probe.count() >= 30
    })
    .await;
    teacher.live.stop().await;
    bots.stop().await;
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_the_publish_grant_fails_at_once_and_says_why() {
    let relay = start_loopback().await;
    let student = Teacher::start(
        whip(&relay, "geo"),
        token(&relay, "geo", "s9", Role::Student),
        SMALL,
    );
    let failed = student
        .wait_for(PublishState::Failed, Duration::from_secs(10))
        .await;
    let error = failed.error.expect("an error");
    assert!(
        matches!(error.code, ErrorCode::NotOnStage | ErrorCode::Forbidden),
        "{error:?}"
    );
    // It does not hammer the relay: the state stays failed.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        student.live.publisher().status().borrow().state,
        PublishState::Failed
    );
    student.live.stop().await;
    relay.shutdown().await;
}

/// A network that blocks UDP (the relay's UDP candidate leads nowhere; its ICE-TCP
/// candidate works): the publisher goes live over ICE-TCP by itself, a viewer decodes
/// its pictures, and the console's stage subscriber receives over ICE-TCP too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_udp_is_blocked_the_console_publishes_and_watches_over_ice_tcp() {
    let relay = start_loopback().await;
    // Datagrams sent here are never read or answered.
    let blackhole = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let shim = WhipShim::start_with(
        relay.http_addr(),
        relay.media_addr(),
        blackhole.local_addr().unwrap(),
        true,
    )
    .await
    .unwrap();
    let teacher = Teacher::start(
        format!("{}/whip/math", shim.base()),
        token(&relay, "math", "teacher", Role::Teacher),
        SMALL,
    );
    teacher
        .wait_for(PublishState::Live, Duration::from_secs(20))
        .await;
    let mut bots = Bots::new();
    let (_viewer, probe) = decoding_viewer(&mut bots, &relay, "math", "s1", teacher.clock);
    wait_until("30 decoded frames", Duration::from_secs(20), || {
        probe.count() >= 30
    })
    .await;
    let watcher = Watcher::start(
        WatchConfig {
            whep_url: format!("{}/whep/math", shim.base()),
            token: token(&relay, "math", "teacher-2", Role::Teacher),
        },
        None,
    );
    wait_until(
        "the stage subscriber decodes over ICE-TCP",
        Duration::from_secs(20),
        || watcher.counters().pictures.load(Relaxed) >= 30,
    )
    .await;
    let stats = teacher.live.publisher().stats().borrow().clone();
    eprintln!("over ICE-TCP: {stats:?}");
    assert!(stats.video_kbps > 50.0, "{stats:?}");
    watcher.stop().await;
    teacher.live.stop().await;
    bots.stop().await;
    relay.shutdown().await;
}

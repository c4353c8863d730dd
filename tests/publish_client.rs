//! The console's publisher (synthetic camera and microphone → openh264/Opus → WHIP)
//! against the bundled relay, watched by a real `rtc` viewer whose video is decoded
//! with openh264 and whose pictures are read back through the camera's barcode.

use lectern_e2e::bot::{BotStats, Role as BotRole};
use lectern_e2e::class::{publish, synthetic_capture};
use lectern_e2e::decode::{self, Probe};
use lectern_e2e::relay::{Bots, SECRET, start_loopback, token, wait_until};
use lectern_media::MediaClock;
use lectern_proto::{ErrorCode, PublishState, Role, VideoMode};
use lectern_relay::{Relay, RelayConfig};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

fn watcher(pli_every: Option<Duration>) -> BotRole {
    BotRole::Subscribe {
        peer: None,
        pli_every,
        light: false,
    }
}

fn whip(relay: &Relay, room: &str) -> String {
    format!("http://{}/whip/{room}", relay.http_addr())
}

/// A decoding viewer of `room`.
fn decoding_viewer(
    bots: &mut Bots,
    relay: &Relay,
    room: &str,
    name: &str,
    clock: MediaClock,
) -> (Arc<BotStats>, Arc<Probe>) {
    let stats = bots.spawn(
        relay,
        room,
        token(relay, room, name, Role::Observer),
        watcher(None),
    );
    let (tap, probe) = decode::start(clock);
    *stats.video_tap.lock().unwrap() = Some(tap);
    *stats.keyframe_probe.lock().unwrap() = Some(probe.clone());
    (stats, probe)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_teachers_camera_and_microphone_reach_a_viewer_decodable() {
    let relay = start_loopback().await;
    let clock = MediaClock::start();
    let capture = synthetic_capture(VideoMode::HD_30, clock);
    let live = publish(
        &capture,
        whip(&relay, "math"),
        token(&relay, "math", "teacher", Role::Teacher),
        clock,
    );
    let mut status = live.publisher().status();
    tokio::time::timeout(
        Duration::from_secs(15),
        status.wait_for(|s| s.state == PublishState::Live),
    )
    .await
    .expect("live within 15 s")
    .expect("status channel open");

    let mut bots = Bots::new();
    let (viewer, probe) = decoding_viewer(&mut bots, &relay, "math", "s1", clock);
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
    let stats = live.publisher().stats().borrow().clone();
    assert!(stats.fps > 20.0, "publish stats: {stats:?}");
    assert!(
        stats.video_kbps > 100.0 && stats.audio_kbps > 10.0,
        "{stats:?}"
    );
    assert!(stats.estimate_kbps > 0.0, "{stats:?}");
    eprintln!("publish stats after 60 frames: {stats:?}");
    assert_eq!((stats.width, stats.height), (1280, 720));

    live.stop().await;
    bots.stop().await;
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewers_keyframe_request_reaches_the_encoder() {
    let relay = start_loopback().await;
    let clock = MediaClock::start();
    let capture = synthetic_capture(VideoMode::HD_30, clock);
    let live = publish(
        &capture,
        whip(&relay, "art"),
        token(&relay, "art", "teacher", Role::Teacher),
        clock,
    );
    let mut status = live.publisher().status();
    tokio::time::timeout(
        Duration::from_secs(15),
        status.wait_for(|s| s.state == PublishState::Live),
    )
    .await
    .expect("live within 15 s")
    .expect("status channel open");
    let mut bots = Bots::new();
    let viewer = bots.spawn(
        &relay,
        "art",
        token(&relay, "art", "s1", Role::Observer),
        watcher(Some(Duration::from_millis(700))),
    );
    wait_until("video", Duration::from_secs(20), || {
        viewer.video_packets.load(Relaxed) > 0
    })
    .await;
    let before = live.video.keyframes.load(Relaxed);
    // No periodic keyframe is due for 10 s: these come from the viewer's PLIs.
    wait_until("three more keyframes", Duration::from_secs(6), || {
        live.video.keyframes.load(Relaxed) >= before + 3
    })
    .await;
    assert!(viewer.keyframes.load(Relaxed) >= 3);
    live.stop().await;
    bots.stop().await;
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_publisher_comes_back_by_itself_after_the_relay_restarts() {
    let relay = start_loopback().await;
    let (http, media) = (relay.http_addr(), relay.media_addr());
    let clock = MediaClock::start();
    let capture = synthetic_capture(
        VideoMode {
            width: 640,
            height: 360,
            fps: 30,
        },
        clock,
    );
    let live = publish(
        &capture,
        whip(&relay, "bio"),
        token(&relay, "bio", "teacher", Role::Teacher),
        clock,
    );
    let mut status = live.publisher().status();
    tokio::time::timeout(
        Duration::from_secs(15),
        status.wait_for(|s| s.state == PublishState::Live),
    )
    .await
    .expect("live")
    .expect("open");

    relay.shutdown().await;
    tokio::time::timeout(
        Duration::from_secs(10),
        status.wait_for(|s| s.state == PublishState::Reconnecting),
    )
    .await
    .expect("the publisher notices the relay is gone")
    .expect("open");
    // The relay is down a moment, as when its process restarts.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let relay = Relay::start(RelayConfig {
        http,
        media,
        secret: SECRET.into(),
        ..RelayConfig::default()
    })
    .await
    .expect("relay restarts on the same ports");
    let back = tokio::time::timeout(
        Duration::from_secs(20),
        status.wait_for(|s| s.state == PublishState::Live),
    )
    .await
    .expect("live again within 20 s")
    .expect("open")
    .clone();
    assert_eq!(back.reconnects, 1);

    let mut bots = Bots::new();
    let (_, probe) = decoding_viewer(&mut bots, &relay, "bio", "s1", clock);
    wait_until("video after the restart", Duration::from_secs(20), || {
        probe.count() >= 30
    })
    .await;
    live.stop().await;
    bots.stop().await;
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_the_publish_grant_fails_at_once_and_says_why() {
    let relay = start_loopback().await;
    let clock = MediaClock::start();
    let capture = synthetic_capture(
        VideoMode {
            width: 640,
            height: 360,
            fps: 30,
        },
        clock,
    );
    let live = publish(
        &capture,
        whip(&relay, "geo"),
        token(&relay, "geo", "s9", Role::Student),
        clock,
    );
    let mut status = live.publisher().status();
    let failed = tokio::time::timeout(
        Duration::from_secs(10),
        status.wait_for(|s| s.state == PublishState::Failed),
    )
    .await
    .expect("fails within 10 s")
    .expect("open")
    .clone();
    let error = failed.error.expect("an error");
    assert!(
        matches!(error.code, ErrorCode::NotOnStage | ErrorCode::Forbidden),
        "{error:?}"
    );
    // It does not hammer the relay: the state stays failed.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(status.borrow().state, PublishState::Failed);
    live.stop().await;
    relay.shutdown().await;
}

//! The 1v6 stage across protocols: the teacher invites students who raised their hand;
//! one goes on stage from a browser-like WebRTC peer (WHIP, an `rtc` bot), two from
//! mini-programs (RTMP, ffmpeg as `live-pusher`), three more just take their places.
//! The console's stage subscriber (`lectern_client::Watcher`, what the stage grid runs)
//! decodes all three pictures and mixes all three voices to a speaker; the room hears
//! each with its transport, and a seventh invitation is refused with a clear message
//! while the six stay on stage.

use lectern_client::{WatchConfig, Watcher};
use lectern_e2e::class::Teacher;
use lectern_e2e::relay::{start_with_rtmp, token, wait_until};
use lectern_e2e::signal::{connect, next_of, put_on_stage, say};
use lectern_media::synthetic::read_barcode;
use lectern_media::{AudioSink, CaptureError, Playout, VoiceMeter};
use lectern_proto::{DeviceInfo, DeviceKind, Role, SeatState, VideoMode};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// A speaker that counts the 10 ms chunks it played with sound in them.
struct MeasuringSpeaker {
    info: DeviceInfo,
    loud: Arc<AtomicU64>,
}

impl MeasuringSpeaker {
    fn new() -> (Self, Arc<AtomicU64>) {
        let loud = Arc::new(AtomicU64::new(0));
        let info = DeviceInfo {
            id: "measuring".into(),
            name: "measuring speaker".into(),
            kind: DeviceKind::Speaker,
            synthetic: true,
            is_default: true,
        };
        (
            Self {
                info,
                loud: loud.clone(),
            },
            loud,
        )
    }
}

impl AudioSink for MeasuringSpeaker {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn play(&mut self, samples: &[f32]) -> Result<(), CaptureError> {
        let rms = (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt();
        if rms > 0.01 {
            self.loud.fetch_add(1, Relaxed);
        }
        Ok(())
    }
}

/// The camera counter in the watcher's newest picture.
fn barcode(w: &Watcher) -> u64 {
    let p = w.pictures().borrow().clone().expect("a picture");
    read_barcode(p.y(), p.width, p.height)
        .expect("the barcode survives the trip")
        .0
}
const ROOM: &str = "biology";

fn pusher(url: &str) -> Child {
    Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=15"])
        .args(["-f", "lavfi", "-i", "sine=frequency=330:sample_rate=48000"])
        .args([
            "-t",
            "60",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
        ])
        .args(["-profile:v", "baseline", "-g", "15", "-pix_fmt", "yuv420p"])
        .args(["-c:a", "aac", "-ar", "48000", "-ac", "1", "-f", "flv", url])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("ffmpeg runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_on_stage_by_whip_and_rtmp_reach_the_teacher_and_a_seventh_is_refused() {
    if Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!("SKIPPED: ffmpeg not installed");
        return;
    }
    let relay = start_with_rtmp().await;
    let mut teacher = connect(&relay, ROOM, &token(&relay, ROOM, "teacher", Role::Teacher)).await;
    let names: Vec<String> = (1..=7).map(|i| format!("s{i}")).collect();
    let mut students = Vec::new();
    for n in &names {
        students.push(connect(&relay, ROOM, &token(&relay, ROOM, n, Role::Student)).await);
    }
    // Six invitations, six acceptances.
    for (i, ws) in students.iter_mut().take(6).enumerate() {
        put_on_stage(&mut teacher, ws, &names[i]).await;
    }
    // The seventh is refused with a clear message, to the teacher.
    say(
        &mut teacher,
        json!({"v": 1, "type": "invite", "peer": "s7"}),
    )
    .await;
    let refused = next_of(&mut teacher, "error").await;
    assert_eq!(refused["code"], "stage_full", "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains('6'),
        "the message says how many: {refused}"
    );

    // s1 publishes over WebRTC from synthetic devices (a real encode, barcodes in the
    // picture), s2 and s3 over RTMP.
    let s1 = Teacher::start(
        format!("http://{}/whip/{ROOM}", relay.http_addr()),
        token(&relay, ROOM, "s1", Role::Student),
        VideoMode {
            width: 640,
            height: 360,
            fps: 30,
        },
    );
    let rtmp = relay.rtmp_addr().unwrap();
    let mut pushers: Vec<Child> = ["s2", "s3"]
        .iter()
        .map(|s| {
            pusher(&format!(
                "rtmp://{rtmp}/{ROOM}/{s}?token={}",
                token(&relay, ROOM, s, Role::Student)
            ))
        })
        .collect();
    let mut transports = std::collections::HashMap::new();
    while transports.len() < 3 {
        let added = next_of(&mut teacher, "publisher_added").await;
        let p = &added["publisher"];
        transports.insert(
            p["peer"].as_str().unwrap().to_owned(),
            p["transport"].as_str().unwrap().to_owned(),
        );
    }
    assert_eq!(transports["s1"], "whip");
    assert_eq!(
        (transports["s2"].as_str(), transports["s3"].as_str()),
        ("rtmp", "rtmp")
    );

    // The console watches each of them, as its stage grid does: the same subscriber,
    // decoders and speaker mix, into a speaker that measures what it plays.
    let (speaker, played) = MeasuringSpeaker::new();
    let playout = Playout::start(Box::new(speaker), None).unwrap();
    let seats: Vec<(Watcher, VoiceMeter)> = ["s1", "s2", "s3"]
        .iter()
        .map(|s| {
            let input = playout.input();
            let meter = input.meter();
            let watcher = Watcher::start(
                WatchConfig {
                    whep_url: format!("http://{}/whep/{ROOM}?peer={s}", relay.http_addr()),
                    token: token(&relay, ROOM, "teacher", Role::Teacher),
                },
                Some(input),
            );
            (watcher, meter)
        })
        .collect();
    wait_until(
        "the console sees and hears all three",
        Duration::from_secs(25),
        || {
            seats.iter().all(|(w, m)| {
                w.status().borrow().state == SeatState::Live
                    && w.counters().pictures.load(Relaxed) > 20
                    && m.level() > 0.005
            })
        },
    )
    .await;
    for (s, (w, m)) in ["s1", "s2", "s3"].iter().zip(&seats) {
        let c = w.counters();
        eprintln!(
            "{s}: {} pictures, {} audio packets ({} concealed), {} dropped, {} PLIs, level {:.3}",
            c.pictures.load(Relaxed),
            c.audio_packets.load(Relaxed),
            c.audio_concealed.load(Relaxed),
            c.video_dropped.load(Relaxed),
            c.keyframe_requests.load(Relaxed),
            m.level()
        );
    }
    // The picture is the one sent: s1's camera counter reads back and moves on; the
    // mini-programs' pictures have their size.
    let first = barcode(&seats[0].0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = barcode(&seats[0].0);
    assert!(later > first, "s1's pictures move: {first} then {later}");
    for (w, _) in &seats[1..] {
        let p = w.pictures().borrow().clone().expect("a picture");
        assert_eq!((p.width, p.height), (320, 240));
    }
    // The three voices reach the speaker, mixed.
    assert!(
        played.load(Relaxed) > 0,
        "the speaker played sound from the stage"
    );
    for (w, _) in seats {
        w.stop().await;
    }
    drop(playout);
    drop(s1);
    for p in &mut pushers {
        let _ = p.kill();
        let _ = p.wait();
    }
    relay.shutdown().await;
}

//! What six students on stage cost the teacher's laptop: the console's side of the
//! stage, as the app runs it, with six students publishing 360p30 + Opus from synthetic
//! devices through the relay on loopback.
//!
//! The console's part runs on a runtime of its own (threads named `console`): six
//! `Watcher`s (WHEP, depacketizing, Opus decoding, with their `stage decoder` threads),
//! the speaker mix (`playout`, into a sink that discards) and a JPEG tile of every
//! decoded picture, as `src-tauri/src/stage.rs` makes them (the webview's acks, which
//! can only lower the JPEG count, are left out). CPU is read per thread over the
//! window; the students' encoders and the relay run on other threads and are not
//! counted.
//!
//! `cargo bench -p lectern-e2e --bench stage -- [students] [seconds]` prints one JSON
//! line; `cargo xtask bench stage` writes the row.

use lectern_client::{WatchConfig, Watcher};
use lectern_e2e::class::Teacher;
use lectern_e2e::relay::{start_loopback, token, wait_until};
use lectern_e2e::relay_thread::threads_cpu;
use lectern_e2e::signal::{connect, put_on_stage};
use lectern_media::{AudioSink, CaptureError, Playout, PreviewEncoder};
use lectern_proto::{DeviceInfo, DeviceKind, Role, VideoMode};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

const ROOM: &str = "stage";
const MODE: VideoMode = VideoMode {
    width: 640,
    height: 360,
    fps: 30,
};

/// A speaker that plays nothing.
struct Discard(DeviceInfo);

impl AudioSink for Discard {
    fn info(&self) -> &DeviceInfo {
        &self.0
    }

    fn play(&mut self, _: &[f32]) -> Result<(), CaptureError> {
        Ok(())
    }
}

fn console_cpu() -> f64 {
    threads_cpu()
        .into_iter()
        .filter(|(name, _)| {
            name.starts_with("console") || name.starts_with("stage decoder") || name == "playout"
        })
        .map(|(_, s)| s)
        .sum()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let students: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(6);
    let seconds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let console = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("console")
        .enable_all()
        .build()
        .expect("console runtime");
    rt.block_on(async {
        let relay = start_loopback().await;
        let mut teacher = connect(
            &relay,
            ROOM,
            &token(&relay, ROOM, "teacher", Role::Teacher),
        )
        .await;
        let mut on_stage = Vec::new();
        for i in 0..students {
            let peer = format!("s{i}");
            let mut ws = connect(&relay, ROOM, &token(&relay, ROOM, &peer, Role::Student)).await;
            put_on_stage(&mut teacher, &mut ws, &peer).await;
            let student = Teacher::start(
                format!("http://{}/whip/{ROOM}", relay.http_addr()),
                token(&relay, ROOM, &peer, Role::Student),
                MODE,
            );
            on_stage.push((peer, ws, student));
        }
        let info = DeviceInfo {
            id: "discard".into(),
            name: "discard".into(),
            kind: DeviceKind::Speaker,
            synthetic: true,
            is_default: true,
        };
        let playout = Playout::start(Box::new(Discard(info)), None).expect("playout");
        let _guard = console.enter();
        let watchers: Vec<Watcher> = on_stage
            .iter()
            .map(|(peer, ..)| {
                let watcher = Watcher::start(
                    WatchConfig {
                        whep_url: format!("http://{}/whep/{ROOM}?peer={peer}", relay.http_addr()),
                        token: token(&relay, ROOM, "teacher", Role::Teacher),
                    },
                    Some(playout.input()),
                );
                let mut pictures = watcher.pictures();
                console.spawn(async move {
                    let mut tile = Some(PreviewEncoder::new(480, 70));
                    while pictures.changed().await.is_ok() {
                        let Some(p) = pictures.borrow_and_update().clone() else {
                            continue;
                        };
                        let mut enc = tile.take().expect("returned");
                        let Ok(enc) = tokio::task::spawn_blocking(move || {
                            std::hint::black_box(enc.encode(&p));
                            enc
                        })
                        .await
                        else {
                            return;
                        };
                        tile = Some(enc);
                    }
                });
                watcher
            })
            .collect();
        wait_until("every student decoded", Duration::from_secs(30), || {
            watchers
                .iter()
                .all(|w| w.counters().pictures.load(Relaxed) > 30)
        })
        .await;
        let pictures = || -> u64 {
            watchers
                .iter()
                .map(|w| w.counters().pictures.load(Relaxed))
                .sum()
        };
        let (t0, cpu0, p0) = (Instant::now(), console_cpu(), pictures());
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let (span, cpu, n) = (
            t0.elapsed().as_secs_f64(),
            console_cpu() - cpu0,
            pictures() - p0,
        );
        println!(
            "{{\"students\":{students},\"seconds\":{span:.1},\"console_cpu_percent\":{:.1},\"pictures_per_second\":{:.1},\"per_student_fps\":{:.1}}}",
            cpu / span * 100.0,
            n as f64 / span,
            n as f64 / span / students as f64
        );
        for w in watchers {
            w.stop().await;
        }
        drop(on_stage);
        relay.shutdown().await;
    });
}

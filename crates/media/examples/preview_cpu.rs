//! Measures what the live preview costs in CPU at 720p30: the synthetic camera captured
//! through a session, with and without the preview encoder reading it. Prints one JSON
//! line. Linux only (reads /proc/self/stat). Used by `cargo xtask bench`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lectern_media::synthetic::Faults;
use lectern_media::{CaptureSession, Devices, MediaClock, PreviewEncoder};
use lectern_proto::{DeviceSelection, VideoMode};

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name: utime and stime are the 12th and 13th.
    let rest = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Returns (share of one core, frames previewed, bytes previewed).
fn measure(seconds: f64, preview: bool) -> (f64, u64, u64) {
    let devices = Devices::synthetic_only(Faults::default());
    let selection = DeviceSelection::default();
    let session = CaptureSession::open(&devices, &selection, VideoMode::HD_30, MediaClock::start());
    let camera = session.camera.as_ref().expect("synthetic camera");
    let (frames, bytes, stop) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let worker = preview.then(|| {
        let mut rx = camera.subscribe();
        let (frames, bytes, stop) = (frames.clone(), bytes.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut enc = PreviewEncoder::new(640, 70);
            while !stop.load(Ordering::Relaxed) {
                if let Ok(f) = rx.blocking_recv() {
                    bytes.fetch_add(enc.encode(&f).len() as u64, Ordering::Relaxed);
                    frames.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    });
    std::thread::sleep(Duration::from_millis(500));
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    let f0 = frames.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs_f64(seconds));
    let share = (cpu_seconds() - cpu0) / t0.elapsed().as_secs_f64();
    let n = frames.load(Ordering::Relaxed) - f0;
    stop.store(true, Ordering::Relaxed);
    drop(session);
    if let Some(w) = worker {
        let _ = w.join();
    }
    (share, n, bytes.load(Ordering::Relaxed))
}

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    let (capture_only, _, _) = measure(seconds, false);
    let (with_preview, frames, bytes) = measure(seconds, true);
    let total_frames = frames.max(1);
    println!(
        "{{\"capture_cpu\":{capture_only:.4},\"capture_and_preview_cpu\":{with_preview:.4},\"preview_fps\":{:.2},\"preview_kbps\":{:.1},\"mean_jpeg_bytes\":{}}}",
        frames as f64 / seconds,
        bytes as f64 * 8.0 / 1000.0 / (seconds + 0.5),
        bytes / total_frames
    );
}

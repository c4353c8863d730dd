//! Glass-to-glass latency and publish CPU of the console's real pipeline.
//!
//! The synthetic camera paints its capture time into each picture (a barcode that
//! survives encoding). The console's publisher (openh264 + Opus, WHIP over loopback)
//! sends to the relay; a viewer bot receives, depacketizes and decodes with openh264 and
//! reads the barcode back. All in one process, on one media clock, so
//! `decoded − captured` is the picture's whole trip. Stages per frame:
//! - encode: the encoder's own time for the frame (sampled);
//! - network + relay: from capture to the last packet's arrival at the viewer, less
//!   encode (so it includes the queue to the sender, pacing, SRTP, the relay, loopback);
//! - decode: from arrival to the decoded picture.
//!
//! CPU: the process's threads over the same window, split into the synthetic camera's
//! capture threads (a real camera costs the driver instead), the encode threads, and
//! everything else (tokio: publisher, relay, viewer bot, decoder).
//!
//! `cargo bench -p lectern-e2e --bench publish -- [720|360] [seconds]` prints one JSON
//! line; `cargo xtask bench` runs 720 and 360 and writes the table.

use lectern_e2e::class::{Teacher, decoding_viewer};
use lectern_e2e::decode::percentile;
use lectern_e2e::relay::{Bots, start_loopback, token, wait_until};
use lectern_e2e::relay_thread::threads_cpu;
use lectern_proto::{PublishState, Role, VideoMode};
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

fn group(cpu: &HashMap<String, f64>) -> (f64, f64, f64) {
    let (mut capture, mut encode, mut rest) = (0.0, 0.0, 0.0);
    for (name, s) in cpu {
        if name.starts_with("capture") {
            capture += s;
        } else if name.starts_with("encode") {
            encode += s;
        } else {
            rest += s;
        }
    }
    (capture, encode, rest)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let height: u32 = args.first().and_then(|a| a.parse().ok()).unwrap_or(720);
    let seconds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let mode = VideoMode {
        width: height * 16 / 9,
        height,
        fps: 30,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let relay = start_loopback().await;
        let teacher = Teacher::start(
            format!("http://{}/whip/bench", relay.http_addr()),
            token(&relay, "bench", "teacher", Role::Teacher),
            mode,
        );
        teacher
            .wait_for(PublishState::Live, Duration::from_secs(15))
            .await;
        let mut bots = Bots::new();
        let (_, probe) = decoding_viewer(&mut bots, &relay, "bench", "viewer", teacher.clock);
        wait_until("first decoded frames", Duration::from_secs(20), || {
            probe.count() > 30
        })
        .await;
        // Warm-up over: measure.
        let skip = probe.count();
        let cpu_before = threads_cpu();
        let started = std::time::Instant::now();
        let mut encode_samples = Vec::new();
        while started.elapsed() < Duration::from_secs(seconds) {
            tokio::time::sleep(Duration::from_millis(97)).await;
            encode_samples.push(Duration::from_micros(u64::from(
                teacher.live.video.encode_us.load(Relaxed),
            )));
        }
        let wall = started.elapsed().as_secs_f64();
        let cpu_after = threads_cpu();
        let frames: Vec<_> = probe.snapshot().into_iter().skip(skip).collect();
        let stats = teacher.live.publisher().stats().borrow().clone();
        teacher.live.stop().await;
        bots.stop().await;
        relay.shutdown().await;

        let delta: HashMap<String, f64> = cpu_after
            .iter()
            .map(|(k, v)| (k.clone(), v - cpu_before.get(k).copied().unwrap_or(0.0)))
            .collect();
        let (capture_s, encode_s, rest_s) = group(&delta);
        let mut total: Vec<Duration> = frames.iter().map(|f| f.latency()).collect();
        let mut net: Vec<Duration> = frames
            .iter()
            .map(|f| f.arrived.saturating_sub(f.captured))
            .collect();
        let mut dec: Vec<Duration> = frames
            .iter()
            .map(|f| f.decoded.saturating_sub(f.arrived))
            .collect();
        let encode_p50 = percentile(&mut encode_samples, 50.0);
        let net_p50 = percentile(&mut net, 50.0).saturating_sub(encode_p50);
        let seqs: Vec<u64> = frames.iter().map(|f| f.seq).collect();
        let span = seqs.last().zip(seqs.first()).map_or(0, |(l, f)| l - f + 1);
        println!(
            "{{\"height\":{height},\"seconds\":{wall:.1},\"frames\":{},\"camera_frames\":{span},\
             \"latency_p50_ms\":{:.1},\"latency_p95_ms\":{:.1},\"latency_p99_ms\":{:.1},\
             \"encode_p50_ms\":{:.1},\"network_relay_p50_ms\":{:.1},\"decode_p50_ms\":{:.1},\
             \"cpu_capture\":{:.3},\"cpu_encode\":{:.3},\"cpu_rest\":{:.3},\
             \"video_kbps\":{:.0},\"fps\":{:.1},\"width\":{},\"sent_height\":{}}}",
            frames.len(),
            ms(percentile(&mut total, 50.0)),
            ms(percentile(&mut total, 95.0)),
            ms(percentile(&mut total, 99.0)),
            ms(encode_p50),
            ms(net_p50),
            ms(percentile(&mut dec, 50.0)),
            capture_s / wall,
            encode_s / wall,
            rest_s / wall,
            stats.video_kbps,
            stats.fps,
            stats.width,
            stats.height,
        );
    });
}

//! Latency and freezes of the console's publisher on a bad uplink (see
//! `support/impaired_class.rs`): 10 % and 30 % random loss at 50 ms RTT, and an 800 ms
//! delay spike. One JSON line per scenario.
//!
//! `cargo bench -p lectern-e2e --bench impaired -- [loss10,loss30,spike] [seconds]`

use lectern_e2e::decode::percentile;
use lectern_e2e::impair::{Impairment, Spike};
use lectern_e2e::impaired_class::run;
use std::time::Duration;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn path(loss: f64) -> Impairment {
    Impairment {
        loss,
        delay: Duration::from_millis(25),
        ..Impairment::default()
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let which = args
        .first()
        .cloned()
        .unwrap_or_else(|| "loss10,loss30,spike".into());
    let seconds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for scenario in which.split(',') {
        let warmup = Duration::from_secs(3);
        let measure = Duration::from_secs(seconds);
        let (up, down) = match scenario {
            "loss10" => (path(0.10), path(0.10)),
            "loss30" => (path(0.30), path(0.30)),
            "spike" => {
                // The spike starts 5 s into the measured window (the proxy's clock starts
                // before ICE, ≈ 1 s earlier, and the warm-up).
                let mut up = path(0.0);
                up.spikes.push(Spike {
                    start: warmup + Duration::from_secs(6),
                    length: Duration::from_millis(800),
                    extra: Duration::from_millis(800),
                });
                (up, path(0.0))
            }
            other => panic!("unknown scenario {other}"),
        };
        let out = rt.block_on(run(up, down, 7, warmup, measure));
        let mut lat = out.latencies();
        let freeze = out.freeze();
        let window = out.to - out.from;
        // After the worst frame, how long until latency stays under 400 ms.
        let worst = out
            .frames
            .iter()
            .enumerate()
            .max_by_key(|(_, f)| f.latency())
            .map(|(i, _)| i);
        let recovery = worst.and_then(|i| {
            let peak = out.frames[i].decoded;
            let last_bad = out.frames[i..]
                .iter()
                .rev()
                .find(|f| f.latency() > Duration::from_millis(400))
                .map(|f| f.decoded);
            last_bad.map(|t| t.saturating_sub(peak))
        });
        println!(
            "{{\"scenario\":\"{scenario}\",\"seconds\":{:.1},\"frames\":{},\"camera_frames\":{},\
             \"freeze_ms\":{:.0},\"freeze_percent\":{:.2},\"latency_p50_ms\":{:.0},\"latency_p95_ms\":{:.0},\
             \"latency_max_ms\":{:.0},\"recovery_under_400ms_after_peak_ms\":{},\
             \"up_lost\":{},\"up_forwarded\":{},\"video_kbps\":{:.0},\"estimate_kbps\":{:.0},\
             \"sent_height\":{},\"plis\":{},\"connect_ms\":{:.0},\"fec_kbps\":{:.0},\
             \"uplink_missing\":{},\"uplink_repaired\":{},\"uplink_given_up\":{}}}",
            window.as_secs_f64(),
            out.frames.len(),
            out.camera_frames(),
            ms(freeze),
            ms(freeze) / ms(window) * 100.0,
            ms(percentile(&mut lat, 50.0)),
            ms(percentile(&mut lat, 95.0)),
            ms(percentile(&mut lat, 100.0)),
            recovery.map_or("null".to_owned(), |d| format!("{:.0}", ms(d))),
            out.up_lost,
            out.up_forwarded,
            out.stats.video_kbps,
            out.stats.estimate_kbps,
            out.stats.height,
            out.stats.plis,
            ms(out.connect),
            out.stats.fec_kbps,
            out.uplink_missing,
            out.uplink_repaired,
            out.uplink_given_up,
        );
    }
}

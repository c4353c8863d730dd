//! Rows for the console's publish path: glass-to-glass latency and CPU on loopback, and
//! the same pipeline on an impaired uplink.

use anyhow::Result;

use crate::sh::cmd;

use crate::bench::field;

/// Glass-to-glass latency with its stages, and publish CPU, at 720p30 and 360p30.
pub(crate) fn publish_rows() -> Result<Vec<String>> {
    let mut rows = Vec::new();
    for height in [720, 360] {
        let out = cmd("cargo")
            .args([
                "bench",
                "-q",
                "-p",
                "lectern-e2e",
                "--bench",
                "publish",
                "--",
            ])
            .arg(height.to_string())
            .arg("10")
            .output()?;
        let line = out.lines().find(|l| l.starts_with('{')).unwrap_or_default();
        let f = |k: &str| field(line, k);
        let reproduce = format!("`cargo bench -p lectern-e2e --bench publish -- {height} 10`");
        if height == 720 {
            rows.push(format!(
                "| glass-to-glass latency at 720p30 over loopback (synthetic camera's barcode → openh264 → WHIP → relay → viewer → openh264 decode; {:.0} of {:.0} frames) p50 / p95 / p99 | **{:.1} / {:.1} / {:.1} ms**; stages p50: encode {:.1}, queue + send + relay {:.1}, decode {:.1} ms | p50 ≤ 100 ms, p95 ≤ 150 ms | {reproduce} |",
                f("frames"), f("camera_frames"),
                f("latency_p50_ms"), f("latency_p95_ms"), f("latency_p99_ms"),
                f("encode_p50_ms"), f("network_relay_p50_ms"), f("decode_p50_ms"),
            ));
        }
        rows.push(format!(
            "| publish CPU at {height}p30 ({:.0} kbit/s of synthetic video + Opus), share of one core | encode threads **{:.1} %**; publisher, relay and viewer {:.1} %; synthetic capture {:.1} % | encode + publish ≤ 30 % at 720p30 | {reproduce} |",
            f("video_kbps"),
            f("cpu_encode") * 100.0,
            f("cpu_rest") * 100.0,
            f("cpu_capture") * 100.0,
        ));
    }
    Ok(rows)
}

/// The impaired-uplink scenarios.
pub(crate) fn impaired_rows() -> Result<Vec<String>> {
    let out = cmd("cargo")
        .args([
            "bench",
            "-q",
            "-p",
            "lectern-e2e",
            "--bench",
            "impaired",
            "--",
            "loss10,loss30,spike",
            "20",
        ])
        .output()?;
    let mut rows = Vec::new();
    for line in out.lines().filter(|l| l.starts_with('{')) {
        let f = |k: &str| field(line, k);
        let (what, target) = if line.contains("\"spike\"") {
            (
                "an 800 ms delay spike on the uplink (25 ms each way otherwise)".to_owned(),
                "back under 400 ms within 2 s",
            )
        } else {
            let loss = if line.contains("loss30") { 30 } else { 10 };
            (
                format!("{loss} % random loss each way at 50 ms RTT"),
                if loss == 30 {
                    "freeze ≤ 2 %, p95 ≤ 400 ms"
                } else {
                    "—"
                },
            )
        };
        let recovery = crate::bench::number_after(line, "\"recovery_under_400ms_after_peak_ms\":")
            .map_or("never over 400 ms".to_owned(), |ms| format!("{ms:.0} ms"));
        rows.push(format!(
            "| publisher on {what}: freeze, frames decoded, latency p50 / p95 / max, recovery under 400 ms after the worst frame, picture sent | freeze **{:.1} %**; {:.0} of {:.0} frames; {:.0} / **{:.0}** / {:.0} ms; {recovery}; {:.0}p at {:.0} kbit/s (estimate {:.0}); connected in {:.1} s | {target} | `cargo bench -p lectern-e2e --bench impaired -- {} 20` |",
            f("freeze_percent"), f("frames"), f("camera_frames"),
            f("latency_p50_ms"), f("latency_p95_ms"), f("latency_max_ms"),
            f("sent_height"), f("video_kbps"), f("estimate_kbps"),
            f("connect_ms") / 1000.0,
            line.split("\"scenario\":\"").nth(1).and_then(|s| s.split('"').next()).unwrap_or("?"),
        ));
    }
    Ok(rows)
}

//! Rows for the WebRTC → FLV bridge: glass to glass into a low-latency FLV player, FLV
//! viewers per core, and the Opus → AAC transcode per source.

use anyhow::Result;

use crate::sh::cmd;

use crate::bench::field;

fn bench(args: &[&str]) -> Result<String> {
    cmd("cargo")
        .args(["bench", "-q", "-p", "lectern-e2e", "--bench", "flv", "--"])
        .args(args)
        .output()
}

fn scenario(out: &str) -> String {
    out.lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_default()
        .to_owned()
}

/// The viewer counts the table shows.
const VIEWERS: [&str; 2] = ["200", "1000"];

pub(crate) fn flv_rows() -> Result<Vec<String>> {
    let mut rows = Vec::new();
    let l = scenario(&bench(&["latency", "10"])?);
    let f = |k: &str| field(&l, k);
    rows.push(format!(
        "| FLV glass to glass at 720p30: synthetic camera's barcode → openh264 → WHIP → relay (H.264 depacketized to FLV) → HTTP-FLV → ffmpeg (`-flags low_delay`) decode; p50 / p95 / p99 ({:.0} frames), first picture after connecting | **{:.0} / {:.0} / {:.0} ms**; first picture {:.0} ms | ≤ 1 s end to end | `cargo bench -p lectern-e2e --bench flv -- latency 10` |",
        f("frames"),
        f("p50_ms"),
        f("p95_ms"),
        f("p99_ms"),
        f("first_picture_ms"),
    ));
    let r = scenario(&bench(&["rtmp", "10"])?);
    let f = |k: &str| field(&r, k);
    rows.push(format!(
        "| FLV the other way, RTMP → WebRTC at 360p30: synthetic camera's barcode → openh264 (a keyframe a second) → RTMP → relay (AVCC packetized to RTP) → WHEP viewer → openh264 decode; p50 / p95 / p99 ({:.0} frames) | **{:.1} / {:.1} / {:.1} ms** | ≤ 150 ms added by the relay | `cargo bench -p lectern-e2e --bench flv -- rtmp 10` |",
        f("frames"),
        f("p50_ms"),
        f("p95_ms"),
        f("p99_ms"),
    ));
    for n in VIEWERS {
        let v = scenario(&bench(&["viewers", n, "10"])?);
        let f = |k: &str| field(&v, k);
        rows.push(format!(
            "| FLV viewers: 1 WebRTC publisher (360p30 + Opus) → {n} HTTP-FLV readers, relay thread CPU without viewers (ingest + bridge) and with them; viewers per core from the difference | {:.1} % → {:.1} % of a core = **{:.0} viewers per core** at {:.0} kbit/s each | ≥ 2000 per core | `cargo bench -p lectern-e2e --bench flv -- viewers {n} 10` |",
            f("relay_cpu_baseline") * 100.0,
            f("relay_cpu") * 100.0,
            f("viewers_per_core"),
            f("kbps_per_viewer"),
        ));
    }
    let t = scenario(&bench(&["transcode", "30"])?);
    let f = |k: &str| field(&t, k);
    rows.push(format!(
        "| FLV transcoding per source, share of one core: Opus → AAC-LC 48 kHz mono (libopus decode + syom encode at {:.0} kbit/s); AAC → Opus from a 48 kHz pusher (syom decode + libopus encode) and from a 16 kHz one (+ rubato resampling) | **{:.2} %**; **{:.2} %** and **{:.2} %** | ≤ 2 % per source | `cargo bench -p lectern-e2e --bench flv -- transcode 30` |",
        f("aac_kbps"),
        f("share_of_core") * 100.0,
        f("aac48_to_opus_share_of_core") * 100.0,
        f("aac16_to_opus_share_of_core") * 100.0,
    ));
    Ok(rows)
}

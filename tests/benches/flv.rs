//! The WebRTC → FLV bridge: what a mini-program viewer waits, what an FLV viewer costs
//! the relay, and what the Opus → AAC transcode costs per source.
//!
//! Scenarios, each printing one JSON line:
//! - `latency SECONDS`: the console's publisher on the synthetic camera (720p30, its
//!   capture time painted into each picture as a barcode) → WHIP → relay → HTTP-FLV →
//!   ffmpeg (`-flags low_delay`), decoding to raw luma on a pipe, every picture as it
//!   comes. Each picture's barcode is read as it comes
//!   out of the pipe: `now − captured` on the one media clock is glass to glass, ffmpeg's
//!   decode included.
//! - `viewers N SECONDS`: the relay alone on one thread; the publisher (360p30 + Opus)
//!   and N HTTP-FLV readers that read everything elsewhere. The relay thread's CPU with
//!   no viewer (WebRTC ingest and the bridge) and with N is measured; the difference per
//!   viewer gives viewers per core.
//! - `rtmp SECONDS`: the other way. A pusher in this process (the synthetic camera at
//!   360p30 → openh264 → FLV tags → RTMP, as a `live-pusher` sends) publishes to the
//!   relay, which bridges it to WebRTC; a viewer bot subscribes over WHEP, decodes with
//!   openh264 and reads the barcode back: `decoded − captured`, encode included.
//! - `transcode SECONDS`: Opus → AAC of one source (libopus decode, syom AAC-LC encode)
//!   on this thread over SECONDS of the synthetic microphone's programme: CPU time over
//!   media time.
//!
//! `cargo bench -p lectern-e2e --bench flv -- latency 10 | rtmp 10 | viewers 500 10 | transcode 30`

use lectern_e2e::class::{Teacher, decoding_viewer};
use lectern_e2e::relay::{Bots, SECRET, start_loopback, start_with_rtmp, token, wait_until};
use lectern_e2e::relay_thread::{RelayThread, thread_cpu_seconds};
use lectern_media::MediaClock;
use lectern_media::synthetic::read_barcode;
use lectern_proto::{PublishState, Role, VideoMode};
use lectern_relay::flv_webrtc::AacToOpus;
use lectern_relay::webrtc_flv::OpusToAac;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn latency(seconds: u64) {
    let relay = start_loopback().await;
    let mode = VideoMode::HD_30;
    let teacher = Teacher::start(
        format!("http://{}/whip/bench", relay.http_addr()),
        token(&relay, "bench", "teacher", Role::Teacher),
        mode,
    );
    teacher
        .wait_for(PublishState::Live, Duration::from_secs(15))
        .await;
    let url = format!(
        "http://{}/flv/bench/teacher.flv?token={}",
        relay.http_addr(),
        token(&relay, "bench", "viewer", Role::Student)
    );
    let clock = teacher.clock;
    let (latencies, started_to_first) = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut child = Command::new("ffmpeg")
            // Not `-fflags nobuffer`: it discards what is read while probing, which is the
            // cached keyframe, and the picture then waits for the next one.
            .args(["-hide_banner", "-loglevel", "error", "-flags", "low_delay"])
            .args(["-i", &url, "-an", "-fps_mode", "passthrough"])
            .args(["-f", "rawvideo", "-pix_fmt", "gray", "pipe:1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("ffmpeg runs");
        let mut out = child.stdout.take().unwrap();
        let size = (mode.width * mode.height) as usize;
        let mut frame = vec![0u8; size];
        let mut latencies = Vec::new();
        let mut first = None;
        let until = Instant::now() + Duration::from_secs(seconds + 2);
        while Instant::now() < until && out.read_exact(&mut frame).is_ok() {
            let now = clock.now().as_micros() as f64;
            first.get_or_insert(started.elapsed());
            // The first 2 s include the player's start; measure the steady state.
            if started.elapsed() < Duration::from_secs(2) {
                continue;
            }
            if let Some((_, captured)) = read_barcode(&frame, mode.width, mode.height) {
                latencies.push((now - captured as f64) / 1000.0);
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        (latencies, first)
    })
    .await
    .unwrap();
    let mut sorted = latencies.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({
            "scenario": "latency",
            "frames": sorted.len(),
            "p50_ms": percentile(&sorted, 0.5),
            "p95_ms": percentile(&sorted, 0.95),
            "p99_ms": percentile(&sorted, 0.99),
            "first_picture_ms": started_to_first.map(|d| d.as_millis() as u64),
        })
    );
    teacher.live.stop().await;
    relay.shutdown().await;
}

/// An HTTP-FLV reader that reads and discards everything, counting bytes.
async fn reader(addr: String, path: String, bytes: Arc<AtomicU64>) {
    let Ok(mut s) = tokio::net::TcpStream::connect(&addr).await else {
        return;
    };
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).await.is_err() {
        return;
    }
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = s.read(&mut buf).await {
        if n == 0 {
            break;
        }
        bytes.fetch_add(n as u64, Relaxed);
    }
}

async fn viewers(n: usize, seconds: u64) {
    let relay = RelayThread::with_secret(SECRET.into());
    let mode = VideoMode {
        width: 640,
        height: 360,
        fps: 30,
    };
    let teacher = Teacher::start(
        format!("{}/whip/bench", relay.http),
        relay.token("teacher", Role::Teacher),
        mode,
    );
    teacher
        .wait_for(PublishState::Live, Duration::from_secs(15))
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let window = Duration::from_secs(seconds);

    let c0 = relay.cpu().await;
    tokio::time::sleep(window).await;
    let baseline = (relay.cpu().await - c0) / window.as_secs_f64();

    let addr = relay.http.trim_start_matches("http://").to_owned();
    let path = format!(
        "/flv/bench/teacher.flv?token={}",
        relay.token("viewer", Role::Student)
    );
    let bytes = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..n)
        .map(|_| tokio::spawn(reader(addr.clone(), path.clone(), bytes.clone())))
        .collect();
    wait_until("every viewer receives", Duration::from_secs(30), || {
        bytes.load(Relaxed) > (n as u64) * 1000
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (c1, b1) = (relay.cpu().await, bytes.load(Relaxed));
    tokio::time::sleep(window).await;
    let loaded = (relay.cpu().await - c1) / window.as_secs_f64();
    let per_viewer_bps = (bytes.load(Relaxed) - b1) as f64 * 8.0 / window.as_secs_f64() / n as f64;
    let per_viewer = (loaded - baseline).max(1e-9) / n as f64;
    println!(
        "{}",
        serde_json::json!({
            "scenario": "viewers",
            "viewers": n,
            "relay_cpu_baseline": baseline,
            "relay_cpu": loaded,
            "viewers_per_core": 1.0 / per_viewer,
            "kbps_per_viewer": per_viewer_bps / 1000.0,
        })
    );
    for t in tasks {
        t.abort();
    }
    teacher.live.stop().await;
    drop(relay);
}

/// Publishes the synthetic camera over RTMP as `teacher` of room `bench` until `until`.
async fn rtmp_pusher(addr: std::net::SocketAddr, token: String, clock: MediaClock, until: Instant) {
    use lectern_media::VideoEncoder;
    use lectern_media::synthetic::{Faults, SyntheticCamera};
    use lectern_relay::flv::{AvcConfig, VideoHeader, annexb_nalus, annexb_to_avcc};
    use lectern_relay::rtmp::{Amf0Value, ChunkEncoder, Message};
    use lectern_relay::sfu::h264::{NAL_PPS, NAL_SPS};
    let mode = VideoMode {
        width: 640,
        height: 360,
        fps: 30,
    };
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("rtmp port");
    s.set_nodelay(true).ok();
    let mut c0c1 = vec![3u8];
    c0c1.extend([0u8; 1536]);
    s.write_all(&c0c1).await.unwrap();
    let mut s0s1s2 = vec![0u8; 1 + 2 * 1536];
    s.read_exact(&mut s0s1s2).await.unwrap();
    s.write_all(&s0s1s2[1..1537]).await.unwrap();
    let mut enc = ChunkEncoder::new();
    let mut out = bytes::BytesMut::new();
    let command =
        |enc: &mut ChunkEncoder, out: &mut bytes::BytesMut, stream: u32, v: &[Amf0Value]| {
            let payload = lectern_relay::rtmp::amf0::encode_all(v).unwrap().freeze();
            enc.encode(
                3,
                &Message {
                    type_id: 20,
                    stream_id: stream,
                    timestamp: 0,
                    payload,
                },
                out,
            );
        };
    command(
        &mut enc,
        &mut out,
        0,
        &[
            Amf0Value::string("connect"),
            Amf0Value::Number(1.0),
            Amf0Value::object([("app", Amf0Value::string("bench"))]),
        ],
    );
    command(
        &mut enc,
        &mut out,
        0,
        &[
            Amf0Value::string("createStream"),
            Amf0Value::Number(2.0),
            Amf0Value::Null,
        ],
    );
    command(
        &mut enc,
        &mut out,
        1,
        &[
            Amf0Value::string("publish"),
            Amf0Value::Number(3.0),
            Amf0Value::Null,
            Amf0Value::string(format!("teacher?token={token}")),
        ],
    );
    s.write_all(&out).await.unwrap();
    // Drain what the server says in the background.
    let (mut rd, mut wr) = s.into_split();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while rd.read(&mut buf).await.is_ok_and(|n| n > 0) {}
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Capture and encode on their own thread, as a phone's encoder would.
    let (tx, mut frames) = tokio::sync::mpsc::channel::<(bool, Vec<u8>)>(8);
    std::thread::spawn(move || {
        use lectern_media::VideoSource;
        let mut camera = SyntheticCamera::open(mode, Faults::default(), clock).expect("camera");
        let mut encoder = lectern_media::H264Encoder::new(800_000, 30.0).expect("encoder");
        let mut n = 0u32;
        while Instant::now() < until {
            let Ok(frame) = camera.next_frame() else {
                break;
            };
            // A keyframe a second, as a live-pusher sends (an RTMP pusher cannot be
            // asked for one: a WebRTC viewer that joins waits for the next).
            if n.is_multiple_of(30) {
                encoder.force_keyframe();
            }
            n += 1;
            if let Ok(Some(e)) = encoder.encode(&frame)
                && tx.blocking_send((e.keyframe, e.data)).is_err()
            {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut config: Option<AvcConfig> = None;
    while let Some((key, annexb)) = frames.recv().await {
        let ms = started.elapsed().as_millis() as u32;
        let nalus = annexb_nalus(&annexb);
        let find = |t: u8| {
            nalus
                .iter()
                .find(|n| n.first().is_some_and(|h| h & 0x1f == t))
        };
        // The sequence header when the parameter sets change, then the picture.
        let mut bodies = Vec::new();
        if let (Some(sps), Some(pps)) = (find(NAL_SPS), find(NAL_PPS))
            && let Ok(c) = AvcConfig::from_sps_pps(sps, pps)
            && config.as_ref() != Some(&c)
        {
            bodies.push((1, 0, c.to_bytes().unwrap()));
            config = Some(c);
        }
        bodies.push((if key { 1 } else { 2 }, 1, annexb_to_avcc(&annexb).into()));
        let mut out = bytes::BytesMut::new();
        for (frame_type, packet_type, payload) in bodies {
            let header = VideoHeader {
                frame_type,
                packet_type,
                composition_time: 0,
            };
            let payload = header.body(&payload);
            let message = Message {
                type_id: 9,
                stream_id: 1,
                timestamp: ms,
                payload,
            };
            enc.encode(6, &message, &mut out);
        }
        if wr.write_all(&out).await.is_err() {
            break;
        }
    }
}

async fn rtmp(seconds: u64) {
    let relay = start_with_rtmp().await;
    let clock = MediaClock::start();
    let until = Instant::now() + Duration::from_secs(seconds + 4);
    tokio::spawn(rtmp_pusher(
        relay.rtmp_addr().unwrap(),
        token(&relay, "bench", "teacher", Role::Teacher),
        clock,
        until,
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut bots = Bots::new();
    let (_viewer, probe) = decoding_viewer(&mut bots, &relay, "bench", "viewer", clock);
    wait_until("decoded pictures", Duration::from_secs(20), || {
        probe.count() > 30
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let skip = probe.count();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let frames = probe.snapshot();
    let mut ms: Vec<f64> = frames[skip.min(frames.len())..]
        .iter()
        .map(|f| f.latency().as_secs_f64() * 1000.0)
        .collect();
    ms.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({
            "scenario": "rtmp",
            "frames": ms.len(),
            "p50_ms": percentile(&ms, 0.5),
            "p95_ms": percentile(&ms, 0.95),
            "p99_ms": percentile(&ms, 0.99),
        })
    );
    probe.stop();
    bots.stop().await;
    relay.shutdown().await;
}

fn transcode(seconds: u64) {
    // The synthetic microphone's programme shape: tone, chirp and speech-like bursts.
    let mut enc =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
    enc.set_bitrate(opus::Bitrate::Bits(32_000)).unwrap();
    let mut noise = 0x2545_f491_4f6c_dd1du64;
    let packets: Vec<Vec<u8>> = (0..seconds * 50)
        .map(|p| {
            let pcm: Vec<f32> = (0..960)
                .map(|i| {
                    let t = (p * 960 + i) as f32 / 48_000.0;
                    noise ^= noise << 13;
                    noise ^= noise >> 7;
                    noise ^= noise << 17;
                    let n = (noise >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                    let burst = if (t * 4.0).fract() < 0.6 { 1.0 } else { 0.0 };
                    0.1 * (t * 440.0 * std::f32::consts::TAU).sin() + 0.1 * burst * n
                })
                .collect();
            enc.encode_vec_float(&pcm, 4000).unwrap()
        })
        .collect();
    let mut t = OpusToAac::new().unwrap();
    let c0 = thread_cpu_seconds().unwrap_or(f64::NAN);
    let w0 = Instant::now();
    let mut frames = 0;
    let mut bytes = 0;
    let mut aac = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        for f in t.push(960 * i as u32, i as i64 * 20_000, p) {
            frames += 1;
            bytes += f.data.len();
            aac.push(f.data);
        }
    }
    let cpu = thread_cpu_seconds().unwrap_or(f64::NAN) - c0;

    // The other way: that AAC (48 kHz) back to Opus, and a 16 kHz pusher's AAC, which
    // is resampled too.
    let back = |asc: &[u8], units: &[bytes::Bytes], ms_per_unit: f64| {
        let mut t = AacToOpus::new(asc).unwrap();
        let c0 = thread_cpu_seconds().unwrap_or(f64::NAN);
        let mut packets = 0;
        for (i, au) in units.iter().enumerate() {
            packets += t.push((i as f64 * ms_per_unit) as i64, au).len();
        }
        (thread_cpu_seconds().unwrap_or(f64::NAN) - c0, packets)
    };
    let (cpu48, opus48) = back(&[0x11, 0x88], &aac, 1024.0 / 48.0);
    let pcm16: Vec<f32> = (0..seconds as usize * 16_000)
        .map(|i| 0.2 * (i as f32 * 440.0 * std::f32::consts::TAU / 16_000.0).sin())
        .collect();
    let mut enc16 = syom::Encoder::new(
        16_000,
        1,
        &syom::EncodeOptions::raw().with_bitrate_bps(32_000),
    )
    .unwrap();
    let mut aac16 = Vec::new();
    enc16
        .feed(&[&pcm16], |f| {
            aac16.push(bytes::Bytes::copy_from_slice(f.payload));
            Ok(())
        })
        .unwrap();
    let asc16 = enc16.asc().to_vec();
    let (cpu16, opus16) = back(&asc16, &aac16, 1024.0 / 16.0);
    println!(
        "{}",
        serde_json::json!({
            "scenario": "transcode",
            "media_seconds": seconds,
            "cpu_seconds": cpu,
            "wall_seconds": w0.elapsed().as_secs_f64(),
            "share_of_core": cpu / seconds as f64,
            "aac_frames": frames,
            "aac_kbps": bytes as f64 * 8.0 / seconds as f64 / 1000.0,
            "aac48_to_opus_share_of_core": cpu48 / seconds as f64,
            "aac48_opus_packets": opus48,
            "aac16_to_opus_share_of_core": cpu16 / seconds as f64,
            "aac16_opus_packets": opus16,
        })
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let num = |i: usize, default: u64| {
        args.get(i)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(default)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    match args.first().map(String::as_str) {
        Some("latency") => rt.block_on(latency(num(1, 10))),
        Some("viewers") => rt.block_on(viewers(num(1, 500) as usize, num(2, 10))),
        Some("rtmp") => rt.block_on(rtmp(num(1, 10))),
        Some("transcode") => transcode(num(1, 30)),
        _ => {
            rt.block_on(latency(10));
            rt.block_on(rtmp(10));
            rt.block_on(viewers(500, 10));
            transcode(30);
        }
    }
}

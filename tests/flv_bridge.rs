//! The mini-program's view of the teacher: the console's publisher (synthetic camera
//! and microphone → openh264/Opus → WHIP) pulled from the relay by ffmpeg, the
//! `live-player` stand-in, over RTMP and over HTTP-FLV. ffmpeg must find H.264 and
//! AAC-LC, decode pictures that are the camera's (their barcodes read back in order),
//! hear the microphone from the first second on, and see the tracks start together.

use lectern_e2e::class::Teacher;
use lectern_e2e::relay::{start_with_rtmp, token};
use lectern_media::synthetic::read_barcode;
use lectern_proto::{PublishState, Role, VideoMode};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const ROOM: &str = "physics";
const MODE: VideoMode = VideoMode {
    width: 640,
    height: 360,
    fps: 30,
};
/// Seconds of the stream each pull decodes.
/// Seconds of the stream each pull decodes: enough to hold one onset of the synthetic
/// microphone's tone (every 4 s) after its half second of quiet.
const SECONDS: u32 = 5;

fn have_ffmpeg() -> bool {
    let ok = Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED: ffmpeg not installed (cargo xtask setup installs it)");
    }
    ok
}

#[derive(Debug, Default)]
struct Pulled {
    video_codec: String,
    audio_codec: String,
    /// Barcodes (camera frame number, capture µs) of the decoded pictures, in order.
    pictures: Vec<(u64, u64)>,
    unreadable: usize,
    /// Decoded mono samples at 48 kHz.
    audio: Vec<f32>,
    first_video_pts: Option<f64>,
    first_audio_pts: Option<f64>,
    /// The presentation time of every decoded picture, in order.
    video_pts: Vec<f64>,
    /// The barcode of every decoded picture, in the same order.
    codes: Vec<Option<(u64, u64)>>,
    log: String,
}

/// Pulls `url` for [`SECONDS`] with ffmpeg: pictures as raw luma, audio as f32 PCM.
fn pull(url: &str) -> Pulled {
    let dir = tempfile::tempdir().unwrap();
    let (y, pcm) = (dir.path().join("v.y"), dir.path().join("a.f32"));
    // `timeout`: a player that never gets its media must fail the test, not hang it.
    let out = Command::new("timeout")
        .args(["-s", "KILL", "30", "ffmpeg", "-hide_banner", "-nostats"])
        // `-t` before `-i`: read SECONDS of input (as an output option it would bind to
        // the first output only, and the second would never end).
        .args([
            "-rw_timeout",
            "10000000",
            "-t",
            &SECONDS.to_string(),
            "-i",
            url,
        ])
        .args([
            "-map",
            "0:v:0",
            "-fps_mode",
            "passthrough",
            "-vf",
            "showinfo",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
        ])
        .arg(&y)
        .args([
            "-map",
            "0:a:0",
            "-af",
            "ashowinfo",
            "-f",
            "f32le",
            "-ac",
            "1",
            "-ar",
            "48000",
        ])
        .arg(&pcm)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("ffmpeg runs");
    let mut p = Pulled::default();
    let pts = |line: &str| {
        line.split("pts_time:")
            .nth(1)?
            .split_whitespace()
            .next()?
            .parse::<f64>()
            .ok()
    };
    for line in BufReader::new(&out.stderr[..])
        .lines()
        .map_while(Result::ok)
    {
        // The input's streams are listed first; the outputs' (rawvideo, pcm) come later.
        if let Some(rest) = line.split("Video: ").nth(1)
            && p.video_codec.is_empty()
        {
            p.video_codec = rest.split([' ', ',']).next().unwrap_or("").into();
        }
        if let Some(rest) = line.split("Audio: ").nth(1)
            && p.audio_codec.is_empty()
        {
            p.audio_codec = rest.split(',').take(3).collect::<Vec<_>>().join(",");
        }
        if line.contains("Parsed_showinfo") && line.contains(" n:") {
            p.first_video_pts = p.first_video_pts.or_else(|| pts(&line));
            p.video_pts.extend(pts(&line));
        } else if line.contains("Parsed_ashowinfo") && line.contains(" n:") {
            p.first_audio_pts = p.first_audio_pts.or_else(|| pts(&line));
        } else if p.log.len() < 6000 {
            p.log.push_str(&line);
            p.log.push('\n');
        }
    }
    assert!(out.status.success(), "ffmpeg failed:\n{}", p.log);
    let luma = std::fs::read(&y).unwrap();
    let size = (MODE.width * MODE.height) as usize;
    for frame in luma.chunks_exact(size) {
        let code = read_barcode(frame, MODE.width, MODE.height);
        match code {
            Some(code) => p.pictures.push(code),
            None => p.unreadable += 1,
        }
        p.codes.push(code);
    }
    p.audio = std::fs::read(&pcm)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    p
}

/// How much later than its picture the sound plays (seconds; negative: earlier).
///
/// The synthetic camera paints each picture's capture time (µs on the media clock) into
/// it; the synthetic microphone starts a 440 Hz tone after half a second of quiet at
/// every multiple of 4 s of its samples, and it opened at the start of the media clock
/// (within the few milliseconds the camera took to open before it). From the pictures,
/// the player's clock is `pts = a + captured`; the tone onset, found in the decoded
/// audio, should then play at `a + 4j s`. The difference is the A/V offset.
fn av_offset(p: &Pulled) -> Option<f64> {
    let mut a: Vec<f64> = p
        .codes
        .iter()
        .zip(&p.video_pts)
        .filter_map(|(c, pts)| c.map(|(_, captured)| pts - captured as f64 / 1e6))
        .collect();
    a.sort_by(f64::total_cmp);
    let a = *a.get(a.len() / 2)?;
    // 5 ms windows: an onset is the first window that is not quiet after 200 ms of quiet
    // ones, with the tone loud by the next.
    let windows: Vec<f32> = p.audio.chunks_exact(240).map(rms).collect();
    let onset = (40..windows.len().saturating_sub(1)).find(|&i| {
        windows[i] >= 0.004
            && windows[i + 1] > 0.02
            && windows[i - 40..i].iter().all(|&w| w < 0.004)
    })?;
    // Refine to the first loud sample of that window.
    let first = p.audio[onset * 240..(onset + 1) * 240]
        .iter()
        .position(|s| s.abs() > 0.01)
        .unwrap_or(0);
    let onset_pts = p.first_audio_pts? + (onset * 240 + first) as f64 / 48_000.0;
    let media = onset_pts - a;
    Some(media - (media / 4.0).round() * 4.0)
}

fn rms(samples: &[f32]) -> f32 {
    (samples.iter().map(|s| s * s).sum::<f32>() / samples.len().max(1) as f32).sqrt()
}

fn check(how: &str, p: &Pulled) {
    eprintln!(
        "{how}: {} / {}, {} pictures ({} unreadable), {:.2} s of audio, first pts video {:?} audio {:?}",
        p.video_codec,
        p.audio_codec,
        p.pictures.len(),
        p.unreadable,
        p.audio.len() as f32 / 48_000.0,
        p.first_video_pts,
        p.first_audio_pts
    );
    assert_eq!(p.video_codec, "h264", "{how}:\n{}", p.log);
    assert!(
        p.audio_codec.starts_with("aac (LC)") && p.audio_codec.contains("48000 Hz, mono"),
        "{how}: audio {:?}",
        p.audio_codec
    );
    // ~4 s at 30 fps: most pictures decode and are the camera's, in capture order.
    assert!(
        p.pictures.len() >= 90,
        "{how}: {} pictures",
        p.pictures.len()
    );
    assert!(
        p.unreadable <= 2,
        "{how}: {} pictures without a barcode",
        p.unreadable
    );
    assert!(
        p.pictures
            .windows(2)
            .all(|w| w[1].0 > w[0].0 && w[1].1 > w[0].1),
        "{how}: pictures out of order: {:?}",
        p.pictures
            .windows(2)
            .find(|w| w[1].0 <= w[0].0 || w[1].1 <= w[0].1)
    );
    // The microphone is heard from the first second on (nothing lost at the start).
    assert!(
        p.audio.len() >= 48_000 * 3,
        "{how}: {} samples",
        p.audio.len()
    );
    let first_second = rms(&p.audio[..48_000]);
    assert!(
        first_second > 0.005,
        "{how}: first second RMS {first_second}"
    );
    // Audio and video start together, and are in sync.
    let (v, a) = (p.first_video_pts.unwrap(), p.first_audio_pts.unwrap());
    assert!(
        (v - a).abs() < 0.080,
        "{how}: first video at {v} s, audio at {a} s"
    );
    let envelope: Vec<String> = p
        .audio
        .chunks(4800)
        .map(|c| format!("{:.3}", rms(c)))
        .collect();
    let offset = av_offset(p).unwrap_or_else(|| {
        panic!("{how}: no tone onset in the audio (RMS per 100 ms: {envelope:?})")
    });
    eprintln!(
        "{how}: A/V offset {:.1} ms (sound later than picture)",
        offset * 1000.0
    );
    assert!(offset.abs() < 0.080, "{how}: A/V offset {offset} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_teacher_plays_in_ffmpeg_over_rtmp_and_http_flv() {
    if !have_ffmpeg() {
        return;
    }
    let relay = start_with_rtmp().await;
    let teacher = Teacher::start(
        format!("http://{}/whip/{ROOM}", relay.http_addr()),
        token(&relay, ROOM, "teacher", Role::Teacher),
        MODE,
    );
    teacher
        .wait_for(PublishState::Live, Duration::from_secs(15))
        .await;
    let student = token(&relay, ROOM, "student-1", Role::Student);
    let rtmp = format!(
        "rtmp://{}/{ROOM}/teacher?token={student}",
        relay.rtmp_addr().unwrap()
    );
    let flv = format!(
        "http://{}/flv/{ROOM}/teacher.flv?token={student}",
        relay.http_addr()
    );
    // Both players at once, as a class of mini-programs would.
    let (by_rtmp, by_flv) = tokio::join!(
        tokio::task::spawn_blocking(move || pull(&rtmp)),
        tokio::task::spawn_blocking(move || pull(&flv)),
    );
    check("RTMP", &by_rtmp.unwrap());
    check("HTTP-FLV", &by_flv.unwrap());

    // A player that joins when the cached keyframe is seconds old starts on a fresh
    // one the relay asks the console for, not seconds behind live. The first late
    // player makes the console send a keyframe; the second joins 2.5 s after it, while
    // that GOP is still cached.
    let url = format!(
        "http://{}/flv/{ROOM}/teacher.flv?token={student}",
        relay.http_addr()
    );
    let first = tokio::task::spawn_blocking({
        let url = url.clone();
        move || pull(&url)
    });
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let joined = teacher.clock.now();
    let second = tokio::task::spawn_blocking(move || pull(&url));
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    assert!(!first.pictures.is_empty());
    let (_, captured) = second.pictures[0];
    let behind_ms = (joined.as_micros() as i64 - captured as i64) / 1000;
    eprintln!("late player: first picture captured {behind_ms} ms before it joined");
    assert!(
        behind_ms < 1_000,
        "the late player started {behind_ms} ms behind live"
    );

    // The WebRTC side is untouched by the bridge, and the bridge dropped nothing.
    let metrics = reqwest::get(format!("http://{}/metrics", relay.http_addr()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("lectern_relay_flv_streams{kind=\"publisher\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("lectern_relay_webrtc_flv_dropped_total{stage=\"tap\"} 0"),
        "{metrics}"
    );
    teacher.live.stop().await;
    relay.shutdown().await;
}

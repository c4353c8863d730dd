//! A mini-program student on stage, as the rest of the class sees them: ffmpeg (the
//! `live-pusher` stand-in) pushes RTMP with H.264 and AAC-LC; headless Chromium watches
//! that student through WHEP, as the student page and the console do. Chromium must
//! decode pictures of the pusher's size and render audio, for a 48 kHz mono pusher, a
//! 16 kHz one, and one misconfigured with B-frames (which must not corrupt the picture:
//! non-reference B-frames are dropped, reference ones reduce the stream to keyframes).
//! The room hears `publisher_added` with transport `rtmp` for it.
//!
//! Needs ffmpeg, Debian's `chromium` and `chromium-driver` (`cargo xtask test` installs
//! them and runs these with the other `chromium_` tests).

use anyhow::{Context, Result, bail};
use futures_util::StreamExt;
use lectern_e2e::webdriver::{Driver, WHEP_STATS, WHEP_WATCH, free_port, num, wait_playing};
use lectern_proto::{PeerId, Role, RoomId};
use lectern_relay::{Relay, RelayConfig};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "rtmp-bridge-test-secret-rtmp-bridge";
const ROOM: &str = "math";

fn have_ffmpeg() -> bool {
    Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

struct Class {
    relay: Option<Relay>,
    rt: tokio::runtime::Runtime,
}

impl Class {
    fn start() -> Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let relay = rt.block_on(Relay::start(RelayConfig {
            http: "127.0.0.1:0".parse()?,
            media: "127.0.0.1:0".parse()?,
            rtmp: Some("127.0.0.1:0".parse()?),
            secret: SECRET.into(),
            ..RelayConfig::default()
        }))?;
        Ok(Self {
            relay: Some(relay),
            rt,
        })
    }

    fn relay(&self) -> &Relay {
        self.relay.as_ref().expect("running")
    }

    fn token(&self, sub: &str, role: Role) -> String {
        self.relay().signer().issue(
            RoomId::new(ROOM).expect("valid"),
            PeerId::new(sub).expect("valid"),
            sub,
            role,
            Duration::from_secs(600),
        )
    }
}

impl Drop for Class {
    fn drop(&mut self) {
        if let Some(relay) = self.relay.take() {
            self.rt.block_on(relay.shutdown());
        }
    }
}

/// ffmpeg pushing a test picture (640×360, 25 fps, a keyframe a second) and a tone as
/// `live-pusher` would, with `video`/`audio` extra arguments.
fn push(url: &str, video: &[&str], audio: &[&str]) -> Result<Child> {
    Ok(Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", "40", "-c:v", "libx264", "-preset", "veryfast"])
        .args(["-g", "25", "-pix_fmt", "yuv420p"])
        .args(video)
        .args(["-c:a", "aac", "-b:a", "64k"])
        .args(audio)
        .args(["-f", "flv", url])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?)
}

/// The teacher's signaling socket, to hear `publisher_added`.
fn publisher_added(class: &Class, peer: &str) -> Result<Value> {
    let url = format!(
        "ws://{}/ws/{ROOM}?token={}",
        class.relay().http_addr(),
        class.token("teacher", Role::Teacher)
    );
    class.rt.block_on(async {
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await?;
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(1), ws.next()).await
            else {
                continue;
            };
            let Ok(text) = msg?.into_text() else { continue };
            let v: Value = serde_json::from_str(&text)?;
            // Already publishing when the teacher connects: listed in `welcome`.
            let listed = v["publishers"]
                .as_array()
                .and_then(|a| a.iter().find(|p| p["peer"] == peer).cloned());
            if let Some(p) = listed {
                return Ok(p);
            }
            if v["type"] == "publisher_added" && v["publisher"]["peer"] == peer {
                return Ok(v["publisher"].clone());
            }
        }
        bail!("no publisher_added for {peer}")
    })
}

/// One pusher configuration → Chromium watching it over WHEP.
fn pusher_is_watched(video: &[&str], audio: &[&str], frames: f64) -> Result<Value> {
    let class = Class::start()?;
    let pusher = "teacher-obs";
    let url = format!(
        "rtmp://{}/{ROOM}/{pusher}?token={}",
        class.relay().rtmp_addr().context("rtmp on")?,
        class.token(pusher, Role::Teacher)
    );
    let mut ffmpeg = push(&url, video, audio)?;
    let result = (|| {
        let announced = publisher_added(&class, pusher)?;
        assert_eq!(announced["transport"], "rtmp", "{announced}");
        let driver = Driver::chromedriver(free_port())?;
        let viewer = driver.chromium(&[
            "--disable-features=WebRtcHideLocalIpsWithMdns",
            "--autoplay-policy=no-user-gesture-required",
        ])?;
        viewer.script_timeout(Duration::from_secs(30))?;
        viewer.navigate(&format!("http://{}/healthz", class.relay().http_addr()))?;
        let v = viewer.script_async(
            WHEP_WATCH,
            json!([
                class.token("s1", Role::Student),
                format!("/whep/{ROOM}?peer={pusher}")
            ]),
        )?;
        if let Some(e) = v.get("error") {
            bail!("watch failed: {e}");
        }
        let playing = wait_playing(
            "WHEP viewer of the pusher",
            frames,
            Duration::from_secs(25),
            || viewer.script_async(WHEP_STATS, json!([])).context("stats"),
        )?;
        assert_eq!(playing["state"], "connected");
        assert_eq!(
            (num(&playing, "width"), num(&playing, "height")),
            (640.0, 360.0)
        );
        Ok(playing)
    })();
    let _ = ffmpeg.kill();
    let _ = ffmpeg.wait();
    result
}

#[test]
#[ignore = "needs ffmpeg, chromium and chromedriver (cargo xtask test runs it)"]
fn chromium_watches_an_rtmp_pusher_48k_mono_baseline() -> Result<()> {
    if !have_ffmpeg() {
        eprintln!("SKIPPED: no ffmpeg");
        return Ok(());
    }
    let p = pusher_is_watched(
        &["-profile:v", "baseline", "-bf", "0"],
        &["-ar", "48000", "-ac", "1"],
        50.0,
    )?;
    eprintln!("48 kHz mono pusher: {p}");
    Ok(())
}

#[test]
#[ignore = "needs ffmpeg, chromium and chromedriver (cargo xtask test runs it)"]
fn chromium_watches_an_rtmp_pusher_16k_audio() -> Result<()> {
    if !have_ffmpeg() {
        eprintln!("SKIPPED: no ffmpeg");
        return Ok(());
    }
    let p = pusher_is_watched(
        &["-profile:v", "baseline", "-bf", "0"],
        &["-ar", "16000", "-ac", "1"],
        50.0,
    )?;
    eprintln!("16 kHz pusher: {p}");
    Ok(())
}

#[test]
#[ignore = "needs ffmpeg, chromium and chromedriver (cargo xtask test runs it)"]
fn chromium_watches_an_rtmp_pusher_with_b_frames_without_corruption() -> Result<()> {
    if !have_ffmpeg() {
        eprintln!("SKIPPED: no ffmpeg");
        return Ok(());
    }
    // Main profile with B-frames and no B-pyramid: every B-frame is non-reference and
    // dropped; the I and P frames play, 1 in 3 of the pusher's pictures.
    let p = pusher_is_watched(
        &[
            "-profile:v",
            "main",
            "-bf",
            "2",
            "-x264-params",
            "b-pyramid=0",
        ],
        &["-ar", "48000", "-ac", "2"],
        15.0,
    )?;
    eprintln!("B-frame pusher: {p}");
    Ok(())
}

//! Headless Chromium as a real WebRTC peer on both sides of the relay: it publishes its
//! fake camera and microphone through WHIP, a second page watches through WHEP, and the
//! student page the relay serves plays the class, chats, and recovers when the teacher
//! drops out and comes back, and when the relay itself restarts under a class (the
//! console's publisher on synthetic devices, the student joined by the class link).
//!
//! Needs Debian's `chromium` and `chromium-driver`; `cargo xtask test` installs them and
//! runs these (`--run-ignored only -E 'test(/^chromium_/)'`).

use anyhow::{Context, Result, bail};
use lectern_e2e::class::Teacher;
use lectern_e2e::webdriver::{
    Driver, STUDENT_STATS, Session, WHEP_STATS, WHEP_WATCH, free_port, num, wait_playing,
};
use lectern_proto::{PeerId, PublishState, Role, RoomId, VideoMode};
use lectern_relay::{Relay, RelayConfig};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const PUBLISH: &str = r#"
const [token, done] = [arguments[0], arguments[arguments.length - 1]];
(async () => {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
  const pc = new RTCPeerConnection();
  window.pc = pc;
  for (const t of stream.getTracks()) pc.addTransceiver(t, { direction: "sendonly" });
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((r) => {
    if (pc.iceGatheringState === "complete") r();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && r();
    setTimeout(r, 2000);
  });
  const res = await fetch("/whip/math", {
    method: "POST",
    headers: { "content-type": "application/sdp", authorization: "Bearer " + token },
    body: pc.localDescription.sdp,
  });
  const text = await res.text();
  if (res.status !== 201) return done({ error: res.status + " " + text });
  await pc.setRemoteDescription({ type: "answer", sdp: text });
  window.whipLocation = res.headers.get("location");
  done({ location: window.whipLocation });
})().catch((e) => done({ error: String(e) }));
"#;

const UNPUBLISH: &str = r#"
const [token, done] = [arguments[0], arguments[arguments.length - 1]];
fetch(window.whipLocation, { method: "DELETE", headers: { authorization: "Bearer " + token } })
  .then((r) => { window.pc.close(); done(r.status); }, (e) => done(String(e)));
"#;

const SECRET: &str = "chromium-test-secret-chromium-test";

struct Class {
    // Dropped last: the relay's tasks run on it.
    relay: Option<Relay>,
    rt: tokio::runtime::Runtime,
    base: String,
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
            secret: SECRET.into(),
            rtmp: None,
            ..RelayConfig::default()
        }))?;
        let base = format!("http://{}", relay.http_addr());
        Ok(Self {
            relay: Some(relay),
            rt,
            base,
        })
    }

    fn token(&self, sub: &str, name: &str, role: Role) -> String {
        self.relay.as_ref().expect("running").signer().issue(
            RoomId::new("math").expect("valid"),
            PeerId::new(sub).expect("valid"),
            name,
            role,
            Duration::from_secs(600),
        )
    }
}

impl Class {
    /// Stops the relay, as when its process dies: every session and socket is gone.
    /// Returns its addresses for [`Class::restart`].
    fn kill(&mut self) -> (std::net::SocketAddr, std::net::SocketAddr) {
        let old = self.relay.take().expect("running");
        let addrs = (old.http_addr(), old.media_addr());
        self.rt.block_on(old.shutdown());
        addrs
    }

    /// Starts the relay again on the same ports with the same secret.
    fn restart(
        &mut self,
        (http, media): (std::net::SocketAddr, std::net::SocketAddr),
    ) -> Result<()> {
        self.relay = Some(self.rt.block_on(Relay::start(RelayConfig {
            http,
            media,
            secret: SECRET.into(),
            rtmp: None,
            ..RelayConfig::default()
        }))?);
        Ok(())
    }
}

impl Drop for Class {
    fn drop(&mut self) {
        if let Some(relay) = self.relay.take() {
            self.rt.block_on(relay.shutdown());
        }
    }
}

fn call(page: &Session, js: &str, token: &str) -> Result<Value> {
    let v = page.script_async(js, json!([token]))?;
    if let Some(e) = v.get("error") {
        bail!("page script failed: {e}");
    }
    Ok(v)
}

fn artifacts() -> Option<std::path::PathBuf> {
    let dir = std::path::PathBuf::from(std::env::var_os("LECTERN_ARTIFACTS")?);
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

#[test]
#[ignore = "needs chromium and chromedriver (cargo xtask test runs it)"]
fn chromium_publishes_through_whip_and_another_chromium_watches_through_whep() -> Result<()> {
    let class = Class::start()?;
    let driver = Driver::chromedriver(free_port())?;
    let teacher = driver.chromium(&["--disable-features=WebRtcHideLocalIpsWithMdns"])?;
    teacher.script_timeout(Duration::from_secs(30))?;
    teacher.navigate(&format!("{}/healthz", class.base))?;
    let published = call(
        &teacher,
        PUBLISH,
        &class.token("teacher", "Ms Wang", Role::Teacher),
    )?;
    assert!(
        published["location"]
            .as_str()
            .is_some_and(|l| l.starts_with("/whip/math/"))
    );

    let viewer = driver.chromium(&[
        "--disable-features=WebRtcHideLocalIpsWithMdns",
        "--autoplay-policy=no-user-gesture-required",
    ])?;
    viewer.script_timeout(Duration::from_secs(30))?;
    viewer.navigate(&format!("{}/healthz", class.base))?;
    let watched = viewer.script_async(
        WHEP_WATCH,
        json!([class.token("s1", "Ann", Role::Student), "/whep/math"]),
    )?;
    if let Some(e) = watched.get("error") {
        bail!("watch failed: {e}");
    }
    let playing = wait_playing("WHEP viewer", 30.0, Duration::from_secs(20), || {
        viewer.script_async(WHEP_STATS, json!([])).context("stats")
    })?;
    assert_eq!(playing["state"], "connected");
    assert_eq!(
        playing["width"], 640,
        "the viewer decodes the publisher's picture size"
    );
    // Still rising a moment later: the stream keeps flowing, not just a first burst.
    let later = wait_playing("WHEP viewer, later", 20.0, Duration::from_secs(10), || {
        viewer.script_async(WHEP_STATS, json!([])).context("stats")
    })?;
    assert!(num(&later, "framesDecoded") > num(&playing, "framesDecoded"));
    Ok(())
}

#[test]
#[ignore = "needs chromium and chromedriver (cargo xtask test runs it)"]
fn chromium_student_page_plays_the_class_chats_and_recovers_when_the_teacher_returns() -> Result<()>
{
    let class = Class::start()?;
    let driver = Driver::chromedriver(free_port())?;
    let teacher = driver.chromium(&["--disable-features=WebRtcHideLocalIpsWithMdns"])?;
    teacher.script_timeout(Duration::from_secs(30))?;
    teacher.navigate(&format!("{}/healthz", class.base))?;
    let teacher_token = class.token("teacher", "Ms Wang", Role::Teacher);

    // The student arrives first and waits; a real browser hides its address behind mDNS.
    let student = driver.chromium(&["--lang=zh-CN"])?;
    student.script_timeout(Duration::from_secs(30))?;
    let student_token = class.token("s1", "Li Lei", Role::Student);
    student.navigate(&format!("{}/room/math?token={student_token}", class.base))?;
    student.wait_for(
        "[data-testid=student-status][data-state=waiting]",
        Duration::from_secs(15),
    )?;
    student.wait_for(
        "[data-testid=roster-item][data-peer=s1]",
        Duration::from_secs(5),
    )?;
    let start = student.wait_for("[data-testid=student-start]", Duration::from_secs(5))?;
    student.click(&start)?;

    call(&teacher, PUBLISH, &teacher_token)?;
    student.wait_for(
        "[data-testid=student-status][data-state=live]",
        Duration::from_secs(20),
    )?;
    let stats = || {
        student
            .script_async(STUDENT_STATS, json!([]))
            .context("student stats")
    };
    wait_playing("student page", 30.0, Duration::from_secs(20), stats)?;

    // Chat goes through the relay and comes back.
    let input = student.wait_for("[data-testid=chat-input]", Duration::from_secs(5))?;
    student.send_keys(&input, "老师好")?;
    let send = student.wait_for("[data-testid=chat-send]", Duration::from_secs(5))?;
    student.click(&send)?;
    let line = student.wait_for(
        "[data-testid=chat-line][data-from=s1]",
        Duration::from_secs(10),
    )?;
    let started = Instant::now();
    let mut said = student.text(&line)?;
    while !said.contains("老师好") && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(100));
        said = student.text(&line)?;
    }
    assert!(said.contains("老师好"), "chat line reads {said:?}");
    if let Some(dir) = artifacts() {
        student.screenshot(&dir.join("student-page-live.png"))?;
    }

    // The teacher drops out: the page waits; the teacher comes back: it plays again.
    let status = teacher.script_async(UNPUBLISH, json!([teacher_token]))?;
    assert_eq!(status, 200);
    student.wait_for(
        "[data-testid=student-status][data-state=waiting]",
        Duration::from_secs(15),
    )?;
    call(&teacher, PUBLISH, &teacher_token)?;
    student.wait_for(
        "[data-testid=student-status][data-state=live]",
        Duration::from_secs(20),
    )?;
    wait_playing(
        "student page after the teacher returned",
        30.0,
        Duration::from_secs(25),
        stats,
    )?;
    Ok(())
}

#[test]
#[ignore = "needs chromium and chromedriver (cargo xtask test runs it)"]
fn chromium_student_joins_by_the_class_link_and_plays_again_after_the_relay_restarts() -> Result<()>
{
    let mut class = Class::start()?;
    let whip = format!("{}/whip/math", class.base);
    // The console's own publisher on synthetic devices, as in a class.
    let teacher = {
        let _rt = class.rt.enter();
        Teacher::start(
            whip,
            class.token("teacher", "Ms Wang", Role::Teacher),
            VideoMode {
                width: 640,
                height: 360,
                fps: 30,
            },
        )
    };
    class
        .rt
        .block_on(teacher.wait_for(PublishState::Live, Duration::from_secs(20)));

    // The student opens the class link everyone got, types a name, and plays.
    let link = class
        .relay
        .as_ref()
        .expect("running")
        .signer()
        .issue_invite(
            RoomId::new("math")?,
            Role::Student,
            Duration::from_secs(600),
        );
    let driver = Driver::chromedriver(free_port())?;
    let student = driver.chromium(&["--autoplay-policy=no-user-gesture-required"])?;
    student.script_timeout(Duration::from_secs(30))?;
    student.navigate(&format!("{}/room/math?token={link}", class.base))?;
    student.join_class("Li Lei")?;
    let start = student.wait_for("[data-testid=student-start]", Duration::from_secs(15))?;
    student.click(&start)?;
    student.wait_for(
        "[data-testid=student-status][data-state=live]",
        Duration::from_secs(20),
    )?;
    let stats = || {
        student
            .script_async(STUDENT_STATS, json!([]))
            .context("student stats")
    };
    wait_playing("student page", 30.0, Duration::from_secs(20), stats)?;

    // The relay process dies; the publisher notices; the relay comes back a moment later.
    let addrs = class.kill();
    class
        .rt
        .block_on(teacher.wait_for(PublishState::Reconnecting, Duration::from_secs(15)));
    std::thread::sleep(Duration::from_secs(1));
    class.restart(addrs)?;
    let back = class
        .rt
        .block_on(teacher.wait_for(PublishState::Live, Duration::from_secs(30)));
    assert!(back.reconnects >= 1, "{back:?}");
    // The page reconnects by itself (no reload, no click) under the same name, and plays.
    student.wait_for(
        "[data-testid=student-status][data-state=live]",
        Duration::from_secs(40),
    )?;
    let playing = wait_playing(
        "student page after the relay restarted",
        30.0,
        Duration::from_secs(30),
        stats,
    )?;
    let names = student.script(
        "return Array.from(document.querySelectorAll('[data-testid=roster-item]')).map(e => e.textContent).join('|')",
    )?;
    assert!(
        names.as_str().is_some_and(|n| n.contains("Li Lei")),
        "roster after the restart: {names}"
    );
    eprintln!("after the restart: {playing}");
    class.rt.block_on(teacher.live.stop());
    Ok(())
}

//! A minimal W3C WebDriver client over HTTP, enough to drive the app through tauri-driver
//! and headless Chromium through chromedriver.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// A running `tauri-driver`, killed on drop.
#[derive(Debug)]
pub struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    /// Starts `tauri-driver` on `port` (and `port + 1` for WebKitWebDriver) with extra
    /// environment for the app it will launch.
    pub fn start(port: u16, env: &[(&str, &str)]) -> Result<Self> {
        let mut cmd = Command::new("tauri-driver");
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &(port + 1).to_string(),
        ]);
        Self::spawn(cmd, port, env)
    }

    /// Starts Debian's `chromedriver` on `port`.
    pub fn chromedriver(port: u16) -> Result<Self> {
        let mut cmd = Command::new("chromedriver");
        cmd.arg(format!("--port={port}"));
        Self::spawn(cmd, port, &[])
    }

    fn spawn(mut cmd: Command, port: u16, env: &[(&str, &str)]) -> Result<Self> {
        let program = cmd.get_program().to_string_lossy().into_owned();
        cmd.stdout(Stdio::null()).stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        // Its own process group, so dropping the driver also ends the WebKitWebDriver
        // and app processes it starts.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {program} (cargo xtask setup installs it)"))?;
        let driver = Self { child, port };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(20) {
                bail!("{program} did not listen on {port}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(driver)
    }

    /// Opens a session on the app binary.
    pub fn session(&self, application: &str) -> Result<Session> {
        self.session_with(
            json!({"browserName": "wry", "tauri:options": {"application": application}}),
        )
    }

    /// Opens a headless Chromium with fake camera and microphone that may use loopback
    /// ICE candidates. `extra_args` are added to the command line.
    pub fn chromium(&self, extra_args: &[&str]) -> Result<Session> {
        let mut args = vec![
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            "--allow-loopback-in-peer-connection",
            "--window-size=1280,800",
        ];
        args.extend_from_slice(extra_args);
        self.session_with(json!({"browserName": "chrome", "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}}))
    }

    fn session_with(&self, capabilities: Value) -> Result<Session> {
        lectern_client::http::ensure_crypto_provider();
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()?;
        let base = format!("http://127.0.0.1:{}", self.port);
        let caps = json!({"capabilities": {"alwaysMatch": capabilities}});
        // tauri-driver listens before the WebKitWebDriver behind it does: a request in
        // that gap has its connection closed without an answer. Only that is retried.
        let started = Instant::now();
        let v: Value = loop {
            match http.post(format!("{base}/session")).json(&caps).send() {
                Ok(resp) => break resp.json()?,
                Err(e) if e.is_request() && started.elapsed() < Duration::from_secs(15) => {
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(e) => return Err(e.into()),
            }
        };
        let id = v["value"]["sessionId"]
            .as_str()
            .with_context(|| format!("no session: {v}"))?
            .to_owned();
        Ok(Session {
            http,
            url: format!("{base}/session/{id}"),
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        #[cfg(unix)]
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One WebDriver session; deleted (closing the app) on drop.
#[derive(Debug)]
pub struct Session {
    http: reqwest::blocking::Client,
    url: String,
}

/// A found element.
#[derive(Debug, Clone)]
pub struct Element(String);

/// Page script: watches over WHEP (`arguments[1]`, a path such as `/whep/math` or
/// `/whep/math?peer=s2`) with the token `arguments[0]`, and plays the tracks in a
/// `<video>` so that audio is rendered and its energy counted. Resolves `{ ok }` or
/// `{ error }`.
pub const WHEP_WATCH: &str = r#"
const [token, path, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
(async () => {
  const pc = new RTCPeerConnection();
  window.pc = pc;
  pc.addTransceiver("audio", { direction: "recvonly" });
  pc.addTransceiver("video", { direction: "recvonly" });
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((r) => {
    if (pc.iceGatheringState === "complete") r();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && r();
    setTimeout(r, 2000);
  });
  const res = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/sdp", authorization: "Bearer " + token },
    body: pc.localDescription.sdp,
  });
  const text = await res.text();
  if (res.status !== 201) return done({ error: res.status + " " + text });
  await pc.setRemoteDescription({ type: "answer", sdp: text });
  const el = document.createElement("video");
  el.muted = false;
  el.autoplay = true;
  el.srcObject = new MediaStream(pc.getReceivers().map((r) => r.track));
  document.body.appendChild(el);
  el.play().catch(() => {});
  done({ ok: true, location: res.headers.get("location") });
})().catch((e) => done({ error: String(e) }));
"#;

/// Page script: the `window.pc` of [`WHEP_WATCH`]: connection state, video frames
/// decoded and their size, total audio energy.
pub const WHEP_STATS: &str = r#"
const done = arguments[arguments.length - 1];
window.pc.getStats().then((report) => {
  const out = { state: window.pc.connectionState, framesDecoded: 0, audioEnergy: 0, width: 0, height: 0 };
  report.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "video") {
      out.framesDecoded = s.framesDecoded || 0; out.width = s.frameWidth || 0; out.height = s.frameHeight || 0;
    }
    if (s.type === "inbound-rtp" && s.kind === "audio") out.audioEnergy = s.totalAudioEnergy || 0;
  });
  done(out);
});
"#;

/// The student page's own figures (`window.__lecternStudent.stats()`): frames decoded,
/// audio energy, and the rest; run with [`Session::script_async`].
pub const STUDENT_STATS: &str = r#"
const done = arguments[arguments.length - 1];
window.__lecternStudent.stats().then(done, (e) => done({ error: String(e) }));
"#;

/// A TCP port free on loopback right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A port whose successor is free too (tauri-driver takes one, WebKitWebDriver the next).
pub fn free_pair() -> u16 {
    loop {
        let port = free_port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

/// The app binary under test (`cargo xtask test` builds it and sets the variable).
pub fn app() -> String {
    std::env::var("LECTERN_APP_BINARY").expect("LECTERN_APP_BINARY: run through `cargo xtask test`")
}

/// Where a screenshot named `name` goes: `$LECTERN_ARTIFACTS`, else the temp directory.
pub fn artifact(name: &str) -> std::path::PathBuf {
    let dir = std::env::var_os("LECTERN_ARTIFACTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&dir).expect("artifact directory");
    dir.join(name)
}

/// Calls `f` every 250 ms until it returns something; panics naming `what` after `timeout`.
pub fn poll<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The app on synthetic devices with an embedded relay on free ports, English UI, its
/// data in `data_dir` (exports in `data_dir/exports`), under its own tauri-driver; the
/// Class page open.
pub fn open_class_page(data_dir: &std::path::Path) -> Result<(Driver, Session)> {
    let exports = data_dir.join("exports").to_string_lossy().into_owned();
    let data_dir = data_dir.to_string_lossy().into_owned();
    let env = [
        ("LECTERN_DATA_DIR", data_dir.as_str()),
        ("LECTERN_EXPORT_DIR", exports.as_str()),
        ("LECTERN_SYNTHETIC_DEVICES", "1"),
        ("LANG", "en_US.UTF-8"),
        ("LC_ALL", "en_US.UTF-8"),
        ("LECTERN_RELAY_HTTP", "127.0.0.1:0"),
        ("LECTERN_RELAY_MEDIA", "127.0.0.1:0"),
        ("LECTERN_RELAY_RTMP", "127.0.0.1:0"),
    ];
    // Ports of its own: other WebDriver tests run at the same time.
    let driver = Driver::start(free_pair(), &env)?;
    let s = driver.session(&app())?;
    let nav = s.wait_for("[data-testid=nav-class]", Duration::from_secs(30))?;
    s.click(&nav)?;
    Ok((driver, s))
}

/// A number field of a JSON object, 0 when absent.
pub fn num(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

impl Session {
    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send()?.json()?;
        if let Some(err) = v["value"]["error"].as_str() {
            bail!("{path}: {err}: {}", v["value"]["message"]);
        }
        Ok(v["value"].clone())
    }

    /// All elements matching a CSS selector.
    pub fn find_all(&self, css: &str) -> Result<Vec<Element>> {
        let v = self.call(
            reqwest::Method::POST,
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| {
                        e.as_object()?
                            .values()
                            .next()?
                            .as_str()
                            .map(|s| Element(s.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The first element matching, waiting up to `timeout` for it to appear.
    pub fn wait_for(&self, css: &str, timeout: Duration) -> Result<Element> {
        let started = Instant::now();
        loop {
            if let Some(e) = self.find_all(css)?.into_iter().next() {
                return Ok(e);
            }
            if started.elapsed() > timeout {
                bail!("no element {css} after {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// On the student page opened with a class link: types `name` and joins.
    pub fn join_class(&self, name: &str) -> Result<()> {
        let field = self.wait_for("[data-testid=join-name]", Duration::from_secs(20))?;
        // A name this browser used before is filled in; start from an empty field.
        self.script(
            "const f = document.querySelector('[data-testid=join-name]'); \
             f.value = ''; f.dispatchEvent(new Event('input'))",
        )?;
        self.send_keys(&field, name)?;
        let submit = self.wait_for(
            "[data-testid=join-submit]:not([disabled])",
            Duration::from_secs(5),
        )?;
        self.click(&submit)
    }

    /// On the Class page: names the room, starts the class, waits until it is live and
    /// returns the student join link.
    pub fn start_class(&self, room: &str) -> Result<String> {
        let field = self.wait_for("[data-testid=room-name]", Duration::from_secs(10))?;
        self.send_keys(&field, room)?;
        let start = self.wait_for(
            "[data-testid=start-class]:not([disabled])",
            Duration::from_secs(10),
        )?;
        self.click(&start)?;
        self.wait_for(
            "[data-testid=publish-state][data-state=live]",
            Duration::from_secs(30),
        )?;
        self.wait_for("[data-testid=join-url]", Duration::from_secs(5))?;
        let url = self.script("return document.querySelector('[data-testid=join-url]').value")?;
        url.as_str()
            .map(str::to_owned)
            .with_context(|| format!("no join link: {url}"))
    }

    /// Clicks an element.
    pub fn click(&self, e: &Element) -> Result<()> {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/click", e.0),
            Some(json!({})),
        )
        .map(drop)
    }

    /// Types `text` into an element.
    pub fn send_keys(&self, e: &Element, text: &str) -> Result<()> {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/value", e.0),
            Some(json!({"text": text})),
        )
        .map(drop)
    }

    /// An element's visible text.
    pub fn text(&self, e: &Element) -> Result<String> {
        Ok(self
            .call(
                reqwest::Method::GET,
                &format!("/element/{}/text", e.0),
                None,
            )?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// An element's attribute.
    pub fn attribute(&self, e: &Element, name: &str) -> Result<Option<String>> {
        Ok(self
            .call(
                reqwest::Method::GET,
                &format!("/element/{}/attribute/{name}", e.0),
                None,
            )?
            .as_str()
            .map(str::to_owned))
    }

    /// Runs a script in the page and returns its result.
    pub fn script(&self, js: &str) -> Result<Value> {
        self.script_with(js, json!([]))
    }

    /// Runs a script with `arguments`.
    pub fn script_with(&self, js: &str, args: Value) -> Result<Value> {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": js, "args": args})),
        )
    }

    /// Runs an async script: it gets `arguments` and calls the last one with its result.
    pub fn script_async(&self, js: &str, args: Value) -> Result<Value> {
        self.call(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": js, "args": args})),
        )
    }

    /// Draws with the mouse over `e`: presses at the first point, moves through the
    /// rest, releases. Points are offsets in CSS pixels from the element's centre. Real
    /// input through the driver (W3C actions), so the page sees trusted pointer events.
    pub fn draw(&self, e: &Element, points: &[(i64, i64)]) -> Result<()> {
        let origin = json!({"element-6066-11e4-a52e-4f735466cecf": e.0});
        let mut actions = Vec::new();
        for (i, &(x, y)) in points.iter().enumerate() {
            actions.push(
                json!({"type": "pointerMove", "duration": if i == 0 { 0 } else { 30 },
                "origin": origin, "x": x, "y": y}),
            );
            if i == 0 {
                actions.push(json!({"type": "pointerDown", "button": 0}));
            }
        }
        actions.push(json!({"type": "pointerUp", "button": 0}));
        self.call(
            reqwest::Method::POST,
            "/actions",
            Some(json!({"actions": [{
                "type": "pointer", "id": "mouse",
                "parameters": {"pointerType": "mouse"},
                "actions": actions,
            }]})),
        )?;
        self.call(reqwest::Method::DELETE, "/actions", None)
            .map(drop)
    }

    /// Loads a URL.
    pub fn navigate(&self, url: &str) -> Result<()> {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .map(drop)
    }

    /// Sets the time limit of async scripts.
    pub fn script_timeout(&self, timeout: Duration) -> Result<()> {
        self.call(
            reqwest::Method::POST,
            "/timeouts",
            Some(json!({"script": timeout.as_millis() as u64})),
        )
        .map(drop)
    }

    /// Saves a PNG screenshot of the window.
    pub fn screenshot(&self, path: &std::path::Path) -> Result<()> {
        let v = self.call(reqwest::Method::GET, "/screenshot", None)?;
        let png = decode_base64(v.as_str().context("screenshot is not a string")?)?;
        std::fs::write(path, png).with_context(|| path.display().to_string())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.http.delete(&self.url).send();
    }
}

fn decode_base64(text: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => bail!("bad base64"),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(out)
}

/// Waits until `stats` shows frames decoded rising by at least `frames` and audio energy.
pub fn wait_playing(
    what: &str,
    frames: f64,
    timeout: Duration,
    stats: impl Fn() -> Result<Value>,
) -> Result<Value> {
    let started = Instant::now();
    let first = stats()?;
    let mut last = first.clone();
    while started.elapsed() < timeout {
        std::thread::sleep(Duration::from_millis(500));
        last = stats()?;
        if num(&last, "framesDecoded") - num(&first, "framesDecoded") >= frames
            && num(&last, "audioEnergy") > 0.0
        {
            return Ok(last);
        }
    }
    bail!("{what}: not playing after {timeout:?}: first {first}, last {last}")
}

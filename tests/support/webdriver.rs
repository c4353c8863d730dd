//! A minimal W3C WebDriver client over HTTP, enough to drive the app through tauri-driver.

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
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        // Its own process group, so dropping the driver also ends the WebKitWebDriver
        // and app processes it starts.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .spawn()
            .context("starting tauri-driver (cargo install tauri-driver --locked)")?;
        let driver = Self { child, port };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(20) {
                bail!("tauri-driver did not listen on {port}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(driver)
    }

    /// Opens a session on the app binary.
    pub fn session(&self, application: &str) -> Result<Session> {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()?;
        let base = format!("http://127.0.0.1:{}", self.port);
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "wry", "tauri:options": {"application": application}}}});
        let v: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()?
            .json()?;
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

    /// Clicks an element.
    pub fn click(&self, e: &Element) -> Result<()> {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/click", e.0),
            Some(json!({})),
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
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": js, "args": []})),
        )
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

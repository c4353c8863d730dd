//! The whiteboard renderer in a real browser: headless Chromium (software rendering, as
//! on this machine) opens the board demo page and runs `ui/src/board/bench.ts` on a page
//! of 5,000 pressure strokes: the frame time while a stroke is being drawn on top (the
//! 60 fps case), the one-off redraw of all strokes, and a frame with no cached layer.
//! Every timed frame reads one pixel back, so it includes its rasterization.
//!
//! Needs the built UI (`npm run build` in `ui/`; `cargo xtask bench` does it), chromedriver
//! and Chromium, and python3 to serve the files.
//!
//! `cargo bench -p lectern-e2e --bench board_render -- [strokes]`

use lectern_e2e::webdriver::{Driver, free_port};
use serde_json::json;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `python3 -m http.server` over a directory, killed on drop.
struct Files(Child);

impl Files {
    fn serve(dir: &Path, port: u16) -> Self {
        let child = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1"])
            .arg(port.to_string())
            .arg("--directory")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the file server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self(child)
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let strokes: u32 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(5000);
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/dist");
    assert!(
        dist.join("board-demo.html").exists(),
        "no {}: run `npm run build` in ui/ (`cargo xtask bench` does)",
        dist.join("board-demo.html").display()
    );
    let port = free_port();
    let _files = Files::serve(&dist, port);
    let chrome = Driver::chromedriver(free_port()).expect("chromedriver starts");
    let page = chrome.chromium(&[]).expect("Chromium starts");
    page.script_timeout(Duration::from_secs(600))
        .expect("timeouts");
    page.navigate(&format!("http://127.0.0.1:{port}/board-demo.html"))
        .expect("the demo page loads");
    let started = Instant::now();
    while page
        .script("return typeof window.lecternBoardBench")
        .ok()
        .and_then(|v| v.as_str().map(|s| s == "function"))
        != Some(true)
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the demo page never installed its bench"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let result = page
        .script_async(
            "const done = arguments[arguments.length - 1];
             window.lecternBoardBench({ strokes: arguments[0], frames: 240 })
               .then(done, (e) => done({ error: String(e) }));",
            json!([strokes]),
        )
        .expect("the bench runs");
    assert!(result.get("error").is_none(), "the bench failed: {result}");
    let version = page
        .script("return navigator.userAgent.match(/Chrome\\/[0-9.]+/)?.[0] ?? ''")
        .unwrap_or_default();
    println!(
        "{}",
        json!({"scenario": "render", "browser": version, "result": result})
    );
}

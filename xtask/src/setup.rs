//! Installs what the app and the tests need, per OS. On Debian/Ubuntu it uses apt
//! (as root, or through passwordless sudo); otherwise it prints the one command to run.

use anyhow::{Result, bail};

use crate::sh::{cargo_bin, cmd, has};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Build and start the app.
    Run,
    /// Also run every test.
    Test,
}

/// Debian packages to build and run the app.
const APT_RUN: &[&str] = &[
    "build-essential",
    "pkg-config",
    "libwebkit2gtk-4.1-dev", // Tauri's webview (pulls GTK 3, libsoup 3)
    "librsvg2-dev",
    "libasound2-dev", // cpal
    "libclang-dev",   // nokhwa's v4l2 bindings (bindgen)
    "clang",
    "cmake",
    "nasm", // openh264's assembly; without it a slower C fallback is built silently
    "xvfb", // a virtual screen when there is no display
    "xauth",
];

/// Debian packages the tests need on top.
const APT_TEST: &[&str] = &[
    "webkit2gtk-driver", // WebKitWebDriver, driven through tauri-driver
    "pulseaudio",        // a real, paced audio device for cpal
    "pulseaudio-utils",
    "libasound2-plugins", // ALSA → PulseAudio
    "alsa-utils",
    "imagemagick",
    "chromium", // a real WebRTC peer: WHIP publisher, WHEP viewer, the student page
    "chromium-driver",
    "fonts-noto-cjk", // Chinese text in screenshots
    // A third-party WHIP publisher: GStreamer's webrtcbin driven from Python. (Debian 12's
    // simple-whip-client aborts at start: it mixes libsoup 2 and 3.)
    "gstreamer1.0-tools",
    "gstreamer1.0-plugins-base",
    "gstreamer1.0-plugins-good",
    "gstreamer1.0-plugins-bad",
    "gstreamer1.0-plugins-ugly", // x264enc
    "gstreamer1.0-nice",
    "python3-gi",
    "gir1.2-gstreamer-1.0",
    "gir1.2-gst-plugins-base-1.0",
    "gir1.2-gst-plugins-bad-1.0",
    "gir1.2-nice-0.1",
    // Office documents (PPTX, DOCX, ODP) onto the whiteboard: LibreOffice headless.
    "libreoffice-writer-nogui",
    "libreoffice-impress-nogui",
    // The mini-program's stand-in: ffmpeg pushes RTMP like `live-pusher` and plays RTMP
    // and HTTP-FLV like `live-player`.
    "ffmpeg",
];

/// Node.js 18 is the oldest the UI toolchain (Vite 6) supports.
const NODE_MIN_MAJOR: u32 = 18;

pub(crate) fn npm() -> &'static str {
    if cfg!(windows) { "npm.cmd" } else { "npm" }
}

pub(crate) fn ensure(purpose: Purpose) -> Result<()> {
    if cfg!(target_os = "linux") {
        linux(purpose)?;
    } else if cfg!(target_os = "macos") {
        macos()?;
    } else if cfg!(windows) {
        windows()?;
    }
    node()?;
    if purpose == Purpose::Test && cfg!(target_os = "linux") && !has("tauri-driver") {
        cmd("cargo")
            .args(["install", "tauri-driver", "--locked"])
            .run()?;
    }
    Ok(())
}

fn linux(purpose: Purpose) -> Result<()> {
    if !has("dpkg-query") || !has("apt-get") {
        eprintln!(
            "xtask: not a Debian/Ubuntu system: install the equivalents of: {}",
            APT_RUN
                .iter()
                .chain(APT_TEST)
                .copied()
                .collect::<Vec<_>>()
                .join(" ")
        );
        return Ok(());
    }
    let mut wanted: Vec<&str> = APT_RUN.to_vec();
    if purpose == Purpose::Test {
        wanted.extend(APT_TEST);
    }
    if !node_ok() {
        wanted.extend(["nodejs", "npm"]);
    }
    let missing: Vec<&str> = wanted.into_iter().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing system packages: {}", missing.join(" "));
    let root = cmd("id")
        .arg("-u")
        .output()
        .map(|u| u.trim() == "0")
        .unwrap_or(false);
    let sudo = !root && cmd("sudo").args(["-n", "true"]).succeeds();
    if !root && !sudo {
        bail!(
            "these packages are missing and I cannot install them without a password; run:\n\n    sudo apt-get update && sudo apt-get install -y {}\n\nthen run this command again",
            missing.join(" ")
        );
    }
    let apt = |args: &[&str]| {
        let c = if root {
            cmd("apt-get")
        } else {
            cmd("sudo").arg("apt-get")
        };
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive").run()
    };
    apt(&["update", "-q"])?;
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend(&missing);
    apt(&install)
}

fn installed(package: &str) -> bool {
    cmd("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|s| s.contains("install ok installed"))
}

fn node_major() -> Option<u32> {
    let v = cmd("node").arg("--version").output().ok()?;
    v.trim()
        .trim_start_matches('v')
        .split('.')
        .next()?
        .parse()
        .ok()
}

fn node_ok() -> bool {
    node_major().is_some_and(|m| m >= NODE_MIN_MAJOR) && has(npm())
}

fn node() -> Result<()> {
    if node_ok() {
        return Ok(());
    }
    bail!(
        "Node.js {NODE_MIN_MAJOR} or newer with npm is needed to build the UI. {}",
        if cfg!(target_os = "macos") {
            "Install it with `brew install node` (or from nodejs.org)."
        } else if cfg!(windows) {
            "Install it with `winget install OpenJS.NodeJS.LTS` (or from nodejs.org)."
        } else {
            "Install it with your package manager (Debian/Ubuntu: `apt-get install nodejs npm`)."
        }
    )
}

fn macos() -> Result<()> {
    // Tauri needs the Xcode command line tools; WebKit, AVFoundation and CoreAudio ship with macOS.
    if !cmd("xcode-select").arg("-p").succeeds() {
        bail!("install the Xcode command line tools first: `xcode-select --install`");
    }
    if !has("cmake") {
        eprintln!(
            "xtask: cmake not found; the Opus encoder (coming next) needs it: `brew install cmake`"
        );
    }
    Ok(())
}

fn windows() -> Result<()> {
    // WebView2 ships with Windows 10 (1803+) and 11; MSVC comes with the Rust toolchain set-up.
    if !has("cl") && !has("link") {
        eprintln!(
            "xtask: if the build fails to link, install \"Desktop development with C++\" from the Visual Studio Build Tools"
        );
    }
    let _ = cargo_bin();
    Ok(())
}

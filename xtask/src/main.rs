//! `cargo xtask run | test | bench | setup | ui | bindings | fuzz` — the project's two commands
//! and their helpers. Only std and anyhow, so it builds in seconds on a fresh machine.

mod bench;
mod bench_board;
mod bench_flv;
mod bench_publish;
mod fuzz;
mod pulse;
mod setup;
mod sh;
mod xiu;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::sh::{cmd, has};

const USAGE: &str = "\
usage: cargo xtask <command>

  run [-- ARGS]   set up what is missing, build the UI and the app, start it
                  (under Xvfb when there is no display)
  test            set up, then run every test: Rust (nextest), UI (vitest, vue-tsc),
                  real audio through PulseAudio, and the WebDriver suite
  bench [GROUP]   run the benchmarks and write BENCHMARKS.md (`board`, `flv`, `impaired` or `stage`: only those rows)
  setup           install system packages and tools only
  ui              build the UI only
  bindings        regenerate ui/src/bindings.ts from the Rust commands
  fuzz [--seconds N]
                  run each relay fuzz target for N seconds (default 20)
  xiu             build (or reuse) xiu 0.14.0 with the edits the fan-out comparison
                  needs, outside the repository, and print the binary's path
";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    rebuild_if_from_another_checkout(&args)?;
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("run") => run(&root, &args[1..]),
        Some("test") => test(&root),
        Some("bench") => {
            setup::ensure(setup::Purpose::Run)?;
            build_ui(&root)?;
            match args.get(1).map(String::as_str) {
                Some(group) => bench::run_group(&root, group),
                None => bench::run(&root),
            }
        }
        Some("setup") => setup::ensure(setup::Purpose::Test),
        Some("ui") => build_ui(&root),
        Some("fuzz") => fuzz::run(&root, fuzz::seconds_arg(&args[1..])?),
        Some("xiu") => {
            println!("{}", xiu::build_xiu()?.display());
            Ok(())
        }
        Some("bindings") => cmd("cargo")
            .args([
                "test",
                "-p",
                "lectern",
                "--lib",
                "typescript_bindings_are_current",
            ])
            .env("LECTERN_UPDATE_BINDINGS", "1")
            .run(),
        _ => {
            eprint!("{USAGE}");
            bail!("unknown command")
        }
    }
}

/// Two checkouts sharing one `CARGO_TARGET_DIR` (a working copy and a CI clone, as
/// `.ci/run` keeps the cache outside the clone) share `target/debug/xtask`: cargo finds
/// this checkout's xtask up to date and runs the binary the other one linked last, which
/// would test the other checkout. `cargo run` says which package it meant in
/// `CARGO_MANIFEST_DIR`; when that is not where this binary was built from, touch our
/// source so cargo links ours, and run that instead.
fn rebuild_if_from_another_checkout(args: &[String]) -> Result<()> {
    let Some(meant) = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from) else {
        return Ok(());
    };
    let built = Path::new(env!("CARGO_MANIFEST_DIR"));
    if meant == built || std::env::var_os("LECTERN_XTASK_RELAUNCHED").is_some() {
        return Ok(());
    }
    eprintln!(
        "xtask: this binary was built from {}; rebuilding the one in {}",
        built.display(),
        meant.display()
    );
    std::fs::File::options()
        .append(true)
        .open(meant.join("src/main.rs"))?
        .set_modified(std::time::SystemTime::now())?;
    let status = std::process::Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()))
        .args(["run", "--quiet", "--package", "xtask", "--"])
        .args(args)
        .current_dir(meant.parent().unwrap_or(&meant))
        .env("LECTERN_XTASK_RELAUNCHED", "1")
        .status()?;
    std::process::exit(status.code().unwrap_or(1));
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

/// The target directory cargo uses, so we can find the binaries it built.
pub(crate) fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

fn app_binary(root: &Path) -> PathBuf {
    target_dir(root)
        .join("debug")
        .join(format!("lectern{}", std::env::consts::EXE_SUFFIX))
}

/// `npm ci` when the lock file changed since the last install, then `npm run build`.
fn build_ui(root: &Path) -> Result<()> {
    let ui = root.join("ui");
    let lock = std::fs::read(ui.join("package-lock.json")).context("ui/package-lock.json")?;
    let stamp_path = ui.join("node_modules/.lectern-lock-stamp");
    let stamp = format!("{:016x}", sh::fnv1a(&lock));
    if std::fs::read_to_string(&stamp_path).ok().as_deref() != Some(stamp.as_str()) {
        cmd(setup::npm())
            .args(["ci", "--no-audit", "--no-fund"])
            .dir(&ui)
            .run()?;
        std::fs::write(&stamp_path, &stamp)?;
    }
    cmd(setup::npm()).args(["run", "build"]).dir(&ui).run()
}

fn needs_xvfb() -> bool {
    cfg!(target_os = "linux")
        && std::env::var_os("DISPLAY").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
}

fn xvfb_wrap(program: &str) -> sh::Cmd {
    if needs_xvfb() {
        cmd("xvfb-run").args(["-a", "-s", "-screen 0 1280x800x24", program])
    } else {
        cmd(program)
    }
}

fn run(root: &Path, extra: &[String]) -> Result<()> {
    setup::ensure(setup::Purpose::Run)?;
    build_ui(root)?;
    cmd("cargo").args(["build", "-p", "lectern"]).run()?;
    let binary = app_binary(root);
    if needs_xvfb() {
        eprintln!(
            "xtask: no display found: starting Lectern under Xvfb (a virtual screen, nothing visible)."
        );
        eprintln!(
            "xtask: to look at it, run `DISPLAY=:99 import -window root shot.png` style tools, or set DISPLAY."
        );
    }
    let args: Vec<&str> = extra
        .iter()
        .skip_while(|a| *a == "--")
        .map(String::as_str)
        .collect();
    xvfb_wrap(&binary.to_string_lossy()).args(args).run()
}

fn test(root: &Path) -> Result<()> {
    setup::ensure(setup::Purpose::Test)?;
    build_ui(root)?;
    let ui = root.join("ui");
    cmd(setup::npm())
        .args(["run", "typecheck"])
        .dir(&ui)
        .run()?;
    cmd(setup::npm()).args(["test"]).dir(&ui).run()?;

    let nextest = has("cargo-nextest");
    // 1. Every Rust test that needs nothing but this machine.
    if nextest {
        cmd("cargo")
            .args(["nextest", "run", "--workspace", "--no-fail-fast"])
            .run()?;
    } else {
        cmd("cargo")
            .args(["test", "--workspace", "--no-fail-fast"])
            .run()?;
    }
    // 2. Real audio: cpal against a PulseAudio null sink whose monitor is the default source.
    let pulse = pulse::NullSink::start(root)?;
    run_ignored(nextest, "pulse_", &pulse.env())?;
    drop(pulse);
    // 3. The app itself under WebDriver (tauri-driver + WebKitWebDriver) on a virtual screen.
    cmd("cargo").args(["build", "-p", "lectern"]).run()?;
    let artifacts = target_dir(root).join("e2e-artifacts");
    std::fs::create_dir_all(&artifacts)?;
    let env = vec![
        (
            "LECTERN_APP_BINARY".to_owned(),
            app_binary(root).to_string_lossy().into_owned(),
        ),
        (
            "LECTERN_ARTIFACTS".to_owned(),
            artifacts.to_string_lossy().into_owned(),
        ),
    ];
    run_ignored(nextest, "webdriver_", &env)?;
    // 4. Real third-party WebRTC peers against the relay: headless Chromium (publisher,
    //    viewer, the student page) and GStreamer's webrtcbin as a WHIP publisher.
    run_ignored(nextest, "chromium_", &env)?;
    run_ignored(nextest, "thirdparty_", &env)?;
    // 5. Office documents through the real LibreOffice.
    if nextest {
        cmd("cargo")
            .args([
                "nextest",
                "run",
                "-p",
                "lectern-convert",
                "--run-ignored",
                "only",
            ])
            .run()?;
    } else {
        cmd("cargo")
            .args(["test", "-p", "lectern-convert", "--", "--ignored"])
            .run()?;
    }
    // 6. The relay's parsers under libFuzzer, briefly.
    fuzz::run(root, fuzz::TEST_SECONDS)?;
    eprintln!(
        "xtask: all tests passed; WebDriver screenshots are in {}",
        artifacts.display()
    );
    Ok(())
}

/// Runs the ignored tests of the end-to-end crate whose names start with `prefix`
/// (tests that need a prepared environment; `needs a camera` tests are never run here).
fn run_ignored(nextest: bool, prefix: &str, env: &[(String, String)]) -> Result<()> {
    let mut c = xvfb_wrap("cargo");
    // WebKitGTK's web process, rendering in software under Xvfb, occasionally crashes
    // ("session deleted because of page crash"): one retry, which nextest reports as
    // FLAKY rather than hiding.
    let retries = if prefix == "webdriver_" { "1" } else { "0" };
    c = if nextest {
        c.args([
            "nextest",
            "run",
            "-p",
            "lectern-e2e",
            "--run-ignored",
            "only",
            "--no-fail-fast",
            "--retries",
            retries,
            "-E",
        ])
        .arg(format!("test(/^{prefix}/)"))
    } else {
        c.args(["test", "-p", "lectern-e2e", "--", "--ignored", prefix])
    };
    for (k, v) in env {
        c = c.env(k, v);
    }
    c.run()
}

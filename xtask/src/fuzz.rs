//! `cargo xtask fuzz [--seconds N]`: every fuzz target of the relay's parsers, briefly.
//!
//! The targets live in `crates/relay/fuzz`, a cargo-fuzz project outside the workspace.
//! cargo-fuzz passes `-Z` flags (sanitizers, coverage) to rustc; `RUSTC_BOOTSTRAP=1`
//! lets the stable toolchain accept them, so no nightly is needed.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::sh::{cmd, has};

/// One per parser of network input; see `crates/relay/fuzz/README.md`.
const TARGETS: &[&str] = &[
    "token",
    "stun",
    "h264",
    "sdp_offer",
    "signaling",
    "probe",
    "amf0",
    "rtmp_chunk",
    "rtmp_session",
    "flv_tag",
    "rtp_to_flv",
];

/// Seconds per target for `cargo xtask fuzz`.
pub(crate) const DEFAULT_SECONDS: u64 = 20;
/// Seconds per target at the end of `cargo xtask test`: a smoke run, not a campaign.
pub(crate) const TEST_SECONDS: u64 = 15;
/// An input slower than this is reported as a hang (libFuzzer's default is 20 minutes).
const INPUT_TIMEOUT_SECONDS: u64 = 10;

/// Parses `[--seconds N]`.
pub(crate) fn seconds_arg(args: &[String]) -> Result<u64> {
    match args {
        [] => Ok(DEFAULT_SECONDS),
        [flag, n] if flag == "--seconds" => n
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .with_context(|| format!("--seconds takes a positive whole number, not {n:?}")),
        _ => bail!("usage: cargo xtask fuzz [--seconds N]"),
    }
}

/// Fuzz builds get their own target directory: the sanitizer flags would otherwise
/// invalidate the normal build. Beside `CARGO_TARGET_DIR` when it is set, else the fuzz
/// crate's own (ignored) `target/`.
fn fuzz_target_dir(fuzz_dir: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .and_then(|t| t.parent().map(|p| p.join("fuzz-target")))
        .unwrap_or_else(|| fuzz_dir.join("target"))
}

/// Builds every target, then runs each for `seconds`; fails if any target fails,
/// after running them all.
pub(crate) fn run(root: &Path, seconds: u64) -> Result<()> {
    if !has("cargo-fuzz") {
        cmd("cargo")
            .args(["install", "cargo-fuzz", "--locked"])
            .run()?;
    }
    let fuzz_dir = root.join("crates/relay/fuzz");
    let target_dir = fuzz_target_dir(&fuzz_dir);
    let cargo_fuzz = |args: &[&str]| cargo_fuzz(&fuzz_dir, &target_dir, args);
    // One build for all, so a compile error shows once and the run times are fuzzing.
    cargo_fuzz(&["build"])?;
    let mut failed = Vec::new();
    for target in TARGETS {
        let ran = cargo_fuzz(&[
            "run",
            target,
            "--",
            &format!("-max_total_time={seconds}"),
            &format!("-timeout={INPUT_TIMEOUT_SECONDS}"),
        ]);
        if let Err(e) = ran {
            eprintln!("xtask: fuzz target {target} failed: {e:#}");
            failed.push(*target);
        }
    }
    if !failed.is_empty() {
        bail!(
            "fuzz targets failed: {}; the crashing inputs are in {}, and \
             crates/relay/fuzz/README.md says how to reproduce one",
            failed.join(", "),
            fuzz_dir.join("artifacts").display()
        );
    }
    eprintln!(
        "xtask: {} fuzz targets ran {seconds} s each without a crash",
        TARGETS.len()
    );
    Ok(())
}

/// Runs `cargo fuzz ARGS` in the fuzz crate.
///
/// Not through `sh::cmd`: `cargo run` hands xtask the `CARGO_PKG_*` and
/// `CARGO_MANIFEST_*` variables of the xtask package, and some build scripts (ring's)
/// rerun when those change, so a fuzz build from here and one by hand would rebuild each
/// other's dependencies. They are removed.
fn cargo_fuzz(fuzz_dir: &Path, target_dir: &Path, args: &[&str]) -> Result<()> {
    let what = format!("cargo fuzz {}", args.join(" "));
    eprintln!("xtask: $ {what}");
    let mut c = Command::new("cargo");
    c.arg("fuzz")
        .args(args)
        .current_dir(fuzz_dir)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", target_dir);
    for (name, _) in std::env::vars_os() {
        if is_package_var(&name) {
            c.env_remove(name);
        }
    }
    let status = c
        .status()
        .with_context(|| format!("cannot start `{what}`"))?;
    if !status.success() {
        bail!("`{what}` failed ({status})");
    }
    Ok(())
}

/// The variables cargo sets for the package it runs, not for cargo itself.
fn is_package_var(name: &OsStr) -> bool {
    let name = name.to_string_lossy();
    name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_MANIFEST_")
        || matches!(
            name.as_ref(),
            "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_default_to_twenty_and_must_be_positive() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(seconds_arg(&[]).unwrap(), DEFAULT_SECONDS);
        assert_eq!(seconds_arg(&args(&["--seconds", "15"])).unwrap(), 15);
        for bad in [
            &["--seconds", "0"][..],
            &["--seconds", "x"],
            &["15"],
            &["--seconds"],
        ] {
            assert!(seconds_arg(&args(bad)).is_err(), "{bad:?}");
        }
    }
}

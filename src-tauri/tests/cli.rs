//! `lectern selfcheck` without a window: what school IT runs on lab machines.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `lectern` on the synthetic devices (whatever real devices the machine has).
fn lectern(data: &Path, faults: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lectern"))
        .args(args)
        .env("LECTERN_DATA_DIR", data)
        .env("LECTERN_SYNTHETIC_DEVICES", "1")
        .env("LECTERN_SYNTHETIC_FAULTS", faults)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("lectern runs")
}

/// `lectern selfcheck --seconds 2` on the three synthetic devices, plus `extra`.
fn selfcheck(data: &Path, faults: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "selfcheck",
        "--seconds",
        "2",
        "--camera",
        "synthetic:camera",
    ];
    args.extend([
        "--microphone",
        "synthetic:microphone",
        "--speaker",
        "synthetic:speaker",
    ]);
    args.extend(extra);
    lectern(data, faults, &args)
}

#[test]
fn json_report_is_printed_stored_and_exit_code_is_zero_when_ready() {
    let data = tempfile::tempdir().unwrap();
    let out = selfcheck(data.path(), "", &["--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is the JSON report");
    let verdict = report["verdict"].as_str();
    assert!(
        matches!(verdict, Some("ready" | "ready_with_warnings")),
        "{report}"
    );
    assert!(
        report["id"].as_i64().is_some(),
        "the report was stored: {report}"
    );
    assert!(data.path().join("lectern.db").exists());
}

#[test]
fn not_ready_exits_one_with_fixes_in_the_chosen_language() {
    let data = tempfile::tempdir().unwrap();
    let out = selfcheck(data.path(), "muted", &["--lang", "zh-CN"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains('✗'), "{text}");
    assert!(
        text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
        "not Chinese: {text}"
    );
    assert!(!text.contains("finding."), "a message key leaked: {text}");

    let en = selfcheck(data.path(), "muted", &["--lang", "en", "--no-save"]);
    let text = String::from_utf8(en.stdout).unwrap();
    assert!(
        text.contains("Not ready") && text.contains("muted"),
        "{text}"
    );
}

#[test]
fn bad_arguments_are_refused_with_usage() {
    let data = tempfile::tempdir().unwrap();
    let out = lectern(data.path(), "", &["selfcheck", "--seconds", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("seconds"));
}

#[test]
fn devices_lists_the_synthetic_devices_as_json() {
    let data = tempfile::tempdir().unwrap();
    let out = lectern(data.path(), "", &["devices"]);
    assert!(out.status.success());
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cameras = list["cameras"].as_array().unwrap();
    assert!(
        cameras.iter().any(|c| c["id"] == "synthetic:camera"),
        "{list}"
    );
}

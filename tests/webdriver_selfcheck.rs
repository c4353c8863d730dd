//! The app itself, driven like a teacher would: WebDriver through tauri-driver and
//! WebKitWebDriver on a virtual screen (`cargo xtask test` prepares all three).
//! Screenshots go to `$LECTERN_ARTIFACTS`.

use std::time::Duration;

use lectern_e2e::webdriver::{Driver, Session, app, artifact, free_pair};

fn title(s: &Session) -> String {
    let t = s
        .wait_for("[data-testid=page-title]", Duration::from_secs(30))
        .unwrap();
    s.text(&t).unwrap()
}

fn run_check(s: &Session) -> String {
    let run = s
        .wait_for(
            "[data-testid=run-selfcheck]:not([disabled])",
            Duration::from_secs(30),
        )
        .unwrap();
    s.click(&run).unwrap();
    let verdict = s
        .wait_for(
            "[data-testid=verdict][data-verdict]",
            Duration::from_secs(90),
        )
        .unwrap();
    s.attribute(&verdict, "data-verdict").unwrap().unwrap()
}

fn finding_codes(s: &Session) -> Vec<String> {
    s.find_all("[data-testid=finding]")
        .unwrap()
        .iter()
        .filter_map(|f| s.attribute(f, "data-code").unwrap())
        .collect()
}

#[test]
#[ignore = "needs tauri-driver, WebKitWebDriver and a display: run by `cargo xtask test`"]
fn webdriver_selfcheck_shows_a_verdict_and_switches_language() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_string_lossy().into_owned();
    // A Chinese desktop: the app must start in Chinese without being told.
    let env = [
        ("LECTERN_DATA_DIR", data_dir.as_str()),
        ("LECTERN_SYNTHETIC_DEVICES", "1"),
        ("LANG", "zh_CN.UTF-8"),
        ("LC_ALL", "zh_CN.UTF-8"),
        // The embedded relay, on free loopback ports so parallel runs do not collide.
        ("LECTERN_RELAY_HTTP", "127.0.0.1:0"),
        ("LECTERN_RELAY_MEDIA", "127.0.0.1:0"),
        ("LECTERN_RELAY_RTMP", "127.0.0.1:0"),
    ];
    let driver = Driver::start(free_pair(), &env).unwrap();
    let s = driver.session(&app()).unwrap();
    let zh_title = title(&s);
    assert!(
        zh_title
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
        "title {zh_title:?} is not Chinese"
    );
    // The live preview is running: frames reach the canvas, levels reach the meter.
    s.wait_for(
        "[data-testid=preview-canvas]:not(.hidden)",
        Duration::from_secs(20),
    )
    .unwrap();
    let drawn = "const c = document.querySelector('[data-testid=preview-canvas]'); return c.width * c.height";
    assert!(
        s.script(drawn).unwrap().as_u64().unwrap_or(0) >= 320 * 180,
        "the canvas holds a picture"
    );
    s.wait_for("[data-testid=mic-meter][data-rms]", Duration::from_secs(20))
        .unwrap();
    s.screenshot(&artifact("selfcheck-zh-before.png")).unwrap();

    let verdict = run_check(&s);
    assert!(
        verdict == "ready" || verdict == "ready_with_warnings",
        "verdict {verdict}"
    );
    let found = finding_codes(&s);
    for code in ["camera_ok", "mic_ok", "speakers_heard", "encoder_ok"] {
        assert!(
            found.iter().any(|c| c == code),
            "{code} not shown in {found:?}"
        );
    }
    assert!(
        !s.find_all("[data-testid=history-item]").unwrap().is_empty(),
        "the report is listed in the history"
    );
    s.screenshot(&artifact("selfcheck-zh-verdict.png")).unwrap();

    let english = s
        .wait_for("[data-testid=lang-en]", Duration::from_secs(5))
        .unwrap();
    s.click(&english).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(title(&s), "Self-check");
    let lang = s.script("return document.documentElement.lang").unwrap();
    assert_eq!(lang, "en");
    s.screenshot(&artifact("selfcheck-en-verdict.png")).unwrap();

    // Export: the toast names the file, which holds the report with its messages.
    let export = s
        .wait_for("[data-testid=export-report]", Duration::from_secs(5))
        .unwrap();
    s.click(&export).unwrap();
    // The toast slides in (WebDriver reads no text while it is transparent): poll its content.
    let started = std::time::Instant::now();
    let said = loop {
        let text = s
            .script("return document.querySelector('[data-testid=toast] .text')?.textContent ?? ''")
            .unwrap();
        let text = text.as_str().unwrap_or_default().to_owned();
        if !text.is_empty() || started.elapsed() > Duration::from_secs(10) {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let start = said
        .find('/')
        .unwrap_or_else(|| panic!("the toast names no path: {said:?}"));
    let path = said[start..].lines().next().unwrap().trim();
    let exported: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(exported["format"], "lectern.selfcheck/1");
    assert_eq!(exported["language"], "en");
    assert!(
        exported["messages"]
            .as_array()
            .is_some_and(|m| !m.is_empty())
    );
    std::fs::remove_file(path).unwrap();

    // The Class page shows the embedded relay running, at an address that answers.
    let class = s
        .wait_for("[data-testid=nav-class]", Duration::from_secs(5))
        .unwrap();
    s.click(&class).unwrap();
    assert_eq!(title(&s), "Class");
    s.wait_for(
        "[data-testid=relay-card][data-state=running]",
        Duration::from_secs(10),
    )
    .unwrap();
    let url = s
        .text(
            &s.wait_for("[data-testid=relay-url] code", Duration::from_secs(5))
                .unwrap(),
        )
        .unwrap();
    let health: serde_json::Value = reqwest::blocking::get(format!("{url}/healthz"))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["status"], "ok", "{url}");
    std::thread::sleep(Duration::from_millis(500)); // let the page finish fading in
    s.screenshot(&artifact("class-en.png")).unwrap();
    let back = s
        .wait_for("[data-testid=nav-selfcheck]", Duration::from_secs(5))
        .unwrap();
    s.click(&back).unwrap();

    // The choice is saved: the report and the language survive a restart.
    drop(s);
    let s = driver.session(&app()).unwrap();
    assert_eq!(title(&s), "Self-check");
    assert!(!s.find_all("[data-testid=history-item]").unwrap().is_empty());
}

#[test]
#[ignore = "needs tauri-driver, WebKitWebDriver and a display: run by `cargo xtask test`"]
fn webdriver_a_silent_microphone_is_not_ready_with_a_fix() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_string_lossy().into_owned();
    let env = [
        ("LECTERN_DATA_DIR", data_dir.as_str()),
        ("LECTERN_SYNTHETIC_DEVICES", "1"),
        ("LECTERN_SYNTHETIC_FAULTS", "silent,black"),
        ("LANG", "en_US.UTF-8"),
        ("LC_ALL", "en_US.UTF-8"),
    ];
    let driver = Driver::start(free_pair(), &env).unwrap();
    let s = driver.session(&app()).unwrap();
    assert_eq!(title(&s), "Self-check");
    assert_eq!(run_check(&s), "not_ready");
    let found = finding_codes(&s);
    assert!(
        found.iter().any(|c| c == "mic_silent") && found.iter().any(|c| c == "camera_black"),
        "{found:?}"
    );
    let silent = s
        .wait_for(
            "[data-testid=finding][data-code=mic_silent]",
            Duration::from_secs(5),
        )
        .unwrap();
    let text = s.text(&silent).unwrap();
    assert!(
        text.len() > 40,
        "the finding shows a title and a fix: {text:?}"
    );
    s.screenshot(&artifact("selfcheck-en-not-ready.png"))
        .unwrap();

    // No microphone could listen for the tone, so the teacher is asked; the answer is kept.
    let no = s
        .wait_for("[data-testid=speaker-heard-no]", Duration::from_secs(5))
        .unwrap();
    s.click(&no).unwrap();
    s.wait_for(
        "[data-testid=finding][data-code=speakers_not_confirmed]",
        Duration::from_secs(10),
    )
    .unwrap();
    assert!(
        s.find_all("[data-code=speakers_ask_user]")
            .unwrap()
            .is_empty()
    );
}

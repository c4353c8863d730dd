//! A class on a relay that is not the app's own: a standalone relay (the library the
//! `lectern-relay` binary runs, with a fixed secret) stands for the school's server. The
//! teacher points the Class page at it, a wrong address is refused with a clear message,
//! the class then goes live there — the publish reaches that relay, the join link names
//! it — and ends. Screenshots go to `$LECTERN_ARTIFACTS`.

use std::time::Duration;

use lectern_e2e::relay_thread::RelayThread;
use lectern_e2e::webdriver::{Session, artifact, open_class_page, poll};

const SECRET: &str = "school-server-secret-school-server-secret";

/// The relay's count of WebRTC publishers, from its `/metrics`.
fn publishers(relay: &RelayThread) -> Option<u64> {
    let text = reqwest::blocking::get(format!("{}/metrics", relay.http))
        .ok()?
        .text()
        .ok()?;
    text.lines()
        .find(|l| l.starts_with("lectern_relay_peers{kind=\"publisher\"}"))?
        .rsplit(' ')
        .next()?
        .parse()
        .ok()
}

fn fill(s: &Session, css: &str, text: &str) {
    let field = s.wait_for(css, Duration::from_secs(10)).unwrap();
    s.script_with(
        "const f = document.querySelector(arguments[0]); f.value = ''; f.dispatchEvent(new Event('input'))",
        serde_json::json!([css]),
    )
    .unwrap();
    s.send_keys(&field, text).unwrap();
}

#[test]
#[ignore = "needs tauri-driver, WebKitWebDriver and a display: run by `cargo xtask test`"]
fn webdriver_a_class_goes_live_on_a_standalone_relay_from_the_settings() {
    let server = RelayThread::with_secret(SECRET.into());
    let data = tempfile::tempdir().unwrap();
    let (_driver, s) = open_class_page(data.path()).unwrap();

    let wait = Duration::from_secs(10);
    let summary = s
        .wait_for("[data-testid=relay-card] details summary", wait)
        .unwrap();
    s.click(&summary).unwrap();
    let remote = s.wait_for("[data-testid=relay-mode-remote]", wait).unwrap();
    s.click(&remote).unwrap();

    // A URL with a path is refused, and nothing is saved.
    fill(
        &s,
        "[data-testid=relay-remote-url]",
        &format!("{}/whip", server.http),
    );
    fill(&s, "[data-testid=relay-remote-secret]", SECRET);
    s.click(&s.wait_for("[data-testid=relay-save]", wait).unwrap())
        .unwrap();
    let error = s
        .wait_for("[data-testid=relay-settings-error]", wait)
        .unwrap();
    assert!(
        s.text(&error).unwrap().contains("relay URL"),
        "{}",
        s.text(&error).unwrap()
    );

    fill(&s, "[data-testid=relay-remote-url]", &server.http);
    s.click(&s.wait_for("[data-testid=relay-save]", wait).unwrap())
        .unwrap();
    s.wait_for("[data-testid=relay-settings-saved]", wait)
        .unwrap();
    let where_ = s.wait_for("[data-testid=relay-where]", wait).unwrap();
    assert!(
        s.text(&where_).unwrap().contains(&server.http),
        "{}",
        s.text(&where_).unwrap()
    );
    assert_eq!(publishers(&server), Some(0));

    // The class goes live on that relay.
    let join_url = s.start_class("physics-9").unwrap();
    assert!(
        join_url.starts_with(&format!("{}/room/physics-9?token=lt1.", server.http)),
        "{join_url}"
    );
    poll(
        "the publisher on the standalone relay",
        Duration::from_secs(20),
        || (publishers(&server) == Some(1)).then_some(()),
    );
    s.screenshot(&artifact("class-remote-relay.png")).unwrap();

    let stop = s.wait_for("[data-testid=stop-class]", wait).unwrap();
    s.click(&stop).unwrap();
    poll("the publisher gone", Duration::from_secs(20), || {
        (publishers(&server) == Some(0)).then_some(())
    });
}

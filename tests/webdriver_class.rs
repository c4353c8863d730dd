//! A whole class, end to end, with real parts: the app (under WebDriver, synthetic
//! camera and microphone) starts a class, its publisher sends openh264 + Opus over WHIP
//! to its embedded relay, and a headless Chromium opens the join link as a student.
//! The student's picture is read back pixel by pixel: the frame counter the synthetic
//! camera wrote must rise. Screenshots go to `$LECTERN_ARTIFACTS`.

use std::time::Duration;

use lectern_e2e::webdriver::{
    Driver, STUDENT_STATS, Session, artifact, free_port, num, open_class_page, poll,
};
use serde_json::{Value, json};

/// Reads the synthetic camera's barcode from the student page's video: one row of 64
/// cells along the bottom, each `width / 80` wide (see `synthetic/pattern.rs`).
const BARCODE: &str = r#"
const v = document.querySelector("video");
if (!v || !v.videoWidth) return null;
const w = v.videoWidth, h = v.videoHeight;
const c = document.createElement("canvas");
c.width = w; c.height = h;
const g = c.getContext("2d", { willReadFrequently: true });
g.drawImage(v, 0, 0, w, h);
const cell = w / 80;
const y = Math.floor(h - cell / 2);
const row = g.getImageData(0, y, w, 1).data;
let seq = 0, micros = 0;
for (let bit = 0; bit < 64; bit++) {
  const x = Math.floor((bit + 0.5) * cell);
  const luma = 0.299 * row[x * 4] + 0.587 * row[x * 4 + 1] + 0.114 * row[x * 4 + 2];
  const one = luma > 126 ? 1 : 0;
  if (bit < 24) seq = seq * 2 + one; else micros = micros * 2 + one;
}
return { seq, micros, width: w, height: h };
"#;

fn send_rate(s: &Session) -> f64 {
    s.find_all("[data-testid=stat-send]")
        .ok()
        .and_then(|e| e.first().and_then(|e| s.text(e).ok()))
        .and_then(|t| t.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0.0)
}

#[test]
#[ignore = "needs tauri-driver, WebKitWebDriver, chromedriver and a display: run by `cargo xtask test`"]
fn webdriver_a_class_goes_live_and_a_chromium_student_sees_the_teachers_camera() {
    let data = tempfile::tempdir().unwrap();
    let (_driver, s) = open_class_page(data.path()).unwrap();
    let join_url = s.start_class("math-7a").unwrap();
    // The figures move: the send rate is reported and above zero.
    let rate = poll("a send rate", Duration::from_secs(15), || {
        let r = send_rate(&s);
        (r > 100.0).then_some(r)
    });
    assert!(join_url.contains("/room/math-7a?token=lt1."), "{join_url}");
    s.screenshot(&artifact("class-live.png")).unwrap();

    // A student opens the join link in Chromium and presses play.
    let chrome = Driver::chromedriver(free_port()).unwrap();
    let student = chrome.chromium(&[]).unwrap();
    student.script_timeout(Duration::from_secs(30)).unwrap();
    student.navigate(&join_url).unwrap();
    student.join_class("Li Hua").unwrap();
    let play = student
        .wait_for("[data-testid=student-start]", Duration::from_secs(20))
        .unwrap();
    student.click(&play).unwrap();
    student
        .wait_for(
            "[data-testid=student-status][data-state=live]",
            Duration::from_secs(30),
        )
        .unwrap();
    let first = poll("decoded frames", Duration::from_secs(20), || {
        let st = student.script_async(STUDENT_STATS, json!([])).ok()?;
        (num(&st, "framesDecoded") > 30.0).then_some(st)
    });
    let code = |p: &Session| {
        poll("a readable barcode", Duration::from_secs(10), || {
            let v = p.script(BARCODE).ok()?;
            v.get("seq").and_then(Value::as_u64).map(|seq| (seq, v))
        })
    };
    let (seq_a, picture) = code(&student);
    std::thread::sleep(Duration::from_secs(2));
    let (seq_b, _) = code(&student);
    // The synthetic camera runs at 30 fps: two seconds later the counter is ≈ 60 higher.
    assert!(
        seq_b > seq_a + 30 && seq_b < seq_a + 120,
        "frame counter {seq_a} then {seq_b} ({picture})"
    );
    let later = student.script_async(STUDENT_STATS, json!([])).unwrap();
    assert!(
        num(&later, "framesDecoded") > num(&first, "framesDecoded") + 30.0,
        "frames decoded {first} then {later}"
    );
    assert!(num(&later, "audioEnergy") > 0.0, "no audio energy: {later}");
    student.screenshot(&artifact("class-student.png")).unwrap();

    // A classmate opens the same link: two people in the room, neither replacing the other.
    let classmate = chrome.chromium(&[]).unwrap();
    classmate.navigate(&join_url).unwrap();
    classmate.join_class("Wang Fang").unwrap();
    let roster = poll(
        "both students in the roster",
        Duration::from_secs(15),
        || {
            let names = s.script(ROSTER_TEXT).ok()?.to_string();
            (names.contains("Li Hua") && names.contains("Wang Fang")).then_some(names)
        },
    );
    let first_state = student
        .attribute(
            &student
                .wait_for("[data-testid=student-status]", Duration::from_secs(5))
                .unwrap(),
            "data-state",
        )
        .unwrap();
    assert_eq!(first_state.as_deref(), Some("live"), "roster {roster}");

    // The teacher ends the class; the student sees it.
    let stop = s
        .wait_for("[data-testid=stop-class]", Duration::from_secs(5))
        .unwrap();
    s.click(&stop).unwrap();
    s.wait_for("[data-testid=start-class]", Duration::from_secs(15))
        .unwrap();
    student
        .wait_for(
            "[data-testid=student-status][data-state=waiting]",
            Duration::from_secs(20),
        )
        .unwrap();
    eprintln!("class figures: send {rate} kbit/s, student {later}");
}

/// The teacher's roster, as text.
const ROSTER_TEXT: &str = "return Array.from(document.querySelectorAll('[data-testid=roster] li')).map(li => li.textContent)";

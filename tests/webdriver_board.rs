//! The whiteboard through the real pages: the app (WebDriver) starts a class, two
//! Chromium students join by the class link, and everyone draws with real mouse input.
//! The teacher's strokes reach both students; a student without the pen cannot draw;
//! with the pen, the student's stroke reaches everyone; a late joiner sees the whole
//! board; a student whose connection drops comes back to a board that lost nothing; the
//! teacher saves the board as a PDF.
//! Screenshots go to `$LECTERN_ARTIFACTS`.

use std::time::Duration;

use lectern_e2e::webdriver::{Driver, Session, artifact, free_port, open_class_page, poll};

const SOON: Duration = Duration::from_secs(15);

/// The number of shapes on the page a board shows.
fn shapes(s: &Session) -> Option<u64> {
    s.script(
        "const c = document.querySelector('[data-testid=board-canvas]'); \
         return c ? Number(c.dataset.shapes) : null",
    )
    .ok()?
    .as_u64()
}

/// Waits until the board on `s` shows exactly `n` shapes.
fn wait_shapes(who: &str, s: &Session, n: u64) {
    poll(&format!("{n} shapes on {who}'s board"), SOON, || {
        (shapes(s) == Some(n)).then_some(())
    });
}

/// Draws a stroke across the middle of the board on `s`, shifted down by `dy`.
fn stroke(s: &Session, dy: i64) {
    let canvas = s
        .wait_for("[data-testid=board-canvas] canvas", SOON)
        .unwrap();
    s.script(
        "document.querySelector('[data-testid=board-canvas]').scrollIntoView({block: 'center'})",
    )
    .unwrap();
    let points: Vec<(i64, i64)> = (0..12).map(|i| (-120 + i * 20, dy + (i % 3) * 8)).collect();
    s.draw(&canvas, &points).unwrap();
}

/// Records the page's WebSockets (before it opens any), so the test can drop them.
const WATCH_SOCKETS: &str = "
const Native = window.WebSocket;
window.__sockets = [];
window.WebSocket = class extends Native {
  constructor(...args) { super(...args); window.__sockets.push(this); }
};";

/// A student: opens the link, records its sockets, joins under `name`.
fn student(chrome: &Driver, join_url: &str, name: &str) -> Session {
    let s = chrome.chromium(&[]).unwrap();
    s.navigate(join_url).unwrap();
    s.script(WATCH_SOCKETS).unwrap();
    s.join_class(name).unwrap();
    s.wait_for("[data-testid=board-canvas]", Duration::from_secs(20))
        .unwrap();
    s
}

#[test]
#[ignore = "needs tauri-driver, WebKitWebDriver, chromedriver and a display: run by `cargo xtask test`"]
fn webdriver_the_board_is_shared_by_the_console_and_two_chromium_students() {
    let data = tempfile::tempdir().unwrap();
    let (_driver, teacher) = open_class_page(data.path()).unwrap();
    let join_url = teacher.start_class("art-3b").unwrap();
    teacher
        .wait_for("[data-testid=board-panel] [data-testid=board-canvas]", SOON)
        .unwrap();

    let chrome = Driver::chromedriver(free_port()).unwrap();
    let li = student(&chrome, &join_url, "Li Hua");
    let wang = student(&chrome, &join_url, "Wang Fang");
    wait_shapes("Li Hua", &li, 0);

    // The teacher draws: both students see the stroke.
    stroke(&teacher, -40);
    wait_shapes("the teacher", &teacher, 1);
    wait_shapes("Li Hua", &li, 1);
    wait_shapes("Wang Fang", &wang, 1);

    // Li Hua has no pen: dragging over the board draws nothing, here or anywhere.
    assert!(
        !li.find_all("[data-testid=board-canvas].readonly")
            .unwrap()
            .is_empty(),
        "a student without the pen has a read-only board"
    );
    stroke(&li, 0);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(shapes(&li), Some(1), "a student without the pen drew");
    assert_eq!(
        shapes(&teacher),
        Some(1),
        "the teacher got a pen-less stroke"
    );

    // The teacher hands Li Hua the pen (the first student in the roster).
    let toggle = poll("Li Hua's pen toggle", SOON, || {
        let row = teacher
            .script_with(
                "return Array.from(document.querySelectorAll('[data-testid=roster] li'))\
                 .findIndex((li) => li.textContent.includes(arguments[0]))",
                serde_json::json!(["Li Hua"]),
            )
            .ok()?
            .as_i64()
            .filter(|i| *i >= 0)?;
        let css = format!(
            "[data-testid=roster] li:nth-child({}) [data-testid=pen-toggle]:not([disabled])",
            row + 1
        );
        teacher.find_all(&css).ok()?.into_iter().next()
    });
    teacher.click(&toggle).unwrap();
    li.wait_for("[data-testid=board-pen-state].on", SOON)
        .unwrap();
    li.wait_for("[data-testid=board-canvas]:not(.readonly)", SOON)
        .unwrap();
    stroke(&li, 40);
    wait_shapes("Li Hua", &li, 2);
    wait_shapes("the teacher", &teacher, 2);
    wait_shapes("Wang Fang", &wang, 2);
    // Li Hua's stroke is confirmed by the relay, not only drawn locally.
    poll("Li Hua's stroke confirmed", SOON, || {
        let pending = li
            .script("return document.querySelector('[data-testid=board-canvas]').dataset.pending")
            .ok()?;
        (pending.as_str() == Some("0")).then_some(())
    });

    // A late joiner gets the whole board.
    let late = student(&chrome, &join_url, "Zhao Lei");
    wait_shapes("the late joiner", &late, 2);

    // Wang Fang's connection drops; the teacher draws meanwhile; she comes back to all
    // three strokes, and the board is the same everywhere.
    wang.script("window.__sockets.forEach((s) => s.close())")
        .unwrap();
    stroke(&teacher, 80);
    wait_shapes("the teacher", &teacher, 3);
    wait_shapes("Wang Fang after the drop", &wang, 3);
    wait_shapes("Li Hua", &li, 3);
    wait_shapes("the late joiner", &late, 3);
    let seq = |s: &Session| {
        s.script("return document.querySelector('[data-testid=board-canvas]').dataset.seq")
            .unwrap()
    };
    poll("everyone on the same board sequence", SOON, || {
        let all = [seq(&teacher), seq(&li), seq(&wang), seq(&late)];
        all.iter().all(|s| *s == all[0]).then_some(())
    });
    let reconnects = wang.script("return window.__sockets.length").unwrap();
    assert!(
        reconnects.as_u64() > Some(1),
        "Wang Fang's page never reconnected: {reconnects}"
    );

    // The teacher saves the board as a PDF: it lands in the export folder, one page.
    let pdf = teacher
        .wait_for("[data-testid=board-export-pdf]:not([disabled])", SOON)
        .unwrap();
    teacher.click(&pdf).unwrap();
    let saved = teacher
        .wait_for("[data-testid=board-export-saved]", SOON)
        .unwrap();
    let text = teacher.text(&saved).unwrap();
    let path = data.path().join("exports").join("art-3b-board.pdf");
    assert!(text.contains(&*path.to_string_lossy()), "{text}");
    let bytes = std::fs::read(&path).unwrap();
    let head = String::from_utf8_lossy(&bytes);
    assert!(
        head.starts_with("%PDF-1.4") && head.contains("/Count 1") && head.contains("/DCTDecode"),
        "not the board's PDF: {} bytes",
        bytes.len()
    );

    teacher.screenshot(&artifact("board-teacher.png")).unwrap();
    li.screenshot(&artifact("board-student.png")).unwrap();
}

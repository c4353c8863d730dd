//! The 1v6 stage from the teacher's seat, end to end with real parts: the app (under
//! WebDriver, synthetic devices, embedded relay) starts a class; a headless Chromium
//! student joins from the link; the teacher invites them from the roster; the student
//! accepts and publishes their (fake) camera and microphone over WHIP; the console's
//! native subscriber decodes them and the stage grid shows the picture, and a classmate's
//! page (a second Chromium) sees and hears them too. The teacher asks the student to mute
//! (the student page shows it) and takes them off stage (the tile goes on both pages,
//! the student's page leaves the stage). Screenshots go to `$LECTERN_ARTIFACTS`.

use std::time::Duration;

use lectern_e2e::webdriver::{
    Driver, STUDENT_STATS, Session, artifact, free_port, num, open_class_page, poll,
};
use serde_json::json;

fn frames_drawn(s: &Session) -> u64 {
    // The tile counts the pictures it drew on its canvas.
    s.script("const v = document.querySelector('[data-testid=stage-video]'); return v ? Number(v.dataset.frames) : 0")
        .ok()
        .and_then(|v| v.as_u64())
        .unwrap_or(0)
}

#[test]
#[ignore = "needs tauri-driver, WebKitWebDriver, chromedriver and a display: run by `cargo xtask test`"]
fn webdriver_a_student_invited_to_the_stage_appears_in_the_grid_and_can_be_removed() {
    let data = tempfile::tempdir().unwrap();
    let (_driver, s) = open_class_page(data.path()).unwrap();
    let join_url = s.start_class("stage-7b").unwrap();

    let chrome = Driver::chromedriver(free_port()).unwrap();
    let student = chrome.chromium(&[]).unwrap();
    student.script_timeout(Duration::from_secs(30)).unwrap();
    student.navigate(&join_url).unwrap();
    student.join_class("Li Hua").unwrap();

    // The teacher invites the student from the roster; the student accepts.
    let invite = s
        .wait_for(
            "[data-testid=roster-student] [data-testid=invite]",
            Duration::from_secs(20),
        )
        .unwrap();
    s.click(&invite).unwrap();
    let accept = student
        .wait_for("[data-testid=invite-accept]", Duration::from_secs(15))
        .unwrap();
    student.click(&accept).unwrap();
    student
        .wait_for(
            "[data-testid=stage-publish][data-state=live]",
            Duration::from_secs(30),
        )
        .unwrap();

    // The grid shows the student, live, with pictures arriving.
    let tile = s
        .wait_for(
            "[data-testid=stage-tile][data-state=live]",
            Duration::from_secs(30),
        )
        .unwrap();
    let name = s
        .script("return document.querySelector('[data-testid=stage-name]').textContent")
        .unwrap()
        .to_string();
    assert!(name.contains("Li Hua"), "tile name {name:?}");
    let first = poll("stage pictures drawn", Duration::from_secs(20), || {
        let n = frames_drawn(&s);
        (n > 10).then_some(n)
    });
    std::thread::sleep(Duration::from_secs(2));
    let later = frames_drawn(&s);
    assert!(later > first + 10, "pictures stalled: {first} then {later}");
    let count = s
        .attribute(
            &s.wait_for("[data-testid=stage-count]", Duration::from_secs(5))
                .unwrap(),
            "data-count",
        )
        .unwrap();
    assert_eq!(count.as_deref(), Some("1"));
    s.script(
        "document.querySelector('[data-testid=stage-grid]').scrollIntoView({block: 'center'})",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    s.screenshot(&artifact("class-stage.png")).unwrap();
    student
        .screenshot(&artifact("student-on-stage.png"))
        .unwrap();

    // A classmate joins from the same link and sees and hears Li Hua on stage.
    let classmate = chrome.chromium(&[]).unwrap();
    classmate.script_timeout(Duration::from_secs(30)).unwrap();
    classmate.navigate(&join_url).unwrap();
    classmate.join_class("Wang Fang").unwrap();
    let play = classmate
        .wait_for("[data-testid=student-start]", Duration::from_secs(20))
        .unwrap();
    classmate.click(&play).unwrap();
    classmate
        .wait_for(
            "[data-testid=stage-peer][data-state=live]",
            Duration::from_secs(30),
        )
        .unwrap();
    let seen = poll(
        "the classmate decodes and hears Li Hua",
        Duration::from_secs(20),
        || {
            let st = classmate.script_async(STUDENT_STATS, json!([])).ok()?;
            let peer = st.get("stage")?.get(0)?.clone();
            (num(&peer, "framesDecoded") > 10.0 && num(&peer, "audioEnergy") > 0.0).then_some(peer)
        },
    );
    classmate
        .screenshot(&artifact("student-sees-classmate.png"))
        .unwrap();

    // A mute request reaches the student.
    let mute = s
        .wait_for("[data-testid=stage-mute]", Duration::from_secs(5))
        .unwrap();
    s.click(&mute).unwrap();
    student
        .wait_for("[data-testid=mute-notice]", Duration::from_secs(10))
        .unwrap();
    s.wait_for("[data-testid=stage-mute-requested]", Duration::from_secs(5))
        .unwrap();

    // Off stage: the tile goes, and the student's page leaves the stage.
    let remove = s
        .wait_for("[data-testid=stage-remove]", Duration::from_secs(5))
        .unwrap();
    s.click(&remove).unwrap();
    poll("the tile goes", Duration::from_secs(15), || {
        s.find_all("[data-testid=stage-tile]")
            .ok()
            .filter(|t| t.is_empty())
    });
    poll(
        "the student leaves the stage",
        Duration::from_secs(15),
        || {
            student
                .find_all("[data-testid=on-stage]")
                .ok()
                .filter(|t| t.is_empty())
        },
    );
    drop(tile);
    // The classmate's page lets Li Hua go too.
    poll("the classmate's tile goes", Duration::from_secs(15), || {
        classmate
            .find_all("[data-testid=stage-peer]")
            .ok()
            .filter(|t| t.is_empty())
    });
    eprintln!("stage pictures drawn: {first} then {later}; the classmate: {seen}");
}

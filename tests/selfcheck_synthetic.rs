//! The whole self-check on synthetic devices: the verdict, the findings and the stored
//! report, clean and with each fault the synthetic devices can show.

use lectern_e2e::{codes, run_selfcheck};
use lectern_media::Devices;
use lectern_media::synthetic::Faults;
use lectern_proto::{FindingCode as C, Severity, Stage, Verdict};
use lectern_record::Store;

async fn check(faults: &str) -> lectern_proto::SelfCheckReport {
    let devices = Devices::synthetic_only(Faults::parse(faults).expect("known faults"));
    let (report, stages) = run_selfcheck(&devices, 2.5).await;
    assert_eq!(
        stages,
        vec![
            Stage::Devices,
            Stage::CameraAndMicrophone,
            Stage::Speakers,
            Stage::Encoder,
            Stage::Done
        ],
        "progress runs through every stage once"
    );
    // Stored, listed and read back exactly.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("lectern.db")).await.unwrap();
    let stored = store.save_report(&report).await.unwrap();
    let id = stored.id.expect("stored reports have ids");
    assert_eq!(store.report(id).await.unwrap(), stored);
    let history = store.history(5).await.unwrap();
    assert_eq!(history[0].id, id);
    assert_eq!(history[0].verdict, report.verdict);
    let count = |s| report.findings.iter().filter(|f| f.severity == s).count() as u32;
    assert_eq!(
        (history[0].warnings, history[0].blockers),
        (count(Severity::Warning), count(Severity::Blocker))
    );
    report
}

fn assert_has(report: &lectern_proto::SelfCheckReport, wanted: &[C]) {
    let found = codes(report);
    for w in wanted {
        assert!(found.contains(w), "expected {w:?} in {found:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn clean_synthetic_devices_are_ready() {
    let report = check("").await;
    assert_eq!(report.verdict, Verdict::Ready, "{:#?}", report.findings);
    assert_has(
        &report,
        &[C::CameraOk, C::MicOk, C::SpeakersHeard, C::EncoderOk],
    );
    let camera = report.camera.as_ref().unwrap();
    assert_eq!((camera.width, camera.height), (1280, 720));
    assert!(camera.delivered_fps > 25.0, "{camera:?}");
    let speakers = report.speakers.as_ref().unwrap();
    // The synthetic speaker reaches the synthetic microphone 25 ms later (plus up to one 10 ms chunk).
    let delay = speakers.delay_ms.unwrap();
    assert!((20.0..=45.0).contains(&delay), "{speakers:?}");
    assert!(report.encoder.as_ref().unwrap().sustainable.is_some());
    // Blockers first, then warnings, then the rest.
    assert!(
        report
            .findings
            .windows(2)
            .all(|w| w[0].severity >= w[1].severity)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn black_camera_warns_but_class_can_run() {
    let report = check("black").await;
    assert_eq!(report.verdict, Verdict::ReadyWithWarnings);
    assert_has(&report, &[C::CameraBlack, C::MicOk]);
    assert!(!codes(&report).contains(&C::CameraOk));
}

#[tokio::test(flavor = "multi_thread")]
async fn frozen_camera_is_found() {
    let report = check("frozen").await;
    assert_eq!(report.verdict, Verdict::ReadyWithWarnings);
    assert_has(&report, &[C::CameraFrozen]);
}

#[tokio::test(flavor = "multi_thread")]
async fn dark_camera_is_found() {
    let report = check("dark").await;
    assert_has(&report, &[C::CameraDark]);
    assert!(report.camera.unwrap().mean_luma < 60.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn low_frame_rate_is_measured() {
    let report = check("low-fps").await;
    assert_has(&report, &[C::CameraLowFps]);
    let fps = report.camera.unwrap().delivered_fps;
    assert!((6.0..=10.0).contains(&fps), "{fps}");
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_microphone_blocks_and_speakers_fall_back_to_asking() {
    let report = check("silent").await;
    assert_eq!(report.verdict, Verdict::NotReady);
    assert_has(&report, &[C::MicSilent, C::SpeakersAskUser]);
    assert!(report.microphone.unwrap().rms_dbfs < -60.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn muted_microphone_blocks() {
    let report = check("muted").await;
    assert_eq!(report.verdict, Verdict::NotReady);
    assert_has(&report, &[C::MicMuted]);
}

#[tokio::test(flavor = "multi_thread")]
async fn clipping_microphone_warns() {
    let report = check("clipping").await;
    assert_eq!(report.verdict, Verdict::ReadyWithWarnings);
    assert_has(&report, &[C::MicClipping]);
    assert!(report.microphone.unwrap().clipping_runs > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn noisy_room_warns() {
    let report = check("noisy").await;
    assert_has(&report, &[C::MicNoisy]);
    assert!(report.microphone.unwrap().noise_floor_dbfs > -45.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn busy_devices_get_findings_not_errors() {
    let report = check("busy").await;
    assert_eq!(report.verdict, Verdict::NotReady);
    assert_has(&report, &[C::CameraBusy, C::MicBusy, C::SpeakersOpenFailed]);
    assert!(report.camera.is_none() && report.microphone.is_none());
    let busy = report
        .findings
        .iter()
        .find(|f| f.code == C::CameraBusy)
        .unwrap();
    assert!(busy.params.contains_key("device"));
}

#[tokio::test(flavor = "multi_thread")]
async fn devices_unplugged_mid_check_are_reported() {
    let report = check("unplugged").await;
    assert_eq!(report.verdict, Verdict::NotReady);
    assert_has(&report, &[C::CameraStopped, C::MicStopped]);
    // It ran until the deadline anyway and kept what it saw before the unplug.
    assert!(report.camera.unwrap().frames > 10);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_devices_at_all_still_produce_a_report() {
    let (report, _) = run_selfcheck(&Devices::empty(), 2.0).await;
    assert_eq!(report.verdict, Verdict::NotReady);
    assert_has(
        &report,
        &[
            C::CameraMissing,
            C::MicMissing,
            C::SpeakersMissing,
            C::EncoderOk,
        ],
    );
    let camera = report
        .findings
        .iter()
        .find(|f| f.code == C::CameraMissing)
        .unwrap();
    assert_eq!(
        camera.severity,
        Severity::Warning,
        "a class can run without a camera"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_camera_without_a_usable_format_gets_a_finding() {
    use lectern_media::{CaptureSession, MediaClock, selfcheck};
    use lectern_proto::{DeviceSelection, VideoMode};
    let devices = Devices::synthetic_only(Faults::default());
    let unusable = VideoMode {
        width: 0,
        height: 0,
        fps: 0,
    };
    let session = CaptureSession::open(
        &devices,
        &DeviceSelection::default(),
        unusable,
        MediaClock::start(),
    );
    assert!(session.camera.is_none() && session.microphone.is_some());
    let found: Vec<C> = selfcheck::open_findings(&session)
        .iter()
        .map(|f| f.code)
        .collect();
    assert_eq!(found, vec![C::CameraNoFormat]);
}

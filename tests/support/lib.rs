//! Shared helpers for Lectern's end-to-end suites.

pub mod bot;
pub mod class;
pub mod decode;
pub mod impair;
pub mod impaired_class;
pub mod relay;
pub mod relay_thread;
pub mod script;
pub mod shim;
pub mod signal;
pub mod webdriver;

use lectern_media::{CaptureSession, Devices, MediaClock, selfcheck};
use lectern_proto::{DeviceSelection, FindingCode, SelfCheckReport, Stage, VideoMode};

/// Runs the whole self-check over `devices`' default devices for `seconds`, returning
/// the report and the stages the progress callback saw, in order.
pub async fn run_selfcheck(devices: &Devices, seconds: f32) -> (SelfCheckReport, Vec<Stage>) {
    let selection = DeviceSelection::default();
    let session = {
        let (d, s) = (devices.clone(), selection.clone());
        tokio::task::spawn_blocking(move || {
            CaptureSession::open(&d, &s, VideoMode::HD_30, MediaClock::start())
        })
        .await
        .expect("opening devices does not panic")
    };
    let options = selfcheck::Options {
        seconds,
        encoder_frames: 6,
        ..selfcheck::Options::default()
    };
    let mut stages = Vec::new();
    let mut record = |p: lectern_proto::SelfCheckProgress| {
        if stages.last() != Some(&p.stage) {
            stages.push(p.stage);
        }
    };
    let report = selfcheck::run(devices, &session, &selection, &options, &mut record).await;
    (report, stages)
}

/// The finding codes of a report, in report order.
pub fn codes(report: &SelfCheckReport) -> Vec<FindingCode> {
    report.findings.iter().map(|f| f.code).collect()
}

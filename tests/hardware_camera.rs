//! A real camera through nokhwa: listed, opened at 720p30 (or the nearest mode it
//! offers), delivering frames the diagnostics accept. Needs a camera, so it is ignored
//! on machines without one (CI, this project's build machines).

use lectern_media::diagnostics::CameraProbe;
use lectern_media::synthetic::Faults;
use lectern_media::{Devices, MediaClock, SyntheticMode};
use lectern_proto::{FindingCode, VideoMode};

#[test]
#[ignore = "needs a camera"]
fn a_real_camera_opens_lists_modes_and_delivers_frames() {
    let devices = Devices::new(SyntheticMode::Never, Faults::default());
    let list = devices.list();
    let info = Devices::pick(&list.cameras, None).expect("a camera is connected");
    let mut camera = devices
        .open_camera(info, VideoMode::HD_30, MediaClock::start())
        .expect("the camera opens");
    assert!(!camera.modes().is_empty(), "the camera lists its modes");
    let mut probe = CameraProbe::new(camera.mode());
    for _ in 0..30 {
        probe.push(&camera.next_frame().expect("a frame"));
    }
    let (stats, findings) = probe.finish(&info.name);
    assert_eq!(
        (stats.width, stats.height),
        (camera.mode().width, camera.mode().height)
    );
    assert!(stats.delivered_fps > 5.0, "{stats:?}");
    assert!(
        !findings.iter().any(|f| f.code == FindingCode::CameraFrozen),
        "{findings:?}"
    );
}

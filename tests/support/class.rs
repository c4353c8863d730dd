//! The console's class media on synthetic devices: the same capture taps, encoders and
//! publisher the app runs, with the synthetic camera and microphone behind the device
//! traits.

use lectern_client::{LiveMedia, MediaOptions, PublishConfig};
use lectern_media::synthetic::{AcousticPath, Faults, SyntheticCamera, SyntheticMicrophone};
use lectern_media::{AudioTap, CaptureSession, MediaClock, VideoTap};
use lectern_proto::VideoMode;

/// A synthetic camera at `mode` and a synthetic microphone, capturing on `clock`.
pub fn synthetic_capture(mode: VideoMode, clock: MediaClock) -> CaptureSession {
    let camera = SyntheticCamera::open(mode, Faults::default(), clock).expect("camera opens");
    let mic = SyntheticMicrophone::open(Faults::default(), clock, AcousticPath::default())
        .expect("microphone opens");
    CaptureSession {
        camera: Some(VideoTap::start(Box::new(camera))),
        microphone: Some(AudioTap::start(Box::new(mic))),
        ..CaptureSession::default()
    }
}

/// Starts publishing `capture` to `whip_url` with `token`, as the console does.
pub fn publish(
    capture: &CaptureSession,
    whip_url: String,
    token: String,
    clock: MediaClock,
) -> LiveMedia {
    LiveMedia::start(
        capture,
        PublishConfig {
            whip_url,
            token,
            max_bps: 2_500_000,
        },
        MediaOptions::default(),
        clock,
    )
    .expect("encoders start")
}

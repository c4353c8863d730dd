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
        None,
    )
    .expect("encoders start")
}

/// The teacher's side of a class: capture, encoders and publisher on one media clock.
#[derive(Debug)]
pub struct Teacher {
    pub clock: MediaClock,
    /// Kept open for as long as the class runs.
    pub capture: CaptureSession,
    pub live: LiveMedia,
}

impl Teacher {
    /// Synthetic devices at `mode`, published to `whip_url` with `token`.
    pub fn start(whip_url: String, token: String, mode: VideoMode) -> Self {
        let clock = MediaClock::start();
        let capture = synthetic_capture(mode, clock);
        let live = publish(&capture, whip_url, token, clock);
        Self {
            clock,
            capture,
            live,
        }
    }

    /// Waits until the publish link is in `state`; panics after `timeout`.
    pub async fn wait_for(
        &self,
        state: lectern_proto::PublishState,
        timeout: std::time::Duration,
    ) -> lectern_proto::PublishStatus {
        let mut status = self.live.publisher().status();
        tokio::time::timeout(timeout, status.wait_for(|s| s.state == state))
            .await
            .unwrap_or_else(|_| panic!("publish link not {state:?} within {timeout:?}"))
            .expect("status channel open")
            .clone()
    }
}

/// A viewer bot of `room` whose video is decoded and read back (see `decode`).
pub fn decoding_viewer(
    bots: &mut crate::relay::Bots,
    relay: &lectern_relay::Relay,
    room: &str,
    name: &str,
    clock: MediaClock,
) -> (
    std::sync::Arc<crate::bot::BotStats>,
    std::sync::Arc<crate::decode::Probe>,
) {
    let stats = bots.spawn(
        relay,
        room,
        crate::relay::token(relay, room, name, lectern_proto::Role::Observer),
        crate::bot::Role::Subscribe {
            peer: None,
            pli_every: None,
            light: false,
        },
    );
    let (tap, probe) = crate::decode::start(clock);
    *stats.video_tap.lock().unwrap_or_else(|e| e.into_inner()) = Some(tap);
    *stats
        .keyframe_probe
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = Some(probe.clone());
    (stats, probe)
}

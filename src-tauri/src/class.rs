//! A class in progress: the class media (encoders and publish link), the students on
//! stage (see [`crate::stage`]) and the channel the console listens on. Signaling and
//! the whiteboard run in the webview itself, over the relay's WebSocket, with the
//! teacher token handed out here.
//!
//! The speakers play the students on stage; what they play is the reference of the echo
//! canceller on the teacher's microphone, so students do not hear themselves back.

use std::sync::Arc;
use std::time::Duration;

use lectern_client::{LiveMedia, MediaOptions, PublishConfig};
use lectern_media::{AudioSink, Playout};
use lectern_proto::{ApiError, ClassEvent, ClassInfo, ErrorCode, RoomId};
use tauri::ipc::Channel;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::stage::Stage;

/// How long a class's tokens stay valid: a long lesson and then some.
pub const CLASS_TTL: Duration = Duration::from_secs(6 * 3600);
/// The most the teacher's video may use, whatever the network allows.
const MAX_VIDEO_BPS: u32 = 2_500_000;

/// The running class.
pub struct Class {
    pub info: ClassInfo,
    live: LiveMedia,
    listener: Arc<Mutex<Option<Channel<ClassEvent>>>>,
    forward: JoinHandle<()>,
    /// The students on stage.
    pub stage: Arc<Stage>,
    stage_report: JoinHandle<()>,
}

impl std::fmt::Debug for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Class")
            .field("room", &self.info.room)
            .finish_non_exhaustive()
    }
}

impl Class {
    /// Starts publishing `capture` to the relay at `info.relay_url`; students on stage
    /// are played through `speaker` (when there is one).
    pub fn start(
        info: ClassInfo,
        capture: &lectern_media::CaptureSession,
        speaker: Option<Box<dyn AudioSink>>,
        events: Channel<ClassEvent>,
    ) -> Result<Self, ApiError> {
        let (reference, canceller) = lectern_media::echo_canceller();
        let playout = speaker.and_then(|sink| {
            Playout::start(sink, Some(reference))
                .inspect_err(|e| tracing::warn!("no playout for the stage: {e}"))
                .ok()
        });
        // Nothing is played without a speaker, so there is no echo to cancel.
        let echo = playout.is_some().then_some(canceller);
        let live = LiveMedia::start(
            capture,
            PublishConfig {
                whip_url: format!("{}/whip/{}", info.relay_url, info.room),
                token: info.teacher_token.clone(),
                max_bps: MAX_VIDEO_BPS,
            },
            MediaOptions::default(),
            lectern_media::MediaClock::start(),
            echo,
        )
        .map_err(|e| ApiError::new(ErrorCode::DeviceUnavailable, e.to_string()))?;
        let listener = Arc::new(Mutex::new(Some(events)));
        let forward = tokio::spawn(forward(
            live.publisher().status(),
            live.publisher().stats(),
            listener.clone(),
        ));
        let stage = Arc::new(Stage::new(
            info.relay_url.clone(),
            info.room.clone(),
            info.teacher_token.clone(),
            playout,
        ));
        let stage_report = tokio::spawn(crate::stage::report(stage.clone(), listener.clone()));
        Ok(Self {
            info,
            live,
            listener,
            forward,
            stage,
            stage_report,
        })
    }

    /// Sends the class's events to `events` from now on (the page was opened again).
    pub async fn listen(&self, events: Channel<ClassEvent>) {
        let status = self.live.publisher().status().borrow().clone();
        let _ = events.send(ClassEvent::Status { status });
        *self.listener.lock().await = Some(events);
    }

    /// Ends the class: the WHIP session is deleted, encoders stop.
    pub async fn stop(self) {
        self.forward.abort();
        self.stage_report.abort();
        self.stage.stop().await;
        self.live.stop().await;
    }
}

/// Forwards status changes at once and stats once a second.
async fn forward(
    mut status: tokio::sync::watch::Receiver<lectern_proto::PublishStatus>,
    mut stats: tokio::sync::watch::Receiver<lectern_proto::PublishStats>,
    listener: Arc<Mutex<Option<Channel<ClassEvent>>>>,
) {
    loop {
        let event = tokio::select! {
            r = status.changed() => {
                if r.is_err() { return; }
                ClassEvent::Status { status: status.borrow_and_update().clone() }
            }
            r = stats.changed() => {
                if r.is_err() { return; }
                ClassEvent::Stats { stats: stats.borrow_and_update().clone() }
            }
        };
        let mut l = listener.lock().await;
        if let Some(channel) = l.as_ref()
            && channel.send(event).is_err()
        {
            // The page went away; the class goes on until it listens again.
            *l = None;
        }
    }
}

/// A room name from the teacher's input, or a fresh one.
pub fn room_name(wanted: Option<&str>) -> Result<RoomId, ApiError> {
    let name = match wanted.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => s.to_owned(),
        None => format!("class-{:06}", rand_six()),
    };
    RoomId::new(name).map_err(|e| ApiError::new(ErrorCode::InvalidInput, e.to_string()))
}

fn rand_six() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    (h.finish() % 1_000_000) as u32
}

/// `text` as a QR code in an SVG document (medium error correction: survives a glare
/// on a projector screen).
pub fn qr_svg(text: &str) -> Result<String, ApiError> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M)
        .map_err(|e| ApiError::new(ErrorCode::InvalidInput, e.to_string()))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_are_checked_or_made_up() {
        assert_eq!(room_name(Some(" math-7 ")).unwrap().as_str(), "math-7");
        assert!(room_name(None).unwrap().as_str().starts_with("class-"));
        assert_eq!(
            room_name(Some("no spaces please")).unwrap_err().code,
            ErrorCode::InvalidInput
        );
    }

    #[test]
    fn the_join_link_becomes_an_svg_qr_code() {
        let svg = qr_svg("http://192.168.1.20:8686/room/math?token=lt1.abc.def").unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
    }
}

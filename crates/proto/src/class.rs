//! A class in progress, as the console shows it: the publish link to the relay and its
//! figures.

use crate::ApiError;
use serde::{Deserialize, Serialize};

/// Where the teacher's publish link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum PublishState {
    /// Offering to the relay and connecting ICE/DTLS.
    Connecting,
    /// Media flows.
    Live,
    /// The link broke; trying again after `retry_in_ms`.
    Reconnecting,
    /// The relay refused for a reason retrying cannot fix (token, room); `error` says.
    Failed,
    /// The class ended.
    Stopped,
}

/// The publish link's state for the UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PublishStatus {
    pub state: PublishState,
    /// Connection attempts since the last time the link was live (0 while live).
    pub attempt: u32,
    /// When reconnecting: how long until the next attempt.
    pub retry_in_ms: Option<u32>,
    /// Why the last attempt failed, or why the link gave up.
    pub error: Option<ApiError>,
    /// Times the link has been re-established during this class.
    pub reconnects: u32,
}

/// One second of publish figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PublishStats {
    /// Seconds since the class started.
    pub at_s: f64,
    /// Everything sent (media, FEC, RTCP; retransmissions are not counted), kbit/s.
    pub send_kbps: f64,
    pub video_kbps: f64,
    pub audio_kbps: f64,
    /// Forward error correction protecting the video (FlexFEC repair packets), kbit/s.
    /// It follows the loss: none on a clean path.
    pub fec_kbps: f64,
    /// What the congestion controller allows now, kbit/s.
    pub estimate_kbps: f64,
    /// Frames sent per second.
    pub fps: f64,
    pub width: u32,
    pub height: u32,
    /// Round-trip time to the relay, from RTCP receiver reports.
    pub rtt_ms: Option<f64>,
    /// Share of packets lost on the way to the relay, before retransmissions and FEC
    /// repair them, percent (from transport-wide feedback; the relay's receiver reports
    /// until that arrives).
    pub loss_percent: Option<f64>,
    /// Retransmission requests received this class.
    pub nacks: u32,
    /// Keyframe requests received this class.
    pub plis: u32,
    pub keyframes: u32,
    /// Camera frames not encoded because the network could not keep up.
    pub frames_skipped: u32,
    /// Time to encode the last frame, ms.
    pub encode_ms: f64,
}

/// A class the console started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ClassInfo {
    pub room: String,
    /// The relay's base URL the console talks to, e.g. `http://127.0.0.1:8686`.
    pub relay_url: String,
    /// The teacher's own token for signaling (and the whiteboard).
    pub teacher_token: String,
    /// The signaling WebSocket, token included.
    pub ws_url: String,
    /// What students open (or scan): the student page on an address they can reach.
    pub join_url: String,
    /// `join_url` as a QR code, an SVG document.
    pub join_qr_svg: String,
}

/// What a running class tells the console.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClassEvent {
    Status {
        status: PublishStatus,
    },
    Stats {
        stats: PublishStats,
    },
    /// The students on stage the console watches, about four times a second while any
    /// is watched (an empty list once when the last one stops).
    Stage {
        seats: Vec<StageSeat>,
    },
}

/// Where the console's link to one on-stage student stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum SeatState {
    /// Asking the relay for the student's stream and connecting ICE/DTLS.
    Connecting,
    /// Media flows.
    Live,
    /// The link broke (or the student is not publishing yet); trying again.
    Reconnecting,
}

/// One on-stage student as the console receives them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct StageSeat {
    /// The student's participant id.
    pub peer: String,
    pub state: SeatState,
    /// Audio level, 0–1 (RMS over the last 100 ms); above about 0.05 is speech.
    pub level: f32,
    /// The decoded picture's size, 0 before the first picture.
    pub width: u32,
    pub height: u32,
    /// Pictures decoded over the last second.
    pub fps: f32,
    /// Audio arrived in the last second.
    pub audio: bool,
    /// A picture was decoded in the last second.
    pub video: bool,
    /// Why the link is down, while it is.
    pub error: Option<ApiError>,
}

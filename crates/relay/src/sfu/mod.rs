//! The selective forwarding unit: WebRTC sessions on one UDP port (plus ICE-TCP).

mod engine;
mod feedback;
pub use lectern_rtp::h264;
pub mod offer;
pub(crate) mod shell;
pub mod stun;

pub use engine::{
    CONNECT_TIMEOUT, Engine, EngineConfig, EngineEvent, ExternalPublisher, LocalTransport,
    PLI_MIN_INTERVAL, SessionAnswer, SessionId, SessionRequest, Transmit,
};
pub use feedback::{FEEDBACK_SLOT, FeedbackToApplication};

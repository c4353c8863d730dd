//! The embedded relay, as the console shows it.

use crate::ApiError;
use serde::{Deserialize, Serialize};

/// Where the relay inside the app is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum RelayState {
    /// Binding its ports.
    Starting,
    /// Serving.
    Running,
    /// Could not start; `error` says why.
    Failed,
}

/// The embedded relay's address and load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct RelayStatus {
    pub state: RelayState,
    /// Base URLs students on this network can reach, LAN addresses first.
    pub urls: Vec<String>,
    /// The shared media port (UDP, and ICE-TCP when `tcp`).
    pub media_port: u16,
    pub tcp: bool,
    pub rooms: u32,
    /// WebRTC sessions (publishers and viewers).
    pub sessions: u32,
    /// Open signaling connections.
    pub connections: u32,
    pub error: Option<ApiError>,
}

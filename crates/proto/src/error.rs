use serde::{Deserialize, Serialize};

/// Stable error codes the UI matches on; the message is for logs and humans, never parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The named device does not exist (any more).
    DeviceNotFound,
    /// The device exists but could not be opened.
    DeviceUnavailable,
    /// The local database could not be read or written.
    Storage,
    /// A report or setting that was asked for does not exist.
    NotFound,
    /// A file could not be written.
    Io,
    /// The request itself was malformed.
    InvalidInput,
    /// A self-check is already running.
    Busy,
    /// Anything else; the message says what.
    Internal,
    /// No token, or a token that is not ours (bad signature, garbled).
    Unauthorized,
    /// The token has expired.
    TokenExpired,
    /// The token is for another room.
    WrongRoom,
    /// The token is valid but lacks the role or grant this needs.
    Forbidden,
    /// The SDP offer (or trickle fragment) could not be parsed or negotiated.
    BadSdp,
    /// The peer offered no codec the relay can forward (H.264 packetization-mode 1, Opus).
    UnsupportedCodec,
    /// The request body or message is larger than the relay accepts.
    TooLarge,
    /// The stage already has the most students it allows.
    StageFull,
    /// Publishing needs a place on the stage first.
    NotOnStage,
    /// Too many requests or messages; slow down.
    RateLimited,
    /// A signaling message of a protocol version this relay does not speak.
    UnsupportedVersion,
    /// The relay is at its configured limit of peers or rooms.
    Capacity,
    /// The relay could not be reached (network down, wrong address, relay not running).
    Unreachable,
    /// The media connection (ICE, DTLS) could not be set up or broke.
    ConnectionFailed,
}

/// The error shape of every IPC command and HTTP endpoint: `{ code, message }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    /// An error with a code and a message for the log.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

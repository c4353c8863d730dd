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

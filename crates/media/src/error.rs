/// Why a device could not be opened or stopped delivering.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// No device with this id exists.
    #[error("no such device: {0}")]
    NotFound(String),
    /// Another application holds the device.
    #[error("device is busy: {0}")]
    Busy(String),
    /// The operating system refused access (privacy settings).
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// The device offers no format Lectern can use.
    #[error("no supported format: {0}")]
    NoSupportedFormat(String),
    /// The device went away while in use.
    #[error("device disconnected: {0}")]
    Disconnected(String),
    /// The device stopped delivering for longer than the timeout.
    #[error("device stopped delivering")]
    Timeout,
    /// Anything the backend reported that fits nowhere above.
    #[error("{0}")]
    Backend(String),
}

/// Why encoding failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The encoder library could not be initialised with this configuration.
    #[error("encoder could not start: {0}")]
    Init(String),
    /// One frame could not be encoded.
    #[error("encoding failed: {0}")]
    Frame(String),
}

/// Why decoding failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The decoder library could not be initialised.
    #[error("decoder could not start: {0}")]
    Init(String),
    /// One frame or packet could not be decoded (it is dropped; a keyframe repairs video).
    #[error("decoding failed: {0}")]
    Corrupt(String),
}

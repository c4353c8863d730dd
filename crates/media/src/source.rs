use lectern_proto::{DeviceInfo, VideoMode};

use crate::{AudioChunk, CaptureError, VideoFrame};

/// A camera, real or synthetic. `next_frame` blocks until the device delivers, at the
/// device's own pace, so a source is driven from its own thread.
pub trait VideoSource: Send {
    /// What the device is.
    fn info(&self) -> &DeviceInfo;
    /// The mode the device actually delivers, which may differ from the one requested.
    fn mode(&self) -> VideoMode;
    /// Every mode the device offers, largest first (empty when the backend cannot say).
    fn modes(&self) -> Vec<VideoMode>;
    /// The next frame, or why there is none. After an error the source is finished.
    fn next_frame(&mut self) -> Result<VideoFrame, CaptureError>;
}

/// A microphone, real or synthetic, delivering mono 48 kHz in 10 ms chunks.
pub trait AudioSource: Send {
    /// What the device is.
    fn info(&self) -> &DeviceInfo;
    /// The next chunk, blocking at the device's pace. After an error the source is finished.
    fn next_chunk(&mut self) -> Result<AudioChunk, CaptureError>;
}

/// A speaker, real or synthetic, playing mono 48 kHz.
pub trait AudioSink: Send {
    /// What the device is.
    fn info(&self) -> &DeviceInfo;
    /// Queues samples for playback and returns at once. When the sink's bounded queue
    /// is full the samples that do not fit are dropped and the error says so.
    fn play(&mut self, samples: &[f32]) -> Result<(), CaptureError>;
}

//! Capture, frames, audio DSP, encoders and device diagnostics.
//!
//! Every device sits behind one of three traits: [`VideoSource`], [`AudioSource`]
//! and [`AudioSink`]. Real devices (nokhwa cameras, cpal microphones and speakers)
//! and Lectern's synthetic test devices implement the same traits, so the
//! self-check, the preview and later the class pipeline never know which they drive.
//!
//! Invariants:
//! - Video frames are I420 with even width and height; audio is mono `f32` at
//!   48 kHz in 10 ms chunks ([`AUDIO_CHUNK`] samples), whatever the device speaks.
//! - Every frame and chunk carries its capture time on one [`MediaClock`].
//! - Between capture threads and consumers there are only bounded queues; a slow
//!   consumer loses the oldest frames (and sees how many), it never stalls capture.
//!
//! Diagnostics (`diagnostics`) are pure functions and accumulators over frames and
//! samples; [`selfcheck::run`] drives them over a [`CaptureSession`].

mod audio_encode;
mod clock;
mod convert;
mod decode;
mod devices;
pub mod diagnostics;
mod echo;
mod encode;
mod error;
mod frame;
#[cfg(feature = "hardware")]
mod hardware;
mod pipeline;
mod playout;
mod preview;
mod scale;
pub mod selfcheck;
mod session;
mod source;
pub mod synthetic;

pub use audio_encode::{
    EncodedAudio, NoiseSuppressor, OPUS_FRAME, OPUS_FRAME_DURATION, OpusEncoder,
};
pub use clock::MediaClock;
pub use convert::{Resampler, rgb_to_i420};
pub use decode::{H264Decoder, OpusDecoder};
pub use devices::{Devices, SyntheticMode};
pub use echo::{EchoCanceller, EchoReference, EchoStats, echo_canceller};
pub use encode::{EncodedFrame, H264Encoder, VideoEncoder};
pub use error::{CaptureError, DecodeError, EncodeError};
pub use frame::{AUDIO_CHUNK, AudioChunk, SAMPLE_RATE, VideoFrame};
pub use pipeline::{
    AudioStats, EncodeThread, EncodedVideo, MIN_VIDEO_BPS, VideoControl, spawn_audio_encoder,
    spawn_video_encoder,
};
pub use playout::{Playout, PlayoutInput, VoiceMeter};
pub use preview::PreviewEncoder;
pub use scale::scale_i420;
pub use session::{AudioTap, CaptureSession, CaptureState, VideoTap};
pub use source::{AudioSink, AudioSource, VideoSource};

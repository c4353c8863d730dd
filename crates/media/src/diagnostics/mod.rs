//! Pure diagnostics over frames and samples. Each probe is an accumulator: feed it what
//! the device delivered, then `finish` for the measurements and the findings. No clocks,
//! no threads, no devices: the self-check drives them, and tests feed them directly.

mod audio;
mod encoder;
mod speaker;
mod video;

pub use audio::{CLIP_RUN, LevelMeter, MIN_SILENCE_SECONDS, MicProbe, SILENCE_DBFS, dbfs};
pub use encoder::{EncoderProbe, FRAME_BUDGET_SHARE, choose_resolution, measure_encoder};
pub use speaker::{Detection, HEARD_CORRELATION, detect_probe, probe_signal};
pub use video::{BLACK_LUMA, CameraProbe, FROZEN_SIMILARITY, FrameStats, frame_stats, similarity};

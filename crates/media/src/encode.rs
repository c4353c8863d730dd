use openh264::OpenH264API;
use openh264::encoder::{BitRate, Encoder, EncoderConfig, FrameRate, Profile, UsageType};

use crate::{EncodeError, VideoFrame};

/// A video encoder: frames in, Annex B access units out.
pub trait VideoEncoder: Send {
    /// Encodes one frame; an empty vector means the encoder skipped it.
    fn encode(&mut self, frame: &VideoFrame) -> Result<Vec<u8>, EncodeError>;
    /// Makes the next frame a keyframe (a viewer asked with PLI/FIR).
    fn force_keyframe(&mut self);
}

/// openh264, constrained baseline, no B-frames: what browsers and mini-programs all decode.
pub struct H264Encoder {
    inner: Encoder,
}

impl std::fmt::Debug for H264Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H264Encoder").finish_non_exhaustive()
    }
}

impl H264Encoder {
    /// An encoder for real-time camera content at `bitrate_bps` and `fps`.
    pub fn new(bitrate_bps: u32, fps: f32) -> Result<Self, EncodeError> {
        let config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(bitrate_bps))
            .max_frame_rate(FrameRate::from_hz(fps))
            .usage_type(UsageType::CameraVideoRealTime)
            .profile(Profile::Baseline)
            .skip_frames(false);
        let inner = Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| EncodeError::Init(e.to_string()))?;
        Ok(Self { inner })
    }
}

impl VideoEncoder for H264Encoder {
    fn encode(&mut self, frame: &VideoFrame) -> Result<Vec<u8>, EncodeError> {
        self.inner
            .encode(frame)
            .map(|bits| bits.to_vec())
            .map_err(|e| EncodeError::Frame(e.to_string()))
    }

    fn force_keyframe(&mut self) {
        self.inner.force_intra_frame();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_frame_is_an_idr_with_parameter_sets() {
        let mut enc = H264Encoder::new(600_000, 30.0).unwrap();
        let frame = VideoFrame::grey(320, 240);
        let bits = enc.encode(&frame).unwrap();
        // Annex B start codes followed by NAL types 7 (SPS), 8 (PPS), 5 (IDR).
        let types: Vec<u8> = bits
            .windows(4)
            .enumerate()
            .filter(|(_, w)| w == &[0, 0, 0, 1])
            .map(|(i, _)| bits[i + 4] & 0x1f)
            .collect();
        assert!(
            types.contains(&7) && types.contains(&8) && types.contains(&5),
            "{types:?}"
        );
    }
}

use openh264::OpenH264API;
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, Profile,
    RateControlMode, UsageType,
};

use crate::{EncodeError, VideoFrame};

/// One encoded picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    /// Annex B access unit (start codes, SPS and PPS before every IDR).
    pub data: Vec<u8>,
    /// Whether the access unit is an IDR a decoder can start from.
    pub keyframe: bool,
}

/// A video encoder: frames in, Annex B access units out.
pub trait VideoEncoder: Send {
    /// Encodes one frame; `None` means the encoder skipped it.
    fn encode(&mut self, frame: &VideoFrame) -> Result<Option<EncodedFrame>, EncodeError>;
    /// Makes the next frame a keyframe (a viewer asked with PLI/FIR).
    fn force_keyframe(&mut self);
    /// Changes the target bitrate from the next frame on, without a keyframe.
    fn set_bitrate(&mut self, bps: u32) -> Result<(), EncodeError>;
}

/// openh264, constrained baseline, no B-frames: what browsers and mini-programs all decode.
///
/// Rate control is openh264's bitrate mode, so the stream follows the congestion
/// controller's target. A change of frame size re-initialises the encoder in place and
/// starts with an IDR: the stream (SSRC, sequence numbers) continues.
pub struct H264Encoder {
    inner: Encoder,
    /// The bitrate asked for.
    bitrate: u32,
    /// The bitrate the running encoder was last given (a (re)initialisation reverts it to
    /// the bitrate it was created with).
    applied: Option<u32>,
    created: u32,
    size: Option<(u32, u32)>,
}

impl std::fmt::Debug for H264Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H264Encoder")
            .field("bitrate", &self.bitrate)
            .finish_non_exhaustive()
    }
}

/// A keyframe at least this often even when nobody asks: a viewer whose PLIs are lost,
/// and the FLV bridge's GOP cache, recover within this many frames.
const SAFETY_KEYFRAME_FRAMES: u32 = 300;

impl H264Encoder {
    /// An encoder for real-time camera content at `bitrate_bps` and `fps`.
    pub fn new(bitrate_bps: u32, fps: f32) -> Result<Self, EncodeError> {
        let config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(bitrate_bps))
            .max_frame_rate(FrameRate::from_hz(fps))
            .rate_control_mode(RateControlMode::Bitrate)
            .usage_type(UsageType::CameraVideoRealTime)
            .profile(Profile::Baseline)
            .intra_frame_period(IntraFramePeriod::from_num_frames(SAFETY_KEYFRAME_FRAMES))
            // Scene-change detection reads a grainy (dim) webcam as a new scene every
            // ~17 frames and emits an IDR each time: bursts 5–10× a frame's size that
            // the network then drops. Keyframes come on request and on the safety period.
            .scene_change_detect(false)
            .skip_frames(false);
        let inner = Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| EncodeError::Init(e.to_string()))?;
        Ok(Self {
            inner,
            bitrate: bitrate_bps,
            applied: Some(bitrate_bps),
            created: bitrate_bps,
            size: None,
        })
    }

    /// The current target bitrate in bits per second.
    pub fn bitrate(&self) -> u32 {
        self.bitrate
    }
}

impl VideoEncoder for H264Encoder {
    fn encode(&mut self, frame: &VideoFrame) -> Result<Option<EncodedFrame>, EncodeError> {
        let size = (frame.width, frame.height);
        // openh264 initialises on the first frame and again on a new size; options only
        // stick to an initialised encoder of this size.
        if self.size == Some(size) && self.applied != Some(self.bitrate) {
            if let Err(e) = set_target_bitrate(&mut self.inner, self.bitrate) {
                // Not worth losing the picture over: keep encoding at the old rate, and do
                // not ask again until the target moves.
                tracing::warn!("{e}");
            }
            self.applied = Some(self.bitrate);
        }
        let first_at_size = self.size != Some(size);
        let bits = self
            .inner
            .encode(frame)
            .map_err(|e| EncodeError::Frame(e.to_string()))?;
        let keyframe = matches!(bits.frame_type(), FrameType::IDR | FrameType::I);
        let data = bits.to_vec();
        if first_at_size {
            // That frame (re)initialised the encoder at the bitrate it was created with.
            self.size = Some(size);
            self.applied = Some(self.created);
        }
        Ok((!data.is_empty()).then_some(EncodedFrame { data, keyframe }))
    }

    fn force_keyframe(&mut self) {
        self.inner.force_intra_frame();
    }

    fn set_bitrate(&mut self, bps: u32) -> Result<(), EncodeError> {
        // Applied before the next frame, when the encoder is initialised for its size.
        self.bitrate = bps;
        Ok(())
    }
}

/// Tells a running openh264 encoder its new target bitrate.
///
/// The safe wrapper only sets the bitrate at initialisation; re-creating the encoder
/// would cost an IDR per change, several a minute while the estimate moves. This is the
/// `SetOption(ENCODER_OPTION_BITRATE)` call Chromium's openh264 wrapper makes too.
///
/// openh264 refuses a target above the layer's maximum (which starts at the creation
/// bitrate), so the maximum moves with the target: raised before it, lowered after it.
fn set_target_bitrate(encoder: &mut Encoder, bps: u32) -> Result<(), EncodeError> {
    let bps = i32::try_from(bps).map_err(|_| EncodeError::Frame("bitrate".into()))?;
    use openh264_sys2::{ENCODER_OPTION_BITRATE as TARGET, ENCODER_OPTION_MAX_BITRATE as MAX};
    // Raising the maximum first fails when lowering below the current target, and
    // lowering it after only works once the target is below it: one of the two takes.
    let raised = set_bitrate_option(encoder, MAX, bps);
    let target = set_bitrate_option(encoder, TARGET, bps);
    let lowered = set_bitrate_option(encoder, MAX, bps);
    if target == 0 && (raised == 0 || lowered == 0) {
        Ok(())
    } else {
        Err(EncodeError::Frame(format!(
            "set bitrate failed ({raised}, {target}, {lowered})"
        )))
    }
}

#[allow(unsafe_code)]
fn set_bitrate_option(
    encoder: &mut Encoder,
    option: openh264_sys2::ENCODER_OPTION,
    bps: i32,
) -> i32 {
    let mut info = openh264_sys2::SBitrateInfo {
        iLayer: openh264_sys2::SPATIAL_LAYER_ALL,
        iBitrate: bps,
    };
    // SAFETY: the caller only calls this on an initialised encoder (one frame encoded at
    // the current size); `info` is a valid `SBitrateInfo` that outlives the call, and both
    // bitrate options read exactly that struct. Neither changes anything the wrapper
    // relies on (frame size, formats).
    unsafe {
        encoder
            .raw_api()
            .set_option(option, std::ptr::addr_of_mut!(info).cast())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::paint;

    fn nal_types(bits: &[u8]) -> Vec<u8> {
        bits.windows(4)
            .enumerate()
            .filter(|(_, w)| w == &[0, 0, 0, 1])
            .map(|(i, _)| bits[i + 4] & 0x1f)
            .collect()
    }

    fn frame(w: u32, h: u32, seq: u64) -> VideoFrame {
        let mut f = VideoFrame::grey(w, h);
        paint(&mut f, seq, seq * 33_333);
        f
    }

    #[test]
    fn first_frame_is_an_idr_with_parameter_sets() {
        let mut enc = H264Encoder::new(600_000, 30.0).unwrap();
        let out = enc.encode(&frame(320, 240, 0)).unwrap().unwrap();
        let types = nal_types(&out.data);
        assert!(out.keyframe);
        assert!(
            types.contains(&7) && types.contains(&8) && types.contains(&5),
            "{types:?}"
        );
    }

    #[test]
    fn keyframes_come_on_request_only() {
        let mut enc = H264Encoder::new(600_000, 30.0).unwrap();
        let keys: Vec<bool> = (0..10)
            .map(|i| {
                if i == 6 {
                    enc.force_keyframe();
                }
                enc.encode(&frame(320, 240, i)).unwrap().unwrap().keyframe
            })
            .collect();
        assert_eq!(
            keys,
            [
                true, false, false, false, false, false, true, false, false, false
            ]
        );
    }

    #[test]
    fn bitrate_changes_at_run_time_without_a_keyframe() {
        let mut enc = H264Encoder::new(2_000_000, 30.0).unwrap();
        // Fresh grain every frame (like a dim webcam): more detail than 200 kbit/s can
        // carry, so the encoder's output is set by its target, not by the picture.
        let mut seed = 1u32;
        let mut noisy = move |i: u64| {
            let mut f = frame(640, 360, i);
            for px in f.y_mut() {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                *px = px.saturating_add((seed >> 29) as u8 * 3);
            }
            f
        };
        let mut size = |enc: &mut H264Encoder, from: u64| -> (usize, bool) {
            (from..from + 30).fold((0, false), |(n, key), i| {
                let out = enc.encode(&noisy(i)).unwrap().unwrap();
                (n + out.data.len(), key || out.keyframe)
            })
        };
        size(&mut enc, 0);
        let (high, _) = size(&mut enc, 30);
        enc.set_bitrate(200_000).unwrap();
        assert_eq!(enc.bitrate(), 200_000);
        let (low, key) = size(&mut enc, 60);
        assert!(!key, "a bitrate change must not cost a keyframe");
        assert!(
            low * 2 < high,
            "{low} bytes at 200 kbit/s vs {high} at 2 Mbit/s"
        );
    }

    #[test]
    fn a_new_frame_size_restarts_with_an_idr() {
        let mut enc = H264Encoder::new(600_000, 30.0).unwrap();
        enc.encode(&frame(640, 360, 0)).unwrap();
        assert!(!enc.encode(&frame(640, 360, 1)).unwrap().unwrap().keyframe);
        let smaller = enc.encode(&frame(320, 180, 2)).unwrap().unwrap();
        assert!(smaller.keyframe);
        assert!(nal_types(&smaller.data).contains(&7));
    }
}

use std::time::Instant;

use lectern_proto::{EncodeSpeed, EncoderStats, Finding, FindingCode, PublishResolution};

use crate::synthetic::Noise;
use crate::{EncodeError, H264Encoder, VideoEncoder, VideoFrame};

/// A resolution is sustainable when one frame encodes within this share of the 30 fps
/// frame time (33.3 ms): the rest is for capture, audio, the network and the UI.
pub const FRAME_BUDGET_SHARE: f32 = 0.5;
const FRAME_MS_30FPS: f32 = 1000.0 / 30.0;

/// Encodes `frames` frames of moving, noisy test pattern at `resolution` and returns the
/// mean wall-clock milliseconds per frame (after one warm-up keyframe).
///
/// This reads the clock on purpose: encoder speed on this laptop is what it measures.
pub fn measure_encoder(
    resolution: PublishResolution,
    frames: u32,
) -> Result<EncodeSpeed, EncodeError> {
    let (w, h) = resolution.size();
    let bitrate = resolution.video_bps();
    let mut encoder = H264Encoder::new(bitrate, 30.0)?;
    let mut noise = Noise::new(u64::from(w));
    let make = |seq: u64, noise: &mut Noise| {
        let mut f = VideoFrame::grey(w, h);
        crate::synthetic::paint(&mut f, seq, seq * 33_333);
        // Sensor-like grain: real camera pictures never repeat exactly.
        for p in f.y_mut().iter_mut().step_by(3) {
            *p = p.saturating_add_signed((noise.next() * 3.0) as i8);
        }
        f
    };
    let warm = make(0, &mut noise);
    encoder.encode(&warm)?;
    let pictures: Vec<VideoFrame> = (1..=u64::from(frames.max(1)))
        .map(|i| make(i, &mut noise))
        .collect();
    let start = Instant::now();
    for p in &pictures {
        encoder.encode(p)?;
    }
    let ms = start.elapsed().as_secs_f32() * 1000.0 / pictures.len() as f32;
    Ok(EncodeSpeed {
        resolution,
        ms_per_frame: ms,
    })
}

/// The largest resolution whose encode time fits the budget.
pub fn choose_resolution(speeds: &[EncodeSpeed]) -> Option<PublishResolution> {
    speeds
        .iter()
        .filter(|s| s.ms_per_frame <= FRAME_BUDGET_SHARE * FRAME_MS_30FPS)
        .map(|s| s.resolution)
        .max()
}

/// Collects encode speeds, largest resolution first, and turns them into findings.
#[derive(Debug, Clone, Default)]
pub struct EncoderProbe {
    speeds: Vec<EncodeSpeed>,
    failure: Option<String>,
}

impl EncoderProbe {
    /// An empty probe.
    pub fn new() -> Self {
        Self::default()
    }

    /// Measures from 720p down, stopping at the first sustainable resolution.
    pub fn run(frames: u32) -> Self {
        let mut probe = Self::new();
        for r in PublishResolution::ALL {
            match measure_encoder(r, frames) {
                Ok(speed) => {
                    let done = choose_resolution(std::slice::from_ref(&speed)).is_some();
                    probe.push(speed);
                    if done {
                        break;
                    }
                }
                Err(e) => {
                    probe.failure = Some(e.to_string());
                    break;
                }
            }
        }
        probe
    }

    /// Adds one measurement.
    pub fn push(&mut self, speed: EncodeSpeed) {
        self.speeds.push(speed);
    }

    /// The measurements and the finding.
    pub fn finish(&self) -> (EncoderStats, Vec<Finding>) {
        let sustainable = choose_resolution(&self.speeds);
        let stats = EncoderStats {
            speeds: self.speeds.clone(),
            sustainable,
        };
        let round = |x: f32| (x * 10.0).round() / 10.0;
        let finding = if let Some(reason) = &self.failure {
            Finding::new(FindingCode::EncoderFailed).with("reason", reason.as_str())
        } else if let Some(r) = sustainable {
            let ms = self
                .speeds
                .iter()
                .find(|s| s.resolution == r)
                .map_or(0.0, |s| s.ms_per_frame);
            Finding::new(FindingCode::EncoderOk)
                .with("resolution", r.label())
                .with("ms", round(ms))
        } else {
            let ms = self.speeds.last().map_or(0.0, |s| s.ms_per_frame);
            Finding::new(FindingCode::EncoderSlow).with("ms", round(ms))
        };
        (stats, vec![finding])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speed(resolution: PublishResolution, ms_per_frame: f32) -> EncodeSpeed {
        EncodeSpeed {
            resolution,
            ms_per_frame,
        }
    }

    #[test]
    fn chooses_the_largest_resolution_within_budget() {
        use PublishResolution::*;
        assert_eq!(
            choose_resolution(&[speed(P720, 30.0), speed(P540, 15.0)]),
            Some(P540)
        );
        assert_eq!(choose_resolution(&[speed(P720, 9.0)]), Some(P720));
        assert_eq!(
            choose_resolution(&[speed(P720, 40.0), speed(P540, 30.0), speed(P360, 20.0)]),
            None
        );
    }

    #[test]
    fn slow_laptops_get_a_warning_naming_the_360p_time() {
        use PublishResolution::*;
        let mut p = EncoderProbe::new();
        for s in [speed(P720, 60.0), speed(P540, 35.0), speed(P360, 21.0)] {
            p.push(s);
        }
        let (stats, findings) = p.finish();
        assert_eq!(stats.sustainable, None);
        assert_eq!(findings[0].code, FindingCode::EncoderSlow);
        assert_eq!(findings[0].params["ms"], 21.0.into());
    }

    #[test]
    fn real_encoder_measures_a_positive_time() {
        let s = measure_encoder(PublishResolution::P360, 3).unwrap();
        assert!(s.ms_per_frame > 0.0 && s.ms_per_frame.is_finite());
    }
}

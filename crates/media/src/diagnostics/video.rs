use lectern_proto::{CameraStats, Finding, FindingCode, VideoMode};

use crate::VideoFrame;

/// A frame whose mean luma is below this is black.
pub const BLACK_LUMA: f32 = 20.0;
/// A frame at least this similar to the one before is frozen.
pub const FROZEN_SIMILARITY: f32 = 0.985;
/// Mean luma below this (but not black) is too dark to see a face.
const DARK_LUMA: f32 = 60.0;
/// Share of frames that must be black/frozen before we report it.
const MAJORITY: f32 = 0.5;
/// Delivered fps below this share of the requested rate is reported.
const LOW_FPS_SHARE: f32 = 0.75;
/// Luma samples are taken every `STEP` pixels in both directions.
const STEP: usize = 4;

/// What one frame looks like, from a sparse grid of luma samples.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameStats {
    pub mean_luma: f32,
    /// Mean luma of the centre quarter (where a face is).
    pub centre_luma: f32,
    /// Mean luma of the outer ring.
    pub border_luma: f32,
    /// The grid samples, for comparing with the next frame.
    pub samples: Vec<u8>,
}

/// Samples a frame's luma on a grid and summarises it.
pub fn frame_stats(frame: &VideoFrame) -> FrameStats {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let y = frame.y();
    let mut samples = Vec::with_capacity((w / STEP + 1) * (h / STEP + 1));
    let (mut sum, mut centre, mut centre_n, mut border, mut border_n) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    for row in (0..h).step_by(STEP) {
        for col in (0..w).step_by(STEP) {
            let p = y[row * w + col];
            samples.push(p);
            sum += u64::from(p);
            let in_centre = (w / 4..3 * w / 4).contains(&col) && (h / 4..3 * h / 4).contains(&row);
            if in_centre {
                centre += u64::from(p);
                centre_n += 1;
            } else {
                border += u64::from(p);
                border_n += 1;
            }
        }
    }
    let mean = |s: u64, n: u64| if n == 0 { 0.0 } else { s as f32 / n as f32 };
    FrameStats {
        mean_luma: mean(sum, samples.len() as u64),
        centre_luma: mean(centre, centre_n),
        border_luma: mean(border, border_n),
        samples,
    }
}

/// Share of grid samples that are exactly equal in two frames, 0–1.
///
/// A real sensor's noise changes most pixels between frames even in a still scene, so a
/// share above [`FROZEN_SIMILARITY`] means the driver is handing out the same picture.
pub fn similarity(a: &[u8], b: &[u8]) -> f32 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let same = a.iter().zip(b).filter(|(x, y)| x == y).count();
    same as f32 / a.len() as f32
}

/// Accumulates what the camera delivered during a check.
#[derive(Debug, Clone)]
pub struct CameraProbe {
    requested: VideoMode,
    width: u32,
    height: u32,
    frames: u32,
    first: Option<(u64, std::time::Duration)>,
    last: (u64, std::time::Duration),
    black: u32,
    frozen: u32,
    backlit: u32,
    luma_sum: f64,
    previous: Option<Vec<u8>>,
}

impl CameraProbe {
    /// A probe for a camera asked to deliver `requested`.
    pub fn new(requested: VideoMode) -> Self {
        Self {
            requested,
            width: 0,
            height: 0,
            frames: 0,
            first: None,
            last: (0, std::time::Duration::ZERO),
            black: 0,
            frozen: 0,
            backlit: 0,
            luma_sum: 0.0,
            previous: None,
        }
    }

    /// Frames seen so far.
    pub fn frames(&self) -> u32 {
        self.frames
    }

    /// Adds one delivered frame.
    pub fn push(&mut self, frame: &VideoFrame) {
        let stats = frame_stats(frame);
        self.width = frame.width;
        self.height = frame.height;
        self.frames += 1;
        self.first.get_or_insert((frame.seq, frame.captured_at));
        self.last = (frame.seq, frame.captured_at);
        self.luma_sum += f64::from(stats.mean_luma);
        if stats.mean_luma < BLACK_LUMA {
            self.black += 1;
        }
        if stats.border_luma > 150.0
            && stats.centre_luma < 90.0
            && stats.centre_luma < 0.45 * stats.border_luma
        {
            self.backlit += 1;
        }
        if let Some(prev) = &self.previous
            && similarity(prev, &stats.samples) > FROZEN_SIMILARITY
        {
            self.frozen += 1;
        }
        self.previous = Some(stats.samples);
    }

    /// Frames per second the camera delivered, from the sequence numbers and capture
    /// times of the first and last frame seen, so frames a slow consumer missed still count.
    pub fn delivered_fps(&self) -> f32 {
        match self.first {
            Some((seq0, at0)) if self.last.0 > seq0 && self.last.1 > at0 => {
                (self.last.0 - seq0) as f32 / (self.last.1 - at0).as_secs_f32()
            }
            _ => 0.0,
        }
    }

    /// The measurements and the findings. `device` names the camera in the report.
    pub fn finish(&self, device: &str) -> (CameraStats, Vec<Finding>) {
        let n = self.frames.max(1) as f32;
        let fps = self.delivered_fps();
        let stats = CameraStats {
            device: device.to_owned(),
            requested_width: self.requested.width,
            requested_height: self.requested.height,
            requested_fps: self.requested.fps,
            width: self.width,
            height: self.height,
            delivered_fps: fps,
            frames: self.frames,
            black_ratio: self.black as f32 / n,
            // The first frame has nothing to be compared with.
            frozen_ratio: self.frozen as f32 / (n - 1.0).max(1.0),
            mean_luma: (self.luma_sum / f64::from(n)) as f32,
        };
        let mut findings = Vec::new();
        if self.frames == 0 {
            return (stats, findings);
        }
        let black = stats.black_ratio > MAJORITY;
        if black {
            findings.push(
                Finding::new(FindingCode::CameraBlack)
                    .with("ratio", (stats.black_ratio * 100.0).round()),
            );
        } else if stats.frozen_ratio > MAJORITY && self.frames > 2 {
            findings.push(
                Finding::new(FindingCode::CameraFrozen)
                    .with("ratio", (stats.frozen_ratio * 100.0).round()),
            );
        }
        if !black && stats.mean_luma < DARK_LUMA {
            findings
                .push(Finding::new(FindingCode::CameraDark).with("luma", stats.mean_luma.round()));
        } else if !black && self.backlit as f32 / n > MAJORITY {
            findings.push(Finding::new(FindingCode::CameraBacklit));
        }
        if self.frames > 2 && fps < LOW_FPS_SHARE * self.requested.fps as f32 {
            findings.push(
                Finding::new(FindingCode::CameraLowFps)
                    .with("fps", (fps * 10.0).round() / 10.0)
                    .with("requested", self.requested.fps),
            );
        }
        if self.width * self.height < self.requested.width * self.requested.height {
            findings.push(
                Finding::new(FindingCode::CameraLowResolution)
                    .with("width", self.width)
                    .with("height", self.height)
                    .with("requested_width", self.requested.width)
                    .with("requested_height", self.requested.height),
            );
        }
        if findings.is_empty() {
            findings.push(
                Finding::new(FindingCode::CameraOk)
                    .with("fps", fps.round())
                    .with("width", self.width)
                    .with("height", self.height),
            );
        }
        (stats, findings)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::synthetic::{Faults, SyntheticCamera};
    use crate::{MediaClock, VideoSource};

    const MODE: VideoMode = VideoMode {
        width: 320,
        height: 180,
        fps: 30,
    };

    fn frames_with(faults: Faults, n: usize) -> Vec<VideoFrame> {
        let mut cam = SyntheticCamera::open(MODE, faults, MediaClock::start()).unwrap();
        (0..n).map(|_| cam.next_frame().unwrap()).collect()
    }

    fn codes(probe: &CameraProbe) -> Vec<FindingCode> {
        probe.finish("cam").1.into_iter().map(|f| f.code).collect()
    }

    fn probe(frames: &[VideoFrame]) -> CameraProbe {
        let mut p = CameraProbe::new(MODE);
        frames.iter().for_each(|f| p.push(f));
        p
    }

    #[test]
    fn clean_bars_are_ok() {
        let p = probe(&frames_with(Faults::default(), 12));
        assert_eq!(codes(&p), vec![FindingCode::CameraOk]);
        let (stats, _) = p.finish("cam");
        assert!(
            stats.delivered_fps > 25.0 && stats.delivered_fps < 35.0,
            "{}",
            stats.delivered_fps
        );
        assert_eq!((stats.width, stats.height), (320, 180));
    }

    #[test]
    fn black_frames_are_found() {
        let p = probe(&frames_with(
            Faults {
                black: true,
                ..Faults::default()
            },
            5,
        ));
        assert_eq!(codes(&p), vec![FindingCode::CameraBlack]);
    }

    #[test]
    fn frozen_frames_are_found() {
        let p = probe(&frames_with(
            Faults {
                frozen: true,
                ..Faults::default()
            },
            6,
        ));
        assert_eq!(codes(&p), vec![FindingCode::CameraFrozen]);
    }

    #[test]
    fn dark_and_backlit_pictures_are_found() {
        let p = probe(&frames_with(
            Faults {
                dark: true,
                ..Faults::default()
            },
            4,
        ));
        assert_eq!(codes(&p), vec![FindingCode::CameraDark]);
        let p = probe(&frames_with(
            Faults {
                backlit: true,
                ..Faults::default()
            },
            4,
        ));
        assert_eq!(codes(&p), vec![FindingCode::CameraBacklit]);
    }

    #[test]
    fn low_frame_rate_is_found_from_capture_times() {
        // Frames stamped 125 ms apart: 8 fps against 30 requested.
        let mut frames = frames_with(Faults::default(), 6);
        for (i, f) in frames.iter_mut().enumerate() {
            f.captured_at = Duration::from_millis(125 * i as u64);
        }
        let p = probe(&frames);
        assert_eq!(codes(&p), vec![FindingCode::CameraLowFps]);
        assert!((p.delivered_fps() - 8.0).abs() < 0.01);
    }

    #[test]
    fn smaller_than_requested_is_found() {
        let mut p = CameraProbe::new(VideoMode::HD_30);
        for (i, f) in frames_with(Faults::default(), 4).iter().enumerate() {
            let mut f = f.clone();
            f.captured_at = Duration::from_millis(33 * i as u64);
            p.push(&f);
        }
        assert_eq!(codes(&p), vec![FindingCode::CameraLowResolution]);
    }

    #[test]
    fn similarity_is_share_of_identical_samples() {
        assert_eq!(similarity(&[1, 2, 3, 4], &[1, 2, 3, 4]), 1.0);
        assert_eq!(similarity(&[1, 2, 3, 4], &[1, 2, 0, 0]), 0.5);
        assert_eq!(similarity(&[], &[]), 0.0);
        assert_eq!(similarity(&[1], &[1, 2]), 0.0);
    }
}

use std::time::{Duration, Instant};

use lectern_proto::{DeviceInfo, DeviceKind, VideoMode};

use super::{CAMERA_ID, Faults, pattern};
use crate::{CaptureError, MediaClock, VideoFrame, VideoSource};

/// "Lectern test camera": moving colour bars with a frame counter and a capture-time
/// barcode, paced in real time at the requested frame rate.
#[derive(Debug)]
pub struct SyntheticCamera {
    info: DeviceInfo,
    mode: VideoMode,
    faults: Faults,
    clock: MediaClock,
    opened: Instant,
    seq: u64,
    frozen: Option<VideoFrame>,
}

impl SyntheticCamera {
    /// The device as listed.
    pub fn info() -> DeviceInfo {
        DeviceInfo {
            id: CAMERA_ID.to_owned(),
            name: "Lectern test camera".to_owned(),
            kind: DeviceKind::Camera,
            synthetic: true,
            is_default: false,
        }
    }

    /// Opens the camera at `mode` (dimensions rounded down to even numbers).
    pub fn open(mode: VideoMode, faults: Faults, clock: MediaClock) -> Result<Self, CaptureError> {
        if faults.busy {
            return Err(CaptureError::Busy("Lectern test camera".to_owned()));
        }
        if mode.width < 16 || mode.height < 16 || mode.fps == 0 || mode.fps > 120 {
            return Err(CaptureError::NoSupportedFormat(format!(
                "{}x{}@{}",
                mode.width, mode.height, mode.fps
            )));
        }
        let mode = VideoMode {
            width: mode.width & !1,
            height: mode.height & !1,
            fps: mode.fps,
        };
        Ok(Self {
            info: Self::info(),
            mode,
            faults,
            clock,
            opened: Instant::now(),
            seq: 0,
            frozen: None,
        })
    }

    fn delivered_fps(&self) -> u32 {
        if self.faults.low_fps {
            8.min(self.mode.fps)
        } else {
            self.mode.fps
        }
    }

    fn apply_faults(&self, frame: &mut VideoFrame) {
        let f = self.faults;
        if f.black {
            frame.y_mut().fill(4);
            let (u, v) = frame.uv_mut();
            u.fill(128);
            v.fill(128);
        } else if f.dark {
            for p in frame.y_mut() {
                *p = 22 + *p / 8;
            }
        } else if f.backlit {
            let (w, h) = (frame.width as usize, frame.height as usize);
            let y = frame.y_mut();
            for row in 0..h {
                for col in 0..w {
                    let centre =
                        (w / 4..3 * w / 4).contains(&col) && (h / 4..3 * h / 4).contains(&row);
                    let p = &mut y[row * w + col];
                    *p = if centre { 30 + *p / 10 } else { 235 - *p / 20 };
                }
            }
        }
    }
}

impl VideoSource for SyntheticCamera {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn mode(&self) -> VideoMode {
        self.mode
    }

    fn modes(&self) -> Vec<VideoMode> {
        [(1920, 1080), (1280, 720), (960, 540), (640, 360)]
            .into_iter()
            .map(|(width, height)| VideoMode {
                width,
                height,
                fps: 30,
            })
            .collect()
    }

    fn next_frame(&mut self) -> Result<VideoFrame, CaptureError> {
        let period = Duration::from_secs(1) / self.delivered_fps();
        let due = self.opened + period * self.seq as u32;
        if self.faults.unplugged && due.duration_since(self.opened) > Duration::from_millis(1500) {
            return Err(CaptureError::Disconnected("Lectern test camera".to_owned()));
        }
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let captured_at = self.clock.now();
        let seq = self.seq;
        self.seq += 1;
        if let Some(frozen) = &self.frozen {
            return Ok(VideoFrame {
                seq,
                captured_at,
                ..frozen.clone()
            });
        }
        let mut frame = VideoFrame::grey(self.mode.width, self.mode.height);
        frame.seq = seq;
        frame.captured_at = captured_at;
        pattern::paint(&mut frame, seq, captured_at.as_micros() as u64);
        self.apply_faults(&mut frame);
        if self.faults.frozen {
            self.frozen = Some(frame.clone());
        }
        Ok(frame)
    }
}

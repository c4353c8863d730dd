use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::Duration;

use lectern_proto::{DeviceInfo, DeviceKind, VideoMode};
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
    Resolution,
};
use nokhwa::{Camera, NokhwaError};

use crate::{CaptureError, MediaClock, VideoFrame, VideoSource, rgb_to_i420};

/// How long a camera may take to open before we call it hung.
const OPEN_TIMEOUT: Duration = Duration::from_secs(8);
/// How long without a frame before the camera counts as stopped.
const FRAME_TIMEOUT: Duration = Duration::from_secs(2);
/// Frames decoded but not yet taken. When full, the newest frame is dropped: the
/// consumer is behind and an older frame it has not seen is as good.
const FRAME_QUEUE: usize = 2;

const ID_PREFIX: &str = "camera:";

/// Lists the cameras the OS reports. Errors (no backend, no permission yet) mean "none".
pub(crate) fn list_cameras() -> Vec<DeviceInfo> {
    // On macOS this asks for camera permission (once; a no-op elsewhere). Until the
    // teacher answers, the list may be empty: the device pickers have a refresh button.
    static PERMISSION: std::sync::Once = std::sync::Once::new();
    PERMISSION.call_once(|| {
        nokhwa::nokhwa_initialize(|granted| tracing::info!(granted, "camera permission"));
    });
    match nokhwa::query(ApiBackend::Auto) {
        Ok(cams) => cams
            .into_iter()
            .enumerate()
            .map(|(i, c)| DeviceInfo {
                id: format!("{ID_PREFIX}{}", c.index()),
                name: c.human_name(),
                kind: DeviceKind::Camera,
                synthetic: false,
                is_default: i == 0,
            })
            .collect(),
        Err(e) => {
            tracing::info!("camera enumeration failed: {e}");
            Vec::new()
        }
    }
}

/// A camera opened through nokhwa. The camera lives on its own thread (some backends'
/// handles may not cross threads); frames arrive decoded to I420 over a bounded queue.
#[derive(Debug)]
pub(crate) struct NokhwaCamera {
    info: DeviceInfo,
    mode: VideoMode,
    modes: Vec<VideoMode>,
    frames: Receiver<Result<VideoFrame, CaptureError>>,
}

impl NokhwaCamera {
    pub(crate) fn open(
        info: DeviceInfo,
        want: VideoMode,
        clock: MediaClock,
    ) -> Result<Self, CaptureError> {
        let index = parse_index(&info.id)?;
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let (frame_tx, frames) = mpsc::sync_channel(FRAME_QUEUE);
        let name = info.name.clone();
        std::thread::Builder::new()
            .name(format!("camera {name}"))
            .spawn(move || capture_thread(index, want, clock, ready_tx, frame_tx))
            .map_err(|e| CaptureError::Backend(e.to_string()))?;
        let (mode, modes) = match ready_rx.recv_timeout(OPEN_TIMEOUT) {
            Ok(result) => result?,
            Err(_) => {
                return Err(CaptureError::Backend(format!(
                    "{name} did not open within 8 s"
                )));
            }
        };
        Ok(Self {
            info,
            mode,
            modes,
            frames,
        })
    }
}

impl VideoSource for NokhwaCamera {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn mode(&self) -> VideoMode {
        self.mode
    }

    fn modes(&self) -> Vec<VideoMode> {
        self.modes.clone()
    }

    fn next_frame(&mut self) -> Result<VideoFrame, CaptureError> {
        match self.frames.recv_timeout(FRAME_TIMEOUT) {
            Ok(frame) => frame,
            Err(RecvTimeoutError::Timeout) => Err(CaptureError::Timeout),
            Err(RecvTimeoutError::Disconnected) => {
                Err(CaptureError::Disconnected(self.info.name.clone()))
            }
        }
    }
}

fn parse_index(id: &str) -> Result<CameraIndex, CaptureError> {
    let raw = id
        .strip_prefix(ID_PREFIX)
        .ok_or_else(|| CaptureError::NotFound(id.to_owned()))?;
    Ok(raw
        .parse::<u32>()
        .map(CameraIndex::Index)
        .unwrap_or_else(|_| CameraIndex::String(raw.to_owned())))
}

fn capture_thread(
    index: CameraIndex,
    want: VideoMode,
    clock: MediaClock,
    ready: SyncSender<Result<(VideoMode, Vec<VideoMode>), CaptureError>>,
    frames: SyncSender<Result<VideoFrame, CaptureError>>,
) {
    let requested =
        RequestedFormat::new::<RgbFormat>(RequestedFormatType::Closest(CameraFormat::new(
            Resolution::new(want.width, want.height),
            FrameFormat::MJPEG,
            want.fps,
        )));
    let mut camera =
        match Camera::new(index, requested).and_then(|mut c| c.open_stream().map(|()| c)) {
            Ok(c) => c,
            Err(e) => {
                let _ = ready.send(Err(map_error(e)));
                return;
            }
        };
    let fmt = camera.camera_format();
    let mode = VideoMode {
        width: fmt.width() & !1,
        height: fmt.height() & !1,
        fps: fmt.frame_rate(),
    };
    let mut modes: Vec<VideoMode> = camera
        .compatible_camera_formats()
        .unwrap_or_default()
        .into_iter()
        .map(|f| VideoMode {
            width: f.width() & !1,
            height: f.height() & !1,
            fps: f.frame_rate(),
        })
        .collect();
    modes.sort_by_key(|m| std::cmp::Reverse((m.width * m.height, m.fps)));
    modes.dedup();
    if ready.send(Ok((mode, modes))).is_err() {
        return;
    }
    let mut seq = 0;
    let mut i420 = Vec::new();
    loop {
        let result = camera.frame().map_err(map_error).and_then(|buffer| {
            let captured_at = clock.now();
            let image = buffer
                .decode_image::<RgbFormat>()
                .map_err(|e| CaptureError::Backend(e.to_string()))?;
            let (w, h) = (image.width(), image.height());
            rgb_to_i420(image.as_raw(), w, h, &mut i420);
            Ok(VideoFrame {
                width: w & !1,
                height: h & !1,
                seq,
                captured_at,
                data: std::mem::take(&mut i420),
            })
        });
        seq += 1;
        let failed = result.is_err();
        match frames.try_send(result) {
            Ok(()) | Err(TrySendError::Full(_)) => {}
            Err(TrySendError::Disconnected(_)) => break,
        }
        if failed {
            break;
        }
    }
    let _ = camera.stop_stream();
}

fn map_error(e: NokhwaError) -> CaptureError {
    let text = e.to_string();
    let lower = text.to_ascii_lowercase();
    if lower.contains("busy") || lower.contains("in use") {
        CaptureError::Busy(text)
    } else if lower.contains("permission") || lower.contains("denied") || lower.contains("authoriz")
    {
        CaptureError::PermissionDenied(text)
    } else if lower.contains("format") || lower.contains("resolution") {
        CaptureError::NoSupportedFormat(text)
    } else if lower.contains("no such device") || lower.contains("not found") {
        CaptureError::NotFound(text)
    } else {
        CaptureError::Backend(text)
    }
}

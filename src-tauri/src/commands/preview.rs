//! The live preview: camera frames as JPEG bytes and microphone levels, pushed to the
//! webview over two Tauri channels while the Self-check page is open.
//!
//! Frames are JPEG-encoded at most 640 px wide on a preview thread that reads the
//! camera's fan-out; when it falls behind it skips to the newest frame (the fan-out
//! drops the oldest), so the preview lags by at most one encode, never by a queue.
//!
//! The IPC hop is bounded too: one frame is in flight at a time. The webview calls
//! `preview_ack` once it has drawn a frame; until then new frames are dropped (and not
//! even encoded). If an ack never comes (a lost message), sending resumes after
//! [`ACK_TIMEOUT`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lectern_media::diagnostics::LevelMeter;
use lectern_media::selfcheck::open_findings;
use lectern_media::{CaptureSession, Devices, MediaClock, PreviewEncoder};
use lectern_proto::{ApiError, Area, DeviceSelection, Finding, MeterLevel, VideoMode};
use serde::Serialize;
use tauri::ipc::{Channel, InvokeResponseBody};
use tauri::{Runtime, State};
use tokio::sync::broadcast::error::RecvError;

use super::internal;
use crate::AppState;
use crate::state::OpenCapture;

const PREVIEW_WIDTH: u32 = 640;
const PREVIEW_QUALITY: u8 = 70;
/// How long to wait for the webview's ack before sending the next frame anyway.
const ACK_TIMEOUT: Duration = Duration::from_secs(1);
/// Meter readings every 50 ms.
const METER_WINDOW: usize = 2_400;

/// What the preview could open.
#[derive(Debug, Clone, Serialize)]
pub struct PreviewStatus {
    /// The mode the camera delivers, when one is open.
    pub camera: Option<VideoMode>,
    /// Every mode the camera offers, largest first.
    pub camera_modes: Vec<VideoMode>,
    /// Why there is no camera picture, when there is none.
    pub camera_problem: Option<Finding>,
    /// Why there is no microphone level, when there is none.
    pub microphone_problem: Option<Finding>,
}

/// The invoke handler for the two hand-typed preview commands.
pub fn handler<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![start_preview, stop_preview, preview_ack]
}

/// The open capture for `selection`: the current one when it was opened for the same
/// devices, else the old devices are released (a camera opens only once) and new ones
/// opened.
pub async fn ensure_open<'a>(
    capture: &'a mut Option<OpenCapture>,
    devices: &Devices,
    selection: &DeviceSelection,
) -> Result<&'a mut OpenCapture, ApiError> {
    if capture.as_ref().is_none_or(|c| &c.selection != selection) {
        *capture = None;
        let session = open_session(devices, selection).await?;
        *capture = Some(OpenCapture::new(selection.clone(), session));
    }
    Ok(capture.as_mut().expect("opened above"))
}

/// Opens the devices of `selection` off the async runtime (a camera may take seconds).
async fn open_session(
    devices: &Devices,
    selection: &DeviceSelection,
) -> Result<CaptureSession, ApiError> {
    let (devices, selection) = (devices.clone(), selection.clone());
    tokio::task::spawn_blocking(move || {
        CaptureSession::open(&devices, &selection, VideoMode::HD_30, MediaClock::start())
    })
    .await
    .map_err(internal)
}

/// Opens the selected camera and microphone (or keeps them open) and streams the
/// preview: `frames` receives one JPEG per message, `meter` one level per 50 ms.
#[tauri::command]
pub async fn start_preview(
    state: State<'_, AppState>,
    selection: DeviceSelection,
    frames: Channel<InvokeResponseBody>,
    meter: Channel<MeterLevel>,
) -> Result<PreviewStatus, ApiError> {
    let mut capture = state.capture.lock().await;
    if let Some(open) = capture.as_ref() {
        open.stop_preview();
    }
    let open = ensure_open(&mut capture, &state.devices, &selection).await?;
    let stop = Arc::new(AtomicBool::new(false));
    open.preview_stop = stop.clone();
    if let Some(camera) = &open.session.camera {
        let (mut rx, stop) = (camera.subscribe(), stop.clone());
        let credit = state.preview_credit.clone();
        credit.store(true, Ordering::Release);
        spawn("preview video", move || {
            let mut encoder = PreviewEncoder::new(PREVIEW_WIDTH, PREVIEW_QUALITY);
            let mut sent_at = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                match rx.blocking_recv() {
                    Ok(frame) => {
                        // The webview is still drawing the last frame: drop this one.
                        if !credit.swap(false, Ordering::AcqRel) && sent_at.elapsed() < ACK_TIMEOUT
                        {
                            continue;
                        }
                        sent_at = Instant::now();
                        if frames
                            .send(InvokeResponseBody::Raw(encoder.encode(&frame)))
                            .is_err()
                        {
                            break;
                        }
                    }
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => break,
                }
            }
        });
    }
    if let Some(mic) = &open.session.microphone {
        let (mut rx, stop) = (mic.subscribe(), stop);
        spawn("preview meter", move || {
            let mut level = LevelMeter::new(METER_WINDOW);
            while !stop.load(Ordering::Relaxed) {
                match rx.blocking_recv() {
                    Ok(chunk) => {
                        if let Some(reading) = level.push(&chunk.samples)
                            && meter.send(reading).is_err()
                        {
                            break;
                        }
                    }
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => break,
                }
            }
        });
    }
    let problems = open_findings(&open.session);
    let problem = |area: Area| problems.iter().find(|f| f.area == area).cloned();
    Ok(PreviewStatus {
        camera: open.session.camera.as_ref().map(|c| c.mode()),
        camera_modes: open
            .session
            .camera
            .as_ref()
            .map(|c| c.modes().to_vec())
            .unwrap_or_default(),
        camera_problem: problem(Area::Camera),
        microphone_problem: problem(Area::Microphone),
    })
}

/// The webview has drawn (or dropped) the last frame: the next one may be sent.
#[tauri::command]
pub fn preview_ack(state: State<'_, AppState>) {
    state.preview_credit.store(true, Ordering::Release);
}

/// Stops the preview and releases the devices (unless a self-check is using them).
#[tauri::command]
pub async fn stop_preview(state: State<'_, AppState>) -> Result<(), ApiError> {
    let mut capture = state.capture.lock().await;
    if let Some(open) = capture.take() {
        open.stop_preview();
    }
    Ok(())
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new().name(name.to_owned()).spawn(f) {
        tracing::warn!("cannot start {name}: {e}");
    }
}

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use lectern_proto::{DeviceInfo, VideoMode};
use tokio::sync::{broadcast, watch};

use crate::{AudioChunk, AudioSource, CaptureError, VideoFrame, VideoSource};

/// Frames buffered per consumer. A consumer this far behind loses the oldest frames
/// and is told how many (`RecvError::Lagged`); capture never waits.
const VIDEO_FANOUT: usize = 8;
/// Audio chunks buffered per consumer: 320 ms.
const AUDIO_FANOUT: usize = 32;

/// Why a tap's capture thread ended, if it has.
#[derive(Debug, Clone, PartialEq)]
pub enum CaptureState {
    Running,
    Failed(CaptureError),
    Stopped,
}

struct Tap<T> {
    info: DeviceInfo,
    tx: broadcast::Sender<Arc<T>>,
    state: watch::Receiver<CaptureState>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl<T: Send + Sync + 'static> Tap<T> {
    fn spawn(
        info: DeviceInfo,
        capacity: usize,
        mut next: impl FnMut() -> Result<T, CaptureError> + Send + 'static,
    ) -> Self {
        let (tx, _) = broadcast::channel(capacity);
        let (state_tx, state) = watch::channel(CaptureState::Running);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (tx, stop) = (tx.clone(), stop.clone());
            std::thread::Builder::new()
                .name(format!("capture {}", info.name))
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        match next() {
                            // No receivers is fine: nobody is looking right now.
                            Ok(item) => drop(tx.send(Arc::new(item))),
                            Err(e) => {
                                tracing::warn!("capture stopped: {e}");
                                let _ = state_tx.send(CaptureState::Failed(e));
                                return;
                            }
                        }
                    }
                    let _ = state_tx.send(CaptureState::Stopped);
                })
                .expect("spawning a capture thread")
        };
        Self {
            info,
            tx,
            state,
            stop,
            thread: Some(thread),
        }
    }
}

impl<T> Drop for Tap<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            // The thread wakes within one frame or the device's timeout.
            let _ = t.join();
        }
    }
}

/// A running camera: its frames fan out to any number of consumers.
pub struct VideoTap {
    tap: Tap<VideoFrame>,
    mode: VideoMode,
    modes: Vec<VideoMode>,
}

impl std::fmt::Debug for VideoTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoTap")
            .field("device", &self.tap.info.name)
            .field("mode", &self.mode)
            .finish()
    }
}

impl VideoTap {
    /// Starts pulling frames from `source` on its own thread.
    pub fn start(mut source: Box<dyn VideoSource>) -> Self {
        let (info, mode, modes) = (source.info().clone(), source.mode(), source.modes());
        Self {
            tap: Tap::spawn(info, VIDEO_FANOUT, move || source.next_frame()),
            mode,
            modes,
        }
    }

    /// The device.
    pub fn info(&self) -> &DeviceInfo {
        &self.tap.info
    }

    /// The mode the camera delivers.
    pub fn mode(&self) -> VideoMode {
        self.mode
    }

    /// Every mode the camera offers, largest first.
    pub fn modes(&self) -> &[VideoMode] {
        &self.modes
    }

    /// A new consumer, seeing frames from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<VideoFrame>> {
        self.tap.tx.subscribe()
    }

    /// Whether capture is still running, and why not.
    pub fn state(&self) -> watch::Receiver<CaptureState> {
        self.tap.state.clone()
    }
}

/// A running microphone: its chunks fan out to any number of consumers.
pub struct AudioTap {
    tap: Tap<AudioChunk>,
}

impl std::fmt::Debug for AudioTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioTap")
            .field("device", &self.tap.info.name)
            .finish()
    }
}

impl AudioTap {
    /// Starts pulling chunks from `source` on its own thread.
    pub fn start(mut source: Box<dyn AudioSource>) -> Self {
        let info = source.info().clone();
        Self {
            tap: Tap::spawn(info, AUDIO_FANOUT, move || source.next_chunk()),
        }
    }

    /// The device.
    pub fn info(&self) -> &DeviceInfo {
        &self.tap.info
    }

    /// A new consumer, seeing chunks from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<AudioChunk>> {
        self.tap.tx.subscribe()
    }

    /// Whether capture is still running, and why not.
    pub fn state(&self) -> watch::Receiver<CaptureState> {
        self.tap.state.clone()
    }
}

/// The devices open for a self-check or a class: a camera and a microphone (each may be
/// missing, with the reason kept), shared by the preview and the diagnostics.
#[derive(Debug, Default)]
pub struct CaptureSession {
    pub camera: Option<VideoTap>,
    /// Why there is no camera, when there is none.
    pub camera_error: Option<(Option<DeviceInfo>, CaptureError)>,
    pub microphone: Option<AudioTap>,
    /// Why there is no microphone, when there is none.
    pub microphone_error: Option<(Option<DeviceInfo>, CaptureError)>,
}

impl CaptureSession {
    /// Opens the selected camera (at `mode`) and microphone and starts capturing. A device
    /// that is missing or fails to open leaves its slot empty with the reason kept.
    pub fn open(
        devices: &crate::Devices,
        selection: &lectern_proto::DeviceSelection,
        mode: VideoMode,
        clock: crate::MediaClock,
    ) -> Self {
        let list = devices.list();
        let mut session = Self::default();
        match crate::Devices::pick(&list.cameras, selection.camera.as_deref()) {
            Ok(info) => match devices.open_camera(info, mode, clock) {
                Ok(src) => session.camera = Some(VideoTap::start(src)),
                Err(e) => session.camera_error = Some((Some(info.clone()), e)),
            },
            Err(e) => session.camera_error = Some((None, e)),
        }
        match crate::Devices::pick(&list.microphones, selection.microphone.as_deref()) {
            Ok(info) => match devices.open_microphone(info, clock) {
                Ok(src) => session.microphone = Some(AudioTap::start(src)),
                Err(e) => session.microphone_error = Some((Some(info.clone()), e)),
            },
            Err(e) => session.microphone_error = Some((None, e)),
        }
        session
    }
}

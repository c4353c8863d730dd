use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lectern_media::{CaptureSession, Devices};
use lectern_proto::DeviceSelection;
use lectern_record::Store;

use crate::paths;
use crate::relay::EmbeddedRelay;

/// Everything the commands share. The capture session is behind an async mutex because
/// the preview and the self-check take turns opening devices; media itself never waits
/// on it (frames flow through the session's own bounded fan-out).
pub struct AppState {
    pub store: Store,
    pub devices: Devices,
    pub capture: tokio::sync::Mutex<Option<OpenCapture>>,
    pub checking: AtomicBool,
    /// Set by the webview when it has drawn the last preview frame (see `preview.rs`).
    pub preview_credit: Arc<AtomicBool>,
    /// The relay inside the app (started once the app runs).
    pub relay: EmbeddedRelay,
    /// The class in progress.
    pub class: tokio::sync::Mutex<Option<crate::class::Class>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store.path())
            .finish_non_exhaustive()
    }
}

/// The open devices and which selection they were opened for.
#[derive(Debug)]
pub struct OpenCapture {
    pub selection: DeviceSelection,
    pub session: CaptureSession,
    /// Tells the current preview threads to stop at their next frame.
    pub preview_stop: Arc<AtomicBool>,
}

impl OpenCapture {
    /// Devices opened for `selection`, with no preview yet.
    pub fn new(selection: DeviceSelection, session: CaptureSession) -> Self {
        Self {
            selection,
            session,
            preview_stop: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Stops the preview threads reading this capture.
    pub fn stop_preview(&self) {
        self.preview_stop.store(true, Ordering::Relaxed);
    }
}

impl Drop for OpenCapture {
    fn drop(&mut self) {
        self.stop_preview();
    }
}

impl AppState {
    /// Opens the store in `dir` and the device catalogue from the environment.
    pub async fn open(dir: &Path) -> anyhow::Result<Self> {
        let store = Store::open(&paths::db_path(dir)).await?;
        Ok(Self {
            store,
            devices: Devices::from_env(),
            capture: tokio::sync::Mutex::new(None),
            checking: AtomicBool::new(false),
            preview_credit: Arc::new(AtomicBool::new(true)),
            relay: EmbeddedRelay::default(),
            class: tokio::sync::Mutex::new(None),
        })
    }
}

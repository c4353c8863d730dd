use lectern_media::{Devices, diagnostics};
use lectern_proto::{ApiError, DeviceList};
use tauri::State;

use super::{capture_error, internal};
use crate::AppState;

/// Every camera, microphone and speaker Lectern can use now.
#[tauri::command]
#[specta::specta]
pub async fn list_devices(state: State<'_, AppState>) -> Result<DeviceList, ApiError> {
    let devices = state.devices.clone();
    // Enumeration talks to OS services and can take a moment: keep it off the IPC thread.
    tokio::task::spawn_blocking(move || devices.list())
        .await
        .map_err(internal)
}

/// Plays the self-check's test signal on a speaker, for "did you hear it?".
#[tauri::command]
#[specta::specta]
pub async fn play_test_tone(
    state: State<'_, AppState>,
    speaker: Option<String>,
) -> Result<(), ApiError> {
    let devices = state.devices.clone();
    tokio::task::spawn_blocking(move || {
        let list = devices.list();
        let info = Devices::pick(&list.speakers, speaker.as_deref()).map_err(capture_error)?;
        let mut sink = devices.open_speaker(info).map_err(capture_error)?;
        sink.play(&diagnostics::probe_signal())
            .map_err(capture_error)?;
        // Keep the stream open until the signal has played out.
        std::thread::sleep(std::time::Duration::from_millis(800));
        Ok(())
    })
    .await
    .map_err(internal)?
}

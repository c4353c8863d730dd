use std::path::PathBuf;
use std::sync::atomic::Ordering;

use lectern_media::selfcheck;
use lectern_proto::{
    ApiError, DeviceSelection, ErrorCode, ReportSummary, SelfCheckProgress, SelfCheckReport,
};
use tauri::State;
use tauri::ipc::Channel;

use super::{internal, store_error};
use crate::{AppState, i18n};

/// Clears the "a check is running" flag however the command ends.
struct Running<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Runs the self-check on the selected devices (reusing the preview's open devices),
/// stores the report and returns it with its id.
#[tauri::command]
#[specta::specta]
pub async fn run_selfcheck(
    state: State<'_, AppState>,
    selection: DeviceSelection,
    seconds: u32,
    progress: Channel<SelfCheckProgress>,
) -> Result<SelfCheckReport, ApiError> {
    if state.checking.swap(true, Ordering::AcqRel) {
        return Err(ApiError::new(
            ErrorCode::Busy,
            "a self-check is already running",
        ));
    }
    let _running = Running(&state.checking);
    let mut capture = state.capture.lock().await;
    let open = super::preview::ensure_open(&mut capture, &state.devices, &selection).await?;
    let options = selfcheck::Options {
        seconds: seconds.clamp(2, 30) as f32,
        ..selfcheck::Options::default()
    };
    let mut on_progress = |p: SelfCheckProgress| {
        // A closed window just stops listening; the check finishes and is stored anyway.
        let _ = progress.send(p);
    };
    // The relay classes will use; a remote one the settings name but cannot be read
    // falls back to the embedded relay (the settings page shows that error).
    let remote = state.store.settings().await.ok().and_then(|s| {
        crate::relay::RemoteRelay::from_settings(&s.relay)
            .ok()
            .flatten()
    });
    let network = state.relay.network_check(remote.as_ref()).await;
    let report = lectern_client::selfcheck::run(
        &state.devices,
        &open.session,
        &selection,
        &options,
        &network,
        &mut on_progress,
    )
    .await;
    state.store.save_report(&report).await.map_err(store_error)
}

/// The newest self-check reports, newest first.
#[tauri::command]
#[specta::specta]
pub async fn selfcheck_history(
    state: State<'_, AppState>,
    limit: u32,
) -> Result<Vec<ReportSummary>, ApiError> {
    state
        .store
        .history(limit.min(500))
        .await
        .map_err(store_error)
}

/// One stored report.
#[tauri::command]
#[specta::specta]
pub async fn get_report(state: State<'_, AppState>, id: i64) -> Result<SelfCheckReport, ApiError> {
    state.store.report(id).await.map_err(store_error)
}

/// Records the teacher's answer to "did you hear the test tone?" (asked when no
/// microphone could listen) in a stored report and returns the amended report.
#[tauri::command]
#[specta::specta]
pub async fn answer_speaker_check(
    state: State<'_, AppState>,
    id: i64,
    heard: bool,
) -> Result<SelfCheckReport, ApiError> {
    let mut report = state.store.report(id).await.map_err(store_error)?;
    if !selfcheck::apply_speaker_answer(&mut report, heard) {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!("report {id} asks no speaker question"),
        ));
    }
    state
        .store
        .update_report(&report)
        .await
        .map_err(store_error)?;
    Ok(report)
}

/// Writes a stored report as JSON (with its messages in the UI language) to the
/// Downloads folder and returns the file's path.
#[tauri::command]
#[specta::specta]
pub async fn export_report(state: State<'_, AppState>, id: i64) -> Result<String, ApiError> {
    let report = state.store.report(id).await.map_err(store_error)?;
    let language = state
        .store
        .settings()
        .await
        .map_err(store_error)?
        .language
        .unwrap_or_else(i18n::system_language);
    let document = i18n::export_document(&report, language);
    let dir = crate::paths::export_dir();
    let stamp: String = report
        .created_at
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let path: PathBuf = dir.join(format!("lectern-selfcheck-{id}-{stamp}.json"));
    let text = serde_json::to_string_pretty(&document).map_err(internal)?;
    let write = async {
        tokio::fs::create_dir_all(&dir).await?;
        tokio::fs::write(&path, text).await
    };
    write
        .await
        .map_err(|e| ApiError::new(ErrorCode::Io, format!("{}: {e}", path.display())))?;
    Ok(path.display().to_string())
}

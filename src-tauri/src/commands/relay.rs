use lectern_proto::RelayStatus;
use tauri::State;

use crate::AppState;

/// The embedded relay's state, addresses and load.
#[tauri::command]
#[specta::specta]
pub async fn relay_status(
    state: State<'_, AppState>,
) -> Result<RelayStatus, lectern_proto::ApiError> {
    Ok(state.relay.status().await)
}

use lectern_proto::{ApiError, Language, Settings};
use tauri::State;

use super::store_error;
use crate::AppState;

/// The language the OS asks for: Chinese for any `zh` locale, English otherwise.
#[tauri::command]
#[specta::specta]
pub fn system_language() -> Language {
    crate::i18n::system_language()
}

/// The saved settings.
#[tauri::command]
#[specta::specta]
pub async fn get_settings(state: State<'_, AppState>) -> Result<Settings, ApiError> {
    state.store.settings().await.map_err(store_error)
}

/// Saves the settings.
#[tauri::command]
#[specta::specta]
pub async fn save_settings(state: State<'_, AppState>, settings: Settings) -> Result<(), ApiError> {
    // A remote relay that could not be used is refused here, not at the start of a class.
    crate::relay::RemoteRelay::from_settings(&settings.relay)?;
    state
        .store
        .save_settings(&settings)
        .await
        .map_err(store_error)
}

//! The students on stage: which to watch, and the one-frame-in-flight acks. Pictures
//! are raw JPEG bytes over a channel, which tauri-specta cannot describe; these
//! commands are wired and typed by hand (`ui/src/class/stage.ts`), like the preview's.

use lectern_proto::{ApiError, ErrorCode};
use tauri::ipc::{Channel, InvokeResponseBody};
use tauri::{Runtime, State};

use crate::AppState;

/// The invoke handler for the hand-typed stage commands.
pub fn handler<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![stage_watch, stage_ack, stage_unwatch, stage_listen]
}

/// The commands [`handler`] serves.
pub const COMMANDS: [&str; 4] = ["stage_watch", "stage_ack", "stage_unwatch", "stage_listen"];

fn no_class() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no class is running")
}

/// Watches on-stage student `peer`: their voice goes to the speakers, their pictures to
/// `frames` (one JPEG per message, the next after `stage_ack`). Calling it again for the
/// same student moves the pictures to the new channel.
#[tauri::command]
pub async fn stage_watch(
    state: State<'_, AppState>,
    peer: String,
    frames: Channel<InvokeResponseBody>,
) -> Result<(), ApiError> {
    let class = state.class.lock().await;
    let class = class.as_ref().ok_or_else(no_class)?;
    class.stage.watch(&peer, frames).await
}

/// The webview drew `peer`'s last picture.
#[tauri::command]
pub async fn stage_ack(state: State<'_, AppState>, peer: String) -> Result<(), ApiError> {
    if let Some(class) = state.class.lock().await.as_ref() {
        class.stage.ack(&peer).await;
    }
    Ok(())
}

/// Stops watching `peer`.
#[tauri::command]
pub async fn stage_unwatch(state: State<'_, AppState>, peer: String) -> Result<(), ApiError> {
    if let Some(class) = state.class.lock().await.as_ref() {
        class.stage.unwatch(&peer).await;
    }
    Ok(())
}

/// Plays `peer` through the speakers (`on`) or leaves them out, on this console only.
#[tauri::command]
pub async fn stage_listen(
    state: State<'_, AppState>,
    peer: String,
    on: bool,
) -> Result<(), ApiError> {
    let class = state.class.lock().await;
    let class = class.as_ref().ok_or_else(no_class)?;
    class.stage.listen(&peer, on).await;
    Ok(())
}

use lectern_proto::{ApiError, ClassEvent, ClassInfo, ErrorCode};
use tauri::State;
use tauri::ipc::Channel;

use crate::AppState;
use crate::class::{CLASS_TTL, Class, qr_svg, room_name};
use crate::relay::RemoteRelay;

/// Starts a class in `room` (or a new room) on the relay of the settings (the embedded
/// one unless a standalone relay is set, which must answer first): opens the selected
/// devices (or keeps the preview's), encodes and publishes them, and returns the links.
/// `events` receives the publish link's state and one-second figures.
#[tauri::command]
#[specta::specta]
pub async fn class_start(
    state: State<'_, AppState>,
    room: Option<String>,
    events: Channel<ClassEvent>,
) -> Result<ClassInfo, ApiError> {
    let mut class = state.class.lock().await;
    if class.is_some() {
        return Err(ApiError::new(ErrorCode::Busy, "a class is already running"));
    }
    let room = room_name(room.as_deref())?;
    let settings = state.store.settings().await.unwrap_or_default();
    // A standalone relay from the settings, or the one inside the app.
    let access = match RemoteRelay::from_settings(&settings.relay)? {
        Some(remote) => {
            remote.check().await?;
            remote.class_access(&room, "Teacher", CLASS_TTL)?
        }
        None => {
            state
                .relay
                .class_access(&room, "Teacher", CLASS_TTL)
                .await?
        }
    };
    let join_url = format!(
        "{}/room/{room}?token={}",
        access.public, access.student_token
    );
    let info = ClassInfo {
        room: room.to_string(),
        ws_url: format!(
            "{}/ws/{room}?token={}",
            access.local.replacen("http", "ws", 1),
            access.teacher_token
        ),
        relay_url: access.local,
        teacher_token: access.teacher_token,
        join_qr_svg: qr_svg(&join_url)?,
        join_url,
    };
    let selection = settings.devices;
    let mut capture = state.capture.lock().await;
    let open = super::preview::ensure_open(&mut capture, &state.devices, &selection).await?;
    let speaker = open_speaker(&state.devices, selection.speaker.as_deref());
    let started = Class::start(info.clone(), &open.session, speaker, events)?;
    *class = Some(started);
    Ok(info)
}

/// The running class, if any; `events` receives its updates from now on.
#[tauri::command]
#[specta::specta]
pub async fn class_current(
    state: State<'_, AppState>,
    events: Channel<ClassEvent>,
) -> Result<Option<ClassInfo>, ApiError> {
    let class = state.class.lock().await;
    match class.as_ref() {
        Some(c) => {
            c.listen(events).await;
            Ok(Some(c.info.clone()))
        }
        None => Ok(None),
    }
}

/// Ends the class: students see the teacher leave; the devices stay open for the preview.
#[tauri::command]
#[specta::specta]
pub async fn class_stop(state: State<'_, AppState>) -> Result<(), ApiError> {
    let class = state.class.lock().await.take();
    if let Some(c) = class {
        c.stop().await;
    }
    Ok(())
}

/// The selected speaker for the students on stage; without one the class still runs
/// (the teacher sees the students but cannot hear them, and the log says why).
fn open_speaker(
    devices: &lectern_media::Devices,
    id: Option<&str>,
) -> Option<Box<dyn lectern_media::AudioSink>> {
    let list = devices.list();
    let opened = lectern_media::Devices::pick(&list.speakers, id)
        .and_then(|info| devices.open_speaker(info));
    opened
        .inspect_err(|e| tracing::warn!("no speaker for the stage: {e}"))
        .ok()
}

//! The students on stage as the console sees and hears them: one [`Watcher`] per
//! student, their voices mixed to the teacher's speakers (and into the echo canceller's
//! reference), their pictures sent to the webview as JPEGs.
//!
//! The webview decides whom to watch (it holds the room's signaling) and calls
//! `stage_watch` / `stage_unwatch`; this side owns the media. Pictures follow the
//! preview's discipline: one JPEG in flight per student, the next one sent only after
//! `stage_ack` (or [`ACK_TIMEOUT`]), so a busy webview sees fewer frames, never older
//! ones.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lectern_client::{WatchConfig, Watcher};
use lectern_media::{Playout, PreviewEncoder, VoiceMeter};
use lectern_proto::{ClassEvent, PeerId, StageSeat};
use tauri::ipc::{Channel, InvokeResponseBody};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

/// Stage pictures are at most this wide (a tile in a grid of six).
const TILE_WIDTH: u32 = 480;
const TILE_QUALITY: u8 = 70;
/// Sending resumes this long after a frame the webview never acknowledged.
const ACK_TIMEOUT: Duration = Duration::from_secs(1);
/// How often the seats' state goes to the webview.
const STATUS_PERIOD: Duration = Duration::from_millis(250);

struct Seat {
    watcher: Watcher,
    voice: Option<VoiceMeter>,
    credit: Arc<AtomicBool>,
    frames: JoinHandle<()>,
    /// (when, pictures, audio packets) at the last status, for rates.
    last: (Instant, u64, u64),
    fps: f32,
    audio: bool,
}

/// Every watched student of the running class.
pub struct Stage {
    relay_url: String,
    room: String,
    token: String,
    playout: Option<Playout>,
    seats: Mutex<HashMap<String, Seat>>,
}

impl std::fmt::Debug for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stage")
            .field("room", &self.room)
            .finish_non_exhaustive()
    }
}

impl Stage {
    /// A stage for `room` on the relay at `relay_url`, watched with the teacher's
    /// `token`; voices go to `playout` when there is a speaker.
    pub fn new(relay_url: String, room: String, token: String, playout: Option<Playout>) -> Self {
        Self {
            relay_url,
            room,
            token,
            playout,
            seats: Mutex::default(),
        }
    }

    /// Watches `peer` (again): its pictures go to `frames` from now on.
    pub async fn watch(
        &self,
        peer: &str,
        frames: Channel<InvokeResponseBody>,
    ) -> Result<(), lectern_proto::ApiError> {
        let peer = PeerId::new(peer.to_owned()).map_err(|e| {
            lectern_proto::ApiError::new(lectern_proto::ErrorCode::InvalidInput, e.to_string())
        })?;
        let mut seats = self.seats.lock().await;
        if let Some(seat) = seats.get_mut(peer.as_str()) {
            // The page was opened again: same subscription, new channel.
            seat.frames.abort();
            seat.credit.store(true, Ordering::Release);
            seat.frames = send_frames(&seat.watcher, seat.credit.clone(), frames);
            return Ok(());
        }
        let input = self.playout.as_ref().map(Playout::input);
        let voice = input.as_ref().map(|i| i.meter());
        let watcher = Watcher::start(
            WatchConfig {
                whep_url: format!("{}/whep/{}?peer={}", self.relay_url, self.room, peer),
                token: self.token.clone(),
            },
            input,
        );
        let credit = Arc::new(AtomicBool::new(true));
        let frames = send_frames(&watcher, credit.clone(), frames);
        seats.insert(
            peer.to_string(),
            Seat {
                watcher,
                voice,
                credit,
                frames,
                last: (Instant::now(), 0, 0),
                fps: 0.0,
                audio: false,
            },
        );
        Ok(())
    }

    /// The webview drew `peer`'s last picture.
    pub async fn ack(&self, peer: &str) {
        if let Some(seat) = self.seats.lock().await.get(peer) {
            seat.credit.store(true, Ordering::Release);
        }
    }

    /// Stops watching `peer` (off stage, or the tile went away).
    pub async fn unwatch(&self, peer: &str) {
        let seat = self.seats.lock().await.remove(peer);
        if let Some(seat) = seat {
            seat.frames.abort();
            seat.watcher.stop().await;
        }
    }

    /// Keeps `peer`'s voice out of the speakers (or lets it back in).
    pub async fn listen(&self, peer: &str, on: bool) {
        if let Some(voice) = self
            .seats
            .lock()
            .await
            .get(peer)
            .and_then(|s| s.voice.as_ref())
        {
            voice.set_muted(!on);
        }
    }

    /// Ends every subscription.
    pub async fn stop(&self) {
        let seats: Vec<Seat> = self.seats.lock().await.drain().map(|(_, s)| s).collect();
        for seat in seats {
            seat.frames.abort();
            seat.watcher.stop().await;
        }
    }

    /// The seats' state now.
    async fn seats(&self) -> Vec<StageSeat> {
        let mut seats = self.seats.lock().await;
        let now = Instant::now();
        let mut out: Vec<StageSeat> = seats
            .iter_mut()
            .map(|(peer, seat)| {
                let counters = seat.watcher.counters();
                let pictures = counters.pictures.load(Ordering::Relaxed);
                let audio = counters.audio_packets.load(Ordering::Relaxed);
                let (then, p0, a0) = seat.last;
                let span = now.duration_since(then);
                if span >= Duration::from_secs(1) {
                    seat.fps = (pictures - p0) as f32 / span.as_secs_f32();
                    seat.audio = audio > a0;
                    seat.last = (now, pictures, audio);
                }
                let status = seat.watcher.status().borrow().clone();
                let (width, height) = seat
                    .watcher
                    .pictures()
                    .borrow()
                    .as_ref()
                    .map_or((0, 0), |p| (p.width, p.height));
                StageSeat {
                    peer: peer.clone(),
                    state: status.state,
                    level: seat.voice.as_ref().map_or(0.0, VoiceMeter::level),
                    width,
                    height,
                    fps: seat.fps,
                    audio: seat.audio,
                    video: seat.fps > 0.0,
                    error: status.error,
                }
            })
            .collect();
        out.sort_by(|a, b| a.peer.cmp(&b.peer));
        out
    }
}

/// Sends the seats' state to the class's listener while anything is watched.
pub async fn report(stage: Arc<Stage>, listener: Arc<Mutex<Option<Channel<ClassEvent>>>>) {
    let mut was_empty = true;
    loop {
        tokio::time::sleep(STATUS_PERIOD).await;
        let seats = stage.seats().await;
        if seats.is_empty() && was_empty {
            continue;
        }
        was_empty = seats.is_empty();
        if let Some(channel) = listener.lock().await.as_ref() {
            let _ = channel.send(ClassEvent::Stage { seats });
        }
    }
}

/// JPEGs of `watcher`'s newest pictures to `frames`, one in flight at a time.
fn send_frames(
    watcher: &Watcher,
    credit: Arc<AtomicBool>,
    frames: Channel<InvokeResponseBody>,
) -> JoinHandle<()> {
    let mut pictures = watcher.pictures();
    tokio::spawn(async move {
        let mut encoder = Some(PreviewEncoder::new(TILE_WIDTH, TILE_QUALITY));
        let mut sent_at = Instant::now();
        while pictures.changed().await.is_ok() {
            if !credit.swap(false, Ordering::AcqRel) && sent_at.elapsed() < ACK_TIMEOUT {
                continue;
            }
            let Some(picture) = pictures.borrow_and_update().clone() else {
                continue;
            };
            sent_at = Instant::now();
            let mut enc = encoder.take().expect("returned after every frame");
            let Ok((enc, jpeg)) = tokio::task::spawn_blocking(move || {
                let jpeg = enc.encode(&picture);
                (enc, jpeg)
            })
            .await
            else {
                return;
            };
            encoder = Some(enc);
            if frames.send(InvokeResponseBody::Raw(jpeg)).is_err() {
                return;
            }
        }
    })
}

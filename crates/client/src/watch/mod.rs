//! The console's view of one student on stage: a WHEP subscription to the relay,
//! decoded, kept alive with reconnects until [`Watcher::stop`].
//!
//! Video: RTP → `lectern_rtp` depacketizer (reordering, loss → drop to the next IDR) →
//! a decoder thread (openh264) → the newest picture in a `watch` channel the UI side
//! reads at its own pace. Audio: Opus decoded on arrival (lost packets rebuilt from the
//! next packet's FEC, or concealed) → the student's [`PlayoutInput`] in the speaker mix.
//!
//! Queues and their overflow policy:
//! - access units waiting for the decoder: [`DECODE_QUEUE`]; when full the unit is
//!   dropped, and since later pictures refer to it, video waits for a keyframe, asked
//!   for with a PLI (at most one per [`PLI_INTERVAL`]).
//! - decoded pictures: a `watch` slot, newest wins (the UI never sees a backlog).
//! - audio: the playout input's jitter buffer (see `lectern_media::Playout`).

mod session;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use lectern_media::{PlayoutInput, VideoFrame};
use lectern_proto::{ApiError, SeatState};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::ClientError;

/// Access units waiting for the decoder: 4 pictures, about 130 ms at 30 fps.
pub(crate) const DECODE_QUEUE: usize = 4;
/// Keyframe requests are spaced at least this far apart.
pub(crate) const PLI_INTERVAL: Duration = Duration::from_millis(500);
/// First wait after a failure; doubles up to [`RETRY_MAX`]. A student who has not
/// started publishing yet is looked for again within 2 s.
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// Whom to watch.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// The WHEP endpoint for this student, e.g. `http://relay/whep/{room}?peer={id}`.
    pub whep_url: String,
    /// A token that may subscribe (the teacher's).
    pub token: String,
}

/// The link's state for the UI.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchStatus {
    pub state: SeatState,
    /// Why the link is down, while it is.
    pub error: Option<ApiError>,
}

/// Counters over the watcher's life.
#[derive(Debug, Default)]
pub struct WatchCounters {
    pub audio_packets: AtomicU64,
    /// Opus packets rebuilt from FEC or concealed.
    pub audio_concealed: AtomicU64,
    pub video_frames: AtomicU64,
    pub pictures: AtomicU64,
    /// Access units dropped: decoder queue full, undecodable, or waiting for a keyframe.
    pub video_dropped: AtomicU64,
    pub keyframe_requests: AtomicU64,
    pub bytes: AtomicU64,
}

/// A running subscription. Dropping it stops it without waiting.
#[derive(Debug)]
pub struct Watcher {
    status: watch::Receiver<WatchStatus>,
    pictures: watch::Receiver<Option<Arc<VideoFrame>>>,
    counters: Arc<WatchCounters>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Starts watching; `audio` receives the student's voice. Must be called inside a
    /// tokio runtime.
    pub fn start(config: WatchConfig, audio: Option<PlayoutInput>) -> Self {
        let (status_tx, status) = watch::channel(WatchStatus {
            state: SeatState::Connecting,
            error: None,
        });
        let (pictures_tx, pictures) = watch::channel(None);
        let (stop, stop_rx) = watch::channel(false);
        let counters = Arc::new(WatchCounters::default());
        let task = tokio::spawn(supervise(
            config,
            audio,
            pictures_tx,
            counters.clone(),
            status_tx,
            stop_rx,
        ));
        Self {
            status,
            pictures,
            counters,
            stop,
            task: Some(task),
        }
    }

    /// The link's state.
    pub fn status(&self) -> watch::Receiver<WatchStatus> {
        self.status.clone()
    }

    /// The newest decoded picture.
    pub fn pictures(&self) -> watch::Receiver<Option<Arc<VideoFrame>>> {
        self.pictures.clone()
    }

    /// What arrived so far.
    pub fn counters(&self) -> &Arc<WatchCounters> {
        &self.counters
    }

    /// Ends the subscription (the relay frees it at once).
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn retry_wait(attempt: u32) -> Duration {
    RETRY_FIRST
        .saturating_mul(1 << attempt.saturating_sub(1).min(8))
        .min(RETRY_MAX)
}

async fn supervise(
    config: WatchConfig,
    audio: Option<PlayoutInput>,
    pictures: watch::Sender<Option<Arc<VideoFrame>>>,
    counters: Arc<WatchCounters>,
    status: watch::Sender<WatchStatus>,
    mut stop: watch::Receiver<bool>,
) {
    let sink = session::Sink {
        audio,
        pictures,
        counters,
    };
    let mut attempt = 1u32;
    loop {
        let mut went_live = false;
        let result = session::run(&config, &sink, &mut stop, || {
            went_live = true;
            status.send_modify(|s| {
                s.state = SeatState::Live;
                s.error = None;
            });
        })
        .await;
        if went_live {
            attempt = 1;
        }
        let error = match result {
            Ok(()) => return,
            Err(e) => e,
        };
        if matches!(
            &error,
            ClientError::Refused {
                status: 401 | 403,
                ..
            }
        ) {
            tracing::warn!("watching refused: {error}");
        } else {
            tracing::debug!("stage link (attempt {attempt}): {error}");
        }
        status.send_modify(|s| {
            s.state = SeatState::Reconnecting;
            s.error = Some(error.to_api());
        });
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(retry_wait(attempt)) => {}
        }
        attempt = attempt.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_come_quickly_and_never_later_than_two_seconds() {
        assert_eq!(retry_wait(1), Duration::from_millis(250));
        assert_eq!(retry_wait(3), Duration::from_secs(1));
        assert_eq!(retry_wait(40), RETRY_MAX);
    }
}

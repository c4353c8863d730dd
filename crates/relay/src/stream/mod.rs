//! Live FLV streams: what an RTMP publisher sends and RTMP and HTTP-FLV viewers play.
//!
//! A stream is named `{room}/{stream}`, and `{stream}` is the publisher's peer id (the
//! same name the WebRTC side uses for its publishers). Each live stream has one task
//! that owns a sans-IO [`StreamCore`] (sequence headers, GOP cache, viewers) and a
//! bounded queue from its source:
//!
//! ```text
//!  RTMP publish ─► Sender<Tag> (PUBLISH_QUEUE) ─► stream task ─► ViewerSender ─► RTMP play
//!  WebRTC → FLV (webrtc_flv) ─┘                 [StreamCore]  └► ViewerSender ─► HTTP-FLV
//! ```
//!
//! The source is anything that holds the `mpsc::Sender<Tag>` [`Streams::publish`]
//! hands out: the RTMP shell, or the WebRTC bridge (`crate::webrtc_flv`: H.264 → AVCC,
//! Opus → AAC), which also gives a [`KeyframeHook`] so a new viewer's PLI reaches it. A stream has one source at a time; it ends when that sender is dropped.
//!
//! Queues and what happens when they fill:
//! - source → stream task, [`PUBLISH_QUEUE`] tags: the source waits (TCP back-pressure
//!   on an RTMP publisher);
//! - stream task → viewer, [`VIEWER_QUEUE`] tags: [`crate::rtmp::ViewerSender::push`]
//!   drops audio and delta frames until a keyframe fits, and disconnects a viewer a
//!   keyframe or sequence header does not fit;
//! - control → stream task, [`CONTROL_QUEUE`] messages: a play or publish that finds it
//!   full is refused as busy (a stream task answers in microseconds; this is a bound,
//!   not a regular path).
//!
//! Lifetimes: a publish creates the task. When the source leaves, its viewers stay
//! [`REPUBLISH_GRACE`] for a republish (a mini-program pusher reconnects after a
//! network change) and then are ended; a task with neither source nor viewers removes
//! itself from the registry and exits. A play finds a stream only while its task lives
//! (publishing, or in the grace); it does not wait for a publisher that never came.

mod core;

pub use core::{GopLimits, StreamCore, StreamInput, StreamOutput, ViewerId};

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lectern_proto::{PeerId, RoomId};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::flv::Tag;
use crate::metrics::Metrics;
use crate::rtmp::{PushOutcome, ViewerReceiver, ViewerSender, viewer_channel};

/// Tags queued from a source to its stream task.
pub const PUBLISH_QUEUE: usize = 256;
/// Tags queued per viewer: about 5 s of 25 fps video with 48 kHz AAC, and more than
/// the GOP cache holds, so a new viewer's start always fits.
pub const VIEWER_QUEUE: usize = 512;
/// Control messages (new source, new viewer, end) queued per stream task.
pub const CONTROL_QUEUE: usize = 64;
/// How long viewers wait for a republish after the publisher left.
pub const REPUBLISH_GRACE: Duration = Duration::from_secs(5);

/// `{room}/{stream}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamKey {
    pub room: RoomId,
    pub stream: PeerId,
}

impl std::fmt::Display for StreamKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.room, self.stream)
    }
}

/// Why a stream could not be published or played.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// Someone already publishes this stream.
    #[error("the stream is already published")]
    Busy,
    /// Nothing is published under this name.
    #[error("nothing is published under this name")]
    NotFound,
}

/// How a stream asks its source for a keyframe (a WebRTC publisher, by PLI). Called
/// from the stream task; it must not block.
pub type KeyframeHook = Arc<dyn Fn() + Send + Sync>;

enum Control {
    Source(mpsc::Receiver<Tag>, Option<KeyframeHook>),
    /// A viewer; `true` for the relay's own (the RTMP → WebRTC bridge), which is not
    /// counted among the FLV viewers.
    Viewer(ViewerSender, bool),
    EndSource,
}

struct Handle {
    generation: u64,
    control: mpsc::Sender<Control>,
    /// The current source's sender, weakly: a publish is busy while it lives.
    source: Option<mpsc::WeakSender<Tag>>,
}

#[derive(Default)]
struct Registry {
    streams: HashMap<StreamKey, Handle>,
    next_generation: u64,
}

/// The live streams of one relay; cheap to clone.
///
/// The registry is a map behind a mutex that is held only to look up or insert a
/// stream's control sender (never across an `await`); everything about a stream
/// happens in its own task.
#[derive(Clone)]
pub struct Streams {
    registry: Arc<Mutex<Registry>>,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
    gop: GopLimits,
}

impl std::fmt::Debug for Streams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streams").finish_non_exhaustive()
    }
}

impl Streams {
    /// No streams yet; stream tasks end when `shutdown` turns true.
    pub fn new(metrics: Arc<Metrics>, shutdown: watch::Receiver<bool>) -> Self {
        Self {
            registry: Arc::default(),
            metrics,
            shutdown,
            gop: GopLimits::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        // A panic elsewhere leaves the map itself consistent (every change is one
        // insert or remove).
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Becomes the source of `key`: tags sent on the returned sender go to its viewers
    /// until it is dropped. Authorization is the caller's (the relay checks tokens and the
    /// stage in `bridge.rs` first).
    pub fn publish(&self, key: &StreamKey) -> Result<mpsc::Sender<Tag>, StreamError> {
        self.publish_source(key, None)
    }

    /// As [`Self::publish`], for a source that can be asked for a keyframe: `hook` is
    /// called when a viewer joins and no keyframe is cached.
    pub fn publish_with_keyframes(
        &self,
        key: &StreamKey,
        hook: KeyframeHook,
    ) -> Result<mpsc::Sender<Tag>, StreamError> {
        self.publish_source(key, Some(hook))
    }

    fn publish_source(
        &self,
        key: &StreamKey,
        hook: Option<KeyframeHook>,
    ) -> Result<mpsc::Sender<Tag>, StreamError> {
        let (tx, rx) = mpsc::channel(PUBLISH_QUEUE);
        let mut reg = self.lock();
        if let Some(handle) = reg.streams.get_mut(key) {
            if handle.source.as_ref().is_some_and(|s| s.strong_count() > 0) {
                return Err(StreamError::Busy);
            }
            match handle.control.try_send(Control::Source(rx, hook)) {
                Ok(()) => {
                    handle.source = Some(tx.downgrade());
                    return Ok(tx);
                }
                Err(mpsc::error::TrySendError::Full(_)) => return Err(StreamError::Busy),
                // The task is gone (it cannot be, while in the map, but be safe).
                Err(mpsc::error::TrySendError::Closed(Control::Source(r, hook))) => {
                    reg.streams.remove(key);
                    return self.spawn(reg, key, r, hook, tx);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => unreachable!("sent a source"),
            }
        }
        self.spawn(reg, key, rx, hook, tx)
    }

    fn spawn(
        &self,
        mut reg: std::sync::MutexGuard<'_, Registry>,
        key: &StreamKey,
        rx: mpsc::Receiver<Tag>,
        hook: Option<KeyframeHook>,
        tx: mpsc::Sender<Tag>,
    ) -> Result<mpsc::Sender<Tag>, StreamError> {
        let (control, control_rx) = mpsc::channel(CONTROL_QUEUE);
        control
            .try_send(Control::Source(rx, hook))
            .unwrap_or_else(|_| unreachable!("a new queue has room"));
        reg.next_generation += 1;
        let generation = reg.next_generation;
        reg.streams.insert(
            key.clone(),
            Handle {
                generation,
                control,
                source: Some(tx.downgrade()),
            },
        );
        drop(reg);
        tokio::spawn(run_stream(
            key.clone(),
            generation,
            self.clone(),
            control_rx,
            StreamCore::new(self.gop, REPUBLISH_GRACE),
        ));
        Ok(tx)
    }

    /// Joins `key` as a viewer with a queue of [`VIEWER_QUEUE`] tags: the sequence
    /// headers and the cached GOP come first, then live tags.
    pub fn play(&self, key: &StreamKey) -> Result<ViewerReceiver, StreamError> {
        self.join(key, false)
    }

    /// As [`Self::play`], for the relay's own bridge to WebRTC: not counted as a viewer.
    pub fn play_internal(&self, key: &StreamKey) -> Result<ViewerReceiver, StreamError> {
        self.join(key, true)
    }

    fn join(&self, key: &StreamKey, internal: bool) -> Result<ViewerReceiver, StreamError> {
        let (tx, rx) = viewer_channel(VIEWER_QUEUE);
        let reg = self.lock();
        let handle = reg.streams.get(key).ok_or(StreamError::NotFound)?;
        match handle.control.try_send(Control::Viewer(tx, internal)) {
            Ok(()) => Ok(rx),
            Err(mpsc::error::TrySendError::Full(_)) => Err(StreamError::Busy),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(StreamError::NotFound),
        }
    }

    /// Ends the source of `key` (its publisher left the stage); its viewers wait for a
    /// republish as when a publisher leaves by itself.
    pub fn end_source(&self, key: &StreamKey) {
        let reg = self.lock();
        if let Some(handle) = reg.streams.get(key)
            && handle.control.try_send(Control::EndSource).is_err()
        {
            tracing::warn!(%key, "stream task busy: source not ended");
        }
    }

    /// Number of streams with a task (live, or waiting for a republish).
    pub fn len(&self) -> usize {
        self.lock().streams.len()
    }

    /// True when no stream has a task.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes `key` if it is still this `generation` and nothing is queued for it;
    /// false when the task must carry on. Under the lock, so no publish or play can
    /// slip a message in between the check and the removal.
    fn retire(&self, key: &StreamKey, generation: u64, control: &mpsc::Receiver<Control>) -> bool {
        let mut reg = self.lock();
        if !control.is_empty() {
            return false;
        }
        if reg
            .streams
            .get(key)
            .is_some_and(|h| h.generation == generation)
        {
            reg.streams.remove(key);
        }
        true
    }
}

/// The thin shell around one [`StreamCore`].
async fn run_stream(
    key: StreamKey,
    generation: u64,
    streams: Streams,
    mut control: mpsc::Receiver<Control>,
    mut core: StreamCore,
) {
    let metrics = streams.metrics.clone();
    let mut shutdown = streams.shutdown.clone();
    let mut source: Option<mpsc::Receiver<Tag>> = None;
    let mut keyframes: Option<KeyframeHook> = None;
    let mut viewers: HashMap<ViewerId, ViewerSender> = HashMap::new();
    let mut next_viewer = 0u64;
    let mut internal: std::collections::HashSet<ViewerId> = std::collections::HashSet::new();
    tracing::debug!(%key, "stream task up");
    loop {
        while let Some(out) = core.poll_output() {
            match out {
                StreamOutput::Send { viewer, tag } => {
                    let Some(tx) = viewers.get_mut(&viewer) else {
                        continue;
                    };
                    let len = tag.data.len() as u64;
                    match tx.push(tag) {
                        PushOutcome::Queued => {
                            metrics.flv_bytes_out.fetch_add(len, Relaxed);
                        }
                        PushOutcome::Dropped => {
                            metrics.flv_tags_dropped.fetch_add(1, Relaxed);
                        }
                        PushOutcome::Disconnected => {
                            viewers.remove(&viewer);
                            if !internal.remove(&viewer) {
                                metrics.flv_viewers.fetch_sub(1, Relaxed);
                            }
                            core.handle_input(
                                Instant::now().into_std(),
                                StreamInput::Leave(viewer),
                            );
                        }
                    }
                }
                // A WebRTC source is asked for a keyframe (PLI). An RTMP publisher
                // cannot be asked; its next GOP comes on its own.
                StreamOutput::NeedKeyframe => {
                    if let Some(hook) = &keyframes {
                        hook();
                    }
                }
                StreamOutput::EndAll => {
                    metrics
                        .flv_viewers
                        .fetch_sub((viewers.len() - internal.len()) as i64, Relaxed);
                    viewers.clear();
                    internal.clear();
                }
            }
        }
        if core.is_idle() && source.is_none() && streams.retire(&key, generation, &control) {
            break;
        }
        let deadline = core.poll_timeout().map(Instant::from_std);
        tokio::select! {
            biased;
            () = crate::stopped(&mut shutdown) => break,
            msg = control.recv() => {
                let now = Instant::now().into_std();
                match msg {
                    Some(Control::Source(rx, hook)) => {
                        core.set_askable(hook.is_some());
                        keyframes = hook;
                        if source.replace(rx).is_some() {
                            core.handle_input(now, StreamInput::SourceDown);
                        } else {
                            metrics.flv_publishers.fetch_add(1, Relaxed);
                        }
                        core.handle_input(now, StreamInput::SourceUp);
                        tracing::info!(%key, "stream published");
                    }
                    Some(Control::Viewer(tx, own)) => {
                        next_viewer += 1;
                        let id = ViewerId(next_viewer);
                        viewers.insert(id, tx);
                        if own {
                            internal.insert(id);
                        } else {
                            metrics.flv_viewers.fetch_add(1, Relaxed);
                        }
                        core.handle_input(now, StreamInput::Join(id));
                    }
                    Some(Control::EndSource) => {
                        keyframes = None;
                        if source.take().is_some() {
                            metrics.flv_publishers.fetch_sub(1, Relaxed);
                            core.handle_input(now, StreamInput::SourceDown);
                            tracing::info!(%key, "stream source ended by the room");
                        }
                    }
                    None => break,
                }
            }
            tag = async { source.as_mut().expect("guarded").recv().await }, if source.is_some() => {
                let now = Instant::now().into_std();
                match tag {
                    Some(tag) => {
                        metrics.flv_bytes_in.fetch_add(tag.data.len() as u64, Relaxed);
                        core.handle_input(now, StreamInput::Tag(tag));
                    }
                    None => {
                        source = None;
                        keyframes = None;
                        metrics.flv_publishers.fetch_sub(1, Relaxed);
                        core.handle_input(now, StreamInput::SourceDown);
                        tracing::info!(%key, "stream unpublished");
                    }
                }
            }
            () = async { tokio::time::sleep_until(deadline.expect("guarded")).await }, if deadline.is_some() => {
                core.handle_timeout(Instant::now().into_std());
            }
        }
    }
    if source.is_some() {
        metrics.flv_publishers.fetch_sub(1, Relaxed);
    }
    metrics
        .flv_viewers
        .fetch_sub((viewers.len() - internal.len()) as i64, Relaxed);
    // At shutdown the entry stays: the registry goes with the relay.
    tracing::debug!(%key, "stream task down");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flv::TagKind;
    use bytes::Bytes;

    fn key() -> StreamKey {
        StreamKey {
            room: RoomId::new("math").unwrap(),
            stream: PeerId::new("teacher").unwrap(),
        }
    }

    fn video(key: bool, ts: u32) -> Tag {
        Tag {
            kind: TagKind::Video,
            timestamp: ts,
            data: Bytes::from(vec![if key { 0x17 } else { 0x27 }, 1, 0, 0, 0, 9]),
        }
    }

    fn avc_config() -> Tag {
        Tag {
            kind: TagKind::Video,
            timestamp: 0,
            data: Bytes::from_static(&[0x17, 0, 0, 0, 0, 1]),
        }
    }

    fn streams() -> (Streams, watch::Sender<bool>) {
        let (stop, stop_rx) = watch::channel(false);
        (Streams::new(Arc::new(Metrics::default()), stop_rx), stop)
    }

    async fn next(viewer: &mut ViewerReceiver) -> Option<Tag> {
        tokio::time::timeout(Duration::from_secs(2), viewer.recv())
            .await
            .expect("a tag or the end in time")
    }

    #[tokio::test]
    async fn one_publisher_at_a_time_and_plays_only_of_live_streams() {
        let (streams, _stop) = streams();
        assert_eq!(streams.play(&key()).unwrap_err(), StreamError::NotFound);
        let source = streams.publish(&key()).unwrap();
        assert_eq!(streams.publish(&key()).unwrap_err(), StreamError::Busy);
        let mut viewer = streams.play(&key()).unwrap();
        source.send(avc_config()).await.unwrap();
        source.send(video(true, 0)).await.unwrap();
        assert!(next(&mut viewer).await.unwrap().is_config());
        assert!(next(&mut viewer).await.unwrap().is_keyframe());
        // Without viewers, a stream whose source leaves is gone at once.
        drop(viewer);
        source.send(video(false, 40)).await.unwrap();
        drop(source);
        for _ in 0..100 {
            if streams.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(streams.is_empty());
        assert_eq!(streams.play(&key()).unwrap_err(), StreamError::NotFound);
        assert!(streams.publish(&key()).is_ok(), "and may be published anew");
    }

    #[tokio::test]
    async fn a_republish_resumes_waiting_viewers_on_a_keyframe() {
        let (streams, _stop) = streams();
        let config = avc_config();
        let source = streams.publish(&key()).unwrap();
        let mut viewer = streams.play(&key()).unwrap();
        source.send(config.clone()).await.unwrap();
        source.send(video(true, 1000)).await.unwrap();
        assert!(next(&mut viewer).await.unwrap().is_config());
        assert_eq!(next(&mut viewer).await.unwrap().timestamp, 1000);
        drop(source);
        // The pusher reconnects within the grace and starts its clock at 0 again.
        let source = loop {
            match streams.publish(&key()) {
                Ok(s) => break s,
                Err(StreamError::Busy) => tokio::time::sleep(Duration::from_millis(5)).await,
                Err(e) => panic!("{e}"),
            }
        };
        source.send(config).await.unwrap();
        source.send(video(false, 0)).await.unwrap();
        source.send(video(true, 40)).await.unwrap();
        assert!(
            next(&mut viewer).await.unwrap().is_config(),
            "the new config"
        );
        let tag = next(&mut viewer).await.unwrap();
        assert!(tag.is_keyframe(), "the delta frame before it was held back");
        assert!(
            tag.timestamp > 1000,
            "the timeline goes on: {}",
            tag.timestamp
        );
    }

    #[tokio::test]
    async fn shutdown_ends_viewers() {
        let (streams, stop) = streams();
        let _source = streams.publish(&key()).unwrap();
        let mut viewer = streams.play(&key()).unwrap();
        stop.send(true).unwrap();
        assert_eq!(next(&mut viewer).await, None);
        assert!(!viewer.is_evicted());
    }
}

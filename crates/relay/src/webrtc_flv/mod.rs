//! WebRTC publishers as FLV streams: what a mini-program's `live-player` (RTMP or
//! HTTP-FLV) plays when it watches the teacher or a browser student on stage.
//!
//! ```text
//!  SFU engine ──Tap (TAP_QUEUE)──► bridge task ─► FlvSource per publisher ─► Streams
//!  (a copy of each RTP packet,     [H.264 depacketizer, Opus→AAC,          (GOP cache,
//!   sender reports, open/close)     lip-sync clock]                          viewers)
//!        ▲                                 │
//!        └──── Command::RequestKeyframe ◄──┘ (a loss, or a viewer with no GOP cached)
//! ```
//!
//! The depacketizing and the transcode happen once per publisher, whoever watches; an
//! FLV viewer costs the stream task a queue push per tag and nothing here.
//!
//! Queues and what happens when they fill:
//! - engine → bridge, [`TAP_QUEUE`] items: the shell drops the RTP copy and counts it
//!   (`lectern_relay_webrtc_flv_dropped_total{stage="tap"}`); the depacketizer sees the hole, drops video until the next
//!   keyframe and asks for one; audio conceals the hole. WebRTC viewers are untouched.
//! - bridge → stream task, [`crate::stream::PUBLISH_QUEUE`] tags: the tag is dropped
//!   (counted, `stage="stream"`); a dropped video tag makes this source skip video
//!   to the next keyframe and ask for one.
//! - bridge → engine keyframe requests: `try_send` on the engine's command queue; a full
//!   queue drops the request (the engine coalesces them anyway, and the next loss or
//!   viewer asks again).

mod sync;
mod transcode;

pub use lectern_rtp::{AccessUnit, Depacketized, H264Depacketizer};
pub use sync::{LipSync, Media};
pub use transcode::{AacFrame, OpusToAac, TranscodeError};

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lectern_proto::{PeerId, RoomId};
use tokio::sync::{mpsc, watch};

use crate::flv::{self as codec, AVC_NALU, AVC_SEQUENCE_HEADER, AvcConfig, VideoHeader};
use crate::flv::{Tag, TagKind};
use crate::metrics::Metrics;
// The engine's own limit on keyframe requests to a publisher; asking more often would
// only crowd its command queue.
use crate::sfu::shell::Command;
use crate::sfu::{PLI_MIN_INTERVAL, SessionId};
use crate::stream::{StreamError, StreamKey, Streams};

/// Items queued from the engine to the bridge task.
pub const TAP_QUEUE: usize = 2048;
/// Added to every timeline position so the AAC encoder's priming (its first frame lies
/// 21 ms before the first sample) never needs a negative FLV timestamp.
const TIMELINE_OFFSET_US: i64 = 100_000;

/// What the engine hands the bridge about its publishers.
#[derive(Debug)]
pub enum Tap {
    /// A publisher connected: its media becomes the FLV stream `{room}/{peer}`.
    Open {
        session: SessionId,
        room: RoomId,
        peer: PeerId,
    },
    /// One RTP packet of a publisher, as received.
    Rtp {
        session: SessionId,
        media: Media,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: Bytes,
        at: Instant,
    },
    /// An RTCP sender report of one of its tracks.
    Report {
        session: SessionId,
        media: Media,
        ntp: u64,
        rtp: u32,
    },
    /// The publisher's session ended.
    Close { session: SessionId },
}

/// What a source asks of its shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceOutput {
    /// A tag for the stream.
    Tag(Tag),
    /// Ask the publisher for a keyframe.
    NeedKeyframe,
}

/// How long the bridge waits for a publisher's missing packet before it drops video to
/// the next keyframe and asks for one. An FLV viewer buffers a second or more, so a
/// repair a few round trips late costs it nothing, while a keyframe request costs every
/// viewer of the publisher a bigger frame (the default 120 ms asked for one whenever a
/// repair needed a second round trip: 4–7 in 20 s at 30 % loss).
const REPAIR_WAIT: Duration = Duration::from_millis(400);

/// One WebRTC publisher turned into FLV tags, sans-IO.
#[derive(Debug)]
pub struct FlvSource {
    sync: LipSync,
    video: H264Depacketizer,
    audio: Option<OpusToAac>,
    avc: Option<AvcConfig>,
    aac_header_sent: bool,
    last_ms: [u32; 2],
    /// A video tag was dropped downstream: skip to the next keyframe.
    skip_video: bool,
    last_request: Option<Instant>,
    out: VecDeque<SourceOutput>,
}

impl FlvSource {
    /// A source whose timeline starts now.
    pub fn new(now: Instant) -> Self {
        let audio = OpusToAac::new()
            .inspect_err(|e| tracing::warn!("no AAC for this source: {e}"))
            .ok();
        Self {
            sync: LipSync::new(now),
            video: H264Depacketizer::with_wait(REPAIR_WAIT),
            audio,
            avc: None,
            aac_header_sent: false,
            last_ms: [0; 2],
            skip_video: false,
            last_request: None,
            out: VecDeque::new(),
        }
    }

    /// One RTP packet.
    pub fn push_rtp(
        &mut self,
        now: Instant,
        media: Media,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: Bytes,
    ) {
        match media {
            Media::Video => {
                self.video.push(now, seq, timestamp, marker, payload);
                self.drain_video(now);
            }
            Media::Audio => {
                let at = self.sync.place(Media::Audio, timestamp, now);
                let Some(aac) = &mut self.audio else { return };
                let frames = aac.push(timestamp, at, &payload);
                if frames.is_empty() {
                    return;
                }
                if !self.aac_header_sent {
                    self.aac_header_sent = true;
                    let asc = aac.audio_specific_config().to_vec();
                    let ms = self.ms(Media::Audio, frames[0].at_us);
                    self.emit(
                        TagKind::Audio,
                        ms,
                        codec::aac_body(codec::AAC_SEQUENCE_HEADER, &asc),
                    );
                }
                for f in frames {
                    let ms = self.ms(Media::Audio, f.at_us);
                    self.emit(TagKind::Audio, ms, codec::aac_body(codec::AAC_RAW, &f.data));
                }
            }
        }
    }

    /// An RTCP sender report.
    pub fn push_report(&mut self, media: Media, ntp: u64, rtp: u32) {
        self.sync.report(media, ntp, rtp);
    }

    /// A video tag could not be delivered: drop video until the next keyframe.
    pub fn video_dropped(&mut self, now: Instant) {
        self.skip_video = true;
        self.request_keyframe(now);
    }

    fn request_keyframe(&mut self, now: Instant) {
        if self
            .last_request
            .is_some_and(|t| now.saturating_duration_since(t) < PLI_MIN_INTERVAL)
        {
            return;
        }
        self.last_request = Some(now);
        self.out.push_back(SourceOutput::NeedKeyframe);
    }

    /// When [`Self::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.video.poll_timeout()
    }

    /// Gives up on video holes that waited too long.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.video.handle_timeout(now);
        self.drain_video(now);
    }

    /// The next output.
    pub fn poll(&mut self) -> Option<SourceOutput> {
        self.out.pop_front()
    }

    fn drain_video(&mut self, now: Instant) {
        while let Some(d) = self.video.poll() {
            let au = match d {
                Depacketized::NeedKeyframe => {
                    self.request_keyframe(now);
                    continue;
                }
                Depacketized::Frame(au) => au,
            };
            if self.skip_video && !au.keyframe {
                continue;
            }
            let at = self.sync.place(Media::Video, au.rtp_timestamp, now);
            let ms = self.ms(Media::Video, at);
            if let Some((sps, pps)) = au.parameter_sets()
                && let Ok(config) = AvcConfig::from_sps_pps(sps, pps)
                && self.avc.as_ref() != Some(&config)
                && let Ok(record) = config.to_bytes()
            {
                self.avc = Some(config);
                let header = VideoHeader {
                    frame_type: 1,
                    packet_type: AVC_SEQUENCE_HEADER,
                    composition_time: 0,
                };
                self.emit(TagKind::Video, ms, header.body(&record));
            }
            if self.avc.is_none() {
                // Pictures without a configuration cannot be decoded: ask for a keyframe
                // (WebRTC encoders send SPS and PPS with every IDR).
                self.request_keyframe(now);
                continue;
            }
            self.skip_video = false;
            let header = VideoHeader {
                frame_type: if au.keyframe { 1 } else { 2 },
                packet_type: AVC_NALU,
                composition_time: 0,
            };
            self.emit(TagKind::Video, ms, header.body(&au.to_avcc()));
        }
    }

    /// A timeline position as this track's FLV timestamp, never going back.
    fn ms(&mut self, media: Media, at_us: i64) -> u32 {
        let ms = ((at_us + TIMELINE_OFFSET_US).max(0) / 1000) as u32;
        let last = &mut self.last_ms[media as usize];
        *last = ms.max(*last);
        *last
    }

    fn emit(&mut self, kind: TagKind, timestamp: u32, data: Bytes) {
        self.out.push_back(SourceOutput::Tag(Tag {
            kind,
            timestamp,
            data,
        }));
    }
}

struct Running {
    key: StreamKey,
    tags: mpsc::Sender<Tag>,
    source: FlvSource,
}

/// Runs the bridge until `shutdown` or until the engine drops its end of `taps`.
pub(crate) async fn run(
    mut taps: mpsc::Receiver<Tap>,
    streams: Streams,
    engine: mpsc::Sender<Command>,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut sources: HashMap<SessionId, Running> = HashMap::new();
    loop {
        let deadline = sources
            .values()
            .filter_map(|r| r.source.poll_timeout())
            .min();
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        let touched = tokio::select! {
            biased;
            () = crate::stopped(&mut shutdown) => break,
            tap = taps.recv() => {
                let Some(tap) = tap else { break };
                on_tap(tap, &mut sources, &streams, &engine)
            }
            () = sleep => {
                let now = Instant::now();
                for r in sources.values_mut() {
                    r.source.handle_timeout(now);
                }
                None
            }
        };
        match touched {
            Some(id) => flush(id, &mut sources, &engine, &metrics),
            None => {
                let ids: Vec<SessionId> = sources.keys().copied().collect();
                for id in ids {
                    flush(id, &mut sources, &engine, &metrics);
                }
            }
        }
    }
    tracing::debug!("WebRTC → FLV bridge stopped");
}

/// Applies one tap; returns the session it touched.
fn on_tap(
    tap: Tap,
    sources: &mut HashMap<SessionId, Running>,
    streams: &Streams,
    engine: &mpsc::Sender<Command>,
) -> Option<SessionId> {
    match tap {
        Tap::Open {
            session,
            room,
            peer,
        } => {
            let key = StreamKey { room, stream: peer };
            // A reconnecting publisher's new session may open before its old one closed:
            // the newer one takes the stream over.
            sources.retain(|_, r| r.key != key);
            let engine = engine.clone();
            let hook: crate::stream::KeyframeHook = Arc::new(move || {
                let _ = engine.try_send(Command::RequestKeyframe { session });
            });
            match streams.publish_with_keyframes(&key, hook) {
                Ok(tags) => {
                    tracing::info!(%key, "WebRTC publisher bridged to FLV");
                    sources.insert(
                        session,
                        Running {
                            key,
                            tags,
                            source: FlvSource::new(Instant::now()),
                        },
                    );
                }
                Err(StreamError::Busy) => {
                    tracing::warn!(%key, "an RTMP publisher holds this stream: not bridged");
                }
                Err(e) => tracing::warn!(%key, "not bridged: {e}"),
            }
            None
        }
        Tap::Rtp {
            session,
            media,
            seq,
            timestamp,
            marker,
            payload,
            at,
        } => {
            let r = sources.get_mut(&session)?;
            r.source
                .push_rtp(at, media, seq, timestamp, marker, payload);
            Some(session)
        }
        Tap::Report {
            session,
            media,
            ntp,
            rtp,
        } => {
            sources
                .get_mut(&session)?
                .source
                .push_report(media, ntp, rtp);
            None
        }
        Tap::Close { session } => {
            if let Some(r) = sources.remove(&session) {
                tracing::info!(key = %r.key, "WebRTC publisher left: FLV source ends");
            }
            None
        }
    }
}

fn flush(
    id: SessionId,
    sources: &mut HashMap<SessionId, Running>,
    engine: &mpsc::Sender<Command>,
    metrics: &Metrics,
) {
    let Some(r) = sources.get_mut(&id) else {
        return;
    };
    while let Some(out) = r.source.poll() {
        match out {
            SourceOutput::Tag(tag) => {
                let video = tag.kind == TagKind::Video;
                match r.tags.try_send(tag) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        metrics.flv_bridge_dropped.fetch_add(1, Relaxed);
                        if video {
                            r.source.video_dropped(Instant::now());
                        }
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => {
                        // The stream task ended (relay shutting down).
                        sources.remove(&id);
                        return;
                    }
                }
            }
            SourceOutput::NeedKeyframe => {
                let _ = engine.try_send(Command::RequestKeyframe { session: id });
            }
        }
    }
}

#[cfg(test)]
mod tests;

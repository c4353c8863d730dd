//! One live FLV stream, sans-IO: the sequence headers, the GOP cache, the viewers and
//! who still waits for a keyframe. The shell feeds it [`StreamInput`]s with the time and
//! carries out its [`StreamOutput`]s; it never touches a channel or a clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::flv::{CODEC_AVC, SOUND_AAC, Tag, TagKind};

/// A viewer of one stream, numbered by the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ViewerId(pub u64);

/// Bounds of the GOP cache.
#[derive(Debug, Clone, Copy)]
pub struct GopLimits {
    /// Most bytes of tag bodies kept from the last keyframe.
    pub bytes: usize,
    /// Most milliseconds of media kept from the last keyframe.
    pub duration_ms: u32,
    /// Most tags kept; must stay below the viewer queue so a new viewer's start fits.
    pub tags: usize,
}

impl Default for GopLimits {
    fn default() -> Self {
        Self {
            bytes: 4 << 20,
            duration_ms: 10_000,
            tags: 400,
        }
    }
}

/// What happens to a stream.
#[derive(Debug)]
pub enum StreamInput {
    /// A source starts (first publish, or a republish).
    SourceUp,
    /// A tag from the source: audio, video or script data, source timestamps.
    Tag(Tag),
    /// The source went away (the publisher left or was ended).
    SourceDown,
    /// A viewer joins; it is started from the cache at once.
    Join(ViewerId),
    /// A viewer left or was disconnected for staying behind.
    Leave(ViewerId),
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamOutput {
    /// Offer `tag` to `viewer` (its queue decides whether it fits).
    Send { viewer: ViewerId, tag: Tag },
    /// The stream has no keyframe to start a new viewer with: a source that can be
    /// asked (a WebRTC publisher, by PLI) should send one. RTMP sources cannot.
    NeedKeyframe,
    /// End every viewer: the source is gone and no republish came in time.
    EndAll,
}

/// For a source that can be asked for a keyframe (a WebRTC publisher), a cached GOP
/// whose keyframe is older than this (stream time) is not replayed to a new viewer: it
/// would start that viewer this far behind live, and players (a mini-program's
/// `live-player` among them) play a backlog in real time rather than skip it. The viewer
/// gets the sequence headers and the keyframe the source is asked for instead.
pub const FRESH_KEYFRAME_MS: u32 = 1_000;

#[derive(Debug)]
struct Viewer {
    id: ViewerId,
    /// Video (and audio, to start both together) is held back until a keyframe.
    awaiting_keyframe: bool,
}

/// The state of one stream.
#[derive(Debug)]
pub struct StreamCore {
    limits: GopLimits,
    /// How long viewers stay attached for a republish after the source left.
    grace: Duration,
    metadata: Option<Tag>,
    avc: Option<Tag>,
    aac: Option<Tag>,
    /// Tags from the last keyframe on; empty when there is none or it outgrew the limits.
    gop: VecDeque<Tag>,
    gop_bytes: usize,
    viewers: Vec<Viewer>,
    live: bool,
    /// Since when the source is gone (viewers are ended at `down_since + grace`).
    down_since: Option<Instant>,
    /// Output timeline: the first source timestamp of the current source, and where it
    /// lands on the output, so a republish (which starts again at 0) never makes
    /// viewers' timestamps go back.
    rebase: Option<(u32, u32)>,
    last_out: Option<u32>,
    /// The source can be asked for a keyframe (see [`FRESH_KEYFRAME_MS`]).
    askable: bool,
    out: VecDeque<StreamOutput>,
}

impl StreamCore {
    /// Whether the current source can be asked for a keyframe (a WebRTC publisher can;
    /// an RTMP pusher cannot, so its viewers always start from the cache).
    pub fn set_askable(&mut self, askable: bool) {
        self.askable = askable;
    }

    /// An empty stream with no source yet.
    pub fn new(limits: GopLimits, grace: Duration) -> Self {
        Self {
            limits,
            grace,
            metadata: None,
            avc: None,
            aac: None,
            gop: VecDeque::new(),
            gop_bytes: 0,
            viewers: Vec::new(),
            live: false,
            down_since: None,
            rebase: None,
            last_out: None,
            askable: false,
            out: VecDeque::new(),
        }
    }

    /// Whether a source publishes now.
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// Number of viewers.
    pub fn viewer_count(&self) -> usize {
        self.viewers.len()
    }

    /// Tags in the GOP cache (for tests and metrics).
    pub fn cached_tags(&self) -> usize {
        self.gop.len()
    }

    /// True when nothing is left to do: no source and no viewer.
    pub fn is_idle(&self) -> bool {
        !self.live && self.viewers.is_empty()
    }

    /// Feeds one input.
    pub fn handle_input(&mut self, now: Instant, input: StreamInput) {
        match input {
            StreamInput::SourceUp => {
                self.live = true;
                self.down_since = None;
                // A new source brings its own configuration and timeline.
                self.metadata = None;
                self.avc = None;
                self.aac = None;
                self.clear_gop();
                self.rebase = None;
                for v in &mut self.viewers {
                    v.awaiting_keyframe = true;
                }
            }
            StreamInput::SourceDown => {
                self.live = false;
                self.down_since = Some(now);
                if self.viewers.is_empty() {
                    self.down_since = None;
                }
            }
            StreamInput::Tag(tag) => self.tag(tag),
            StreamInput::Join(id) => {
                self.join(id);
                // A viewer that joins while no source publishes (a play racing the
                // end of a stream) waits one grace at most, like the others.
                if !self.live && self.down_since.is_none() {
                    self.down_since = Some(now);
                }
            }
            StreamInput::Leave(id) => {
                self.viewers.retain(|v| v.id != id);
                if self.viewers.is_empty() {
                    self.down_since = None;
                }
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) wants to be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.down_since.map(|t| t + self.grace)
    }

    /// Time passes: viewers waiting past the grace for a republish are ended.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(deadline) = self.poll_timeout()
            && now >= deadline
        {
            self.down_since = None;
            self.viewers.clear();
            self.out.push_back(StreamOutput::EndAll);
        }
    }

    /// The next output, until `None`.
    pub fn poll_output(&mut self) -> Option<StreamOutput> {
        self.out.pop_front()
    }

    fn clear_gop(&mut self) {
        self.gop.clear();
        self.gop_bytes = 0;
    }

    fn retime(&mut self, mut tag: Tag) -> Tag {
        let (src0, out0) = *self.rebase.get_or_insert_with(|| {
            let start = match self.last_out {
                // Continue a little after what viewers last saw.
                Some(last) => last.wrapping_add(40),
                None => tag.timestamp,
            };
            (tag.timestamp, start)
        });
        tag.timestamp = tag.timestamp.wrapping_sub(src0).wrapping_add(out0);
        self.last_out = Some(tag.timestamp);
        tag
    }

    fn tag(&mut self, tag: Tag) {
        if !self.live {
            return;
        }
        let tag = self.retime(tag);
        if tag.is_config() {
            let slot = match tag.kind {
                TagKind::Script => &mut self.metadata,
                TagKind::Video => &mut self.avc,
                TagKind::Audio => &mut self.aac,
            };
            *slot = Some(tag.clone());
            // Configuration goes to everyone, waiting or not: a viewer must have it
            // before the keyframe it waits for.
            for v in &self.viewers {
                self.out.push_back(StreamOutput::Send {
                    viewer: v.id,
                    tag: tag.clone(),
                });
            }
            return;
        }
        // AVC or AAC frames before their sequence header cannot be decoded (a
        // `live-pusher` sometimes sends the AAC header late): nobody gets them.
        let codec_config_missing = match tag.kind {
            TagKind::Video => {
                tag.data.first().is_some_and(|b| b & 0x0f == CODEC_AVC) && self.avc.is_none()
            }
            TagKind::Audio => {
                tag.data.first().is_some_and(|b| b >> 4 == SOUND_AAC) && self.aac.is_none()
            }
            TagKind::Script => false,
        };
        if codec_config_missing {
            return;
        }
        let keyframe = tag.is_keyframe();
        self.cache(&tag, keyframe);
        let has_video = self.avc.is_some();
        for v in &mut self.viewers {
            if v.awaiting_keyframe && has_video {
                if !keyframe {
                    continue;
                }
                v.awaiting_keyframe = false;
            }
            self.out.push_back(StreamOutput::Send {
                viewer: v.id,
                tag: tag.clone(),
            });
        }
    }

    /// GOP cache policy: a keyframe starts a new cache; every later tag is appended
    /// while the cache stays within its limits. A GOP that outgrows them is dropped
    /// whole (a cache without its keyframe is useless), and new viewers then wait for
    /// the next keyframe instead of starting at once.
    fn cache(&mut self, tag: &Tag, keyframe: bool) {
        if keyframe {
            self.clear_gop();
        } else if self.gop.is_empty() {
            return;
        }
        let first = self.gop.front().map_or(tag.timestamp, |t| t.timestamp);
        let over = self.gop.len() + 1 > self.limits.tags
            || self.gop_bytes + tag.data.len() > self.limits.bytes
            // Signed: an audio tag a little older than the keyframe that began the GOP
            // (the WebRTC bridge's AAC trails its video by a frame or two) is not a GOP
            // of four billion milliseconds.
            || (tag.timestamp.wrapping_sub(first) as i32) > self.limits.duration_ms as i32;
        if over {
            self.clear_gop();
            return;
        }
        self.gop_bytes += tag.data.len();
        self.gop.push_back(tag.clone());
    }

    fn join(&mut self, id: ViewerId) {
        self.viewers.retain(|v| v.id != id);
        for tag in [&self.metadata, &self.avc, &self.aac].into_iter().flatten() {
            self.out.push_back(StreamOutput::Send {
                viewer: id,
                tag: tag.clone(),
            });
        }
        let has_video = self.avc.is_some();
        let age = match (self.gop.front(), self.gop.back()) {
            (Some(first), Some(last)) => last.timestamp.wrapping_sub(first.timestamp),
            _ => 0,
        };
        let stale = self.askable && self.live && age > FRESH_KEYFRAME_MS;
        let awaiting_keyframe = has_video && (self.gop.is_empty() || stale);
        if !stale {
            for tag in &self.gop {
                self.out.push_back(StreamOutput::Send {
                    viewer: id,
                    tag: tag.clone(),
                });
            }
        }
        if awaiting_keyframe && self.live {
            self.out.push_back(StreamOutput::NeedKeyframe);
        }
        self.viewers.push(Viewer {
            id,
            awaiting_keyframe,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn video(key: bool, ts: u32) -> Tag {
        Tag {
            kind: TagKind::Video,
            timestamp: ts,
            data: Bytes::from(vec![if key { 0x17 } else { 0x27 }, 1, 0, 0, 0, 9]),
        }
    }
    fn audio(ts: u32) -> Tag {
        Tag {
            kind: TagKind::Audio,
            timestamp: ts,
            data: Bytes::from_static(&[0xaf, 1, 5]),
        }
    }
    fn avc_config() -> Tag {
        Tag {
            kind: TagKind::Video,
            timestamp: 0,
            data: Bytes::from_static(&[0x17, 0, 0, 0, 0, 1]),
        }
    }
    fn aac_config() -> Tag {
        Tag {
            kind: TagKind::Audio,
            timestamp: 0,
            data: Bytes::from_static(&[0xaf, 0, 0x11, 0x88]),
        }
    }

    fn drain(core: &mut StreamCore) -> Vec<StreamOutput> {
        std::iter::from_fn(|| core.poll_output()).collect()
    }

    fn sent_to(out: &[StreamOutput], viewer: ViewerId) -> Vec<Tag> {
        out.iter()
            .filter_map(|o| match o {
                StreamOutput::Send { viewer: v, tag } if *v == viewer => Some(tag.clone()),
                _ => None,
            })
            .collect()
    }

    fn live(now: Instant) -> StreamCore {
        let mut core = StreamCore::new(GopLimits::default(), Duration::from_secs(5));
        core.handle_input(now, StreamInput::SourceUp);
        core.handle_input(now, StreamInput::Tag(avc_config()));
        core.handle_input(now, StreamInput::Tag(aac_config()));
        core
    }

    #[test]
    fn a_new_viewer_starts_with_the_configs_then_the_last_keyframe() {
        let now = Instant::now();
        let mut core = live(now);
        for n in 0..60u32 {
            core.handle_input(now, StreamInput::Tag(video(n % 25 == 0, n * 40)));
            core.handle_input(now, StreamInput::Tag(audio(n * 40 + 1)));
        }
        drain(&mut core);
        core.handle_input(now, StreamInput::Join(ViewerId(1)));
        let out = drain(&mut core);
        let tags = sent_to(&out, ViewerId(1));
        assert!(tags[0].is_config() && tags[1].is_config());
        assert!(tags[2].is_keyframe());
        assert_eq!(
            tags[2].timestamp,
            50 * 40,
            "the last keyframe, not the first"
        );
        assert_eq!(tags.len(), 2 + 20, "10 frames and 10 audio tags since it");
        assert!(!out.contains(&StreamOutput::NeedKeyframe));
        // And it follows live at once.
        core.handle_input(now, StreamInput::Tag(video(false, 60 * 40)));
        assert_eq!(sent_to(&drain(&mut core), ViewerId(1)).len(), 1);
    }

    #[test]
    fn a_source_that_can_be_asked_starts_new_viewers_on_a_fresh_keyframe_not_a_backlog() {
        let now = Instant::now();
        let mut core = StreamCore::new(GopLimits::default(), Duration::from_secs(5));
        core.set_askable(true);
        core.handle_input(now, StreamInput::SourceUp);
        core.handle_input(now, StreamInput::Tag(avc_config()));
        for n in 0..20u32 {
            core.handle_input(now, StreamInput::Tag(video(n == 0, n * 40)));
        }
        drain(&mut core);
        // 760 ms since the keyframe: fresh enough, the viewer starts from the cache.
        core.handle_input(now, StreamInput::Join(ViewerId(1)));
        let out = drain(&mut core);
        assert_eq!(sent_to(&out, ViewerId(1)).len(), 1 + 20);
        assert!(!out.contains(&StreamOutput::NeedKeyframe));
        for n in 20..60u32 {
            core.handle_input(now, StreamInput::Tag(video(false, n * 40)));
        }
        drain(&mut core);
        // 2.36 s since it: the next viewer gets the config, a keyframe is asked for.
        core.handle_input(now, StreamInput::Join(ViewerId(2)));
        let out = drain(&mut core);
        assert_eq!(sent_to(&out, ViewerId(2)).len(), 1, "the AVC config only");
        assert!(out.contains(&StreamOutput::NeedKeyframe));
        core.handle_input(now, StreamInput::Tag(video(false, 2440)));
        assert_eq!(sent_to(&drain(&mut core), ViewerId(2)).len(), 0);
        core.handle_input(now, StreamInput::Tag(video(true, 2480)));
        let out = drain(&mut core);
        assert!(sent_to(&out, ViewerId(2))[0].is_keyframe());
        // An RTMP source cannot be asked: its viewers take the backlog.
        core.set_askable(false);
        for n in 63..120u32 {
            core.handle_input(now, StreamInput::Tag(video(false, n * 40)));
        }
        drain(&mut core);
        core.handle_input(now, StreamInput::Join(ViewerId(3)));
        assert!(sent_to(&drain(&mut core), ViewerId(3)).len() > 50);
    }

    #[test]
    fn audio_slightly_older_than_the_keyframe_stays_in_the_gop() {
        let now = Instant::now();
        let mut core = StreamCore::new(GopLimits::default(), Duration::from_secs(5));
        core.handle_input(now, StreamInput::SourceUp);
        core.handle_input(now, StreamInput::Tag(avc_config()));
        core.handle_input(now, StreamInput::Tag(aac_config()));
        core.handle_input(now, StreamInput::Tag(video(true, 1000)));
        core.handle_input(now, StreamInput::Tag(audio(979)));
        core.handle_input(now, StreamInput::Tag(video(false, 1033)));
        assert_eq!(
            core.cached_tags(),
            3,
            "the GOP survives audio that trails its video"
        );
    }

    #[test]
    fn an_oversized_gop_is_dropped_and_a_new_viewer_waits_for_the_next_keyframe() {
        let now = Instant::now();
        let mut core = StreamCore::new(
            GopLimits {
                tags: 10,
                ..GopLimits::default()
            },
            Duration::from_secs(5),
        );
        core.handle_input(now, StreamInput::SourceUp);
        core.handle_input(now, StreamInput::Tag(avc_config()));
        for n in 0..12u32 {
            core.handle_input(now, StreamInput::Tag(video(n == 0, n * 40)));
        }
        assert_eq!(core.cached_tags(), 0);
        drain(&mut core);
        core.handle_input(now, StreamInput::Join(ViewerId(7)));
        let out = drain(&mut core);
        assert_eq!(sent_to(&out, ViewerId(7)).len(), 1, "the AVC config only");
        assert!(out.contains(&StreamOutput::NeedKeyframe));
        core.handle_input(now, StreamInput::Tag(audio(481)));
        core.handle_input(now, StreamInput::Tag(video(false, 520)));
        assert!(drain(&mut core).is_empty(), "nothing before a keyframe");
        core.handle_input(now, StreamInput::Tag(video(true, 560)));
        assert_eq!(sent_to(&drain(&mut core), ViewerId(7)).len(), 1);
    }

    #[test]
    fn viewers_wait_through_a_republish_with_a_timeline_that_never_goes_back() {
        let now = Instant::now();
        let mut core = live(now);
        core.handle_input(now, StreamInput::Join(ViewerId(1)));
        core.handle_input(now, StreamInput::Tag(video(true, 1000)));
        core.handle_input(now, StreamInput::Tag(video(false, 5000)));
        drain(&mut core);
        core.handle_input(now, StreamInput::SourceDown);
        assert_eq!(core.poll_timeout(), Some(now + Duration::from_secs(5)));
        core.handle_timeout(now + Duration::from_secs(2));
        assert!(drain(&mut core).is_empty());
        // The pusher comes back, starting at 0 again.
        core.handle_input(now, StreamInput::SourceUp);
        core.handle_input(now, StreamInput::Tag(avc_config()));
        core.handle_input(now, StreamInput::Tag(video(false, 40)));
        core.handle_input(now, StreamInput::Tag(video(true, 80)));
        let tags = sent_to(&drain(&mut core), ViewerId(1));
        assert_eq!(tags.len(), 2, "the new config, then from the keyframe on");
        assert!(tags.iter().all(|t| t.timestamp > 5000), "{tags:?}");
        assert_eq!(core.poll_timeout(), None);
        // Gone for good: after the grace, viewers are ended.
        core.handle_input(now, StreamInput::SourceDown);
        core.handle_timeout(now + Duration::from_secs(5));
        assert_eq!(drain(&mut core), vec![StreamOutput::EndAll]);
        assert!(core.is_idle());
    }

    #[test]
    fn frames_before_their_sequence_header_go_nowhere() {
        let now = Instant::now();
        let mut core = StreamCore::new(GopLimits::default(), Duration::from_secs(5));
        core.handle_input(now, StreamInput::SourceUp);
        core.handle_input(now, StreamInput::Join(ViewerId(3)));
        core.handle_input(now, StreamInput::Tag(avc_config()));
        core.handle_input(now, StreamInput::Tag(video(true, 0)));
        // The AAC header comes late: the audio before it is not sent or cached.
        core.handle_input(now, StreamInput::Tag(audio(10)));
        core.handle_input(now, StreamInput::Tag(aac_config()));
        core.handle_input(now, StreamInput::Tag(audio(30)));
        let tags = sent_to(&drain(&mut core), ViewerId(3));
        let audio_ts: Vec<u32> = tags
            .iter()
            .filter(|t| t.kind == TagKind::Audio && !t.is_config())
            .map(|t| t.timestamp)
            .collect();
        assert_eq!(audio_ts, [30]);
        assert_eq!(
            core.cached_tags(),
            2,
            "the keyframe and the audio after the header"
        );
    }

    #[test]
    fn an_audio_only_stream_does_not_wait_for_keyframes() {
        let now = Instant::now();
        let mut core = StreamCore::new(GopLimits::default(), Duration::from_secs(5));
        core.handle_input(now, StreamInput::SourceUp);
        core.handle_input(now, StreamInput::Tag(aac_config()));
        core.handle_input(now, StreamInput::Join(ViewerId(2)));
        core.handle_input(now, StreamInput::Tag(audio(20)));
        assert_eq!(sent_to(&drain(&mut core), ViewerId(2)).len(), 2);
    }
}

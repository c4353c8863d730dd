//! The encode stage of a class: capture taps in, encoded media out, one thread per
//! medium, bounded queues on both sides.
//!
//! Overflow policy:
//! - Capture → encoder is the tap's broadcast ring: an encoder that falls behind loses
//!   the oldest raw frames (they were never encoded, so the reference chain is intact).
//! - Encoder → sender is a bounded channel. A raw frame that arrives while it is full is
//!   skipped before encoding (again no broken references); if a send still fails the
//!   encoded frame is dropped and the next frame is forced to be a keyframe. Audio
//!   packets that do not fit are dropped: Opus FEC and the receiver's concealment cover
//!   a lost 20 ms better than a growing delay would.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc};

use crate::{
    AudioChunk, EchoCanceller, EncodedAudio, H264Encoder, MediaClock, NoiseSuppressor, OpusEncoder,
    VideoEncoder, VideoFrame, scale::scale_i420,
};

/// One encoded picture with its timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedVideo {
    /// Annex B access unit.
    pub data: Vec<u8>,
    /// Whether a decoder can start here.
    pub keyframe: bool,
    /// Capture time on the session's media clock.
    pub captured_at: Duration,
    /// When the encoder finished it, on the same clock.
    pub encoded_at: Duration,
    pub width: u32,
    pub height: u32,
}

/// What the sender tells the encoder, and what the encoder reports back. Shared by the
/// video thread, the sender task and the UI's stats without locks.
#[derive(Debug)]
pub struct VideoControl {
    target_bps: AtomicU32,
    max_bps: AtomicU32,
    keyframe: AtomicBool,
    stop: AtomicBool,
    /// Frames encoded and handed to the sender.
    pub frames: AtomicU64,
    /// Keyframes among them.
    pub keyframes: AtomicU64,
    /// Raw frames not encoded because the sender's queue was full or the encoder lagged.
    pub skipped: AtomicU64,
    /// Encoded frames dropped because the queue filled after encoding.
    pub dropped: AtomicU64,
    /// Microseconds the last frame took to encode (scaling included).
    pub encode_us: AtomicU32,
    /// The size being encoded now, `width << 16 | height`.
    pub size: AtomicU32,
    /// Bitrate the encoder was last set to.
    pub encoder_bps: AtomicU32,
}

impl VideoControl {
    /// Control for an encoder starting at `start_bps`, never above `max_bps`.
    pub fn new(start_bps: u32, max_bps: u32) -> Arc<Self> {
        Arc::new(Self {
            target_bps: AtomicU32::new(start_bps.min(max_bps)),
            max_bps: AtomicU32::new(max_bps),
            keyframe: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            frames: AtomicU64::new(0),
            keyframes: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            encode_us: AtomicU32::new(0),
            size: AtomicU32::new(0),
            encoder_bps: AtomicU32::new(0),
        })
    }

    /// The congestion controller's new video budget (bits per second).
    pub fn set_target(&self, bps: u32) {
        self.target_bps.store(
            bps.clamp(MIN_VIDEO_BPS, self.max_bps.load(Relaxed)),
            Relaxed,
        );
    }

    /// The current video budget.
    pub fn target(&self) -> u32 {
        self.target_bps.load(Relaxed)
    }

    /// A receiver asked for a keyframe (PLI/FIR), or the stream restarted.
    pub fn request_keyframe(&self) {
        self.keyframe.store(true, Relaxed);
    }

    /// The size being encoded now.
    pub fn size(&self) -> (u32, u32) {
        let s = self.size.load(Relaxed);
        (s >> 16, s & 0xffff)
    }

    fn stop(&self) {
        self.stop.store(true, Relaxed);
    }
}

/// Below this the picture is not worth sending; the controller's floor for video.
pub const MIN_VIDEO_BPS: u32 = 150_000;

/// Steps of the resolution ladder for a 16:9 camera: the height to encode at from a
/// budget of at least this many bits per second. Chosen from common WebRTC ladders
/// (≈ 0.1 bit per pixel at 30 fps).
const LADDER: [(u32, u32); 4] = [(1_100_000, 720), (600_000, 540), (300_000, 360), (0, 180)];
/// How long a budget must stay below a step before the picture shrinks…
const DOWN_AFTER: Duration = Duration::from_secs(2);
/// …and above the next step (with 20 % to spare) before it grows again.
const UP_AFTER: Duration = Duration::from_secs(6);

/// Picks the encode height from the budget with hysteresis, so an estimate that wobbles
/// around a step does not cost a keyframe per wobble.
#[derive(Debug)]
struct Ladder {
    height: u32,
    below_since: Option<Instant>,
    above_since: Option<Instant>,
}

impl Ladder {
    fn new(bps: u32, source_height: u32) -> Self {
        Self {
            height: step_for(bps).min(source_height),
            below_since: None,
            above_since: None,
        }
    }

    fn update(&mut self, now: Instant, bps: u32, source_height: u32) -> u32 {
        let want = step_for(bps).min(source_height);
        let want_up = step_for(bps.saturating_mul(5) / 6).min(source_height);
        if want < self.height {
            self.above_since = None;
            let since = *self.below_since.get_or_insert(now);
            if now.duration_since(since) >= DOWN_AFTER {
                self.height = want;
                self.below_since = None;
            }
        } else if want_up > self.height {
            self.below_since = None;
            let since = *self.above_since.get_or_insert(now);
            if now.duration_since(since) >= UP_AFTER {
                self.height = want_up;
                self.above_since = None;
            }
        } else {
            self.below_since = None;
            self.above_since = None;
        }
        self.height.min(source_height)
    }
}

fn step_for(bps: u32) -> u32 {
    LADDER
        .iter()
        .find(|(min, _)| bps >= *min)
        .map_or(180, |(_, h)| *h)
}

/// The width for `height` at the source's aspect ratio, even.
fn width_for(source: &VideoFrame, height: u32) -> u32 {
    ((u64::from(source.width) * u64::from(height) / u64::from(source.height.max(1))) as u32) & !1
}

/// A running encode thread; dropping it stops the thread.
///
/// The thread is not joined on drop: it wakes on its next input (every 10–33 ms while
/// capture runs, at once when capture ends) and exits, so dropping never blocks the
/// caller on a device that went quiet.
#[derive(Debug)]
pub struct EncodeThread {
    control: Option<Arc<VideoControl>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EncodeThread {
    /// Whether the thread has ended (capture closed or the sender went away).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl Drop for EncodeThread {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(c) = &self.control {
            c.stop();
        }
    }
}

/// Starts encoding `frames` to H.264 into `out` under `control`.
pub fn spawn_video_encoder(
    mut frames: broadcast::Receiver<Arc<VideoFrame>>,
    control: Arc<VideoControl>,
    out: mpsc::Sender<EncodedVideo>,
    clock: MediaClock,
    fps: f32,
) -> Result<EncodeThread, crate::EncodeError> {
    let mut encoder = H264Encoder::new(control.target(), fps)?;
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (control, stop) = (control.clone(), stop.clone());
        std::thread::Builder::new()
            .name("encode video".into())
            .spawn(move || {
                let mut ladder: Option<Ladder> = None;
                while !stop.load(Relaxed) && !control.stop.load(Relaxed) {
                    let frame = match frames.blocking_recv() {
                        Ok(f) => f,
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            control.skipped.fetch_add(n, Relaxed);
                            continue;
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    };
                    if out.is_closed() {
                        return;
                    }
                    if out.capacity() == 0 {
                        control.skipped.fetch_add(1, Relaxed);
                        continue;
                    }
                    let started = Instant::now();
                    let target = control.target();
                    let ladder = ladder.get_or_insert_with(|| Ladder::new(target, frame.height));
                    let height = ladder.update(started, target, frame.height);
                    let scaled;
                    let input: &VideoFrame = if height < frame.height {
                        scaled = scale_i420(&frame, width_for(&frame, height), height);
                        &scaled
                    } else {
                        &frame
                    };
                    if control.keyframe.swap(false, Relaxed) {
                        encoder.force_keyframe();
                    }
                    // openh264 spends its budget per frame; headers and RTP cost ≈ 5 %.
                    if let Err(e) = encoder.set_bitrate(target / 20 * 19) {
                        tracing::warn!("encoder bitrate: {e}");
                    }
                    control.encoder_bps.store(encoder.bitrate(), Relaxed);
                    let encoded = match encoder.encode(input) {
                        Ok(Some(e)) => e,
                        Ok(None) => continue,
                        Err(e) => {
                            tracing::warn!("video encode: {e}");
                            encoder.force_keyframe();
                            continue;
                        }
                    };
                    control
                        .encode_us
                        .store(started.elapsed().as_micros() as u32, Relaxed);
                    control
                        .size
                        .store((input.width << 16) | (input.height & 0xffff), Relaxed);
                    let keyframe = encoded.keyframe;
                    let item = EncodedVideo {
                        data: encoded.data,
                        keyframe,
                        captured_at: frame.captured_at,
                        encoded_at: clock.now(),
                        width: input.width,
                        height: input.height,
                    };
                    match out.try_send(item) {
                        Ok(()) => {
                            control.frames.fetch_add(1, Relaxed);
                            if keyframe {
                                control.keyframes.fetch_add(1, Relaxed);
                            }
                        }
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            // The next frame would reference the one just lost.
                            control.dropped.fetch_add(1, Relaxed);
                            encoder.force_keyframe();
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => return,
                    }
                }
            })
            .map_err(|e| crate::EncodeError::Init(format!("encode thread: {e}")))?
    };
    Ok(EncodeThread {
        control: Some(control),
        stop,
        thread: Some(thread),
    })
}

/// Counters of the audio encode thread.
#[derive(Debug, Default)]
pub struct AudioStats {
    /// Opus packets handed to the sender.
    pub packets: AtomicU64,
    /// Packets dropped because the sender's queue was full.
    pub dropped: AtomicU64,
    /// Chunks lost because the encoder lagged behind capture.
    pub lagged: AtomicU64,
    /// RNNoise's voice probability of the last chunk, in per mille.
    pub voice_permille: AtomicU32,
    /// Loss (percent) the receivers report; sizes Opus FEC.
    pub expected_loss: AtomicU32,
}

/// Starts cancelling the speakers' echo (with `echo`), denoising (when `denoise`) and
/// Opus-encoding `chunks` into `out`.
pub fn spawn_audio_encoder(
    mut chunks: broadcast::Receiver<Arc<AudioChunk>>,
    denoise: bool,
    mut echo: Option<EchoCanceller>,
    bitrate_bps: u32,
    stats: Arc<AudioStats>,
    out: mpsc::Sender<EncodedAudio>,
) -> Result<EncodeThread, crate::EncodeError> {
    let mut encoder = OpusEncoder::new(bitrate_bps)?;
    let mut suppressor = denoise.then(NoiseSuppressor::new);
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("encode audio".into())
            .spawn(move || {
                let mut loss = 10;
                while !stop.load(Relaxed) {
                    let chunk = match chunks.blocking_recv() {
                        Ok(c) => c,
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            stats.lagged.fetch_add(n, Relaxed);
                            continue;
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    };
                    let want = stats.expected_loss.load(Relaxed).clamp(5, 50);
                    if want != loss && encoder.set_expected_loss(want as u8).is_ok() {
                        loss = want;
                    }
                    let mut chunk = Arc::unwrap_or_clone(chunk);
                    // Echo first, then noise, as in WebRTC's capture chain: the
                    // suppressor would otherwise smear the echo the canceller models.
                    if let Some(aec) = echo.as_mut() {
                        aec.process(&mut chunk.samples);
                    }
                    if let Some(ns) = suppressor.as_mut() {
                        let voice = ns.process(&mut chunk.samples);
                        stats.voice_permille.store((voice * 1000.0) as u32, Relaxed);
                    }
                    match encoder.push(&chunk) {
                        Ok(Some(packet)) => match out.try_send(packet) {
                            Ok(()) => {
                                stats.packets.fetch_add(1, Relaxed);
                            }
                            Err(mpsc::error::TrySendError::Full(_)) => {
                                stats.dropped.fetch_add(1, Relaxed);
                            }
                            Err(mpsc::error::TrySendError::Closed(_)) => return,
                        },
                        Ok(None) => {}
                        Err(e) => tracing::warn!("audio encode: {e}"),
                    }
                }
            })
            .map_err(|e| crate::EncodeError::Init(format!("encode thread: {e}")))?
    };
    Ok(EncodeThread {
        control: None,
        stop,
        thread: Some(thread),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ladder_steps_down_after_two_seconds_and_up_after_six() {
        let t0 = Instant::now();
        let at = |s: f64| t0 + Duration::from_secs_f64(s);
        let mut l = Ladder::new(2_000_000, 720);
        assert_eq!(l.update(at(0.0), 2_000_000, 720), 720);
        // A dip shorter than two seconds changes nothing.
        assert_eq!(l.update(at(1.0), 400_000, 720), 720);
        assert_eq!(l.update(at(2.5), 2_000_000, 720), 720);
        assert_eq!(l.update(at(3.0), 400_000, 720), 720);
        assert_eq!(l.update(at(5.1), 400_000, 720), 360);
        // Just above the 540p step is not enough to grow: it needs 20 % headroom.
        assert_eq!(l.update(at(6.0), 650_000, 720), 360);
        assert_eq!(l.update(at(20.0), 650_000, 720), 360);
        assert_eq!(l.update(at(21.0), 1_500_000, 720), 360);
        assert_eq!(l.update(at(27.1), 1_500_000, 720), 720);
    }

    #[test]
    fn the_ladder_never_exceeds_the_source() {
        let t0 = Instant::now();
        let mut l = Ladder::new(5_000_000, 360);
        assert_eq!(l.update(t0, 5_000_000, 360), 360);
        assert_eq!(l.update(t0 + Duration::from_secs(60), 5_000_000, 360), 360);
    }

    fn frames(n: u64) -> (broadcast::Sender<Arc<VideoFrame>>, Vec<Arc<VideoFrame>>) {
        let (tx, _) = broadcast::channel(8);
        let list = (0..n)
            .map(|i| {
                let mut f = VideoFrame::grey(640, 360);
                crate::synthetic::paint(&mut f, i, i * 33_333);
                f.seq = i;
                f.captured_at = Duration::from_micros(i * 33_333);
                Arc::new(f)
            })
            .collect();
        (tx, list)
    }

    #[test]
    fn a_full_queue_skips_raw_frames_and_keyframe_requests_are_honoured() {
        let (tx, list) = frames(12);
        let control = VideoControl::new(1_000_000, 2_000_000);
        let (out_tx, mut out) = mpsc::channel(2);
        let thread = spawn_video_encoder(
            tx.subscribe(),
            control.clone(),
            out_tx,
            MediaClock::start(),
            30.0,
        )
        .unwrap();
        let wait = |n: u64, c: &VideoControl| {
            let t = Instant::now();
            while c.frames.load(Relaxed) + c.skipped.load(Relaxed) < n {
                assert!(t.elapsed() < Duration::from_secs(10), "encoder stalled");
                std::thread::sleep(Duration::from_millis(2));
            }
        };
        // Nobody drains: two frames fill the queue, the rest are skipped unencoded.
        for f in &list[..6] {
            tx.send(f.clone()).unwrap();
            wait(f.seq + 1, &control);
        }
        assert_eq!(control.frames.load(Relaxed), 2);
        assert_eq!(control.skipped.load(Relaxed), 4);
        assert_eq!(control.dropped.load(Relaxed), 0);
        let first = out.try_recv().unwrap();
        assert!(first.keyframe && first.captured_at == Duration::ZERO);
        assert!(!out.try_recv().unwrap().keyframe);
        control.request_keyframe();
        tx.send(list[6].clone()).unwrap();
        wait(7, &control);
        let asked = out.try_recv().unwrap();
        assert!(asked.keyframe);
        assert_eq!(asked.captured_at, list[6].captured_at);
        assert_eq!((asked.width, asked.height), (640, 360));
        drop(thread);
    }

    #[test]
    fn audio_is_encoded_in_20ms_packets_with_capture_times() {
        let (tx, _) = broadcast::channel(64);
        let stats = Arc::new(AudioStats::default());
        let (out_tx, mut out) = mpsc::channel(64);
        let thread =
            spawn_audio_encoder(tx.subscribe(), true, None, 32_000, stats.clone(), out_tx).unwrap();
        for seq in 0..10u64 {
            let chunk = AudioChunk {
                seq,
                captured_at: Duration::from_millis(1000 + seq * 10),
                samples: vec![0.0; crate::AUDIO_CHUNK],
            };
            tx.send(Arc::new(chunk)).unwrap();
        }
        let mut got = Vec::new();
        let t = Instant::now();
        while got.len() < 5 && t.elapsed() < Duration::from_secs(10) {
            match out.try_recv() {
                Ok(p) => got.push(p.captured_at),
                Err(_) => std::thread::sleep(Duration::from_millis(2)),
            }
        }
        let want: Vec<_> = (0..5)
            .map(|i| Duration::from_millis(1000 + i * 20))
            .collect();
        assert_eq!(got, want);
        drop(thread);
    }
}

//! Keeps a WHIP session alive for the length of a class.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use lectern_media::{AudioStats, EncodedAudio, EncodedVideo, VideoControl};
use lectern_proto::{PublishState, PublishStats, PublishStatus};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::link::{self, Counters, Inputs, Shared};

/// Where and how to publish.
#[derive(Debug, Clone)]
pub struct PublishConfig {
    /// The WHIP endpoint, e.g. `http://127.0.0.1:8686/whip/math`.
    pub whip_url: String,
    /// Bearer token with the publish grant.
    pub token: String,
    /// Video never goes above this (bits per second).
    pub max_bps: u32,
}

/// First wait after a failure; doubles per attempt up to [`BACKOFF_MAX`], ± 20 % jitter
/// so a room of consoles does not reconnect in lockstep after a relay restart.
const BACKOFF_FIRST: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The wait before attempt `attempt` (1-based) after a failure.
fn backoff(attempt: u32, jitter: f64) -> Duration {
    let base = BACKOFF_FIRST.saturating_mul(1 << attempt.saturating_sub(1).min(10));
    base.min(BACKOFF_MAX).mul_f64(1.0 + jitter.clamp(-0.2, 0.2))
}

/// A running publish link. Dropping it stops the link without waiting.
#[derive(Debug)]
pub struct Publisher {
    status: watch::Receiver<PublishStatus>,
    stats: watch::Receiver<PublishStats>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Publisher {
    /// Starts publishing what the encoders put in `video` and `audio`; `video_control`
    /// and `audio_stats` are the encoders' (the link steers bitrate and keyframes and
    /// reads their counters). Must be called inside a tokio runtime.
    pub fn start(
        config: PublishConfig,
        video: mpsc::Receiver<EncodedVideo>,
        audio: mpsc::Receiver<EncodedAudio>,
        video_control: Arc<VideoControl>,
        audio_stats: Arc<AudioStats>,
    ) -> Self {
        let (status_tx, status) = watch::channel(PublishStatus {
            state: PublishState::Connecting,
            attempt: 1,
            retry_in_ms: None,
            error: None,
            reconnects: 0,
        });
        let (stats_tx, stats) = watch::channel(PublishStats::default());
        let (stop, stop_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            video: video_control,
            audio: audio_stats,
            counters: Counters::default(),
            fec: lectern_rtp::FecLevel::new(0),
        });
        let inputs = Inputs { video, audio };
        let task = tokio::spawn(supervise(
            config,
            inputs,
            shared.clone(),
            status_tx,
            stop_rx.clone(),
        ));
        tokio::spawn(report(shared, stats_tx, stop_rx));
        Self {
            status,
            stats,
            stop,
            task: Some(task),
        }
    }

    /// The link's state.
    pub fn status(&self) -> watch::Receiver<PublishStatus> {
        self.status.clone()
    }

    /// One-second figures.
    pub fn stats(&self) -> watch::Receiver<PublishStats> {
        self.stats.clone()
    }

    /// Ends the session (WHIP `DELETE`) and waits for the link to close.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(3), task).await;
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Runs sessions back to back until stopped or refused for good.
async fn supervise(
    config: PublishConfig,
    mut inputs: Inputs,
    shared: Arc<Shared>,
    status: watch::Sender<PublishStatus>,
    mut stop: watch::Receiver<bool>,
) {
    let mut attempt = 1u32;
    let mut reconnects = 0u32;
    let mut ever_live = false;
    loop {
        status.send_modify(|s| {
            s.state = PublishState::Connecting;
            s.attempt = attempt;
            s.retry_in_ms = None;
        });
        let mut went_live = false;
        let result = link::run(&config, &mut inputs, &shared, &mut stop, || {
            went_live = true;
            if ever_live {
                reconnects += 1;
            }
            ever_live = true;
            status.send_modify(|s| {
                s.state = PublishState::Live;
                s.attempt = 0;
                s.error = None;
                s.reconnects = reconnects;
            });
        })
        .await;
        if went_live {
            attempt = 1;
        }
        let error = match result {
            Ok(()) => break,
            Err(e) if !e.is_retryable() => {
                tracing::warn!("publishing refused: {e}");
                status.send_modify(|s| {
                    s.state = PublishState::Failed;
                    s.error = Some(e.to_api());
                });
                // Keep draining so the encoders see an open, empty queue until stop.
                drain_until_stop(&mut inputs, &mut stop).await;
                return;
            }
            Err(e) => e,
        };
        tracing::info!("publish link lost (attempt {attempt}): {error}");
        let wait = backoff(attempt, rand::random::<f64>() * 0.4 - 0.2);
        status.send_modify(|s| {
            s.state = PublishState::Reconnecting;
            s.attempt = attempt;
            s.retry_in_ms = Some(wait.as_millis() as u32);
            s.error = Some(error.to_api());
        });
        let until = tokio::time::Instant::now() + wait;
        loop {
            tokio::select! {
                _ = stop.changed() => {
                    status.send_modify(|s| s.state = PublishState::Stopped);
                    return;
                }
                // Media that arrives while the link is down is stale by the time it is back.
                Some(_) = inputs.video.recv() => {}
                Some(_) = inputs.audio.recv() => {}
                _ = tokio::time::sleep_until(until) => break,
            }
        }
        attempt = attempt.saturating_add(1);
    }
    status.send_modify(|s| {
        s.state = PublishState::Stopped;
        s.retry_in_ms = None;
    });
}

async fn drain_until_stop(inputs: &mut Inputs, stop: &mut watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            Some(_) = inputs.video.recv() => {}
            Some(_) = inputs.audio.recv() => {}
        }
    }
}

/// Turns counters into one-second figures.
async fn report(
    shared: Arc<Shared>,
    stats: watch::Sender<PublishStats>,
    mut stop: watch::Receiver<bool>,
) {
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = (Instant::now(), 0u64, 0u64, 0u64, 0u64);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        let c = &shared.counters;
        let now = Instant::now();
        let (v, a, f, r) = (
            c.video_bytes.load(Relaxed),
            c.audio_bytes.load(Relaxed),
            c.frames_sent.load(Relaxed),
            shared.fec.repair_bytes.load(Relaxed),
        );
        let secs = now.duration_since(last.0).as_secs_f64().max(0.001);
        let kbps = |bytes: u64| bytes as f64 * 8.0 / 1000.0 / secs;
        let (video_kbps, audio_kbps) = (kbps(v - last.1), kbps(a - last.2));
        let fec_kbps = kbps(r.saturating_sub(last.4));
        let fps = (f - last.3) as f64 / secs;
        last = (now, v, a, f, r);
        let (width, height) = shared.video.size();
        let ctl = &shared.video;
        let optional = |x: u64, scale: f64| (x != u64::MAX).then_some(x as f64 / scale);
        stats.send_replace(PublishStats {
            at_s: now.duration_since(started).as_secs_f64(),
            // Payload rate plus ≈ 5 % for RTP/SRTP/UDP headers and RTCP.
            send_kbps: (video_kbps + audio_kbps + fec_kbps) * 1.05,
            video_kbps,
            audio_kbps,
            fec_kbps,
            estimate_kbps: c.estimate_bps.load(Relaxed) as f64 / 1000.0,
            fps,
            width,
            height,
            rtt_ms: optional(c.rtt_us.load(Relaxed), 1000.0),
            loss_percent: optional(c.wire_loss_permille.load(Relaxed), 10.0)
                .or(optional(c.loss_permille.load(Relaxed), 10.0)),
            nacks: (c.nacks_before.load(Relaxed) + c.nacks_live.load(Relaxed)) as u32,
            plis: c.plis.load(Relaxed) as u32,
            keyframes: ctl.keyframes.load(Relaxed) as u32,
            frames_skipped: (ctl.skipped.load(Relaxed) + ctl.dropped.load(Relaxed)) as u32,
            encode_ms: f64::from(ctl.encode_us.load(Relaxed)) / 1000.0,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_ceiling_with_bounded_jitter() {
        assert_eq!(backoff(1, 0.0), Duration::from_millis(250));
        assert_eq!(backoff(2, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(4, 0.0), Duration::from_secs(2));
        assert_eq!(backoff(9, 0.0), Duration::from_secs(5));
        assert_eq!(backoff(u32::MAX, 0.0), Duration::from_secs(5));
        assert_eq!(backoff(1, 0.9), Duration::from_millis(300));
        assert_eq!(backoff(1, -0.9), Duration::from_millis(200));
    }
}

//! Echo cancellation on the teacher's microphone while students are heard.
//!
//! The students on stage come out of the teacher's speakers and go back in through the
//! microphone, a few tens of milliseconds later and quieter; without cancellation every
//! student hears themselves. [`EchoCanceller`] is WebRTC's AEC3, the canceller Chrome
//! and Meet use, through `sonora`: a pure-Rust port of WebRTC's audio-processing module
//! (BSD-3). The C++ module itself (`webrtc-audio-processing`) would need meson, abseil
//! and a C++ toolchain on every developer's machine; the port needs nothing.
//!
//! The render side ([`EchoReference`], cloned into the speaker playout) hands every
//! 10 ms chunk it plays to a bounded queue; the capture side drains that queue before
//! each microphone chunk, so AEC3 always sees the far end before the echo of it. AEC3
//! estimates the acoustic and buffering delay itself (up to several hundred ms).
//!
//! Overflow policy: when the capture side stops draining (no class running), the
//! reference queue fills and further render chunks are dropped and counted; the next
//! drain starts from the newest chunks the queue still holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use sonora::config::{EchoCanceller as Aec3, HighPassFilter};
use sonora::{AudioProcessing, Config, StreamConfig};

use crate::{AUDIO_CHUNK, SAMPLE_RATE};

/// Render chunks waiting for the capture side: 500 ms.
const REFERENCE_QUEUE: usize = 50;

/// The speaker side of the canceller: what was just played.
#[derive(Debug, Clone)]
pub struct EchoReference {
    tx: SyncSender<Vec<f32>>,
    stats: Arc<EchoStats>,
}

impl EchoReference {
    /// Records 10 ms that went to the speaker. Never blocks.
    pub fn played(&self, samples: &[f32]) {
        match self.tx.try_send(samples.to_vec()) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.stats.reference_dropped.fetch_add(1, Relaxed);
            }
            // No capture side any more: nothing to cancel.
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

/// How the canceller is doing, readable from any thread.
#[derive(Debug, Default)]
pub struct EchoStats {
    /// Render chunks dropped because the capture side did not keep up.
    pub reference_dropped: AtomicU64,
    /// Microphone chunks processed with a far end present.
    pub cancelled_chunks: AtomicU64,
    /// AEC3's echo return loss enhancement in dB × 100 (`u64::MAX`: not measured yet).
    pub erle_centi_db: AtomicU64,
    /// AEC3's estimate of the speaker-to-microphone delay in ms (`u64::MAX`: none).
    pub delay_ms: AtomicU64,
}

/// The microphone side: removes what [`EchoReference`] played from each chunk.
pub struct EchoCanceller {
    apm: AudioProcessing,
    rx: Receiver<Vec<f32>>,
    stats: Arc<EchoStats>,
    /// The far end has played something since the canceller started.
    heard_far_end: bool,
    out: Vec<f32>,
    render_out: Vec<f32>,
    chunks: u64,
}

impl std::fmt::Debug for EchoCanceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EchoCanceller")
            .field("heard_far_end", &self.heard_far_end)
            .finish_non_exhaustive()
    }
}

/// A canceller and the reference that feeds it.
pub fn echo_canceller() -> (EchoReference, EchoCanceller) {
    let (tx, rx) = sync_channel(REFERENCE_QUEUE);
    let stats = Arc::new(EchoStats {
        erle_centi_db: AtomicU64::new(u64::MAX),
        delay_ms: AtomicU64::new(u64::MAX),
        ..EchoStats::default()
    });
    let config = Config {
        echo_canceller: Some(Aec3::default()),
        high_pass_filter: Some(HighPassFilter::default()),
        ..Default::default()
    };
    let stream = StreamConfig::new(SAMPLE_RATE, 1);
    let apm = AudioProcessing::builder()
        .config(config)
        .capture_config(stream)
        .render_config(stream)
        .build();
    (
        EchoReference {
            tx,
            stats: stats.clone(),
        },
        EchoCanceller {
            apm,
            rx,
            stats,
            heard_far_end: false,
            out: vec![0.0; AUDIO_CHUNK],
            render_out: vec![0.0; AUDIO_CHUNK],
            chunks: 0,
        },
    )
}

impl EchoCanceller {
    /// The canceller's figures.
    pub fn stats(&self) -> Arc<EchoStats> {
        self.stats.clone()
    }

    /// Cancels the echo in one 10 ms microphone chunk, in place. Until the speakers
    /// have played anything the chunk passes untouched (and costs nothing).
    pub fn process(&mut self, samples: &mut [f32]) {
        while let Ok(render) = self.rx.try_recv() {
            if render.len() != AUDIO_CHUNK {
                continue;
            }
            self.heard_far_end = true;
            // Render output is the input unchanged; AEC3 only analyses it.
            let _ = self
                .apm
                .process_render_f32(&[&render], &mut [&mut self.render_out]);
        }
        if !self.heard_far_end || samples.len() != AUDIO_CHUNK {
            return;
        }
        if self
            .apm
            .process_capture_f32(&[samples], &mut [&mut self.out])
            .is_ok()
        {
            samples.copy_from_slice(&self.out);
            self.stats.cancelled_chunks.fetch_add(1, Relaxed);
        }
        self.chunks += 1;
        if self.chunks.is_multiple_of(100) {
            let s = self.apm.statistics();
            if let Some(erle) = s.echo_return_loss_enhancement {
                self.stats
                    .erle_centi_db
                    .store((erle.max(0.0) * 100.0) as u64, Relaxed);
            }
            if let Some(d) = s.delay_ms {
                self.stats.delay_ms.store(d.max(0) as u64, Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A voice-like far end: noise bursts shaped at syllable rate.
    fn far_end(n: usize, seed: &mut u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                *seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (*seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                let env = ((i as f32 / 4800.0) * std::f32::consts::PI).sin().abs();
                0.5 * noise * env
            })
            .collect()
    }

    fn energy(s: &[f32]) -> f32 {
        s.iter().map(|x| x * x).sum::<f32>() / s.len() as f32
    }

    #[test]
    fn echo_of_the_far_end_is_removed_from_the_microphone() {
        let (reference, mut aec) = echo_canceller();
        let mut seed = 7;
        let far = far_end(48_000 * 6, &mut seed);
        // The room: the far end 25 ms later at −20 dB.
        let delay = 1_200;
        let (mut before, mut after) = (0.0, 0.0);
        for (i, chunk) in far.chunks(AUDIO_CHUNK).enumerate() {
            reference.played(chunk);
            let start = i * AUDIO_CHUNK;
            let mut mic: Vec<f32> = (start..start + AUDIO_CHUNK)
                .map(|t| t.checked_sub(delay).map_or(0.0, |t| far[t] * 0.1))
                .collect();
            let raw = energy(&mic);
            aec.process(&mut mic);
            // Judge the last two seconds, once AEC3 has converged.
            if start >= 48_000 * 4 {
                before += raw;
                after += energy(&mic);
            }
        }
        let erle_db = 10.0 * (before / after.max(1e-12)).log10();
        assert!(erle_db > 15.0, "only {erle_db:.1} dB of echo removed");
    }

    #[test]
    fn without_a_far_end_the_microphone_passes_untouched() {
        let (_reference, mut aec) = echo_canceller();
        let mut seed = 3;
        let voice = far_end(AUDIO_CHUNK, &mut seed);
        let mut mic = voice.clone();
        aec.process(&mut mic);
        assert_eq!(mic, voice);
    }

    #[test]
    fn a_reference_nobody_drains_is_bounded() {
        let (reference, aec) = echo_canceller();
        for _ in 0..REFERENCE_QUEUE + 7 {
            reference.played(&[0.1; AUDIO_CHUNK]);
        }
        assert_eq!(aec.stats.reference_dropped.load(Relaxed), 7);
    }
}

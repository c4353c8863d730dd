//! The microphone's path to the wire: noise suppression, then Opus.

use std::time::Duration;

use crate::{AUDIO_CHUNK, AudioChunk, EncodeError, SAMPLE_RATE};

/// Samples in one Opus packet: 20 ms at 48 kHz.
pub const OPUS_FRAME: usize = 960;
/// Opus packet duration.
pub const OPUS_FRAME_DURATION: Duration = Duration::from_millis(20);

/// One encoded audio packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedAudio {
    /// One Opus packet (RFC 6716), 20 ms.
    pub data: Vec<u8>,
    /// Capture time of its first sample on the session's media clock.
    pub captured_at: Duration,
}

/// Opus at 48 kHz mono, 20 ms frames, in-band FEC on, DTX off.
///
/// DTX stays off because a receiver that hears nothing cannot tell silence from a dead
/// microphone, and the relay's audio bridge (AAC for mini-programs) wants a steady clock.
/// In-band FEC spends a few kbit/s to carry a coarse copy of the previous frame: a
/// single lost packet is rebuilt by the receiver with no retransmission round trip.
pub struct OpusEncoder {
    inner: opus::Encoder,
    pending: Vec<f32>,
    pending_at: Duration,
    out: Vec<u8>,
    bitrate: u32,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder")
            .field("bitrate", &self.bitrate)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl OpusEncoder {
    /// A voice encoder at `bitrate_bps`.
    pub fn new(bitrate_bps: u32) -> Result<Self, EncodeError> {
        let init = |e: opus::Error| EncodeError::Init(format!("opus: {e}"));
        let mut inner =
            opus::Encoder::new(SAMPLE_RATE, opus::Channels::Mono, opus::Application::Voip)
                .map_err(init)?;
        inner
            .set_bitrate(opus::Bitrate::Bits(bitrate_bps as i32))
            .map_err(init)?;
        inner.set_inband_fec(true).map_err(init)?;
        // FEC is only emitted when the encoder expects loss; 10 % until receiver reports say.
        inner.set_packet_loss_perc(10).map_err(init)?;
        inner.set_dtx(false).map_err(init)?;
        inner.set_vbr(true).map_err(init)?;
        Ok(Self {
            inner,
            pending: Vec::with_capacity(OPUS_FRAME),
            pending_at: Duration::ZERO,
            out: vec![0; 1500],
            bitrate: bitrate_bps,
        })
    }

    /// Feeds one 10 ms chunk; every second chunk completes a 20 ms packet.
    pub fn push(&mut self, chunk: &AudioChunk) -> Result<Option<EncodedAudio>, EncodeError> {
        if self.pending.is_empty() {
            self.pending_at = chunk.captured_at;
        }
        let take = chunk.samples.len().min(AUDIO_CHUNK);
        self.pending.extend_from_slice(&chunk.samples[..take]);
        if self.pending.len() < OPUS_FRAME {
            return Ok(None);
        }
        let n = self
            .inner
            .encode_float(&self.pending[..OPUS_FRAME], &mut self.out)
            .map_err(|e| EncodeError::Frame(format!("opus: {e}")));
        self.pending.drain(..OPUS_FRAME);
        let at = self.pending_at;
        self.pending_at = chunk.captured_at;
        Ok(Some(EncodedAudio {
            data: self.out[..n?].to_vec(),
            captured_at: at,
        }))
    }

    /// Changes the bitrate from the next packet on.
    pub fn set_bitrate(&mut self, bps: u32) -> Result<(), EncodeError> {
        if bps != self.bitrate {
            self.inner
                .set_bitrate(opus::Bitrate::Bits(bps as i32))
                .map_err(|e| EncodeError::Frame(format!("opus: {e}")))?;
            self.bitrate = bps;
        }
        Ok(())
    }

    /// Tells the encoder the loss receivers report (0–100), which sizes its FEC.
    pub fn set_expected_loss(&mut self, percent: u8) -> Result<(), EncodeError> {
        self.inner
            .set_packet_loss_perc(i32::from(percent.min(100)))
            .map_err(|e| EncodeError::Frame(format!("opus: {e}")))
    }
}

/// Removes steady background noise (fans, traffic, keyboard hiss) from the microphone.
///
/// nnnoiseless is a pure-Rust port of Xiph's RNNoise: a small recurrent network that
/// works on exactly our 10 ms frames at 48 kHz, costs well under 1 % of a core, needs no
/// C toolchain, and is BSD-3 licensed. It runs after echo cancellation (see
/// [`crate::EchoCanceller`]), as in WebRTC's own capture chain.
pub struct NoiseSuppressor {
    state: Box<nnnoiseless::DenoiseState<'static>>,
    scaled: Vec<f32>,
    out: Vec<f32>,
    warmed_up: bool,
}

impl std::fmt::Debug for NoiseSuppressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoiseSuppressor").finish_non_exhaustive()
    }
}

impl Default for NoiseSuppressor {
    fn default() -> Self {
        Self::new()
    }
}

impl NoiseSuppressor {
    /// A suppressor with RNNoise's built-in model.
    pub fn new() -> Self {
        Self {
            state: nnnoiseless::DenoiseState::new(),
            scaled: vec![0.0; nnnoiseless::DenoiseState::FRAME_SIZE],
            out: vec![0.0; nnnoiseless::DenoiseState::FRAME_SIZE],
            warmed_up: false,
        }
    }

    /// Denoises one 10 ms chunk in place and returns RNNoise's voice probability (0–1).
    pub fn process(&mut self, samples: &mut [f32]) -> f32 {
        if samples.len() != nnnoiseless::DenoiseState::FRAME_SIZE {
            return 1.0;
        }
        // RNNoise works on 16-bit sample magnitudes.
        for (s, x) in self.scaled.iter_mut().zip(samples.iter()) {
            *s = x * 32_768.0;
        }
        let voice = self.state.process_frame(&mut self.out, &self.scaled);
        if self.warmed_up {
            for (x, o) in samples.iter_mut().zip(&self.out) {
                *x = (o / 32_768.0).clamp(-1.0, 1.0);
            }
        } else {
            // The first output frame fades in from the model's zero state; pass the input
            // through rather than send a click.
            self.warmed_up = true;
        }
        voice
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(seq: u64, mut f: impl FnMut(usize) -> f32) -> AudioChunk {
        AudioChunk {
            seq,
            captured_at: Duration::from_millis(seq * 10),
            samples: (0..AUDIO_CHUNK)
                .map(|i| f(seq as usize * AUDIO_CHUNK + i))
                .collect(),
        }
    }

    fn tone(i: usize) -> f32 {
        0.3 * (i as f32 * 440.0 * std::f32::consts::TAU / 48_000.0).sin()
    }

    #[test]
    fn two_chunks_make_one_20ms_packet_that_decodes() {
        let mut enc = OpusEncoder::new(32_000).unwrap();
        let mut dec = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
        let mut packets = Vec::new();
        for seq in 0..100 {
            if let Some(p) = enc.push(&chunk(seq, tone)).unwrap() {
                packets.push(p);
            }
        }
        assert_eq!(packets.len(), 50);
        assert_eq!(packets[1].captured_at, Duration::from_millis(20));
        let mut pcm = vec![0f32; OPUS_FRAME];
        let mut energy = 0.0;
        for p in &packets {
            assert_eq!(
                opus::packet::get_nb_samples(&p.data, 48_000).unwrap(),
                OPUS_FRAME
            );
            let n = dec.decode_float(&p.data, &mut pcm, false).unwrap();
            energy += pcm[..n].iter().map(|x| x * x).sum::<f32>();
        }
        let rms = (energy / (50 * OPUS_FRAME) as f32).sqrt();
        assert!((0.15..0.3).contains(&rms), "decoded RMS {rms}, sent ≈ 0.21");
    }

    #[test]
    fn a_lost_packet_is_rebuilt_from_the_next_ones_fec() {
        let mut enc = OpusEncoder::new(32_000).unwrap();
        enc.set_expected_loss(20).unwrap();
        let packets: Vec<_> = (0..60)
            .filter_map(|s| enc.push(&chunk(s, tone)).unwrap())
            .collect();
        let mut dec = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
        let mut pcm = vec![0f32; OPUS_FRAME];
        for p in &packets[..20] {
            dec.decode_float(&p.data, &mut pcm, false).unwrap();
        }
        // Packet 20 is lost: decode it from packet 21's FEC data.
        let n = dec.decode_float(&packets[21].data, &mut pcm, true).unwrap();
        let rms = (pcm[..n].iter().map(|x| x * x).sum::<f32>() / n as f32).sqrt();
        assert!(rms > 0.1, "FEC rebuilt RMS {rms}");
    }

    #[test]
    fn steady_white_noise_loses_most_of_its_energy() {
        let mut ns = NoiseSuppressor::new();
        let mut seed = 7u32;
        let mut noise = move |_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed as f32 / u32::MAX as f32 - 0.5) * 0.1
        };
        let (mut before, mut after) = (0.0, 0.0);
        for seq in 0..300 {
            let mut c = chunk(seq, &mut noise);
            let e0: f32 = c.samples.iter().map(|x| x * x).sum();
            ns.process(&mut c.samples);
            if seq >= 100 {
                before += e0;
                after += c.samples.iter().map(|x| x * x).sum::<f32>();
            }
        }
        assert!(
            after < before / 10.0,
            "white noise energy {before} → {after}"
        );
    }
}

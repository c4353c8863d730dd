//! Opus (WebRTC) → AAC-LC (FLV), once per source.
//!
//! libopus decodes (with its packet-loss concealment for a lost packet); syom, a pure
//! Rust AAC-LC encoder (MIT, no C), encodes 1024-sample frames of 48 kHz mono. The AAC
//! timeline counts samples from the first packet and follows the RTP clock: a hole in
//! the timestamps (a lost packet, DTX) is filled with concealment or silence, so the
//! audio never drifts from the video and nothing is dropped at the start.
//!
//! Why syom: it is the only maintained, licence-clean AAC encoder we found with a push
//! (streaming) interface — fdk-aac's licence is not open-source compatible, libxaac
//! needs a C toolchain per platform, and rusty_aac (Apache-2.0) only encodes a whole
//! stream at once. Its output is checked with ffmpeg's decoder in the relay tests.

use bytes::Bytes;

use super::sync::AUDIO_RATE;

/// Samples per AAC-LC frame.
pub const AAC_FRAME: usize = 1024;
/// AAC bitrate: speech and the odd piece of music, mono.
pub const AAC_BITRATE: u32 = 64_000;
/// Longest hole filled by concealment; longer ones are silence.
const MAX_CONCEAL: i64 = 4_800; // 100 ms
/// A hole longer than this restarts the timeline (the publisher paused its track).
const MAX_FILL: i64 = 48_000 * 5;
/// Opus' longest frame: 120 ms.
const MAX_OPUS_FRAME: usize = 5_760;

/// Why a packet could not be transcoded. The stream carries on with the next packet.
#[derive(Debug, thiserror::Error)]
pub enum TranscodeError {
    #[error("opus: {0}")]
    Opus(#[from] opus::Error),
    #[error("aac: {0}")]
    Aac(#[from] syom::AacError),
}

/// One AAC access unit and where it plays on the source's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AacFrame {
    /// Microseconds on the source's [`super::sync::LipSync`] timeline. The first
    /// frames can lie slightly before zero: the encoder's priming is accounted for.
    pub at_us: i64,
    /// A raw AAC access unit (no ADTS header).
    pub data: Bytes,
}

/// The transcoder of one source.
pub struct OpusToAac {
    decoder: opus::Decoder,
    encoder: syom::Encoder,
    pcm: Vec<f32>,
    /// The extended RTP timestamp expected next, and the wrap-free reference.
    expected: Option<i64>,
    last_ts: Option<(u32, i64)>,
    /// Timeline position of the first sample fed to the encoder since the last restart.
    base_us: i64,
    frames_out: u64,
    /// Samples fed to the encoder so far.
    samples_fed: i64,
    priming: i64,
    /// Packets that failed to decode.
    pub errors: u64,
}

impl std::fmt::Debug for OpusToAac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusToAac")
            .field("expected", &self.expected)
            .field("frames_out", &self.frames_out)
            .finish_non_exhaustive()
    }
}

impl OpusToAac {
    /// A transcoder to 48 kHz mono AAC-LC.
    pub fn new() -> Result<Self, TranscodeError> {
        let options = syom::EncodeOptions::raw().with_bitrate_bps(AAC_BITRATE);
        Ok(Self {
            decoder: opus::Decoder::new(AUDIO_RATE, opus::Channels::Mono)?,
            encoder: syom::Encoder::new(AUDIO_RATE, 1, &options)?,
            pcm: vec![0.0; MAX_OPUS_FRAME],
            expected: None,
            last_ts: None,
            base_us: 0,
            frames_out: 0,
            samples_fed: 0,
            priming: AAC_FRAME as i64,
            errors: 0,
        })
    }

    /// The AudioSpecificConfig of the output (the FLV AAC sequence header).
    pub fn audio_specific_config(&self) -> &[u8] {
        self.encoder.asc()
    }

    /// Takes one Opus packet: its RTP timestamp and where it lies on the timeline
    /// (µs). Returns the AAC frames completed by it.
    pub fn push(&mut self, rtp_ts: u32, at_us: i64, payload: &[u8]) -> Vec<AacFrame> {
        let ext = match self.last_ts {
            None => i64::from(rtp_ts),
            Some((prev, ext)) => ext + i64::from(rtp_ts.wrapping_sub(prev) as i32),
        };
        if self.last_ts.is_none_or(|(_, e)| ext > e) {
            self.last_ts = Some((rtp_ts, ext));
        }
        let mut out = Vec::new();
        match self.expected {
            Some(exp) if ext < exp => return out, // late or duplicate: already concealed
            Some(exp) if ext - exp > MAX_FILL => self.restart(at_us),
            Some(exp) if ext > exp => self.fill(ext - exp, &mut out),
            Some(_) => {}
            None => self.restart(at_us),
        }
        let n = match self.decoder.decode_float(payload, &mut self.pcm, false) {
            Ok(n) => n,
            Err(_) => {
                // A corrupt packet: conceal its duration if we can tell it, else 20 ms.
                self.errors += 1;
                let n = opus::packet::get_nb_samples(payload, AUDIO_RATE)
                    .unwrap_or(960)
                    .min(MAX_OPUS_FRAME);
                self.conceal(n as i64, &mut out);
                self.expected = Some(ext + n as i64);
                return out;
            }
        };
        self.encode(n, &mut out);
        self.expected = Some(ext + n as i64);
        out
    }

    /// The next sample fed lies at `at_us`. The encoder keeps its state (its overlap
    /// and the few samples it holds) across a restart: only the timeline moves.
    fn restart(&mut self, at_us: i64) {
        self.base_us = at_us - self.samples_fed * 1_000_000 / i64::from(AUDIO_RATE);
    }

    fn fill(&mut self, mut samples: i64, out: &mut Vec<AacFrame>) {
        let concealed = samples.min(MAX_CONCEAL);
        self.conceal(concealed, out);
        samples -= concealed;
        while samples > 0 {
            let n = samples.min(MAX_OPUS_FRAME as i64) as usize;
            self.pcm[..n].fill(0.0);
            self.encode(n, out);
            samples -= n as i64;
        }
    }

    fn conceal(&mut self, mut samples: i64, out: &mut Vec<AacFrame>) {
        while samples > 0 {
            // libopus conceals in multiples of 2.5 ms; ask for 20 ms at most.
            let n = samples.min(960) as usize;
            let got = self
                .decoder
                .decode_float(&[], &mut self.pcm[..n], false)
                .unwrap_or_else(|_| {
                    self.pcm[..n].fill(0.0);
                    n
                });
            self.encode(got.max(1).min(n), out);
            samples -= got.max(1).min(n) as i64;
        }
    }

    fn encode(&mut self, n: usize, out: &mut Vec<AacFrame>) {
        for s in &mut self.pcm[..n] {
            // syom refuses samples outside [-1, 1] (a hot Opus decode can overshoot).
            *s = if s.is_finite() {
                s.clamp(-1.0, 1.0)
            } else {
                0.0
            };
        }
        self.samples_fed += n as i64;
        let (base, priming) = (self.base_us, self.priming);
        let frames_out = &mut self.frames_out;
        let result = self.encoder.feed(&[&self.pcm[..n]], |f| {
            let first_sample = *frames_out as i64 * AAC_FRAME as i64 - priming;
            out.push(AacFrame {
                at_us: base + first_sample * 1_000_000 / i64::from(AUDIO_RATE),
                data: Bytes::copy_from_slice(f.payload),
            });
            *frames_out += 1;
            Ok(())
        });
        if result.is_err() {
            // A failed encoder stays failed: start a fresh one on the same timeline.
            self.errors += 1;
            self.encoder.reset().ok();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opus_packets(seconds: f32) -> Vec<Vec<u8>> {
        let mut enc =
            opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
        let total = (seconds * 48_000.0) as usize;
        let tone: Vec<f32> = (0..total)
            .map(|i| 0.3 * (i as f32 * 440.0 * std::f32::consts::TAU / 48_000.0).sin())
            .collect();
        tone.chunks_exact(960)
            .map(|c| enc.encode_vec_float(c, 4000).unwrap())
            .collect()
    }

    #[test]
    fn one_aac_frame_per_1024_samples_on_the_rtp_timeline() {
        let mut t = OpusToAac::new().unwrap();
        assert_eq!(
            t.audio_specific_config(),
            &[0x11, 0x88],
            "AAC-LC 48 kHz mono"
        );
        let mut frames = Vec::new();
        for (i, p) in opus_packets(1.0).iter().enumerate() {
            let ts = 1_000u32.wrapping_add(960 * i as u32);
            frames.extend(t.push(ts, 500_000 + i as i64 * 20_000, p));
        }
        // 48 000 samples in: 46 full frames, the first one covering the priming.
        assert_eq!(frames.len(), 46);
        assert_eq!(frames[0].at_us, 500_000 - 21_333);
        assert_eq!(frames[1].at_us, 500_000);
        let step = frames[11].at_us - frames[10].at_us;
        assert_eq!(step, 21_333);
        assert!(frames.iter().all(|f| !f.data.is_empty()));
    }

    #[test]
    fn holes_are_filled_so_the_timeline_never_drifts() {
        let mut t = OpusToAac::new().unwrap();
        let packets = opus_packets(2.0);
        let mut frames = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            // Lose every fifth packet and a 300 ms stretch.
            if i % 5 == 3 || (40..55).contains(&i) {
                continue;
            }
            frames.extend(t.push(960 * i as u32, i as i64 * 20_000, p));
        }
        // The last packet ends at 100 × 960 samples: every sample up to it was encoded.
        let encoded = frames.len() * AAC_FRAME;
        assert!(
            encoded + AAC_FRAME > 96_000 && encoded <= 96_000 + AAC_FRAME,
            "{encoded}"
        );
        // Consecutive frames are exactly one frame apart.
        assert!(
            frames
                .windows(2)
                .all(|w| w[1].at_us - w[0].at_us >= 21_333 && w[1].at_us - w[0].at_us <= 21_334)
        );
    }

    #[test]
    fn garbage_packets_are_concealed_not_fatal() {
        let mut t = OpusToAac::new().unwrap();
        let packets = opus_packets(0.5);
        let mut n = 0;
        for (i, p) in packets.iter().enumerate() {
            let payload: &[u8] = if i == 7 { &[0xff, 0xff, 0xff] } else { p };
            n += t.push(960 * i as u32, i as i64 * 20_000, payload).len();
        }
        assert!(t.errors >= 1);
        assert_eq!(n, 25 * 960 / AAC_FRAME);
    }
}

//! AAC-LC (FLV, from a mini-program's `live-pusher`) → Opus (WebRTC), once per source.
//!
//! syom decodes the raw access units with the stream's AudioSpecificConfig; stereo is
//! mixed down to mono (Opus at speech rates, as the console sends); a rate other than
//! 48 kHz (`live-pusher` uses 48 or 16 kHz) is resampled by rubato's FFT resampler;
//! libopus encodes 20 ms packets. Packet timestamps are on a 48 kHz clock counted from
//! the first sample, re-anchored to the FLV timestamps when the pusher's audio jumps (a
//! gap, a republish), so the audio stays where the pusher put it relative to video.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

/// Opus sample rate and frame.
const RATE: u32 = 48_000;
const FRAME: usize = 960;
/// Opus bitrate for a voice on stage.
pub const OPUS_BITRATE: i32 = 32_000;
/// A jump between the FLV timeline and the samples decoded so far beyond this moves
/// the RTP clock to the FLV one (a gap in the pusher's audio, a republish).
const RESYNC_MS: i64 = 200;

/// Why a stream cannot be transcoded.
#[derive(Debug, thiserror::Error)]
pub enum AacToOpusError {
    #[error("AAC: {0}")]
    Aac(#[from] syom::AacError),
    #[error("opus: {0}")]
    Opus(#[from] opus::Error),
    #[error("resampler: {0}")]
    Resampler(String),
    #[error("unsupported AudioSpecificConfig")]
    Config,
}

/// One Opus packet and its RTP timestamp (48 kHz).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusPacket {
    pub rtp_timestamp: u32,
    pub data: Vec<u8>,
}

/// The transcoder of one source.
pub struct AacToOpus {
    asc: Vec<u8>,
    decoder: syom::Decoder,
    resampler: Option<(Fft<f32>, usize)>,
    encoder: opus::Encoder,
    /// Mono samples at the input rate waiting for the resampler.
    input: Vec<f32>,
    /// Mono 48 kHz samples waiting for a whole Opus frame.
    pcm: Vec<f32>,
    /// 48 kHz samples encoded so far, and the FLV time (ms) of the first.
    encoded: i64,
    origin_ms: Option<i64>,
    /// Access units that failed to decode.
    pub errors: u64,
}

impl std::fmt::Debug for AacToOpus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AacToOpus")
            .field("asc", &self.asc)
            .field("encoded", &self.encoded)
            .finish_non_exhaustive()
    }
}

impl AacToOpus {
    /// A transcoder for the stream described by `asc` (the FLV AAC sequence header).
    pub fn new(asc: &[u8]) -> Result<Self, AacToOpusError> {
        let config =
            crate::flv::AudioSpecificConfig::parse(asc).map_err(|_| AacToOpusError::Config)?;
        let rate = config.sample_rate;
        let resampler = if rate == RATE {
            None
        } else {
            // 20 ms of input per call.
            let chunk = (rate / 50) as usize;
            let fft = Fft::<f32>::new(rate as usize, RATE as usize, chunk, 1, FixedSync::Input)
                .map_err(|e| AacToOpusError::Resampler(e.to_string()))?;
            Some((fft, chunk))
        };
        let mut encoder = opus::Encoder::new(RATE, opus::Channels::Mono, opus::Application::Voip)?;
        encoder.set_bitrate(opus::Bitrate::Bits(OPUS_BITRATE))?;
        encoder.set_inband_fec(true)?;
        Ok(Self {
            asc: asc.to_vec(),
            decoder: syom::Decoder::from_asc(asc, syom::DecodeOptions::speech())?,
            resampler,
            encoder,
            input: Vec::new(),
            pcm: Vec::new(),
            encoded: 0,
            origin_ms: None,
            errors: 0,
        })
    }

    /// The config this transcoder was made for.
    pub fn asc(&self) -> &[u8] {
        &self.asc
    }

    /// One raw AAC access unit at FLV time `ms`; returns the Opus packets it completes.
    pub fn push(&mut self, ms: i64, au: &[u8]) -> Vec<OpusPacket> {
        let origin = *self.origin_ms.get_or_insert(ms);
        // Where this unit should start on the 48 kHz clock, and where we are.
        let due = (ms - origin) * i64::from(RATE) / 1000;
        let have = self.encoded + self.pcm.len() as i64 + self.pending_input_48k();
        if (due - have).abs() > RESYNC_MS * i64::from(RATE) / 1000 {
            // Re-anchor: the clock continues from where the FLV timestamps say.
            self.origin_ms = Some(ms - have * 1000 / i64::from(RATE));
        }
        let input = &mut self.input;
        let decoded = self.decoder.decode_au(au, |f| {
            let planes = f.planar;
            let n = f.samples;
            let scale = 1.0 / planes.len().max(1) as f32;
            input.extend((0..n).map(|i| planes.iter().map(|p| p[i]).sum::<f32>() * scale));
            Ok(())
        });
        if decoded.is_err() {
            self.errors += 1;
            // A failed decoder stays failed: start it again on the same config.
            self.decoder.reset();
            if self.decoder.set_asc(&self.asc).is_err() {
                return Vec::new();
            }
        }
        self.resample();
        self.encode()
    }

    fn pending_input_48k(&self) -> i64 {
        match &self.resampler {
            None => self.input.len() as i64,
            Some((_, chunk)) => self.input.len() as i64 * i64::from(RATE) / (*chunk as i64 * 50),
        }
    }

    fn resample(&mut self) {
        let Some((fft, chunk)) = &mut self.resampler else {
            self.pcm.append(&mut self.input);
            return;
        };
        let mut out = vec![0.0f32; fft.output_frames_max()];
        while self.input.len() >= *chunk {
            let frames_out = fft.output_frames_next();
            let (Ok(src), Ok(mut dst)) = (
                InterleavedSlice::new(&self.input[..*chunk], 1, *chunk),
                InterleavedSlice::new_mut(&mut out[..frames_out], 1, frames_out),
            ) else {
                self.input.clear();
                return;
            };
            match fft.process_into_buffer(&src, &mut dst, None) {
                Ok((_, n)) => self.pcm.extend_from_slice(&out[..n]),
                Err(_) => self.errors += 1,
            }
            self.input.drain(..*chunk);
        }
    }

    fn encode(&mut self) -> Vec<OpusPacket> {
        let mut packets = Vec::new();
        let origin = self.origin_ms.unwrap_or(0);
        while self.pcm.len() >= FRAME {
            let rtp = (origin * i64::from(RATE) / 1000 + self.encoded) as u32;
            match self.encoder.encode_vec_float(&self.pcm[..FRAME], 1500) {
                Ok(data) => packets.push(OpusPacket {
                    rtp_timestamp: rtp,
                    data,
                }),
                Err(_) => self.errors += 1,
            }
            self.pcm.drain(..FRAME);
            self.encoded += FRAME as i64;
        }
        packets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One second of a 440 Hz tone at `rate`, as AAC-LC access units (syom's encoder).
    fn aac(rate: u32, channels: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
        let mut enc = syom::Encoder::new(
            rate,
            channels,
            &syom::EncodeOptions::raw().with_bitrate_bps(64_000),
        )
        .unwrap();
        let tone: Vec<f32> = (0..rate)
            .map(|i| 0.3 * (i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin())
            .collect();
        let planes: Vec<&[f32]> = (0..channels).map(|_| &tone[..]).collect();
        let mut aus = Vec::new();
        enc.feed(&planes, |f| {
            aus.push(f.payload.to_vec());
            Ok(())
        })
        .unwrap();
        (enc.asc().to_vec(), aus)
    }

    fn transcode(rate: u32, channels: usize) -> (Vec<OpusPacket>, f32) {
        let (asc, aus) = aac(rate, channels);
        let mut t = AacToOpus::new(&asc).unwrap();
        let mut packets = Vec::new();
        for (i, au) in aus.iter().enumerate() {
            packets.extend(t.push(1000 + i as i64 * 1024 * 1000 / i64::from(rate), au));
        }
        assert_eq!(t.errors, 0);
        // Decode the Opus back and measure the level of the tone.
        let mut dec = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
        let mut pcm = vec![0.0f32; 960];
        let mut energy = 0.0;
        let mut n = 0;
        for p in &packets[10..] {
            let got = dec.decode_float(&p.data, &mut pcm, false).unwrap();
            energy += pcm[..got].iter().map(|s| s * s).sum::<f32>();
            n += got;
        }
        (packets, (energy / n as f32).sqrt())
    }

    #[test]
    fn a_48_khz_mono_pusher_becomes_20_ms_opus_on_a_steady_clock() {
        let (packets, rms) = transcode(48_000, 1);
        // 46 AAC frames of 1024 = 47,104 samples → 49 Opus packets.
        assert_eq!(packets.len(), 49);
        assert_eq!(packets[0].rtp_timestamp, 48_000);
        assert!(
            packets
                .windows(2)
                .all(|w| w[1].rtp_timestamp - w[0].rtp_timestamp == 960)
        );
        assert!(rms > 0.1, "tone level after AAC → Opus: {rms}");
    }

    #[test]
    fn a_16_khz_stereo_pusher_is_resampled_and_mixed_down() {
        let (packets, rms) = transcode(16_000, 2);
        // 15 AAC frames of 1024 at 16 kHz = 0.96 s → about 46 packets at 48 kHz.
        assert!((44..=48).contains(&packets.len()), "{}", packets.len());
        assert!(rms > 0.1, "tone level after resampling: {rms}");
    }

    #[test]
    fn garbage_units_are_counted_and_the_stream_goes_on() {
        let (asc, aus) = aac(48_000, 1);
        let mut t = AacToOpus::new(&asc).unwrap();
        let mut packets = 0;
        for (i, au) in aus.iter().enumerate() {
            let au: &[u8] = if i == 5 { &[] } else { au };
            packets += t.push(i as i64 * 21, au).len();
        }
        assert!(t.errors >= 1);
        assert!(packets > 40);
        assert!(
            AacToOpus::new(&[0xff]).is_err(),
            "a config that lies is refused"
        );
    }
}

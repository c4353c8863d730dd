//! The students' media on the teacher's console: H.264 pictures and Opus packets back
//! to frames and samples.

use openh264::decoder::Decoder;
use openh264::formats::YUVSource;

use crate::{AUDIO_CHUNK, DecodeError, SAMPLE_RATE, VideoFrame};

/// H.264 (Annex B) to I420 frames, through openh264 (the same library that encodes).
pub struct H264Decoder {
    inner: Decoder,
    decoded: u64,
}

impl std::fmt::Debug for H264Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H264Decoder")
            .field("decoded", &self.decoded)
            .finish_non_exhaustive()
    }
}

impl H264Decoder {
    pub fn new() -> Result<Self, DecodeError> {
        Ok(Self {
            inner: Decoder::new().map_err(|e| DecodeError::Init(format!("openh264: {e}")))?,
            decoded: 0,
        })
    }

    /// Decodes one access unit (NAL units with start codes). `None` when the decoder
    /// needs more before it shows a picture. The frame's `seq` counts decoded pictures.
    pub fn decode(&mut self, annex_b: &[u8]) -> Result<Option<VideoFrame>, DecodeError> {
        let Some(yuv) = self
            .inner
            .decode(annex_b)
            .map_err(|e| DecodeError::Corrupt(format!("openh264: {e}")))?
        else {
            return Ok(None);
        };
        let (w, h) = yuv.dimensions();
        let (w, h) = (w & !1, h & !1);
        if w == 0 || h == 0 {
            return Ok(None);
        }
        let (sy, su, sv) = yuv.strides();
        let mut data = Vec::with_capacity(w * h * 3 / 2);
        let mut plane = |src: &[u8], stride: usize, width: usize, rows: usize| {
            for r in 0..rows {
                data.extend_from_slice(&src[r * stride..r * stride + width]);
            }
        };
        plane(yuv.y(), sy, w, h);
        plane(yuv.u(), su, w / 2, h / 2);
        plane(yuv.v(), sv, w / 2, h / 2);
        let frame = VideoFrame {
            width: w as u32,
            height: h as u32,
            seq: self.decoded,
            captured_at: std::time::Duration::ZERO,
            data,
        };
        self.decoded += 1;
        Ok(Some(frame))
    }
}

/// Opus packets (any mode the browser or the relay sends) to mono 48 kHz samples.
pub struct OpusDecoder {
    inner: opus::Decoder,
    out: Vec<f32>,
    /// Samples in the last good packet: what a lost one is concealed as.
    last_len: usize,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder").finish_non_exhaustive()
    }
}

/// The longest Opus packet: 120 ms.
const MAX_OPUS_SAMPLES: usize = SAMPLE_RATE as usize * 120 / 1000;

impl OpusDecoder {
    pub fn new() -> Result<Self, DecodeError> {
        Ok(Self {
            inner: opus::Decoder::new(SAMPLE_RATE, opus::Channels::Mono)
                .map_err(|e| DecodeError::Init(format!("opus: {e}")))?,
            out: vec![0.0; MAX_OPUS_SAMPLES],
            last_len: 2 * AUDIO_CHUNK,
        })
    }

    /// Decodes one packet.
    pub fn decode(&mut self, packet: &[u8]) -> Result<&[f32], DecodeError> {
        let n = self
            .inner
            .decode_float(packet, &mut self.out, false)
            .map_err(|e| DecodeError::Corrupt(format!("opus: {e}")))?;
        self.last_len = n;
        Ok(&self.out[..n])
    }

    /// Stands in for one lost packet. With `next` (the packet after the loss) its in-band
    /// FEC rebuilds the lost audio; without it, Opus conceals (extrapolates) it.
    pub fn conceal(&mut self, next: Option<&[u8]>) -> Result<&[f32], DecodeError> {
        let len = self.last_len.min(MAX_OPUS_SAMPLES);
        let n = match next {
            Some(p) => self.inner.decode_float(p, &mut self.out[..len], true),
            None => self.inner.decode_float(&[], &mut self.out[..len], false),
        }
        .map_err(|e| DecodeError::Corrupt(format!("opus: {e}")))?;
        Ok(&self.out[..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{paint, read_barcode};
    use crate::{H264Encoder, OpusEncoder, VideoEncoder};
    use std::time::Duration;

    #[test]
    fn encoded_pictures_decode_with_their_barcode() {
        let mut encoder = H264Encoder::new(800_000, 30.0).unwrap();
        let mut decoder = H264Decoder::new().unwrap();
        let mut read = Vec::new();
        for seq in 0..5 {
            let mut frame = VideoFrame::grey(640, 360);
            paint(&mut frame, seq, seq * 33_000);
            let Some(encoded) = encoder.encode(&frame).unwrap() else {
                continue;
            };
            if let Some(picture) = decoder.decode(&encoded.data).unwrap() {
                assert_eq!((picture.width, picture.height), (640, 360));
                read.push(read_barcode(picture.y(), 640, 360).map(|b| b.0));
            }
        }
        assert_eq!(read, vec![Some(0), Some(1), Some(2), Some(3), Some(4)]);
    }

    #[test]
    fn garbage_is_an_error_or_nothing_never_a_panic() {
        let mut decoder = H264Decoder::new().unwrap();
        for junk in [&[0u8, 0, 0, 1, 0x65, 0xff, 0x00][..], &[1, 2, 3], &[]] {
            let _ = decoder.decode(junk);
        }
    }

    #[test]
    fn opus_round_trip_and_concealment_keep_the_clock() {
        let mut enc = OpusEncoder::new(32_000).unwrap();
        let mut dec = OpusDecoder::new().unwrap();
        let mut packets = Vec::new();
        for seq in 0..10 {
            let samples = (0..AUDIO_CHUNK)
                .map(|i| {
                    let t = (seq as usize * AUDIO_CHUNK + i) as f32 / SAMPLE_RATE as f32;
                    0.3 * (std::f32::consts::TAU * 440.0 * t).sin()
                })
                .collect();
            let chunk = crate::AudioChunk {
                seq,
                captured_at: Duration::ZERO,
                samples,
            };
            packets.extend(enc.push(&chunk).unwrap());
        }
        assert_eq!(packets.len(), 5);
        assert_eq!(dec.decode(&packets[0].data).unwrap().len(), 960);
        assert_eq!(dec.conceal(Some(&packets[2].data)).unwrap().len(), 960);
        assert_eq!(dec.decode(&packets[2].data).unwrap().len(), 960);
        assert_eq!(dec.conceal(None).unwrap().len(), 960);
    }
}

//! The payloads FLV and RTMP carry for the codecs we bridge: the video tag header with
//! its signed composition time, the AVC sequence header (AVCDecoderConfigurationRecord,
//! ISO/IEC 14496-15) from SPS/PPS and back, AVCC ↔ Annex-B NAL unit framing, and the AAC
//! audio tag with its AudioSpecificConfig (ISO/IEC 14496-3).

use bytes::{BufMut, Bytes, BytesMut};

use super::FlvError;
// ---- video ----------------------------------------------------------------------------

/// CodecID 7 in the video tag header.
pub const CODEC_AVC: u8 = 7;
/// AVCPacketType 0: the AVCDecoderConfigurationRecord.
pub const AVC_SEQUENCE_HEADER: u8 = 0;
/// AVCPacketType 1: NAL units.
pub const AVC_NALU: u8 = 1;
/// AVCPacketType 2: end of sequence.
pub const AVC_END_OF_SEQUENCE: u8 = 2;

/// The header of an AVC video tag body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoHeader {
    /// 1 keyframe, 2 inter frame (3–5 rarely seen).
    pub frame_type: u8,
    /// [`AVC_SEQUENCE_HEADER`], [`AVC_NALU`] or [`AVC_END_OF_SEQUENCE`].
    pub packet_type: u8,
    /// Presentation minus decode time in ms (SI24): non-zero with B-frames.
    pub composition_time: i32,
}

impl VideoHeader {
    /// Reads the 5-byte header of an AVC video tag body; returns it and the rest.
    pub fn parse(data: &[u8]) -> Result<(Self, &[u8]), FlvError> {
        let h = data.get(..5).ok_or(FlvError::Truncated("AVC video tag"))?;
        if h[0] & 0x0f != CODEC_AVC {
            return Err(FlvError::Unsupported("video codec other than AVC"));
        }
        // Sign-extend the 24-bit composition time.
        let composition_time = i32::from_be_bytes([h[2], h[3], h[4], 0]) >> 8;
        Ok((
            Self {
                frame_type: h[0] >> 4,
                packet_type: h[1],
                composition_time,
            },
            &data[5..],
        ))
    }

    /// Writes the header, then `payload`. A composition time outside ±2²³ ms is clamped.
    pub fn body(&self, payload: &[u8]) -> Bytes {
        let mut out = BytesMut::with_capacity(5 + payload.len());
        out.put_u8(self.frame_type << 4 | CODEC_AVC);
        out.put_u8(self.packet_type);
        let cts = self.composition_time.clamp(-(1 << 23), (1 << 23) - 1);
        out.put_slice(&cts.to_be_bytes()[1..]);
        out.put_slice(payload);
        out.freeze()
    }
}

/// The AVCDecoderConfigurationRecord: what an AVC sequence header carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcConfig {
    /// profile_idc of the SPS.
    pub profile: u8,
    /// The constraint flags byte of the SPS.
    pub compatibility: u8,
    /// level_idc of the SPS.
    pub level: u8,
    /// Bytes in each NAL unit length prefix (1, 2 or 4; everyone uses 4).
    pub length_size: u8,
    /// Sequence parameter sets, without start codes.
    pub sps: Vec<Bytes>,
    /// Picture parameter sets, without start codes.
    pub pps: Vec<Bytes>,
}

impl AvcConfig {
    /// A configuration for one SPS and one PPS, with 4-byte lengths.
    pub fn from_sps_pps(sps: &[u8], pps: &[u8]) -> Result<Self, FlvError> {
        if sps.len() < 4 || sps[0] & 0x1f != 7 {
            return Err(FlvError::Truncated("SPS"));
        }
        if pps.is_empty() || pps[0] & 0x1f != 8 {
            return Err(FlvError::Truncated("PPS"));
        }
        Ok(Self {
            profile: sps[1],
            compatibility: sps[2],
            level: sps[3],
            length_size: 4,
            sps: vec![Bytes::copy_from_slice(sps)],
            pps: vec![Bytes::copy_from_slice(pps)],
        })
    }

    /// Reads a record.
    pub fn parse(data: &[u8]) -> Result<Self, FlvError> {
        let t = || FlvError::Truncated("AVCDecoderConfigurationRecord");
        let h = data.get(..6).ok_or_else(t)?;
        if h[0] != 1 {
            return Err(FlvError::Unsupported(
                "AVCDecoderConfigurationRecord version",
            ));
        }
        let length_size = (h[4] & 3) + 1;
        if length_size == 3 {
            return Err(FlvError::Unsupported("3-byte NAL unit lengths"));
        }
        let mut rest = &data[5..];
        let read_sets = |count: usize, rest: &mut &[u8]| -> Result<Vec<Bytes>, FlvError> {
            let mut sets = Vec::with_capacity(count.min(32));
            for _ in 0..count {
                let len = rest.get(..2).ok_or_else(t)?;
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                let set = rest.get(2..2 + len).ok_or_else(t)?;
                sets.push(Bytes::copy_from_slice(set));
                *rest = &rest[2 + len..];
            }
            Ok(sets)
        };
        let n_sps = usize::from(rest[0] & 0x1f);
        rest = &rest[1..];
        let sps = read_sets(n_sps, &mut rest)?;
        let n_pps = usize::from(*rest.first().ok_or_else(t)?);
        rest = &rest[1..];
        let pps = read_sets(n_pps, &mut rest)?;
        // High-profile extension fields may follow; they repeat what the SPS says.
        Ok(Self {
            profile: h[1],
            compatibility: h[2],
            level: h[3],
            length_size,
            sps,
            pps,
        })
    }

    /// Writes the record. High profiles get the extension fields (4:2:0, 8 bit, no SPS
    /// extensions: what every encoder we bridge produces).
    pub fn to_bytes(&self) -> Result<Bytes, FlvError> {
        if self.sps.len() > 31 || self.pps.len() > 255 {
            return Err(FlvError::Unsupported("that many parameter sets"));
        }
        if !matches!(self.length_size, 1 | 2 | 4) {
            return Err(FlvError::Unsupported("NAL unit length size"));
        }
        let mut out = BytesMut::new();
        out.put_slice(&[1, self.profile, self.compatibility, self.level]);
        out.put_u8(0xfc | (self.length_size - 1));
        out.put_u8(0xe0 | self.sps.len() as u8);
        // Sets longer than 64 KiB do not exist in practice; refuse rather than truncate.
        if self
            .sps
            .iter()
            .chain(&self.pps)
            .any(|s| s.len() > usize::from(u16::MAX))
        {
            return Err(FlvError::Unsupported("huge SPS/PPS"));
        }
        for set in &self.sps {
            out.put_u16(set.len() as u16);
            out.put_slice(set);
        }
        out.put_u8(self.pps.len() as u8);
        for set in &self.pps {
            out.put_u16(set.len() as u16);
            out.put_slice(set);
        }
        if matches!(self.profile, 100 | 110 | 122 | 144) {
            out.put_slice(&[0xfc | 1, 0xf8, 0xf8, 0]);
        }
        Ok(out.freeze())
    }
}

/// The NAL units of an AVCC (length-prefixed) payload; an error if a length lies.
pub fn avcc_nalus(data: &[u8], length_size: u8) -> Result<Vec<&[u8]>, FlvError> {
    let n = usize::from(length_size);
    if !matches!(n, 1 | 2 | 4) {
        return Err(FlvError::Unsupported("NAL unit length size"));
    }
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let len = rest
            .get(..n)
            .ok_or(FlvError::Truncated("NAL unit length"))?;
        let len = len.iter().fold(0usize, |a, &b| a << 8 | usize::from(b));
        let nal = rest
            .get(n..n + len)
            .ok_or(FlvError::Truncated("NAL unit"))?;
        out.push(nal);
        rest = &rest[n + len..];
    }
    Ok(out)
}

/// AVCC → Annex-B (4-byte start codes).
pub fn avcc_to_annexb(data: &[u8], length_size: u8) -> Result<Vec<u8>, FlvError> {
    let nalus = avcc_nalus(data, length_size)?;
    let mut out = Vec::with_capacity(data.len() + 4 * nalus.len());
    for nal in nalus {
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(nal);
    }
    Ok(out)
}

/// The NAL units of an Annex-B stream (3- or 4-byte start codes; bytes before the first
/// start code are skipped, empty units dropped).
pub fn annexb_nalus(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push((i, i + 3));
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::with_capacity(starts.len());
    for (k, &(_, begin)) in starts.iter().enumerate() {
        let mut end = starts.get(k + 1).map_or(data.len(), |&(s, _)| s);
        // A 4-byte start code's leading zero (and trailing_zero_8bits) is not NAL data.
        while end > begin && data[end - 1] == 0 {
            end -= 1;
        }
        if end > begin {
            out.push(&data[begin..end]);
        }
    }
    out
}

/// Annex-B → AVCC with 4-byte lengths.
pub fn annexb_to_avcc(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    for nal in annexb_nalus(data) {
        out.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        out.extend_from_slice(nal);
    }
    out
}

// ---- audio ----------------------------------------------------------------------------

/// SoundFormat 10 in the audio tag header.
pub const SOUND_AAC: u8 = 10;
/// AACPacketType 0: the AudioSpecificConfig.
pub const AAC_SEQUENCE_HEADER: u8 = 0;
/// AACPacketType 1: a raw AAC frame.
pub const AAC_RAW: u8 = 1;
/// The first byte of every AAC audio tag: AAC, and the fields FLV says to fix for AAC
/// (44 kHz, 16 bit, stereo) whatever the real stream is.
pub const AAC_TAG_BYTE: u8 = 0xaf;

const SAMPLE_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// The body of an AAC audio tag.
pub fn aac_body(packet_type: u8, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(2 + payload.len());
    out.put_u8(AAC_TAG_BYTE);
    out.put_u8(packet_type);
    out.put_slice(payload);
    out.freeze()
}

/// Reads an AAC audio tag body: its packet type and the rest.
pub fn parse_aac_body(data: &[u8]) -> Result<(u8, &[u8]), FlvError> {
    let h = data.get(..2).ok_or(FlvError::Truncated("AAC audio tag"))?;
    if h[0] >> 4 != SOUND_AAC {
        return Err(FlvError::Unsupported("audio codec other than AAC"));
    }
    Ok((h[1], &data[2..]))
}

/// The AAC AudioSpecificConfig (what an AAC sequence header carries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioSpecificConfig {
    /// Audio object type: 2 is AAC-LC (the only one mini-programs use), 5 HE-AAC, 29 HE-AACv2.
    pub object_type: u8,
    /// Sampling frequency in Hz.
    pub sample_rate: u32,
    /// Channel configuration: 1 mono, 2 stereo.
    pub channels: u8,
}

impl AudioSpecificConfig {
    /// AAC-LC at `sample_rate` with `channels`.
    pub fn aac_lc(sample_rate: u32, channels: u8) -> Self {
        Self {
            object_type: 2,
            sample_rate,
            channels,
        }
    }

    /// The 2-byte encoding. Rates outside the 13 standard ones, object types above 30 and
    /// channel configurations above 7 are refused.
    pub fn to_bytes(&self) -> Result<[u8; 2], FlvError> {
        let index = SAMPLE_RATES
            .iter()
            .position(|&r| r == self.sample_rate)
            .ok_or(FlvError::Unsupported("AAC sample rate"))? as u16;
        if self.object_type == 0 || self.object_type > 30 || self.channels > 7 {
            return Err(FlvError::Unsupported("AAC object type or channels"));
        }
        let v = u16::from(self.object_type) << 11 | index << 7 | u16::from(self.channels) << 3;
        Ok(v.to_be_bytes())
    }

    /// Reads the config's first fields (escape codes for object type and rate included).
    pub fn parse(data: &[u8]) -> Result<Self, FlvError> {
        let mut bits = Bits { data, pos: 0 };
        let t = || FlvError::Truncated("AudioSpecificConfig");
        let mut object_type = bits.take(5).ok_or_else(t)? as u8;
        if object_type == 31 {
            object_type = 32 + bits.take(6).ok_or_else(t)? as u8;
        }
        let index = bits.take(4).ok_or_else(t)? as usize;
        let sample_rate = if index == 15 {
            bits.take(24).ok_or_else(t)?
        } else {
            *SAMPLE_RATES
                .get(index)
                .ok_or(FlvError::Unsupported("AAC sampling frequency index"))?
        };
        let channels = bits.take(4).ok_or_else(t)? as u8;
        Ok(Self {
            object_type,
            sample_rate,
            channels,
        })
    }
}

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn take(&mut self, n: usize) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = *self.data.get(self.pos / 8)?;
            v = v << 1 | u32::from(byte >> (7 - self.pos % 8) & 1);
            self.pos += 1;
        }
        Some(v)
    }
}

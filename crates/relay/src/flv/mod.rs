//! FLV: the container of HTTP-FLV and the payload format of RTMP audio and video.
//!
//! An RTMP audio or video message body *is* an FLV tag body, so a [`Tag`] is the unit
//! both sides of the bridge pass around: RTMP in → tags → RTMP out or an HTTP-FLV
//! stream ([`FlvMuxer`]). [`FlvDemuxer`] reads FLV back (tests, recordings, fuzzing)
//! and treats every inconsistency — above all a tag whose trailing PreviousTagSize
//! disagrees with its header — as an error.
//!
//! Payload helpers for what we bridge: the AVC sequence header
//! (AVCDecoderConfigurationRecord, ISO/IEC 14496-15) from SPS/PPS and back, AVCC
//! (length-prefixed) ↔ Annex-B (start codes) NAL unit framing, the AAC
//! AudioSpecificConfig (ISO/IEC 14496-3), and the video tag header with its signed
//! composition time (non-zero with B-frames, kept as is).

use bytes::{BufMut, Bytes, BytesMut};

use crate::rtmp::amf0::{self, Amf0Limits, Amf0Value};

/// The three FLV tag types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TagKind {
    /// Type 8.
    Audio,
    /// Type 9.
    Video,
    /// Type 18: AMF0 script data (`onMetaData`).
    Script,
}

impl TagKind {
    /// The FLV tag type byte.
    pub fn type_byte(self) -> u8 {
        match self {
            Self::Audio => 8,
            Self::Video => 9,
            Self::Script => 18,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            8 => Some(Self::Audio),
            9 => Some(Self::Video),
            18 => Some(Self::Script),
            _ => None,
        }
    }
}

/// One FLV tag (equivalently, one RTMP audio, video or data message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// Audio, video or script.
    pub kind: TagKind,
    /// Milliseconds (decode time), wrapping at 2³².
    pub timestamp: u32,
    /// The tag body: for video the 5-byte AVC header then AVCC NAL units, for audio the
    /// 2-byte AAC header then a raw AAC frame or the AudioSpecificConfig.
    pub data: Bytes,
}

impl Tag {
    /// A video tag that starts a keyframe (frame type 1), sequence headers included.
    pub fn is_keyframe(&self) -> bool {
        self.kind == TagKind::Video && self.data.first().is_some_and(|b| b >> 4 == 1)
    }

    /// An AVC or AAC sequence header (the decoder configuration a viewer needs first),
    /// or script data: never to be dropped.
    pub fn is_config(&self) -> bool {
        match self.kind {
            TagKind::Video => {
                self.data.first().is_some_and(|b| b & 0x0f == CODEC_AVC)
                    && self.data.get(1) == Some(&AVC_SEQUENCE_HEADER)
            }
            TagKind::Audio => {
                self.data.first().is_some_and(|b| b >> 4 == SOUND_AAC)
                    && self.data.get(1) == Some(&AAC_SEQUENCE_HEADER)
            }
            TagKind::Script => true,
        }
    }
}

/// Extends the 32-bit millisecond timestamps of RTMP and FLV to 64 bits across wraps
/// (every 49.7 days, or at once when a publisher starts near 2³²): a step of less than
/// 2³¹ ms either way from the previous timestamp is taken as the real step.
#[derive(Debug, Default, Clone, Copy)]
pub struct TimestampUnwrap {
    last: Option<u64>,
}

impl TimestampUnwrap {
    /// The 64-bit timestamp of `ts`.
    pub fn extend(&mut self, ts: u32) -> u64 {
        let out = match self.last {
            None => u64::from(ts),
            Some(last) => {
                let step = i64::from(ts.wrapping_sub(last as u32) as i32);
                (last as i64).saturating_add(step).max(0) as u64
            }
        };
        self.last = Some(out);
        out
    }
}

/// Why FLV or one of its payloads could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlvError {
    /// The file does not start with `FLV` version 1.
    #[error("not an FLV stream")]
    NotFlv,
    /// The header's data offset is outside 9..=1024.
    #[error("FLV header size {0} refused")]
    BadHeaderSize(u32),
    /// PreviousTagSize disagrees with the tag before it.
    #[error("FLV PreviousTagSize {found} but the tag was {expected} bytes")]
    LyingSize { expected: u32, found: u32 },
    /// A tag type other than 8, 9 or 18, or the reserved or encryption bits set.
    #[error("FLV tag type byte {0:#04x} unsupported")]
    BadTagType(u8),
    /// A tag larger than the demuxer's limit.
    #[error("FLV tag of {len} bytes exceeds {max}")]
    TagTooLarge { len: u32, max: u32 },
    /// The StreamID field is not 0.
    #[error("FLV tag stream id is not zero")]
    BadStreamId,
    /// A payload is shorter than its own fields say.
    #[error("{0} truncated")]
    Truncated(&'static str),
    /// A payload has a value we cannot represent or do not support.
    #[error("{0} unsupported")]
    Unsupported(&'static str),
    /// Script data is not valid AMF0.
    #[error("FLV script data: {0}")]
    Amf(#[from] amf0::Amf0Error),
}

const FLV_HEADER_LEN: usize = 9;
const TAG_HEADER_LEN: usize = 11;

/// Writes an FLV stream: [`header`](Self::header) once, then [`tag`](Self::tag)s.
#[derive(Debug, Default, Clone, Copy)]
pub struct FlvMuxer;

impl FlvMuxer {
    /// The FLV file header and PreviousTagSize0 (13 bytes).
    pub fn header(has_audio: bool, has_video: bool) -> Bytes {
        let mut out = BytesMut::with_capacity(FLV_HEADER_LEN + 4);
        out.put_slice(b"FLV");
        out.put_u8(1);
        out.put_u8(u8::from(has_audio) << 2 | u8::from(has_video));
        out.put_u32(FLV_HEADER_LEN as u32);
        out.put_u32(0);
        out.freeze()
    }

    /// Appends one tag and its PreviousTagSize to `out`.
    ///
    /// Bodies of 16 MiB or more cannot be framed and are refused.
    pub fn tag(tag: &Tag, out: &mut BytesMut) -> Result<(), FlvError> {
        let len = u32::try_from(tag.data.len())
            .ok()
            .filter(|&l| l < 1 << 24)
            .ok_or(FlvError::Unsupported("tag body of 16 MiB or more"))?;
        out.reserve(TAG_HEADER_LEN + tag.data.len() + 4);
        out.put_u8(tag.kind.type_byte());
        out.put_slice(&len.to_be_bytes()[1..]);
        out.put_slice(&tag.timestamp.to_be_bytes()[1..]);
        out.put_u8((tag.timestamp >> 24) as u8);
        out.put_slice(&[0, 0, 0]);
        out.put_slice(&tag.data);
        out.put_u32(TAG_HEADER_LEN as u32 + len);
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DemuxStage {
    Header,
    Tags,
}

/// Reads FLV from a byte stream of any chunking.
#[derive(Debug)]
pub struct FlvDemuxer {
    buf: BytesMut,
    stage: DemuxStage,
    max_tag: u32,
    /// Flags of the file header (audio, video), once read.
    flags: Option<(bool, bool)>,
}

impl FlvDemuxer {
    /// A demuxer refusing tag bodies over `max_tag` bytes.
    pub fn new(max_tag: u32) -> Self {
        Self {
            buf: BytesMut::new(),
            stage: DemuxStage::Header,
            max_tag,
            flags: None,
        }
    }

    /// The header's (audio, video) flags, once read.
    pub fn flags(&self) -> Option<(bool, bool)> {
        self.flags
    }

    /// Appends bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes pushed and not yet consumed.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The next tag, `None` until more bytes arrive, or an error (stop reading).
    pub fn poll_tag(&mut self) -> Result<Option<Tag>, FlvError> {
        if self.stage == DemuxStage::Header {
            if let Some(sig) = self.buf.get(..4.min(self.buf.len()))
                && sig != &b"FLV\x01"[..sig.len()]
            {
                return Err(FlvError::NotFlv);
            }
            if self.buf.len() < FLV_HEADER_LEN {
                return Ok(None);
            }
            let offset = u32::from_be_bytes(self.buf[5..9].try_into().expect("4 bytes"));
            if !(9..=1024).contains(&offset) {
                return Err(FlvError::BadHeaderSize(offset));
            }
            let need = offset as usize + 4;
            if self.buf.len() < need {
                return Ok(None);
            }
            let prev = u32::from_be_bytes(self.buf[need - 4..need].try_into().expect("4 bytes"));
            if prev != 0 {
                return Err(FlvError::LyingSize {
                    expected: 0,
                    found: prev,
                });
            }
            self.flags = Some((self.buf[4] & 4 != 0, self.buf[4] & 1 != 0));
            let _ = self.buf.split_to(need);
            self.stage = DemuxStage::Tags;
        }
        if self.buf.len() < TAG_HEADER_LEN {
            return Ok(None);
        }
        let h = &self.buf[..TAG_HEADER_LEN];
        // Top two bits reserved, then the filter (encryption) bit: all must be 0.
        let kind = TagKind::from_byte(h[0]).ok_or(FlvError::BadTagType(h[0]))?;
        let len = u32::from_be_bytes([0, h[1], h[2], h[3]]);
        if len > self.max_tag {
            return Err(FlvError::TagTooLarge {
                len,
                max: self.max_tag,
            });
        }
        let timestamp = u32::from_be_bytes([h[7], h[4], h[5], h[6]]);
        if h[8..11] != [0, 0, 0] {
            return Err(FlvError::BadStreamId);
        }
        let total = TAG_HEADER_LEN + len as usize + 4;
        if self.buf.len() < total {
            return Ok(None);
        }
        let found = u32::from_be_bytes(self.buf[total - 4..total].try_into().expect("4 bytes"));
        let expected = TAG_HEADER_LEN as u32 + len;
        if found != expected {
            return Err(FlvError::LyingSize { expected, found });
        }
        let mut tag = self.buf.split_to(total);
        let _ = tag.split_to(TAG_HEADER_LEN);
        tag.truncate(len as usize);
        Ok(Some(Tag {
            kind,
            timestamp,
            data: tag.freeze(),
        }))
    }
}

/// A script tag body: `"onMetaData"` and an ECMA array of `props`.
pub fn on_metadata(props: Vec<(String, Amf0Value)>) -> Result<Bytes, FlvError> {
    Ok(amf0::encode_all(&[Amf0Value::string("onMetaData"), Amf0Value::EcmaArray(props)])?.freeze())
}

/// Reads a script tag body: its name (`onMetaData`) and value.
pub fn parse_script(data: &[u8]) -> Result<(String, Amf0Value), FlvError> {
    let mut values = amf0::decode_all(data, Amf0Limits::default())?.into_iter();
    let name = match values.next() {
        Some(Amf0Value::String(s)) => s,
        _ => return Err(FlvError::Truncated("script data name")),
    };
    Ok((name, values.next().unwrap_or(Amf0Value::Null)))
}

// The codec payloads FLV and RTMP carry: video header, AVC configuration, NAL unit
// framing, AAC.
mod codec;
pub use codec::*;

#[cfg(test)]
mod tests {
    use super::*;

    const SPS: &[u8] = &[0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xbf, 0xe5, 0x84];
    const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];

    fn tags() -> Vec<Tag> {
        vec![
            Tag {
                kind: TagKind::Script,
                timestamp: 0,
                data: on_metadata(vec![("width".into(), Amf0Value::Number(320.0))]).unwrap(),
            },
            Tag {
                kind: TagKind::Video,
                timestamp: 0,
                data: VideoHeader {
                    frame_type: 1,
                    packet_type: AVC_SEQUENCE_HEADER,
                    composition_time: 0,
                }
                .body(
                    &AvcConfig::from_sps_pps(SPS, PPS)
                        .unwrap()
                        .to_bytes()
                        .unwrap(),
                ),
            },
            Tag {
                kind: TagKind::Audio,
                timestamp: 0,
                data: aac_body(
                    AAC_SEQUENCE_HEADER,
                    &AudioSpecificConfig::aac_lc(48000, 1).to_bytes().unwrap(),
                ),
            },
            Tag {
                kind: TagKind::Video,
                timestamp: 0x1234_5678, // uses the extended byte
                data: VideoHeader {
                    frame_type: 2,
                    packet_type: AVC_NALU,
                    composition_time: -40,
                }
                .body(&[0, 0, 0, 2, 0x41, 0x9a]),
            },
        ]
    }

    fn mux(tags: &[Tag]) -> BytesMut {
        let mut out = BytesMut::from(&FlvMuxer::header(true, true)[..]);
        for t in tags {
            FlvMuxer::tag(t, &mut out).unwrap();
        }
        out
    }

    #[test]
    fn muxed_tags_demux_back_byte_by_byte() {
        let out = mux(&tags());
        let mut d = FlvDemuxer::new(1 << 20);
        let mut got = Vec::new();
        for b in out.iter() {
            d.push(&[*b]);
            while let Some(t) = d.poll_tag().unwrap() {
                got.push(t);
            }
        }
        assert_eq!(got, tags());
        assert_eq!(d.flags(), Some((true, true)));
        assert_eq!(d.pending(), 0);
        let (name, value) = parse_script(&got[0].data).unwrap();
        assert_eq!(name, "onMetaData");
        assert_eq!(value.get("width"), Some(&Amf0Value::Number(320.0)));
        assert!(got[1].is_config() && got[1].is_keyframe());
        assert!(got[2].is_config() && !got[3].is_config() && !got[3].is_keyframe());
    }

    #[test]
    fn a_lying_size_is_an_error() {
        let mut out = mux(&tags()[..2]);
        let n = out.len();
        out[n - 1] ^= 1; // the last PreviousTagSize
        let mut d = FlvDemuxer::new(1 << 20);
        d.push(&out);
        assert!(d.poll_tag().unwrap().is_some());
        assert!(matches!(d.poll_tag(), Err(FlvError::LyingSize { .. })));
        // A data size larger than the limit is refused before waiting for it.
        let mut out = mux(&[]);
        out.extend_from_slice(&[9, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0]);
        let mut d = FlvDemuxer::new(1 << 20);
        d.push(&out);
        assert!(matches!(d.poll_tag(), Err(FlvError::TagTooLarge { .. })));
        // Not FLV, encrypted tags, a header size that lies.
        let mut d = FlvDemuxer::new(1 << 20);
        d.push(b"GET /");
        assert_eq!(d.poll_tag(), Err(FlvError::NotFlv));
        let mut out = mux(&[]);
        out.extend_from_slice(&[0x29, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12]);
        let mut d = FlvDemuxer::new(1 << 20);
        d.push(&out);
        assert_eq!(d.poll_tag(), Err(FlvError::BadTagType(0x29)));
        let mut d = FlvDemuxer::new(1 << 20);
        d.push(&[b'F', b'L', b'V', 1, 5, 0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(d.poll_tag(), Err(FlvError::BadHeaderSize(_))));
    }

    #[test]
    fn avc_config_round_trips_and_refuses_lies() {
        let c = AvcConfig::from_sps_pps(SPS, PPS).unwrap();
        assert_eq!((c.profile, c.compatibility, c.level), (0x42, 0xc0, 0x1e));
        let bytes = c.to_bytes().unwrap();
        assert_eq!(AvcConfig::parse(&bytes).unwrap(), c);
        let mut high = c.clone();
        high.profile = 100;
        let hb = high.to_bytes().unwrap();
        assert_eq!(hb.len(), bytes.len() + 4);
        assert_eq!(AvcConfig::parse(&hb).unwrap(), high);
        for cut in 0..bytes.len() {
            assert!(AvcConfig::parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(AvcConfig::from_sps_pps(PPS, SPS).is_err());
    }

    #[test]
    fn nal_framing_converts_both_ways() {
        let annexb = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4, 5, 6,
        ];
        let avcc = annexb_to_avcc(&annexb);
        assert_eq!(
            avcc,
            [
                0, 0, 0, 3, 0x67, 1, 2, 0, 0, 0, 2, 0x68, 3, 0, 0, 0, 4, 0x65, 4, 5, 6
            ]
        );
        assert_eq!(avcc_nalus(&avcc, 4).unwrap().len(), 3);
        let back = avcc_to_annexb(&avcc, 4).unwrap();
        assert_eq!(annexb_to_avcc(&back), avcc);
        assert!(avcc_to_annexb(&[0, 0, 0, 9, 0x65], 4).is_err());
        assert!(avcc_nalus(&[0, 0], 4).is_err());
    }

    #[test]
    fn timestamps_unwrap_past_two_to_the_32() {
        let mut u = TimestampUnwrap::default();
        assert_eq!(u.extend(0xffff_ff00), 0xffff_ff00);
        assert_eq!(u.extend(0x0000_0010), 0x1_0000_0010);
        assert_eq!(u.extend(0xffff_fff0), 0x1_0000_0010 - 0x20); // a small step back
        assert_eq!(u.extend(0x0000_0100), 0x1_0000_0100);
        let mut u = TimestampUnwrap::default();
        assert_eq!(u.extend(10), 10);
        assert_eq!(u.extend(0xffff_fff0), 0); // before zero: clamped
    }

    #[test]
    fn composition_time_is_signed_24_bit() {
        for cts in [0, 40, -40, 80, (1 << 23) - 1, -(1 << 23)] {
            let h = VideoHeader {
                frame_type: 2,
                packet_type: AVC_NALU,
                composition_time: cts,
            };
            let body = h.body(&[1, 2]);
            let (back, rest) = VideoHeader::parse(&body).unwrap();
            assert_eq!(back, h);
            assert_eq!(rest, &[1, 2]);
        }
    }

    #[test]
    fn audio_specific_config_round_trips() {
        for rate in [48000, 44100, 16000] {
            for ch in [1, 2] {
                let c = AudioSpecificConfig::aac_lc(rate, ch);
                let b = c.to_bytes().unwrap();
                assert_eq!(AudioSpecificConfig::parse(&b).unwrap(), c);
            }
        }
        // What ffmpeg writes for AAC-LC 48 kHz mono and 16 kHz stereo.
        assert_eq!(
            AudioSpecificConfig::aac_lc(48000, 1).to_bytes().unwrap(),
            [0x11, 0x88]
        );
        assert_eq!(
            AudioSpecificConfig::aac_lc(16000, 2).to_bytes().unwrap(),
            [0x14, 0x10]
        );
        assert!(AudioSpecificConfig::aac_lc(47999, 1).to_bytes().is_err());
        // An explicit 24-bit rate (index 15).
        let explicit = [0x17, 0x80, 0x2e, 0xe0, 0x08];
        let c = AudioSpecificConfig::parse(&explicit).unwrap();
        assert_eq!((c.object_type, c.sample_rate, c.channels), (2, 24000, 1));
        assert!(AudioSpecificConfig::parse(&[0x17]).is_err());
        assert!(AudioSpecificConfig::parse(&[0x16, 0x88]).is_err()); // index 13
        let body = aac_body(AAC_RAW, &[1, 2, 3]);
        let (pt, rest) = parse_aac_body(&body).unwrap();
        assert_eq!((pt, rest), (AAC_RAW, &[1, 2, 3][..]));
    }
}

//! RTMP publishers as WebRTC sources: what the teacher's console and browser students
//! see of a mini-program student on stage (or a teacher pushing from OBS).
//!
//! ```text
//!  RTMP publish ─► stream (GOP cache) ─► bridge task: a viewer of the stream
//!                                         [FlvToRtp: AVCC → RTP, AAC → Opus]
//!                                               │ ExternalRtp (EXTERNAL_QUEUE)
//!                                               ▼
//!                                  SFU engine: an external publisher → WHEP viewers
//! ```
//!
//! The bridge task starts when an RTMP publish is accepted and joins the stream as a
//! viewer (so it starts on the cached keyframe like any player); it opens an external
//! publisher in the engine, which announces `publisher_added` with transport `rtmp`.
//! It ends when the stream ends (the publisher left and the 5 s republish grace passed),
//! closing the external publisher (`publisher_removed`). A republish within the grace is
//! the same stream to it.
//!
//! Queues: the stream task → bridge, the viewer queue ([`crate::stream::VIEWER_QUEUE`],
//! drop policy as any viewer's); bridge → engine, [`crate::sfu::shell::EXTERNAL_QUEUE`]
//! packets shared by all bridges: full → the packet is dropped and counted; a dropped
//! video packet makes this source skip video to the next keyframe (it cannot ask an
//! RTMP pusher for one).
//!
//! B-frames: WebRTC has no composition time, so pictures must go out in presentation
//! order. A pusher misconfigured with B-frames (composition time ≠ 0) gets its
//! non-reference frames dropped (nothing refers to them, so the picture stays intact at a
//! lower frame rate); reference B-frames would still arrive out of order, and so a
//! stream with them is sent keyframes only, with a warning, rather than a corrupt
//! picture.

mod packetize;
mod transcode;

pub use packetize::{MAX_PAYLOAD, packetize};
pub use transcode::{AacToOpus, AacToOpusError, OpusPacket};

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use lectern_proto::Role;
use tokio::sync::{mpsc, oneshot};

use crate::flv::{
    AAC_RAW, AAC_SEQUENCE_HEADER, AVC_NALU, AVC_SEQUENCE_HEADER, AvcConfig, Tag, TagKind,
    VideoHeader, avcc_nalus, parse_aac_body,
};
use crate::metrics::Metrics;
use crate::rtmp::ViewerReceiver;
use crate::sfu::shell::{Command, ExternalRtp};
use crate::sfu::{ExternalPublisher, SessionId};
use crate::stream::StreamKey;
use crate::webrtc_flv::Media;

/// One RTP packet to send, before the engine gives it each viewer's SSRC and sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpOut {
    pub media: Media,
    pub timestamp: u32,
    pub marker: bool,
    pub payload: Bytes,
}

/// Turns one stream's FLV tags into RTP payloads, sans-IO.
#[derive(Debug, Default)]
pub struct FlvToRtp {
    avc: Option<AvcConfig>,
    aac: Option<AacToOpus>,
    /// Skip video to the next keyframe (a dropped packet, or B-frames with references).
    skip_video: bool,
    /// The stream has reference B-frames: only keyframes go out.
    keyframes_only: bool,
    /// Dropped B-frames and refused tags, for the logs.
    pub dropped_frames: u64,
}

impl FlvToRtp {
    /// A converter waiting for the sequence headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// A packet of this source was dropped on the way to the engine.
    pub fn dropped(&mut self, media: Media) {
        if media == Media::Video {
            self.skip_video = true;
        }
    }

    /// One tag; returns the RTP payloads it makes, in order.
    pub fn push(&mut self, tag: &Tag) -> Vec<RtpOut> {
        match tag.kind {
            TagKind::Video => self.video(tag),
            TagKind::Audio => self.audio(tag),
            TagKind::Script => Vec::new(),
        }
    }

    fn video(&mut self, tag: &Tag) -> Vec<RtpOut> {
        let Ok((header, body)) = VideoHeader::parse(&tag.data) else {
            return Vec::new();
        };
        match header.packet_type {
            AVC_SEQUENCE_HEADER => {
                self.avc = AvcConfig::parse(body).ok();
                Vec::new()
            }
            AVC_NALU => {
                let Some(avc) = &self.avc else {
                    return Vec::new();
                };
                let Ok(nalus) = avcc_nalus(body, avc.length_size) else {
                    self.dropped_frames += 1;
                    return Vec::new();
                };
                let keyframe = header.frame_type == 1;
                if !keyframe && let Some((slice, reference)) = first_slice(&nalus) {
                    if slice == SliceKind::B && !reference {
                        // Nothing refers to it: dropping it keeps the picture intact.
                        self.dropped_frames += 1;
                        return Vec::new();
                    }
                    if slice == SliceKind::B && !self.keyframes_only {
                        tracing::warn!(
                            "an RTMP pusher sends reference B-frames; WebRTC viewers get its keyframes only (configure the pusher without B-frames)"
                        );
                        self.keyframes_only = true;
                    }
                }
                if keyframe {
                    self.skip_video = false;
                } else if self.skip_video || self.keyframes_only {
                    return Vec::new();
                }
                let (sps, pps) = (
                    avc.sps.first().map_or(&[][..], |b| &b[..]),
                    avc.pps.first().map_or(&[][..], |b| &b[..]),
                );
                // RTP carries presentation time (90 kHz).
                let pts = i64::from(tag.timestamp) + i64::from(header.composition_time);
                let timestamp = (pts * 90) as u32;
                let payloads = packetize(&nalus, sps, pps);
                let n = payloads.len();
                payloads
                    .into_iter()
                    .enumerate()
                    .map(|(i, payload)| RtpOut {
                        media: Media::Video,
                        timestamp,
                        marker: i + 1 == n,
                        payload,
                    })
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    fn audio(&mut self, tag: &Tag) -> Vec<RtpOut> {
        let Ok((kind, body)) = parse_aac_body(&tag.data) else {
            return Vec::new();
        };
        match kind {
            AAC_SEQUENCE_HEADER => {
                if self.aac.as_ref().is_none_or(|a| a.asc() != body) {
                    self.aac = AacToOpus::new(body)
                        .inspect_err(|e| tracing::warn!("RTMP audio not bridged: {e}"))
                        .ok();
                }
                Vec::new()
            }
            AAC_RAW => {
                let Some(aac) = &mut self.aac else {
                    return Vec::new();
                };
                aac.push(i64::from(tag.timestamp), body)
                    .into_iter()
                    .map(|p| RtpOut {
                        media: Media::Audio,
                        timestamp: p.rtp_timestamp,
                        marker: false,
                        payload: Bytes::from(p.data),
                    })
                    .collect()
            }
            _ => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SliceKind {
    P,
    B,
    I,
}

/// The slice type of the first picture NAL unit, and whether it is a reference
/// (nal_ref_idc ≠ 0): `first_mb_in_slice` and `slice_type` are the first two
/// Exp-Golomb codes of the slice header.
fn first_slice(nalus: &[&[u8]]) -> Option<(SliceKind, bool)> {
    let nal = nalus
        .iter()
        .find(|n| n.first().is_some_and(|h| matches!(h & 0x1f, 1 | 5)))?;
    let mut bits = BitReader {
        data: &nal[1..],
        pos: 0,
    };
    bits.ue()?;
    let kind = match bits.ue()? % 5 {
        0 | 3 => SliceKind::P,
        1 => SliceKind::B,
        _ => SliceKind::I,
    };
    Some((kind, nal[0] & 0x60 != 0))
}

struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    fn bit(&mut self) -> Option<u32> {
        let byte = self.data.get(self.pos / 8)?;
        let b = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(u32::from(b))
    }

    /// An unsigned Exp-Golomb code (up to 31 leading zeros).
    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        let mut v = 0u64;
        for _ in 0..zeros {
            v = v << 1 | u64::from(self.bit()?);
        }
        u32::try_from((1u64 << zeros) - 1 + v).ok()
    }
}

/// The streams being bridged, so a republish within the grace (the same stream, the
/// same viewer) does not start a second bridge.
#[derive(Debug, Clone, Default)]
pub struct Bridged(Arc<Mutex<HashSet<StreamKey>>>);

impl Bridged {
    fn claim(&self, key: &StreamKey) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone())
    }

    fn release(&self, key: &StreamKey) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

/// What a bridge needs of the relay.
#[derive(Debug, Clone)]
pub struct BridgeLinks {
    pub engine: mpsc::Sender<Command>,
    pub media: mpsc::Sender<ExternalRtp>,
    pub metrics: Arc<Metrics>,
    pub bridged: Bridged,
}

/// Starts the bridge of an RTMP publish just accepted, unless one runs for `key`.
pub fn spawn(
    links: &BridgeLinks,
    key: StreamKey,
    name: String,
    role: Role,
    viewer: ViewerReceiver,
) {
    if !links.bridged.claim(&key) {
        return;
    }
    tokio::spawn(run(links.clone(), key, name, role, viewer));
}

async fn run(
    links: BridgeLinks,
    key: StreamKey,
    name: String,
    role: Role,
    mut viewer: ViewerReceiver,
) {
    let (reply, answer) = oneshot::channel();
    let who = ExternalPublisher {
        room: key.room.clone(),
        peer: key.stream.clone(),
        name,
        role,
        audio: true,
        video: true,
    };
    let opened = match links
        .engine
        .send(Command::OpenExternal { who, reply })
        .await
    {
        Ok(()) => answer.await.ok(),
        Err(_) => None,
    };
    let session: SessionId = match opened {
        Some(Ok(id)) => id,
        Some(Err(e)) => {
            tracing::warn!(%key, "RTMP publisher not bridged to WebRTC: {}", e.message);
            links.bridged.release(&key);
            return;
        }
        None => {
            links.bridged.release(&key);
            return;
        }
    };
    tracing::info!(%key, "RTMP publisher bridged to WebRTC");
    let mut conv = FlvToRtp::new();
    let mut seq = [0u16; 2];
    while let Some(tag) = viewer.recv().await {
        for out in conv.push(&tag) {
            let i = usize::from(out.media == Media::Video);
            seq[i] = seq[i].wrapping_add(1);
            let packet = rtc::rtp::Packet {
                header: rtc::rtp::header::Header {
                    version: 2,
                    marker: out.marker,
                    sequence_number: seq[i],
                    timestamp: out.timestamp,
                    ..Default::default()
                },
                payload: out.payload,
            };
            let media = out.media;
            if links
                .media
                .try_send(ExternalRtp {
                    session,
                    media,
                    packet,
                })
                .is_err()
            {
                links
                    .metrics
                    .flv_bridge_dropped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                conv.dropped(media);
            }
        }
    }
    if conv.dropped_frames > 0 {
        tracing::info!(%key, dropped = conv.dropped_frames, "RTMP → WebRTC dropped frames (B-frames or malformed)");
    }
    let _ = links.engine.send(Command::CloseExternal { session }).await;
    links.bridged.release(&key);
    tracing::info!(%key, "RTMP publisher's WebRTC side closed");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flv::{AudioSpecificConfig, aac_body};

    const SPS: &[u8] = &[0x67, 0x42, 0xc0, 0x1f, 0xda];
    const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];

    fn video(ts: u32, frame_type: u8, cts: i32, packet_type: u8, body: &[u8]) -> Tag {
        Tag {
            kind: TagKind::Video,
            timestamp: ts,
            data: VideoHeader {
                frame_type,
                packet_type,
                composition_time: cts,
            }
            .body(body),
        }
    }

    fn avcc(nalus: &[&[u8]]) -> Vec<u8> {
        nalus
            .iter()
            .flat_map(|n| {
                (n.len() as u32)
                    .to_be_bytes()
                    .into_iter()
                    .chain(n.iter().copied())
            })
            .collect()
    }

    fn config() -> Tag {
        let record = AvcConfig::from_sps_pps(SPS, PPS)
            .unwrap()
            .to_bytes()
            .unwrap();
        video(0, 1, 0, AVC_SEQUENCE_HEADER, &record)
    }

    #[test]
    fn avcc_frames_become_rtp_with_parameter_sets_before_each_idr() {
        let mut c = FlvToRtp::new();
        assert!(
            c.push(&video(0, 1, 0, AVC_NALU, &avcc(&[&[0x65, 1]])))
                .is_empty(),
            "no config yet"
        );
        assert!(c.push(&config()).is_empty());
        let key = c.push(&video(40, 1, 0, AVC_NALU, &avcc(&[&[0x65, 1, 2]])));
        assert_eq!(key.len(), 2);
        assert_eq!(
            key[0].payload[0] & 0x1f,
            24,
            "STAP-A with SPS and PPS first"
        );
        assert!(key.iter().all(|p| p.timestamp == 40 * 90));
        assert!(!key[0].marker && key[1].marker);
        let delta = c.push(&video(73, 2, 0, AVC_NALU, &avcc(&[&[0x41, 7]])));
        assert_eq!(delta.len(), 1);
        assert_eq!(delta[0].timestamp, 73 * 90);
    }

    #[test]
    fn non_reference_b_frames_are_dropped_not_sent_out_of_order() {
        let mut c = FlvToRtp::new();
        c.push(&config());
        // I P B B in decode order, as x264 sends them without a B-pyramid: the slice
        // header's first bits are first_mb_in_slice = 0 ("1") and slice_type (P "1",
        // B "010", I "011").
        let i = c.push(&video(0, 1, 40, AVC_NALU, &avcc(&[&[0x65, 0xb8]])));
        let p = c.push(&video(40, 2, 120, AVC_NALU, &avcc(&[&[0x41, 0xc0]])));
        let b1 = c.push(&video(80, 2, 0, AVC_NALU, &avcc(&[&[0x01, 0xa0]])));
        let b2 = c.push(&video(120, 2, 0, AVC_NALU, &avcc(&[&[0x01, 0xa0]])));
        assert!(!i.is_empty() && !p.is_empty());
        assert!(b1.is_empty() && b2.is_empty());
        assert_eq!(c.dropped_frames, 2);
        // What goes out is in presentation order, stamped with presentation time.
        assert_eq!(
            (i[0].timestamp, p.last().unwrap().timestamp),
            (40 * 90, 160 * 90)
        );
        // A reference B-frame (B-pyramid) cannot be sent in order: keyframes only.
        assert!(
            c.push(&video(160, 2, 0, AVC_NALU, &avcc(&[&[0x21, 0xa0]])))
                .is_empty()
        );
        assert!(
            c.push(&video(200, 2, 40, AVC_NALU, &avcc(&[&[0x41, 0xc0]])))
                .is_empty()
        );
        assert!(
            !c.push(&video(240, 1, 40, AVC_NALU, &avcc(&[&[0x65, 0xb8]])))
                .is_empty()
        );
    }

    #[test]
    fn aac_becomes_opus_after_its_sequence_header() {
        let mut enc = syom::Encoder::new(48_000, 1, &syom::EncodeOptions::raw()).unwrap();
        let asc = AudioSpecificConfig::aac_lc(48_000, 1).to_bytes().unwrap();
        assert_eq!(enc.asc(), &asc);
        let mut c = FlvToRtp::new();
        let tone: Vec<f32> = (0..48_000).map(|i| 0.2 * (i as f32 * 0.05).sin()).collect();
        let mut aus = Vec::new();
        enc.feed(&[&tone], |f| {
            aus.push(f.payload.to_vec());
            Ok(())
        })
        .unwrap();
        let tag = |ts: u32, t: u8, body: &[u8]| Tag {
            kind: TagKind::Audio,
            timestamp: ts,
            data: aac_body(t, body),
        };
        assert!(
            c.push(&tag(0, AAC_RAW, &aus[0])).is_empty(),
            "no config yet"
        );
        c.push(&tag(0, AAC_SEQUENCE_HEADER, &asc));
        let out: Vec<RtpOut> = aus
            .iter()
            .enumerate()
            .flat_map(|(i, au)| c.push(&tag(i as u32 * 21, AAC_RAW, au)))
            .collect();
        assert!(out.len() > 40);
        assert!(out.iter().all(|p| p.media == Media::Audio));
        assert!(
            out.windows(2)
                .all(|w| w[1].timestamp.wrapping_sub(w[0].timestamp) == 960)
        );
    }
}

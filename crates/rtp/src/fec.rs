//! Forward error correction for video, sent frame by frame (FlexFEC draft-03, the
//! `flexfec-03` format browsers and `rtc` negotiate, on its own SSRC).
//!
//! `rtc` ships a FlexFEC sender that protects fixed blocks of *n* packets. At a low
//! bitrate a frame is one or two packets, so a block of five spans several frames and
//! its repair arrives later than a NACK round trip would. Like libwebrtc's FEC
//! generator, this one closes a block at the end of a frame (the RTP marker bit), once
//! it holds two packets or two frames, so a repair is never more than a frame late.
//!
//! How much protection is a [`FecLevel`] the sender turns up and down at run time from
//! the loss its receiver reports: one repair packet per *group* of media packets
//! (interleaved, so a burst lands in different groups); keyframes get groups half as
//! big, because losing one costs a round of keyframe requests. The receive side is
//! `rtc`'s `FlexFec03ReceiveInterceptor`.

use crate::h264::starts_keyframe;
use rtc::interceptor::{AttributedPacket, MAX_MEDIA_PACKETS};
use rtc::interceptor::{FlexFec03Encoder, Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::peer_connection::configuration::media_engine::MIME_TYPE_FLEX_FEC03;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodecParameters};
use rtc::sansio::Protocol;
use rtc::shared::error::Error;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

/// The most media packets one repair block covers. Keeps the packet mask to its short
/// forms and bounds what a frame with no marker bit can hold back.
const MAX_BLOCK: usize = 48;
const _: () = assert!(MAX_BLOCK as u32 <= MAX_MEDIA_PACKETS);

/// The `flexfec-03` codec at `payload_type`, as both ends register it for video (a
/// 10 s repair window, in 90 kHz units, as browsers announce it).
pub fn flexfec03(payload_type: u8) -> RTCRtpCodecParameters {
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: MIME_TYPE_FLEX_FEC03.to_owned(),
            clock_rate: 90_000,
            channels: 0,
            sdp_fmtp_line: "repair-window=10000000".to_owned(),
            rtcp_feedback: vec![],
        },
        payload_type,
    }
}

/// How much FEC to send, shared between the interceptor and whoever reads the loss.
#[derive(Debug, Default)]
pub struct FecLevel {
    /// Media packets per repair packet; 0 sends none.
    group: AtomicU8,
    /// Copies of each repair packet (at least 1): on a path losing a quarter of its
    /// packets one copy still leaves 9 % of them to NACK, two leave 2.7 %.
    copies: AtomicU8,
    /// Repair packets sent.
    pub repair_packets: AtomicU64,
    /// Bytes of repair payload sent.
    pub repair_bytes: AtomicU64,
}

impl FecLevel {
    /// A level of one repair packet per `group` media packets (0: off).
    pub fn new(group: u8) -> Arc<Self> {
        let level = Arc::new(Self::default());
        level.set(Protection { group, copies: 1 });
        level
    }

    /// The protection now.
    pub fn get(&self) -> Protection {
        Protection {
            group: self.group.load(Relaxed),
            copies: self.copies.load(Relaxed).max(1),
        }
    }

    /// Change the protection; the next block uses it.
    pub fn set(&self, protection: Protection) {
        self.group.store(protection.group, Relaxed);
        self.copies.store(protection.copies.max(1), Relaxed);
    }
}

/// One protection setting: `copies` repair packets per `group` media packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protection {
    /// Media packets per repair packet; 0 sends none.
    pub group: u8,
    /// Copies of each repair packet.
    pub copies: u8,
}

impl Protection {
    /// No FEC.
    pub const OFF: Self = Self {
        group: 0,
        copies: 1,
    };

    /// What a path losing `loss` (0..1) of its packets calls for. The residual loss of a
    /// media packet is about `loss × (1 − (1 − loss)^group)` with one copy (`loss³` with
    /// two at group 1); NACK repairs the rest, a round trip later.
    pub fn for_loss(loss: f64) -> Self {
        let (group, copies) = match loss {
            l if l < 0.01 => (0, 1),
            l if l < 0.05 => (4, 1),
            l if l < 0.15 => (2, 1),
            l if l < 0.25 => (1, 1),
            _ => (1, 2),
        };
        Self { group, copies }
    }

    /// The share of the media rate the repair packets add (for the encoder's budget).
    pub fn overhead(self) -> f64 {
        if self.group == 0 {
            0.0
        } else {
            f64::from(self.copies) / f64::from(self.group)
        }
    }
}

#[derive(Debug)]
struct Protected {
    encoder: FlexFec03Encoder,
    block: Vec<rtc::rtp::Packet>,
    frames: usize,
    keyframe: bool,
}

/// The send-side interceptor; register it at `Slot::FecEncoder`.
pub struct FrameFec {
    level: Arc<FecLevel>,
    streams: HashMap<u32, Protected>,
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl FrameFec {
    /// Protection as `level` says, read at every block.
    pub fn new(level: Arc<FecLevel>) -> Self {
        Self {
            level,
            streams: HashMap::new(),
            read: VecDeque::new(),
            write: VecDeque::new(),
        }
    }
}

impl std::fmt::Debug for FrameFec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameFec")
            .field("level", &self.level)
            .field("streams", &self.streams.len())
            .finish_non_exhaustive()
    }
}

impl Protected {
    /// Repair packets for the block; the block starts over.
    fn close(&mut self, protection: Protection) -> Vec<rtc::rtp::Packet> {
        let group = usize::from(if self.keyframe {
            (protection.group / 2).max(1)
        } else {
            protection.group
        });
        let mut repair = Vec::new();
        if group > 0 {
            for chunk in self.block.chunks(MAX_BLOCK) {
                let count = chunk.len().div_ceil(group) as u32;
                for _ in 0..protection.copies {
                    repair.extend(self.encoder.encode(chunk, count));
                }
            }
        }
        self.block.clear();
        self.frames = 0;
        self.keyframe = false;
        repair
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for FrameFec {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Error> {
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Error> {
        let (now, transport) = (msg.now, msg.transport);
        let repair = match &msg.message.packet {
            Packet::Rtp(packet) => match self.streams.get_mut(&packet.header.ssrc) {
                Some(stream) => {
                    let follows = stream.block.last().is_none_or(|last| {
                        last.header.sequence_number.wrapping_add(1) == packet.header.sequence_number
                    });
                    if !follows {
                        // A block must be consecutive; start over rather than protect
                        // the wrong packets.
                        stream.block.clear();
                        stream.frames = 0;
                        stream.keyframe = false;
                    }
                    stream.keyframe |= starts_keyframe(&packet.payload);
                    stream.block.push(packet.clone());
                    if packet.header.marker {
                        stream.frames += 1;
                    }
                    let protection = self.level.get();
                    let due = (packet.header.marker
                        && (stream.block.len() >= 2 || stream.frames >= 2))
                        || stream.block.len() >= MAX_BLOCK;
                    if protection.group == 0 {
                        stream.block.clear();
                        stream.frames = 0;
                        stream.keyframe = false;
                        Vec::new()
                    } else if due {
                        stream.close(protection)
                    } else {
                        Vec::new()
                    }
                }
                None => Vec::new(),
            },
            _ => Vec::new(),
        };
        // The media first: repair protects what has already left.
        self.write.push_back(msg);
        for packet in repair {
            self.level.repair_packets.fetch_add(1, Relaxed);
            self.level
                .repair_bytes
                .fetch_add(packet.payload.len() as u64, Relaxed);
            self.write.push_back(TaggedPacket {
                now,
                transport,
                message: AttributedPacket::new(Packet::Rtp(packet)),
            });
        }
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write.pop_front()
    }

    fn handle_timeout(&mut self, _now: Instant) -> Result<(), Error> {
        Ok(())
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }
}

impl Interceptor for FrameFec {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        // Only a stream that negotiated a repair SSRC and the flexfec-03 payload type.
        if let (Some(ssrc), Some(pt)) = (info.ssrc_fec, info.payload_type_fec) {
            self.streams.insert(
                info.ssrc,
                Protected {
                    encoder: FlexFec03Encoder::new(pt, ssrc)
                        .with_base_sequence_number(rand::random()),
                    block: Vec::new(),
                    frames: 0,
                    keyframe: false,
                },
            );
        }
    }

    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.streams.remove(&info.ssrc);
    }

    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::interceptor::{FlexFec03ReceiveBuilder, Slot};
    use rtc::shared::TransportContext;

    const MEDIA: u32 = 1111;
    const REPAIR: u32 = 2222;
    const PT_FEC: u8 = 49;

    fn info() -> StreamInfo {
        StreamInfo {
            ssrc: MEDIA,
            ssrc_fec: Some(REPAIR),
            payload_type: 96,
            payload_type_fec: Some(PT_FEC),
            ..Default::default()
        }
    }

    fn media(seq: u16, marker: bool, payload: &[u8]) -> rtc::rtp::Packet {
        rtc::rtp::Packet {
            header: rtc::rtp::header::Header {
                version: 2,
                ssrc: MEDIA,
                sequence_number: seq,
                timestamp: u32::from(seq) * 3000,
                payload_type: 96,
                marker,
                ..Default::default()
            },
            payload: bytes::Bytes::copy_from_slice(payload),
        }
    }

    fn tagged(p: rtc::rtp::Packet) -> TaggedPacket {
        TaggedPacket {
            now: Instant::now(),
            transport: TransportContext::default(),
            message: AttributedPacket::new(Packet::Rtp(p)),
        }
    }

    /// Send `packets` through a FrameFec at `group`; everything that came out.
    fn send(group: u8, packets: Vec<rtc::rtp::Packet>) -> Vec<rtc::rtp::Packet> {
        let mut fec = FrameFec::new(FecLevel::new(group));
        fec.bind_local_stream(&info());
        for p in packets {
            fec.handle_write(tagged(p)).unwrap();
        }
        std::iter::from_fn(|| fec.poll_write())
            .map(|m| match m.message.packet {
                Packet::Rtp(p) => p,
                _ => panic!("only RTP expected"),
            })
            .collect()
    }

    fn repairs(out: &[rtc::rtp::Packet]) -> usize {
        out.iter().filter(|p| p.header.ssrc == REPAIR).count()
    }

    #[test]
    fn a_block_closes_at_the_end_of_a_frame_once_it_has_two_packets() {
        // Frame of three packets at group 2: two repair packets after its last packet.
        let out = send(
            2,
            vec![
                media(1, false, b"a"),
                media(2, false, b"b"),
                media(3, true, b"c"),
            ],
        );
        assert_eq!(out.len(), 5);
        assert_eq!(repairs(&out[..3]), 0, "media leaves first");
        assert_eq!(repairs(&out), 2);
        assert!(out[3..].iter().all(|p| p.header.payload_type == PT_FEC));
    }

    #[test]
    fn one_packet_frames_are_protected_in_pairs() {
        let out = send(
            2,
            vec![
                media(1, true, b"a"),
                media(2, true, b"b"),
                media(3, true, b"c"),
            ],
        );
        // After frame 2: one repair for the pair; frame 3 waits for the next frame.
        assert_eq!(repairs(&out), 1);
        assert_eq!(out[2].header.ssrc, REPAIR);
    }

    #[test]
    fn off_sends_nothing_and_keyframes_get_twice_the_protection() {
        let frame = || {
            vec![
                media(1, false, b"a"),
                media(2, false, b"b"),
                media(3, false, b"c"),
                media(4, true, b"d"),
            ]
        };
        assert_eq!(repairs(&send(0, frame())), 0);
        assert_eq!(repairs(&send(4, frame())), 1);
        let mut key = frame();
        key[0] = media(1, false, &[0x65, 1, 2]); // an IDR slice
        assert_eq!(repairs(&send(4, key)), 2);
    }

    #[test]
    fn rtc_recovers_a_lost_packet_from_these_repairs() {
        let sent = send(
            2,
            vec![
                media(10, false, b"first part"),
                media(11, false, b"second, longer part"),
                media(12, false, b"third"),
                media(13, true, b"fourth"),
            ],
        );
        // Lose packet 11; the receive interceptor rebuilds it from the repair packets.
        let mut rx = rtc::interceptor::Registry::new()
            .with(Slot::FecDecoder, FlexFec03ReceiveBuilder::new().build())
            .build();
        rx.bind_remote_stream(&info());
        for p in sent
            .into_iter()
            .filter(|p| p.header.sequence_number != 11 || p.header.ssrc == REPAIR)
        {
            rx.handle_read(tagged(p)).unwrap();
        }
        let got: Vec<rtc::rtp::Packet> = std::iter::from_fn(|| rx.poll_read())
            .filter_map(|m| match m.message.packet {
                Packet::Rtp(p) => Some(p),
                _ => None,
            })
            .collect();
        let rebuilt = got
            .iter()
            .find(|p| p.header.sequence_number == 11)
            .expect("packet 11 rebuilt");
        assert_eq!(&rebuilt.payload[..], b"second, longer part");
        assert_eq!(rebuilt.header.ssrc, MEDIA);
        assert!(
            got.iter().all(|p| p.header.ssrc == MEDIA),
            "repairs are consumed"
        );
    }

    #[test]
    fn loss_picks_the_protection() {
        let p = |loss| {
            let p = Protection::for_loss(loss);
            (p.group, p.copies)
        };
        assert_eq!(p(0.0), (0, 1));
        assert_eq!(p(0.03), (4, 1));
        assert_eq!(p(0.10), (2, 1));
        assert_eq!(p(0.20), (1, 1));
        assert_eq!(p(0.30), (1, 2));
        assert_eq!(Protection::for_loss(0.10).overhead(), 0.5);
        assert_eq!(Protection::for_loss(0.30).overhead(), 2.0);
        assert_eq!(Protection::OFF.overhead(), 0.0);
    }

    #[test]
    fn two_copies_send_each_repair_packet_twice() {
        let level = FecLevel::new(0);
        level.set(Protection {
            group: 1,
            copies: 2,
        });
        let mut fec = FrameFec::new(level.clone());
        fec.bind_local_stream(&info());
        for p in [media(1, false, b"a"), media(2, true, b"b")] {
            fec.handle_write(tagged(p)).unwrap();
        }
        let repair: Vec<rtc::rtp::Packet> = std::iter::from_fn(|| fec.poll_write())
            .filter_map(|m| match m.message.packet {
                Packet::Rtp(p) if p.header.ssrc == REPAIR => Some(p),
                _ => None,
            })
            .collect();
        assert_eq!(repair.len(), 4);
        assert_eq!(repair[0].payload, repair[2].payload);
        assert_ne!(
            repair[0].header.sequence_number,
            repair[2].header.sequence_number
        );
        assert_eq!(level.repair_packets.load(Relaxed), 4);
    }
}

//! Encoded media to RTP: H.264 packetization (RFC 6184, STAP-A and FU-A) and timestamps
//! from the one media clock.

use std::time::Duration;

use bytes::Bytes;
use lectern_media::{EncodedAudio, EncodedVideo, OPUS_FRAME};
use rtc::rtp::codec::h264::H264Payloader;
use rtc::rtp::header::Header;
use rtc::rtp::packetizer::Payloader;

/// Payload bytes per packet: room for SRTP, the header extensions and a VPN's overhead
/// inside a 1280-byte path MTU.
const MTU: usize = 1150;

/// Video RTP for one session: sequence numbers and 90 kHz timestamps.
#[derive(Debug)]
pub(crate) struct VideoRtp {
    payloader: H264Payloader,
    seq: u16,
    ts_base: u32,
}

impl VideoRtp {
    pub(crate) fn new() -> Self {
        Self {
            payloader: H264Payloader::default(),
            seq: rand::random(),
            ts_base: rand::random(),
        }
    }

    /// RTP packets for one access unit (payload type and SSRC are filled in by the caller).
    pub(crate) fn packetize(&mut self, frame: &EncodedVideo) -> Vec<rtc::rtp::Packet> {
        let payloads = match self
            .payloader
            .payload(MTU, &Bytes::copy_from_slice(&frame.data))
        {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("H.264 packetization: {e}");
                return Vec::new();
            }
        };
        let ts = self.ts_base.wrapping_add(ticks(frame.captured_at, 90_000));
        let last = payloads.len().saturating_sub(1);
        payloads
            .into_iter()
            .enumerate()
            .map(|(i, payload)| {
                self.seq = self.seq.wrapping_add(1);
                rtc::rtp::Packet {
                    header: Header {
                        version: 2,
                        marker: i == last,
                        sequence_number: self.seq,
                        timestamp: ts,
                        ..Default::default()
                    },
                    payload,
                }
            })
            .collect()
    }
}

/// Audio RTP for one session: 48 kHz timestamps that advance by exactly one frame per
/// packet, re-anchored to the capture clock after a gap (dropped packets, a stall).
#[derive(Debug)]
pub(crate) struct AudioRtp {
    seq: u16,
    ts_base: u32,
    next: Option<u32>,
}

impl AudioRtp {
    pub(crate) fn new() -> Self {
        Self {
            seq: rand::random(),
            ts_base: rand::random(),
            next: None,
        }
    }

    pub(crate) fn packetize(&mut self, packet: &EncodedAudio) -> rtc::rtp::Packet {
        let clock = self.ts_base.wrapping_add(ticks(packet.captured_at, 48_000));
        let ts = match self.next {
            // Within two frames of where the clock says: keep the exact cadence.
            Some(next)
                if clock.wrapping_sub(next).wrapping_add(2 * OPUS_FRAME as u32)
                    < 4 * OPUS_FRAME as u32 =>
            {
                next
            }
            _ => clock,
        };
        self.next = Some(ts.wrapping_add(OPUS_FRAME as u32));
        self.seq = self.seq.wrapping_add(1);
        rtc::rtp::Packet {
            header: Header {
                version: 2,
                // Opus packets each start a talk spurt for jitter buffers only after DTX;
                // with DTX off, never.
                marker: false,
                sequence_number: self.seq,
                timestamp: ts,
                ..Default::default()
            },
            payload: Bytes::copy_from_slice(&packet.data),
        }
    }
}

/// A media time in RTP clock ticks (wrapping, as RTP timestamps do).
fn ticks(at: Duration, rate: u64) -> u32 {
    (at.as_micros() as u64 * rate / 1_000_000) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video(ms: u64, data: Vec<u8>) -> EncodedVideo {
        EncodedVideo {
            data,
            keyframe: false,
            captured_at: Duration::from_millis(ms),
            encoded_at: Duration::from_millis(ms + 5),
            width: 640,
            height: 360,
        }
    }

    #[test]
    fn a_large_frame_is_fragmented_with_one_marker_and_one_timestamp() {
        let mut rtp = VideoRtp::new();
        let mut au = vec![0, 0, 0, 1, 0x65];
        au.extend(std::iter::repeat_n(0xAB, 5000));
        let a = rtp.packetize(&video(1000, au.clone()));
        assert!(a.len() >= 5);
        assert!(a.iter().all(|p| p.payload.len() <= MTU));
        assert_eq!(a.iter().filter(|p| p.header.marker).count(), 1);
        assert!(a.last().unwrap().header.marker);
        assert!(
            a.iter()
                .all(|p| p.header.timestamp == a[0].header.timestamp)
        );
        // FU-A (type 28) carrying an IDR (type 5).
        assert_eq!(a[0].payload[0] & 0x1f, 28);
        assert_eq!(a[0].payload[1] & 0x1f, 5);
        let b = rtp.packetize(&video(1033, au));
        assert_eq!(
            b[0].header.timestamp.wrapping_sub(a[0].header.timestamp),
            2970
        );
        assert_eq!(
            b[0].header.sequence_number,
            a.last().unwrap().header.sequence_number.wrapping_add(1)
        );
    }

    #[test]
    fn audio_keeps_exact_cadence_through_jitter_and_reanchors_after_a_gap() {
        let mut rtp = AudioRtp::new();
        let at = |ms: u64, us: u64| EncodedAudio {
            data: vec![0xF8],
            captured_at: Duration::from_micros(ms * 1000 + us),
        };
        let a = rtp.packetize(&at(100, 0)).header.timestamp;
        let b = rtp.packetize(&at(120, 700)).header.timestamp;
        let c = rtp.packetize(&at(139, 400)).header.timestamp;
        assert_eq!(b.wrapping_sub(a), 960);
        assert_eq!(c.wrapping_sub(b), 960);
        // 400 ms of nothing (a stall): follow the clock again.
        let d = rtp.packetize(&at(540, 0)).header.timestamp;
        assert_eq!(d.wrapping_sub(a), 440 * 48);
    }
}

//! H.264 RTP payloads (RFC 6184, packetization mode 0 and 1) back into access units,
//! sans-IO.
//!
//! Packets may arrive out of order (a NACKed retransmission, a reordering network):
//! they wait in a reorder buffer of at most [`REORDER_PACKETS`] packets and
//! [`REORDER_WAIT`]. A hole that outlives either is a loss: the frame it was in and
//! every frame after it up to the next IDR are dropped (a decoder fed a frame that
//! refers to a lost one shows garbage until the next keyframe), and the caller is told
//! to ask the publisher for a keyframe.
//!
//! Single NAL unit packets, STAP-A and FU-A are understood; STAP-B, MTAP and FU-B
//! (interleaved mode, which WebRTC never negotiates) are refused as malformed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};

/// Most packets held while waiting for a missing one.
pub const REORDER_PACKETS: usize = 128;
/// Longest a missing packet is waited for by default (a retransmission is one round
/// trip away). [`H264Depacketizer::with_wait`] sets another.
pub const REORDER_WAIT: Duration = Duration::from_millis(120);
/// Largest access unit assembled (a 1080p IDR at a generous bitrate is well below).
pub const MAX_ACCESS_UNIT: usize = 4 << 20;

use crate::h264::{FU_A, NAL_AUD, NAL_IDR, NAL_PPS, NAL_SPS, STAP_A};

/// One decoded picture's NAL units, in decode order, without start codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessUnit {
    /// The RTP timestamp (90 kHz) shared by its packets.
    pub rtp_timestamp: u32,
    /// Contains an IDR slice.
    pub keyframe: bool,
    /// Every NAL unit but access unit delimiters.
    pub nalus: Vec<Bytes>,
}

impl AccessUnit {
    /// The first SPS and PPS it carries, if both are there.
    pub fn parameter_sets(&self) -> Option<(&Bytes, &Bytes)> {
        let find = |t: u8| self.nalus.iter().find(|n| n[0] & 0x1f == t);
        Some((find(NAL_SPS)?, find(NAL_PPS)?))
    }

    /// The AVCC body (4-byte big-endian lengths) of its picture NAL units: parameter
    /// sets go in the sequence header instead.
    pub fn to_avcc(&self) -> Bytes {
        let pictures = || {
            self.nalus
                .iter()
                .filter(|n| !matches!(n[0] & 0x1f, NAL_SPS | NAL_PPS))
        };
        let mut out = BytesMut::with_capacity(pictures().map(|n| 4 + n.len()).sum());
        for n in pictures() {
            out.put_u32(n.len() as u32);
            out.put_slice(n);
        }
        out.freeze()
    }
}

/// What the depacketizer produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Depacketized {
    /// A complete access unit, in order.
    Frame(AccessUnit),
    /// A loss or a malformed packet broke the picture chain: ask for a keyframe.
    /// Frames are dropped until an IDR comes.
    NeedKeyframe,
}

#[derive(Debug)]
struct Held {
    timestamp: u32,
    marker: bool,
    payload: Bytes,
    arrived: Instant,
}

/// The state of one H.264 RTP stream.
#[derive(Debug, Default)]
pub struct H264Depacketizer {
    /// Extended (wrap-free) sequence number expected next; `None` before the first.
    next: Option<u64>,
    /// The last extended sequence number seen, for extending the next one.
    highest: Option<u64>,
    held: BTreeMap<u64, Held>,
    /// The access unit being assembled: its timestamp and NAL units.
    current: Option<(u32, Vec<Bytes>)>,
    current_bytes: usize,
    /// An FU-A fragment in progress.
    fragment: Option<BytesMut>,
    /// Dropping until an IDR (at the start, and after a loss).
    broken: bool,
    out: std::collections::VecDeque<Depacketized>,
    /// Packets refused as malformed, and holes given up on.
    pub malformed: u64,
    pub lost: u64,
    /// How long a hole is waited for.
    wait: Duration,
}

impl H264Depacketizer {
    /// A depacketizer waiting for its first keyframe.
    pub fn new() -> Self {
        Self::with_wait(REORDER_WAIT)
    }

    /// A depacketizer that waits up to `wait` for a missing packet before it gives the
    /// hole up (and the video up to the next keyframe).
    pub fn with_wait(wait: Duration) -> Self {
        Self {
            broken: true,
            wait,
            ..Self::default()
        }
    }

    /// Takes one RTP packet of the stream.
    pub fn push(&mut self, now: Instant, seq: u16, timestamp: u32, marker: bool, payload: Bytes) {
        let ext = self.extend(seq);
        if self.next.is_none() {
            self.next = Some(ext);
        }
        let next = self.next.unwrap_or(ext);
        if ext < next || self.held.contains_key(&ext) {
            return; // late duplicate or a retransmission we no longer need
        }
        self.held.insert(
            ext,
            Held {
                timestamp,
                marker,
                payload,
                arrived: now,
            },
        );
        self.release(now);
    }

    /// Gives up on holes that waited too long; call on a timer.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.release(now);
    }

    /// When [`Self::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.held.values().next().map(|h| h.arrived + self.wait)
    }

    /// The next output.
    pub fn poll(&mut self) -> Option<Depacketized> {
        self.out.pop_front()
    }

    fn extend(&mut self, seq: u16) -> u64 {
        let ext = match self.highest {
            None => u64::from(seq) + (1 << 16),
            Some(h) => {
                let delta = seq.wrapping_sub(h as u16) as i16;
                h.saturating_add_signed(i64::from(delta))
            }
        };
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        ext
    }

    fn release(&mut self, now: Instant) {
        loop {
            let Some(next) = self.next else { return };
            if let Some(h) = self.held.remove(&next) {
                self.next = Some(next + 1);
                self.take(h);
                continue;
            }
            // A hole: give up on it when the buffer is full or its successor waited long.
            let Some((&first, oldest)) = self.held.iter().next() else {
                return;
            };
            if self.held.len() < REORDER_PACKETS && now < oldest.arrived + self.wait {
                return;
            }
            self.lost += first - next;
            self.next = Some(first);
            self.lose();
        }
    }

    /// The picture chain is broken: drop what is assembled, wait for an IDR.
    fn lose(&mut self) {
        self.current = None;
        self.current_bytes = 0;
        self.fragment = None;
        self.broken = true;
        self.out.push_back(Depacketized::NeedKeyframe);
    }

    fn take(&mut self, h: Held) {
        if self
            .current
            .as_ref()
            .is_some_and(|(ts, _)| *ts != h.timestamp)
        {
            // A new timestamp without the marker on the last one: finish it anyway.
            self.finish();
        }
        if self.current.is_none() {
            self.current = Some((h.timestamp, Vec::new()));
            self.current_bytes = 0;
        }
        if let Err(()) = self.parse(h.payload) {
            self.malformed += 1;
            self.lose();
            return;
        }
        if h.marker {
            self.finish();
        }
    }

    fn add_nalu(&mut self, nalu: Bytes) -> Result<(), ()> {
        if nalu.is_empty() {
            return Err(());
        }
        self.current_bytes += nalu.len();
        if self.current_bytes > MAX_ACCESS_UNIT {
            return Err(());
        }
        if nalu[0] & 0x1f != NAL_AUD
            && let Some((_, nalus)) = &mut self.current
        {
            nalus.push(nalu);
        }
        Ok(())
    }

    fn parse(&mut self, payload: Bytes) -> Result<(), ()> {
        let header = *payload.first().ok_or(())?;
        if header & 0x80 != 0 {
            return Err(()); // forbidden_zero_bit
        }
        match header & 0x1f {
            1..=23 => {
                self.fragment = None;
                self.add_nalu(payload)
            }
            STAP_A => {
                self.fragment = None;
                let mut at = 1;
                while at < payload.len() {
                    let size = payload
                        .get(at..at + 2)
                        .map(|s| usize::from(u16::from_be_bytes([s[0], s[1]])))
                        .ok_or(())?;
                    let end = at + 2 + size;
                    if size == 0 || end > payload.len() {
                        return Err(());
                    }
                    self.add_nalu(payload.slice(at + 2..end))?;
                    at = end;
                }
                Ok(())
            }
            FU_A => {
                let fu = *payload.get(1).ok_or(())?;
                let (start, end) = (fu & 0x80 != 0, fu & 0x40 != 0);
                if start {
                    let mut nal = BytesMut::with_capacity(payload.len() * 4);
                    nal.put_u8(header & 0xe0 | fu & 0x1f);
                    self.fragment = Some(nal);
                }
                let Some(nal) = &mut self.fragment else {
                    return Err(()); // a middle or end without its start
                };
                nal.put_slice(&payload[2..]);
                if nal.len() > MAX_ACCESS_UNIT {
                    return Err(());
                }
                if end {
                    let nal = self.fragment.take().ok_or(())?.freeze();
                    self.add_nalu(nal)?;
                }
                Ok(())
            }
            _ => Err(()),
        }
    }

    fn finish(&mut self) {
        self.fragment = None;
        let Some((rtp_timestamp, nalus)) = self.current.take() else {
            return;
        };
        self.current_bytes = 0;
        if nalus.is_empty() {
            return;
        }
        let keyframe = nalus.iter().any(|n| n[0] & 0x1f == NAL_IDR);
        if self.broken && !keyframe {
            // Still no IDR to start from (the stream began mid-GOP, or the request
            // after a loss was lost too): ask again; the caller rate-limits requests.
            self.out.push_back(Depacketized::NeedKeyframe);
            return;
        }
        if keyframe {
            self.broken = false;
        }
        self.out.push_back(Depacketized::Frame(AccessUnit {
            rtp_timestamp,
            keyframe,
            nalus,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPS: &[u8] = &[0x67, 0x42, 0xc0, 0x1f, 0xda];
    const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];

    fn idr(len: usize) -> Vec<u8> {
        let mut v = vec![0x65];
        v.extend((0..len).map(|i| (i % 251) as u8));
        v
    }

    fn stap(nalus: &[&[u8]]) -> Bytes {
        let mut out = vec![0x78];
        for n in nalus {
            out.extend((n.len() as u16).to_be_bytes());
            out.extend_from_slice(n);
        }
        out.into()
    }

    fn fu(nal: &[u8], parts: usize) -> Vec<Bytes> {
        let body = &nal[1..];
        let chunk = body.len().div_ceil(parts);
        body.chunks(chunk)
            .enumerate()
            .map(|(i, c)| {
                let mut p = vec![nal[0] & 0xe0 | FU_A, nal[0] & 0x1f];
                if i == 0 {
                    p[1] |= 0x80;
                }
                if (i + 1) * chunk >= body.len() {
                    p[1] |= 0x40;
                }
                p.extend_from_slice(c);
                Bytes::from(p)
            })
            .collect()
    }

    /// A keyframe as a browser sends it: STAP-A with SPS+PPS, then the IDR in FU-A.
    fn keyframe_packets(ts: u32) -> Vec<(u32, bool, Bytes)> {
        let mut v = vec![(ts, false, stap(&[SPS, PPS]))];
        let parts = fu(&idr(3000), 3);
        let n = parts.len();
        v.extend(
            parts
                .into_iter()
                .enumerate()
                .map(|(i, p)| (ts, i + 1 == n, p)),
        );
        v
    }

    fn frames(d: &mut H264Depacketizer) -> Vec<Depacketized> {
        std::iter::from_fn(|| d.poll()).collect()
    }

    fn feed(d: &mut H264Depacketizer, now: Instant, first_seq: u16, pkts: &[(u32, bool, Bytes)]) {
        for (i, (ts, m, p)) in pkts.iter().enumerate() {
            d.push(now, first_seq.wrapping_add(i as u16), *ts, *m, p.clone());
        }
    }

    #[test]
    fn reassembles_stap_a_and_fu_a_into_one_access_unit() {
        let mut d = H264Depacketizer::new();
        feed(&mut d, Instant::now(), 10, &keyframe_packets(9000));
        let out = frames(&mut d);
        let [Depacketized::Frame(au)] = &out[..] else {
            panic!("{out:?}")
        };
        assert!(au.keyframe);
        assert_eq!(au.rtp_timestamp, 9000);
        assert_eq!(au.nalus.len(), 3);
        assert_eq!(&au.nalus[2][..], &idr(3000)[..]);
        let (sps, pps) = au.parameter_sets().unwrap();
        assert_eq!((&sps[..], &pps[..]), (SPS, PPS));
        // AVCC holds only the picture, length-prefixed.
        let avcc = au.to_avcc();
        assert_eq!(&avcc[..4], &3001u32.to_be_bytes());
        assert_eq!(&avcc[4..], &idr(3000)[..]);
    }

    #[test]
    fn waits_for_a_keyframe_before_the_first_frame() {
        let mut d = H264Depacketizer::new();
        let now = Instant::now();
        d.push(now, 1, 100, true, Bytes::from_static(&[0x41, 1, 2]));
        assert_eq!(frames(&mut d), vec![Depacketized::NeedKeyframe]);
        feed(&mut d, now, 2, &keyframe_packets(200));
        d.push(now, 6, 300, true, Bytes::from_static(&[0x41, 3, 4]));
        let out = frames(&mut d);
        assert_eq!(out.len(), 2);
        assert!(
            matches!(&out[1], Depacketized::Frame(au) if !au.keyframe && au.rtp_timestamp == 300)
        );
    }

    #[test]
    fn reorders_within_the_window_and_across_the_sequence_wrap() {
        let mut d = H264Depacketizer::new();
        let now = Instant::now();
        let mut pkts = keyframe_packets(0);
        pkts.push((3000, true, Bytes::from_static(&[0x41, 7])));
        // Sequence numbers 65533.. wrap to 0; deliver them shuffled.
        let order = [0usize, 2, 1, 4, 3];
        for &i in &order {
            let (ts, m, p) = &pkts[i];
            d.push(now, 65533u16.wrapping_add(i as u16), *ts, *m, p.clone());
        }
        let out = frames(&mut d);
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(d.lost, 0);
    }

    #[test]
    fn a_lost_packet_drops_frames_until_the_next_idr_and_asks_for_one() {
        let mut d = H264Depacketizer::new();
        let t0 = Instant::now();
        feed(&mut d, t0, 0, &keyframe_packets(0));
        assert_eq!(frames(&mut d).len(), 1);
        // Frame 2 is packets 4 and 5; packet 4 never comes.
        d.push(t0, 5, 3000, true, Bytes::from_static(&[0x7c, 0x41, 9]));
        d.push(t0, 6, 6000, true, Bytes::from_static(&[0x41, 8]));
        assert!(frames(&mut d).is_empty(), "waits for the hole");
        d.handle_timeout(t0 + REORDER_WAIT);
        let out = frames(&mut d);
        // The hole, the orphaned fragment after it and the delta frame each ask (the
        // caller rate-limits); no picture comes out.
        assert!(
            !out.is_empty() && out.iter().all(|o| *o == Depacketized::NeedKeyframe),
            "{out:?}"
        );
        assert_eq!(d.lost, 1);
        feed(&mut d, t0 + REORDER_WAIT, 7, &keyframe_packets(9000));
        let out = frames(&mut d);
        assert!(matches!(&out[..], [Depacketized::Frame(au)] if au.keyframe));
    }

    #[test]
    fn malformed_payloads_are_refused_without_panicking() {
        let mut d = H264Depacketizer::new();
        let now = Instant::now();
        feed(&mut d, now, 0, &keyframe_packets(0));
        frames(&mut d);
        let bad: [&[u8]; 6] = [
            &[],
            &[0x78, 0, 9, 0x67], // STAP-A with a lying size
            &[0x7c],             // FU-A without its header
            &[0x7c, 0x05, 1],    // FU-A middle without a start
            &[0x79, 0, 0],       // STAP-B
            &[0xe5, 1],          // forbidden bit
        ];
        for (i, p) in bad.iter().enumerate() {
            d.push(
                now,
                4 + i as u16,
                3000 * (i as u32 + 1),
                true,
                Bytes::copy_from_slice(p),
            );
        }
        assert_eq!(d.malformed, 6);
        assert!(frames(&mut d).contains(&Depacketized::NeedKeyframe));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_packets_never_panic(packets in proptest::collection::vec(
            (proptest::num::u16::ANY, proptest::num::u32::ANY, proptest::bool::ANY,
             proptest::collection::vec(proptest::num::u8::ANY, 0..64)), 0..64)) {
            let mut d = H264Depacketizer::new();
            let now = Instant::now();
            for (seq, ts, m, p) in packets {
                d.push(now, seq, ts, m, Bytes::from(p));
                while d.poll().is_some() {}
            }
            d.handle_timeout(now + REORDER_WAIT);
        }
    }
}

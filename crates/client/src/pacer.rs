//! The publisher's pacer: `rtc`'s leaky bucket, run faster than the estimate.
//!
//! `rtc` paces at exactly the congestion controller's target. Whatever goes out above
//! it — an encoder overshooting its budget, a keyframe, retransmissions, FEC repair —
//! then waits in the pacer's queue, and at a 190 kbit/s floor that queue reached
//! seconds (`cargo bench -p lectern-e2e --bench impaired -- loss10`, p50 latency
//! 0.9 s). Like libwebrtc (pacing factor 2.5), this one lets the bucket drain at
//! `PACING_FACTOR` × the target: bursts are still smoothed, and the encoder's rate
//! control, not the pacer's queue, is what keeps the average at the target.
//!
//! The target it multiplies is never below what the session sends at its floor: the
//! video's minimum (`MIN_VIDEO_BPS`) plus its FEC, plus audio. At the floor the session
//! knowingly sends more than the estimate, and FEC is not seen by the estimator at all
//! (`rtc` numbers only the media streams for transport-wide feedback); pacing below
//! that would only turn the excess into queueing delay.

use lectern_media::MIN_VIDEO_BPS;
use lectern_rtp::FecLevel;
use rtc::interceptor::{
    Attribute, Interceptor, PacerBuilder, PacerInterceptor, StreamInfo, TaggedPacket,
};
use rtc::sansio::Protocol;
use rtc::shared::error::Error;
use std::sync::Arc;
use std::time::Instant;

use crate::link::AUDIO_BPS;

/// How much faster than the estimate the pacer may send.
pub(crate) const PACING_FACTOR: f64 = 2.5;

/// Packets the pacer holds before it refuses more (at 2.5 × 190 kbit/s, about 4 s of
/// 1,200-byte packets; `rtc`'s default is 4,096).
const QUEUE_LIMIT: usize = 1_024;

/// Register at `Slot::Pacer`, in place of `rtc`'s.
pub(crate) struct FastPacer {
    inner: PacerInterceptor,
    /// The congestion controller's last target, bps.
    estimate: f64,
    fec: Arc<FecLevel>,
}

impl FastPacer {
    /// A pacer starting from an estimate of `start_bps`, with `fec`'s overhead.
    pub(crate) fn new(start_bps: f64, fec: Arc<FecLevel>) -> Self {
        let mut pacer = Self {
            inner: PacerBuilder::new().with_queue_limit(QUEUE_LIMIT).build(),
            estimate: start_bps,
            fec,
        };
        pacer.apply();
        pacer
    }

    /// The rate the bucket drains at.
    fn rate(&self) -> f64 {
        let floor =
            f64::from(MIN_VIDEO_BPS) * (1.0 + self.fec.get().overhead()) + f64::from(AUDIO_BPS);
        PACING_FACTOR * self.estimate.max(floor)
    }

    fn apply(&mut self) {
        let rate = self.rate();
        if (self.inner.pacer().target_bitrate() - rate).abs() > 1.0 {
            self.inner.pacer_mut().set_target_bitrate(rate);
        }
    }
}

impl std::fmt::Debug for FastPacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FastPacer")
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for FastPacer {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Error> {
        // The controller announces a new target on the feedback going past. The inner
        // pacer takes it as is; `apply` then sets the rate this pacer wants instead.
        if let Some(Attribute::TargetBitrateChanged { bits_per_second }) =
            msg.message.get(&Attribute::TargetBitrateChanged {
                bits_per_second: 0.0,
            })
        {
            self.estimate = *bits_per_second;
        }
        self.inner.handle_read(msg)?;
        self.apply();
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.inner.poll_read()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Error> {
        // The FEC level may have changed since the last packet.
        self.apply();
        self.inner.handle_write(msg)
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.inner.poll_write()
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        self.inner.handle_timeout(now)
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.inner.poll_timeout()
    }
}

impl Interceptor for FastPacer {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        self.inner.bind_local_stream(info);
    }
    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.inner.unbind_local_stream(info);
    }
    fn bind_remote_stream(&mut self, info: &StreamInfo) {
        self.inner.bind_remote_stream(info);
    }
    fn unbind_remote_stream(&mut self, info: &StreamInfo) {
        self.inner.unbind_remote_stream(info);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::interceptor::{AttributedPacket, Packet};
    use rtc::shared::TransportContext;
    use std::time::Duration;

    fn rtp(seq: u16, size: usize) -> TaggedPacket {
        TaggedPacket {
            now: Instant::now(),
            transport: TransportContext::default(),
            message: AttributedPacket::new(Packet::Rtp(rtc::rtp::Packet {
                header: rtc::rtp::header::Header {
                    version: 2,
                    sequence_number: seq,
                    ..Default::default()
                },
                payload: vec![0u8; size].into(),
            })),
        }
    }

    /// Bits released by `pacer` from a backlog over `window` starting at `t0`.
    fn released_bits(pacer: &mut FastPacer, t0: Instant, window: Duration) -> f64 {
        for seq in 0..200 {
            let mut p = rtp(seq, 1_000);
            p.now = t0;
            pacer.handle_write(p).unwrap();
        }
        let mut bits = 0.0;
        // Virtual time in 1 ms steps (the bucket's float arithmetic can name a deadline
        // a hair before the instant it can actually afford the packet).
        for ms in 0..=window.as_millis() as u64 {
            pacer
                .handle_timeout(t0 + Duration::from_millis(ms))
                .unwrap();
            while let Some(out) = pacer.poll_write() {
                if let Packet::Rtp(p) = &out.message.packet {
                    bits += (p.payload.len() * 8) as f64;
                }
            }
        }
        bits
    }

    #[test]
    fn it_drains_at_two_and_a_half_times_the_estimate() {
        let t0 = Instant::now();
        let mut pacer = FastPacer::new(400_000.0, FecLevel::new(0));
        let bits = released_bits(&mut pacer, t0, Duration::from_secs(1));
        // 1 Mbit/s for a second, plus the bucket's first burst (a tenth of a second).
        assert!((980_000.0..=1_120_000.0).contains(&bits), "{bits}");
    }

    #[test]
    fn a_new_target_is_paced_two_and_a_half_times_faster_and_passed_on_unchanged() {
        let t0 = Instant::now();
        let mut pacer = FastPacer::new(1_000_000.0, FecLevel::new(0));
        let mut feedback = TaggedPacket {
            now: t0,
            transport: TransportContext::default(),
            message: AttributedPacket::new(Packet::Rtcp(vec![])),
        };
        feedback.message.add(Attribute::TargetBitrateChanged {
            bits_per_second: 300_000.0,
        });
        pacer.handle_read(feedback).unwrap();
        let out = pacer.poll_read().expect("passed on");
        assert!(matches!(
            out.message.get(&Attribute::TargetBitrateChanged { bits_per_second: 0.0 }),
            Some(Attribute::TargetBitrateChanged { bits_per_second }) if (*bits_per_second - 300_000.0).abs() < 1e-6
        ));
        let bits = released_bits(&mut pacer, t0, Duration::from_secs(1));
        assert!((730_000.0..=840_000.0).contains(&bits), "{bits}");
    }

    #[test]
    fn at_the_floor_it_makes_room_for_the_fec() {
        use lectern_rtp::Protection;
        let fec = FecLevel::new(0);
        let pacer = FastPacer::new(190_000.0, fec.clone());
        assert_eq!(pacer.rate(), PACING_FACTOR * 190_000.0);
        // Two copies of a repair packet per media packet: the floor sends 150 kbit/s of
        // video, 300 of FEC and 40 of audio.
        fec.set(Protection {
            group: 1,
            copies: 2,
        });
        assert_eq!(pacer.rate(), PACING_FACTOR * 490_000.0);
    }
}

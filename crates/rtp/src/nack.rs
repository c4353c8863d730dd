//! Asking the sender for lost packets (RFC 4585 generic NACK), as soon as a gap shows
//! and again one round trip later — not on a fixed tick.
//!
//! `rtc`'s own generator NACKs every missing packet of its log each interval (100 ms by
//! default). On a 50 ms path that waits up to a whole interval before the first request,
//! and a shorter interval asks again before the first answer could have come back, which
//! measured worse (duplicate retransmissions). This one, like libwebrtc's NACK module:
//!
//! - requests a packet the moment a later one shows it missing;
//! - asks again only once a round trip has passed since the last request. The round trip
//!   is learnt from its own requests (request → repaired packet, first requests only,
//!   as Karn's rule has it), starting from a configured guess;
//! - sends a request in as many copies (separate RTCP packets) as the stream's loss
//!   calls for: a request and its retransmission both cross the lossy path, so at 30 %
//!   loss each way one copy gets a packet back half the time, three copies nine times
//!   in ten. The loss is the stream's own: the share of sequence numbers it found
//!   missing. A repeat gets one copy more;
//! - gives a packet up after `max_retries` requests or once it is older than `max_age`
//!   (a repair that late is useless to a live viewer, who has asked for a keyframe);
//! - keeps at most `max_missing` packets per stream (the oldest are given up), and treats
//!   a forward jump larger than that as a restart, not as a thousand losses.
//!
//! [`LossTracker`] is the sans-IO core; [`NackRequests`] puts it in an `rtc` interceptor
//! chain at [`rtc::interceptor::Slot::NackGenerator`], in place of the built-in one.

use rtc::interceptor::{
    Attribute, AttributedPacket, Interceptor, Packet, StreamInfo, TaggedPacket,
};
use rtc::rtcp::transport_feedbacks::transport_layer_nack::{
    TransportLayerNack, nack_pairs_from_sequence_numbers,
};
use rtc::sansio::Protocol;
use rtc::shared::TransportContext;
use rtc::shared::error::Error;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// How [`LossTracker`] asks for repairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NackConfig {
    /// The round trip assumed until the first repair measures one.
    pub initial_rtt: Duration,
    /// Never ask for the same packet more often than this, however short the path.
    pub min_retry: Duration,
    /// Requests per packet before it is given up.
    pub max_retries: u8,
    /// A packet missing for longer than this is given up.
    pub max_age: Duration,
    /// Packets tracked as missing per stream; beyond it the oldest are given up.
    pub max_missing: usize,
}

impl Default for NackConfig {
    fn default() -> Self {
        Self {
            initial_rtt: Duration::from_millis(100),
            min_retry: Duration::from_millis(10),
            max_retries: 10,
            max_age: Duration::from_millis(1_000),
            max_missing: 512,
        }
    }
}

/// Copies of a first request, by the stream's loss: one below 5 %, two below 20 %,
/// three above (a repeat gets one more, at most three). With loss `p` each way, `c`
/// copies bring a packet back with a chance of about `(1 − p^c)²`: at least 0.9 for
/// `p` up to 0.3.
fn copies_for(loss: f64, repeat: bool) -> u8 {
    let first = match loss {
        l if l < 0.05 => 1,
        l if l < 0.20 => 2,
        _ => 3,
    };
    (first + u8::from(repeat)).min(3)
}

/// Weight of one sequence number in a stream's loss estimate.
const LOSS_WEIGHT: f64 = 1.0 / 64.0;

/// One NACK to send: the stream, the sequence numbers, and how many copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NackRequest {
    /// The media SSRC asked.
    pub ssrc: u32,
    /// The sequence numbers asked for, oldest first.
    pub seqs: Vec<u16>,
    /// Copies to send (1 or 2), each in its own packet.
    pub copies: u8,
}

/// What the tracker has done, for metrics and benchmarks. Shared with whoever holds the
/// [`NackRequests`] handle's [`counters`](NackRequests::counters).
#[derive(Debug, Default)]
pub struct NackCounters {
    /// Sequence numbers found missing.
    pub missing: AtomicU64,
    /// Requests sent (one per sequence number per request).
    pub requested: AtomicU64,
    /// Missing packets that arrived after all (retransmitted, recovered or late).
    pub repaired: AtomicU64,
    /// Missing packets given up on.
    pub given_up: AtomicU64,
    /// The smoothed round trip of a repair, in µs.
    pub rtt_us: AtomicU64,
}

#[derive(Debug, Clone, Copy)]
struct Missing {
    noticed: Instant,
    /// When it was last asked for, if it has been.
    asked: Option<Instant>,
    /// When it is due to be asked for (again).
    due: Instant,
    tries: u8,
}

#[derive(Debug, Default)]
struct StreamLoss {
    /// Highest sequence number seen, extended past wrap-around.
    highest: Option<u64>,
    missing: BTreeMap<u64, Missing>,
    /// Smoothed share of sequence numbers found missing (before any repair).
    loss: f64,
}

/// Sans-IO gap detection and request timing for any number of RTP streams.
#[derive(Debug)]
pub struct LossTracker {
    config: NackConfig,
    streams: HashMap<u32, StreamLoss>,
    srtt: Duration,
    counters: Arc<NackCounters>,
}

impl LossTracker {
    /// A tracker with no streams.
    pub fn new(config: NackConfig) -> Self {
        Self::with_counters(config, Arc::default())
    }

    /// A tracker adding to `counters` (which several trackers may share).
    pub fn with_counters(config: NackConfig, counters: Arc<NackCounters>) -> Self {
        counters
            .rtt_us
            .store(config.initial_rtt.as_micros() as u64, Relaxed);
        Self {
            config,
            streams: HashMap::new(),
            srtt: config.initial_rtt,
            counters,
        }
    }

    /// The counters this tracker updates.
    pub fn counters(&self) -> Arc<NackCounters> {
        self.counters.clone()
    }

    /// Start tracking `ssrc`.
    pub fn track(&mut self, ssrc: u32) {
        self.streams.entry(ssrc).or_default();
    }

    /// Stop tracking `ssrc`.
    pub fn untrack(&mut self, ssrc: u32) {
        self.streams.remove(&ssrc);
    }

    /// The smoothed time from a request to its repair.
    pub fn rtt(&self) -> Duration {
        self.srtt
    }

    /// Whether `ssrc` is tracked and `seq` is currently missing from it (for tests: a
    /// linear scan).
    #[cfg(test)]
    fn is_missing(&self, ssrc: u32, seq: u16) -> bool {
        self.streams
            .get(&ssrc)
            .is_some_and(|s| s.missing.keys().any(|&ext| (ext & 0xffff) as u16 == seq))
    }

    /// A packet of `ssrc` arrived. `rebuilt` says it did not come off the wire (FEC), so it
    /// says nothing about the round trip.
    pub fn on_packet(&mut self, now: Instant, ssrc: u32, seq: u16, rebuilt: bool) {
        let Some(stream) = self.streams.get_mut(&ssrc) else {
            return;
        };
        let Some(highest) = stream.highest else {
            stream.highest = Some(u64::from(seq) + (1 << 32));
            return;
        };
        // Extend relative to the highest: within half the sequence space either way.
        let delta = i64::from(seq.wrapping_sub(highest as u16) as i16);
        let ext = (highest as i64 + delta) as u64;
        if delta > 0 {
            let gap = (delta - 1) as u64;
            if gap as usize > self.config.max_missing {
                // A restart or a long outage: asking for all of it would only flood the
                // sender with requests for packets no viewer can still use.
                let dropped = stream.missing.len() as u64;
                stream.missing.clear();
                self.counters.given_up.fetch_add(dropped, Relaxed);
            } else {
                // Each skipped number counts as lost, this one as received.
                let keep = (1.0 - LOSS_WEIGHT).powi(delta as i32);
                stream.loss = stream.loss * keep + (1.0 - keep) * gap as f64 / delta as f64;
                for lost in highest + 1..ext {
                    stream.missing.insert(
                        lost,
                        Missing {
                            noticed: now,
                            asked: None,
                            due: now,
                            tries: 0,
                        },
                    );
                }
                self.counters.missing.fetch_add(gap, Relaxed);
                while stream.missing.len() > self.config.max_missing {
                    stream.missing.pop_first();
                    self.counters.given_up.fetch_add(1, Relaxed);
                }
            }
            stream.highest = Some(ext);
        } else if let Some(m) = stream.missing.remove(&ext) {
            self.counters.repaired.fetch_add(1, Relaxed);
            // Karn: a packet asked for more than once does not say which request it answers.
            if let (false, 1, Some(asked)) = (rebuilt, m.tries, m.asked) {
                let sample = now.saturating_duration_since(asked);
                self.srtt = (self.srtt * 7 + sample) / 8;
                self.counters
                    .rtt_us
                    .store(self.srtt.as_micros() as u64, Relaxed);
            }
        }
    }

    fn retry_after(&self) -> Duration {
        (self.srtt + self.srtt / 4).max(self.config.min_retry)
    }

    /// The next request due at `now`. Call until `None`.
    pub fn poll_request(&mut self, now: Instant) -> Option<NackRequest> {
        let retry = self.retry_after();
        let config = self.config;
        let mut repeats = false;
        let mut found = None;
        for (&ssrc, stream) in &mut self.streams {
            if !stream.missing.values().any(|m| m.due <= now) {
                continue;
            }
            let mut ask = Vec::new();
            let mut given_up = 0;
            repeats = false;
            stream.missing.retain(|&ext, m| {
                if m.due > now {
                    return true;
                }
                if m.tries >= config.max_retries
                    || now.saturating_duration_since(m.noticed) > config.max_age
                {
                    given_up += 1;
                    return false;
                }
                repeats |= m.tries >= 1;
                m.tries += 1;
                m.asked = Some(now);
                m.due = now + retry;
                ask.push(ext as u16);
                true
            });
            self.counters.given_up.fetch_add(given_up, Relaxed);
            if !ask.is_empty() {
                self.counters.requested.fetch_add(ask.len() as u64, Relaxed);
                found = Some((ssrc, ask, stream.loss));
                break;
            }
        }
        let (ssrc, seqs, loss) = found?;
        let copies = copies_for(loss, repeats);
        Some(NackRequest { ssrc, seqs, copies })
    }

    /// When [`poll_request`](Self::poll_request) next has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.streams
            .values()
            .flat_map(|s| s.missing.values().map(|m| m.due))
            .min()
    }
}

/// [`LossTracker`] as an `rtc` interceptor: tracks every remote stream that negotiated
/// generic NACK and sends the requests as RTCP.
pub struct NackRequests {
    tracker: LossTracker,
    sender_ssrc: u32,
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl NackRequests {
    /// An interceptor asking as `config` says.
    pub fn new(config: NackConfig) -> Self {
        Self::with_counters(config, Arc::default())
    }

    /// An interceptor adding to `counters` (a relay shares one set across publishers).
    pub fn with_counters(config: NackConfig, counters: Arc<NackCounters>) -> Self {
        Self {
            tracker: LossTracker::with_counters(config, counters),
            sender_ssrc: rand::random(),
            read: VecDeque::new(),
            write: VecDeque::new(),
        }
    }

    /// The counters, to read after the interceptor has moved into a chain.
    pub fn counters(&self) -> Arc<NackCounters> {
        self.tracker.counters()
    }

    fn queue_requests(&mut self, now: Instant) {
        while let Some(request) = self.tracker.poll_request(now) {
            for _ in 0..request.copies {
                let nack = TransportLayerNack {
                    sender_ssrc: self.sender_ssrc,
                    media_ssrc: request.ssrc,
                    nacks: nack_pairs_from_sequence_numbers(&request.seqs),
                };
                self.write.push_back(TaggedPacket {
                    now,
                    transport: TransportContext::default(),
                    message: AttributedPacket::new(Packet::Rtcp(vec![Box::new(nack)])),
                });
            }
        }
    }
}

impl std::fmt::Debug for NackRequests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NackRequests")
            .field("tracker", &self.tracker)
            .finish_non_exhaustive()
    }
}

impl Default for NackRequests {
    fn default() -> Self {
        Self::new(NackConfig::default())
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for NackRequests {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Error> {
        if let Packet::Rtp(packet) = &msg.message.packet {
            let rebuilt = msg.message.has(&Attribute::RecoveredByFec);
            self.tracker.on_packet(
                msg.now,
                packet.header.ssrc,
                packet.header.sequence_number,
                rebuilt,
            );
            self.queue_requests(msg.now);
        }
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Error> {
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write.pop_front()
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        self.queue_requests(now);
        Ok(())
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.tracker.poll_timeout()
    }
}

impl Interceptor for NackRequests {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}

    fn bind_remote_stream(&mut self, info: &StreamInfo) {
        let generic_nack = info
            .rtcp_feedback
            .iter()
            .any(|fb| fb.typ == "nack" && fb.parameter.is_empty());
        if generic_nack {
            self.tracker.track(info.ssrc);
        }
    }

    fn unbind_remote_stream(&mut self, info: &StreamInfo) {
        self.tracker.untrack(info.ssrc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SSRC: u32 = 7;

    fn tracker() -> (LossTracker, Instant) {
        let mut t = LossTracker::new(NackConfig::default());
        t.track(SSRC);
        (t, Instant::now())
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn request(seqs: Vec<u16>, copies: u8) -> NackRequest {
        NackRequest {
            ssrc: SSRC,
            seqs,
            copies,
        }
    }

    #[test]
    fn copies_follow_the_streams_loss() {
        assert_eq!(copies_for(0.0, false), 1);
        assert_eq!(copies_for(0.0, true), 2);
        assert_eq!(copies_for(0.10, false), 2);
        assert_eq!(copies_for(0.30, false), 3);
        assert_eq!(copies_for(0.30, true), 3, "at most three");

        // A stream losing every other packet: after a while, first requests go out three
        // times; a clean one with a single gap asks once.
        let (mut t, t0) = tracker();
        let mut now = t0;
        t.on_packet(now, SSRC, 0, false);
        let mut copies = Vec::new();
        for seq in (2..400u16).step_by(2) {
            now += ms(20);
            t.on_packet(now, SSRC, seq, false);
            copies.push(t.poll_request(now).expect("a first request").copies);
            t.on_packet(now, SSRC, seq - 1, false); // repaired at once
        }
        assert_eq!(copies[0], 1, "a clean start asks once");
        assert_eq!(*copies.last().unwrap(), 3, "{copies:?}");
    }

    #[test]
    fn a_gap_is_requested_at_once() {
        let (mut t, t0) = tracker();
        t.on_packet(t0, SSRC, 10, false);
        t.on_packet(t0 + ms(1), SSRC, 13, false);
        assert_eq!(t.poll_request(t0 + ms(1)), Some(request(vec![11, 12], 1)));
        assert_eq!(t.poll_request(t0 + ms(1)), None, "asked once, not twice");
    }

    #[test]
    fn the_second_request_waits_a_round_trip_and_the_round_trip_is_learnt() {
        let (mut t, t0) = tracker();
        t.on_packet(t0, SSRC, 1, false);
        t.on_packet(t0, SSRC, 3, false);
        assert!(t.poll_request(t0).is_some());
        // The initial guess is 100 ms; the retry comes 125 ms later, not before.
        assert_eq!(t.poll_timeout(), Some(t0 + ms(125)));
        assert_eq!(t.poll_request(t0 + ms(124)), None);
        // A repeat goes out twice.
        assert_eq!(t.poll_request(t0 + ms(125)), Some(request(vec![2], 2)));
        // Answered 40 ms after the second request: asked twice, so no sample (Karn).
        t.on_packet(t0 + ms(165), SSRC, 2, false);
        assert_eq!(t.rtt(), ms(100));
        // A first request answered in 40 ms moves the estimate towards 40 ms.
        let t1 = t0 + ms(200);
        t.on_packet(t1, SSRC, 5, false);
        assert!(t.poll_request(t1).is_some());
        t.on_packet(t1 + ms(40), SSRC, 4, false);
        assert_eq!(t.rtt(), (ms(100) * 7 + ms(40)) / 8);
        assert_eq!(t.poll_timeout(), None, "nothing is missing any more");
    }

    #[test]
    fn a_rebuilt_packet_repairs_but_says_nothing_about_the_round_trip() {
        let (mut t, t0) = tracker();
        t.on_packet(t0, SSRC, 1, false);
        t.on_packet(t0, SSRC, 3, false);
        assert!(t.poll_request(t0).is_some());
        t.on_packet(t0 + ms(5), SSRC, 2, true);
        assert_eq!(t.rtt(), ms(100));
        assert_eq!(t.counters().repaired.load(Relaxed), 1);
        assert!(!t.is_missing(SSRC, 2));
    }

    #[test]
    fn a_packet_is_given_up_after_max_retries_or_max_age() {
        let config = NackConfig {
            max_retries: 3,
            ..NackConfig::default()
        };
        let mut t = LossTracker::new(config);
        t.track(SSRC);
        let t0 = Instant::now();
        t.on_packet(t0, SSRC, 1, false);
        t.on_packet(t0, SSRC, 3, false);
        let mut asked = 0;
        let mut now = t0;
        while let Some(next) = t.poll_timeout() {
            now = next;
            if t.poll_request(now).is_some() {
                asked += 1;
            }
        }
        assert_eq!(asked, 3);
        assert!(now < t0 + ms(1_000));
        assert_eq!(t.counters().given_up.load(Relaxed), 1);

        // By age: a tracker that would ask forever stops at max_age.
        let mut t = LossTracker::new(NackConfig {
            max_retries: u8::MAX,
            ..NackConfig::default()
        });
        t.track(SSRC);
        t.on_packet(t0, SSRC, 1, false);
        t.on_packet(t0, SSRC, 3, false);
        let mut last_ask = t0;
        while let Some(next) = t.poll_timeout() {
            if t.poll_request(next).is_some() {
                last_ask = next;
            }
        }
        assert!(last_ask <= t0 + ms(1_000), "{:?}", last_ask - t0);
        assert_eq!(t.counters().given_up.load(Relaxed), 1);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let (mut t, t0) = tracker();
        t.on_packet(t0, SSRC, 65_534, false);
        t.on_packet(t0, SSRC, 1, false);
        assert_eq!(t.poll_request(t0), Some(request(vec![65_535, 0], 1)));
        t.on_packet(t0, SSRC, 0, false);
        t.on_packet(t0, SSRC, 65_535, false);
        assert_eq!(t.poll_timeout(), None);
    }

    #[test]
    fn a_huge_jump_is_a_restart_not_a_flood_of_requests() {
        let (mut t, t0) = tracker();
        t.on_packet(t0, SSRC, 100, false);
        t.on_packet(t0, SSRC, 102, false);
        t.on_packet(t0, SSRC, 30_000, false);
        assert_eq!(t.poll_request(t0), None);
        assert_eq!(t.counters().given_up.load(Relaxed), 1);
        // And it carries on from the new place.
        t.on_packet(t0, SSRC, 30_002, false);
        assert_eq!(t.poll_request(t0), Some(request(vec![30_001], 1)));
    }

    #[test]
    fn untracked_streams_and_old_duplicates_are_ignored() {
        let (mut t, t0) = tracker();
        t.on_packet(t0, 99, 1, false);
        t.on_packet(t0, 99, 5, false);
        t.on_packet(t0, SSRC, 10, false);
        t.on_packet(t0, SSRC, 11, false);
        t.on_packet(t0, SSRC, 10, false);
        t.on_packet(t0, SSRC, 3, false);
        assert_eq!(t.poll_request(t0), None);
        assert_eq!(t.counters().missing.load(Relaxed), 0);
    }

    proptest::proptest! {
        /// Whatever sequence numbers a peer sends, in whatever order: no panic, at most
        /// `max_missing` tracked, and a request never leaves its packet due again at once.
        #[test]
        fn arbitrary_arrivals_stay_bounded(
            arrivals in proptest::collection::vec((proptest::prelude::any::<u16>(), 0u8..50), 1..400)
        ) {
            let config = NackConfig { max_missing: 64, ..NackConfig::default() };
            let mut t = LossTracker::new(config);
            t.track(SSRC);
            let mut now = Instant::now();
            for (seq, dt) in arrivals {
                now += ms(u64::from(dt));
                t.on_packet(now, SSRC, seq, dt % 7 == 0);
                while t.poll_request(now).is_some() {}
                proptest::prop_assert!(t.streams[&SSRC].missing.len() <= 64);
                if let Some(next) = t.poll_timeout() {
                    proptest::prop_assert!(next > now);
                }
            }
        }
    }

    #[test]
    fn the_interceptor_sends_a_nack_for_a_gap_on_a_nack_stream() {
        use rtc::interceptor::RTCPFeedback;
        let mut nack = NackRequests::default();
        nack.bind_remote_stream(&StreamInfo {
            ssrc: SSRC,
            rtcp_feedback: vec![RTCPFeedback {
                typ: "nack".into(),
                parameter: String::new(),
            }],
            ..Default::default()
        });
        let t0 = Instant::now();
        for seq in [1u16, 2, 5] {
            let packet = rtc::rtp::Packet {
                header: rtc::rtp::header::Header {
                    ssrc: SSRC,
                    sequence_number: seq,
                    ..Default::default()
                },
                ..Default::default()
            };
            nack.handle_read(TaggedPacket {
                now: t0,
                transport: TransportContext::default(),
                message: AttributedPacket::new(Packet::Rtp(packet)),
            })
            .unwrap();
        }
        assert_eq!(std::iter::from_fn(|| nack.poll_read()).count(), 3);
        let out = nack.poll_write().expect("a NACK");
        let Packet::Rtcp(rtcp) = out.message.packet else {
            panic!("not RTCP")
        };
        let n = rtcp[0]
            .as_any()
            .downcast_ref::<TransportLayerNack>()
            .expect("a generic NACK");
        assert_eq!(n.media_ssrc, SSRC);
        let mut asked = Vec::new();
        for pair in &n.nacks {
            asked.extend(pair.packet_list());
        }
        assert_eq!(asked, vec![3, 4]);
        assert!(nack.poll_write().is_none());
    }
}

//! The relay's side of the self-check's network probe (`docs/protocol.md`, "Network
//! probe"): grants short-lived probe ids, answers pings on the media port with pongs,
//! and counts upload-train datagrams. Sans-IO: the shell that owns the media socket
//! feeds it datagrams with the time and sends what it returns.
//!
//! What keeps it from being abused, since `POST /probe` is open by default:
//! - no amplification: the only answer is a pong, never larger than the ping that
//!   caused it ([`lectern_proto::probe`] checks lengths), and train datagrams get none;
//! - pongs are rate-limited per source IP (a token bucket);
//! - an id lives [`PROBE_TTL`] and has a budget of pings and train bytes;
//! - at most [`MAX_PROBES`] ids exist at once;
//! - anything malformed, unknown, expired or over budget is dropped and counted; none
//!   of it ever reaches the WebRTC sessions.

use crate::metrics::{Metrics, ProbeOutcome};
use lectern_proto::probe::{self, ClientDatagram, PONG_LEN, Pong, ProbeGrant, ProbeId};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a probe id is good for.
pub const PROBE_TTL: Duration = Duration::from_secs(20);
/// Probe ids alive at once.
pub const MAX_PROBES: usize = 64;
/// The highest upload-train rate granted, kbit/s.
pub const MAX_TRAIN_KBPS: u32 = 10_000;
/// Pings answered per probe id.
pub const MAX_PINGS: u32 = 1000;
/// Train bytes counted per probe id (the client's 2 s ramp to 8 Mbit/s sends ≈ 1 MB).
pub const MAX_TRAIN_BYTES: u32 = 4 * 1024 * 1024;
/// Pongs per second per source IP, sustained.
pub const PONG_RATE: f64 = 200.0;
/// Pongs a source IP may get in a burst.
pub const PONG_BURST: f64 = 50.0;
/// Source IPs tracked for rate limiting; idle ones are forgotten first.
const MAX_SOURCES: usize = 4096;
/// How often expired ids and idle sources are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// What the relay counted for one probe id.
#[derive(Debug)]
struct ProbeState {
    granted: Instant,
    pings: u32,
    train_packets: u32,
    train_bytes: u32,
    train_first_us: Option<u32>,
    train_last_us: u32,
}

/// A token bucket for one source IP.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Every live probe of one relay.
#[derive(Debug)]
pub struct ProbeResponder {
    probes: HashMap<ProbeId, ProbeState>,
    sources: HashMap<IpAddr, Bucket>,
    last_sweep: Option<Instant>,
    metrics: Arc<Metrics>,
}

/// Why no probe id was granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GrantRefused {
    /// [`MAX_PROBES`] ids are alive.
    Capacity,
}

fn micros_since(start: Instant, now: Instant) -> u32 {
    // Ids live 20 s, far from u32 µs wrapping (71 min); saturate anyway.
    u32::try_from(now.saturating_duration_since(start).as_micros()).unwrap_or(u32::MAX)
}

impl ProbeResponder {
    /// No probes yet.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            probes: HashMap::new(),
            sources: HashMap::new(),
            last_sweep: None,
            metrics,
        }
    }

    /// Grants `id` (drawn at random by the caller) for probing the media port `udp_port`.
    pub fn grant(
        &mut self,
        now: Instant,
        id: ProbeId,
        udp_port: u16,
    ) -> Result<ProbeGrant, GrantRefused> {
        self.sweep(now, true);
        if self.probes.len() >= MAX_PROBES {
            return Err(GrantRefused::Capacity);
        }
        self.probes.insert(
            id,
            ProbeState {
                granted: now,
                pings: 0,
                train_packets: 0,
                train_bytes: 0,
                train_first_us: None,
                train_last_us: 0,
            },
        );
        Ok(ProbeGrant {
            id: id.to_string(),
            udp_port,
            ttl_ms: PROBE_TTL.as_millis() as u32,
            max_kbps: MAX_TRAIN_KBPS,
        })
    }

    /// Whether `id` is granted and not expired (the TCP fallback asks this).
    pub fn is_live(&mut self, now: Instant, id: &ProbeId) -> bool {
        self.sweep(now, false);
        self.probes
            .get(id)
            .is_some_and(|p| now.saturating_duration_since(p.granted) < PROBE_TTL)
    }

    /// Number of live probe ids.
    pub fn len(&self) -> usize {
        self.probes.len()
    }

    /// Whether no probe id is live.
    pub fn is_empty(&self) -> bool {
        self.probes.is_empty()
    }

    /// Handles one datagram whose first byte says probe ([`probe::is_probe`]); returns
    /// the pong to send back to `from`, if any.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &[u8],
    ) -> Option<[u8; PONG_LEN]> {
        self.sweep(now, false);
        let outcome = self.answer(now, from, data);
        match outcome {
            Ok(pong) => {
                self.metrics.probe(if pong.is_some() {
                    ProbeOutcome::Answered
                } else {
                    ProbeOutcome::Counted
                });
                pong
            }
            Err(why) => {
                self.metrics.probe(why);
                None
            }
        }
    }

    fn answer(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &[u8],
    ) -> Result<Option<[u8; PONG_LEN]>, ProbeOutcome> {
        let datagram = probe::parse_client(data).map_err(|_| ProbeOutcome::Malformed)?;
        let id = match &datagram {
            ClientDatagram::Ping(p) => p.id,
            ClientDatagram::Train(t) => t.id,
        };
        let state = self
            .probes
            .get_mut(&id)
            .filter(|p| now.saturating_duration_since(p.granted) < PROBE_TTL)
            .ok_or(ProbeOutcome::UnknownId)?;
        let rx_us = micros_since(state.granted, now);
        match datagram {
            ClientDatagram::Train(t) => {
                let len = u32::try_from(t.len).unwrap_or(u32::MAX);
                if state.train_bytes.saturating_add(len) > MAX_TRAIN_BYTES {
                    return Err(ProbeOutcome::OverBudget);
                }
                state.train_packets += 1;
                state.train_bytes += len;
                state.train_first_us.get_or_insert(rx_us);
                state.train_last_us = rx_us;
                Ok(None)
            }
            ClientDatagram::Ping(p) => {
                if state.pings >= MAX_PINGS {
                    return Err(ProbeOutcome::OverBudget);
                }
                state.pings += 1;
                let pong = Pong {
                    seq: p.seq,
                    echo_us: p.sent_us,
                    relay_rx_us: rx_us,
                    pings_received: state.pings,
                    train_packets: state.train_packets,
                    train_bytes: state.train_bytes,
                    train_first_us: state.train_first_us.unwrap_or(0),
                    train_last_us: state.train_last_us,
                };
                if !self.take_token(now, from.ip()) {
                    return Err(ProbeOutcome::RateLimited);
                }
                Ok(Some(pong.encode()))
            }
        }
    }

    /// Takes one pong token from `ip`'s bucket.
    fn take_token(&mut self, now: Instant, ip: IpAddr) -> bool {
        if !self.sources.contains_key(&ip) && self.sources.len() >= MAX_SOURCES {
            // Full of sources that were all active within the last second: refuse the
            // newcomer rather than evict someone mid-probe.
            self.sweep(now, true);
            if self.sources.len() >= MAX_SOURCES {
                return false;
            }
        }
        let bucket = self.sources.entry(ip).or_insert(Bucket {
            tokens: PONG_BURST,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * PONG_RATE).min(PONG_BURST);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Forgets expired ids and sources whose bucket has refilled (idle ≥ a burst's
    /// refill time); at most once a second unless `force`.
    fn sweep(&mut self, now: Instant, force: bool) {
        if !force
            && self
                .last_sweep
                .is_some_and(|t| now.saturating_duration_since(t) < SWEEP_EVERY)
        {
            return;
        }
        self.last_sweep = Some(now);
        self.probes
            .retain(|_, p| now.saturating_duration_since(p.granted) < PROBE_TTL);
        let refill = Duration::from_secs_f64(PONG_BURST / PONG_RATE);
        self.sources
            .retain(|_, b| now.saturating_duration_since(b.at) < refill);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lectern_proto::probe::{PING_LEN, Ping, TRAIN, Train};
    use std::sync::atomic::Ordering::Relaxed;

    const ID: ProbeId = ProbeId([1; 16]);

    fn responder() -> (ProbeResponder, Arc<Metrics>, Instant) {
        let metrics = Arc::new(Metrics::default());
        let mut r = ProbeResponder::new(metrics.clone());
        let t0 = Instant::now();
        r.grant(t0, ID, 8687).unwrap();
        (r, metrics, t0)
    }

    fn from(last: u8) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, last], 40_000))
    }

    fn ping(seq: u32) -> [u8; PING_LEN] {
        Ping {
            id: ID,
            seq,
            sent_us: u64::from(seq) * 1000,
        }
        .encode()
    }

    #[test]
    fn a_ping_gets_a_pong_with_the_echo_and_the_counts() {
        let (mut r, metrics, t0) = responder();
        let train = Train {
            id: ID,
            seq: 0,
            sent_us: 0,
            len: 1200,
        }
        .encode();
        assert_eq!(
            r.handle_datagram(t0 + Duration::from_millis(5), from(1), &train),
            None,
            "train datagrams are never answered"
        );
        let reply = r
            .handle_datagram(t0 + Duration::from_millis(10), from(1), &ping(7))
            .expect("answered");
        let pong = Pong::parse(&reply).unwrap();
        assert_eq!((pong.seq, pong.echo_us), (7, 7000));
        assert_eq!(pong.relay_rx_us, 10_000);
        assert_eq!(pong.pings_received, 1);
        assert_eq!((pong.train_packets, pong.train_bytes), (1, 1200));
        assert_eq!((pong.train_first_us, pong.train_last_us), (5000, 5000));
        assert_eq!(metrics.probe_answered.load(Relaxed), 1);
        assert_eq!(metrics.probe_counted.load(Relaxed), 1);
    }

    #[test]
    fn the_answer_is_never_larger_than_the_request() {
        let (mut r, _, t0) = responder();
        for len in 0..=PING_LEN + 8 {
            let mut d = vec![0u8; len];
            let full = ping(1);
            let n = len.min(PING_LEN);
            d[..n].copy_from_slice(&full[..n]);
            if let Some(reply) = r.handle_datagram(t0, from(2), &d) {
                assert!(reply.len() <= d.len(), "{} > {}", reply.len(), d.len());
            } else {
                assert!(len < PING_LEN, "a full ping of {len} bytes is answered");
            }
        }
    }

    #[test]
    fn pongs_are_rate_limited_per_source_ip() {
        let (mut r, metrics, t0) = responder();
        let answered = (0..200)
            .filter(|&i| r.handle_datagram(t0, from(3), &ping(i)).is_some())
            .count();
        assert_eq!(answered, PONG_BURST as usize, "a burst, then nothing");
        // Another address is not held back by the first one's flood.
        assert!(r.handle_datagram(t0, from(4), &ping(500)).is_some());
        // Another port on the same IP is the same source.
        let same_ip = SocketAddr::from(([192, 0, 2, 3], 1));
        assert!(r.handle_datagram(t0, same_ip, &ping(501)).is_none());
        // The bucket refills at the sustained rate.
        let later = t0 + Duration::from_millis(100);
        let refilled = (0..100)
            .filter(|&i| r.handle_datagram(later, from(3), &ping(600 + i)).is_some())
            .count();
        assert_eq!(refilled, (PONG_RATE * 0.1) as usize);
        assert!(metrics.probe_rate_limited.load(Relaxed) >= 150);
    }

    #[test]
    fn malformed_unknown_and_expired_datagrams_are_dropped_and_counted() {
        let (mut r, metrics, t0) = responder();
        let junk: [&[u8]; 4] = [&[], &[TRAIN], &[0x0C, 1, 0, 0, 9], &[0x04; 100]];
        for d in junk {
            assert_eq!(r.handle_datagram(t0, from(5), d), None);
        }
        assert_eq!(metrics.probe_malformed.load(Relaxed), 4);
        let stranger = Ping {
            id: ProbeId([2; 16]),
            seq: 0,
            sent_us: 0,
        }
        .encode();
        assert_eq!(r.handle_datagram(t0, from(5), &stranger), None);
        assert_eq!(
            r.handle_datagram(t0 + PROBE_TTL, from(5), &ping(0)),
            None,
            "expired"
        );
        assert_eq!(metrics.probe_unknown.load(Relaxed), 2);
        assert!(r.is_empty(), "the expired id was swept");
    }

    #[test]
    fn budgets_and_capacity_hold() {
        let (mut r, metrics, t0) = responder();
        let mut t = t0;
        for i in 0..MAX_PINGS + 5 {
            t += Duration::from_millis(10);
            let answered = r.handle_datagram(t, from(6), &ping(i)).is_some();
            assert_eq!(answered, i < MAX_PINGS, "ping {i}");
        }
        let train = Train {
            id: ID,
            seq: 0,
            sent_us: 0,
            len: 1400,
        }
        .encode();
        let counted = (0..4000)
            .filter(|_| {
                r.handle_datagram(t0, from(6), &train);
                true
            })
            .count();
        assert_eq!(counted, 4000);
        let over = metrics.probe_over_budget.load(Relaxed);
        assert_eq!(over, 5 + (4000 - u64::from(MAX_TRAIN_BYTES / 1400)));

        let mut ids = 1u8;
        while r.len() < MAX_PROBES {
            ids += 1;
            r.grant(t0, ProbeId([ids; 16]), 1).unwrap();
        }
        assert_eq!(
            r.grant(t0, ProbeId([0xff; 16]), 1),
            Err(GrantRefused::Capacity)
        );
        assert!(r.grant(t0 + PROBE_TTL, ProbeId([0xff; 16]), 1).is_ok());
    }
}

//! The UDP probe as a plain state machine: it says which datagram to send when, takes
//! the relay's pongs, and turns what it saw into figures. No sockets, no clock reads:
//! the shell (or a test with virtual time) passes `now` in.
//!
//! One run, on the client's clock:
//!
//! ```text
//! 0 ──── warm-up ────┬──────── upload train ────────┬ settle ┬── cool-down ──┬ drain ┤
//!   pings every 20 ms │ pings + datagrams ramping    │         │ pings         │ wait  │
//!                     │ 256 kbit/s → max over 2 s    │         │               │       │
//! ```
//!
//! Round-trip time, jitter and loss come from the pings of the quiet phases (warm-up
//! and cool-down): the train would otherwise measure its own queue. The upload estimate
//! comes from the train: each pong carries the relay's running count of train bytes
//! and the time the last one arrived, so the client sees the relay's receive curve and
//! takes its steepest stretch over [`RATE_WINDOW`]. When the link is slower than the
//! ramp's top, datagrams queue at the bottleneck and arrive at the link's rate; when it
//! is faster, the estimate follows the ramp and is flagged as at the probe's ceiling.

use std::time::{Duration, Instant};

use lectern_proto::probe::{Ping, Pong, ProbeId, Train};

/// How long each phase lasts and how hard the train pushes.
#[derive(Debug, Clone)]
pub struct Plan {
    pub ping_interval: Duration,
    pub warmup: Duration,
    pub train: Duration,
    /// After the train, before quiet pings count again (the bottleneck queue drains).
    pub settle: Duration,
    pub cooldown: Duration,
    /// After the last ping, how long late pongs are waited for.
    pub drain: Duration,
    pub train_start_kbps: u32,
    pub train_peak_kbps: u32,
    /// Bytes per train datagram.
    pub train_len: usize,
    /// No pong after this long means UDP does not get through.
    pub no_reply: Duration,
}

impl Default for Plan {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_millis(20),
            warmup: Duration::from_millis(1000),
            train: Duration::from_millis(2000),
            settle: Duration::from_millis(300),
            cooldown: Duration::from_millis(700),
            drain: Duration::from_millis(500),
            train_start_kbps: 256,
            train_peak_kbps: 8000,
            train_len: 1200,
            no_reply: Duration::from_secs(2),
        }
    }
}

impl Plan {
    fn train_start(&self) -> Duration {
        self.warmup
    }

    fn train_end(&self) -> Duration {
        self.warmup + self.train
    }

    fn quiet_again(&self) -> Duration {
        self.train_end() + self.settle
    }

    fn last_ping(&self) -> Duration {
        self.quiet_again() + self.cooldown
    }

    /// The whole run.
    pub fn total(&self) -> Duration {
        self.last_ping() + self.drain
    }

    /// The train's rate `t` into the train, kbit/s.
    fn train_kbps(&self, t: Duration) -> f64 {
        let share = (t.as_secs_f64() / self.train.as_secs_f64().max(1e-3)).clamp(0.0, 1.0);
        let (a, b) = (
            f64::from(self.train_start_kbps),
            f64::from(self.train_peak_kbps.max(self.train_start_kbps)),
        );
        a + (b - a) * share
    }
}

/// The stretch of the relay's receive curve the upload estimate is taken over.
pub const RATE_WINDOW: Duration = Duration::from_millis(250);
/// An estimate at least this share of the train's peak counts as "at the ceiling".
const CEILING_SHARE: f64 = 0.75;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Running,
    /// No pong within [`Plan::no_reply`]: UDP does not get through.
    NoReply,
    Done,
}

#[derive(Debug, Clone)]
struct SentPing {
    at: Duration,
    quiet: bool,
    rtt: Option<Duration>,
    /// The relay's receive time, µs on its clock.
    relay_rx_us: Option<u32>,
}

/// What the relay had counted when it answered a ping.
#[derive(Debug, Clone, Copy)]
struct RelayCount {
    seq: u32,
    pings: u32,
    train_packets: u32,
    train_bytes: u32,
    train_last_us: u32,
}

/// What a UDP run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct UdpFigures {
    pub rtt_p50_ms: Option<f32>,
    pub rtt_p95_ms: Option<f32>,
    pub jitter_ms: Option<f32>,
    pub loss_percent: Option<f32>,
    pub loss_down_percent: Option<f32>,
    pub upload_kbps: Option<u32>,
    pub upload_at_ceiling: bool,
    pub samples: u32,
}

/// One UDP probe run.
#[derive(Debug)]
pub struct UdpProbe {
    plan: Plan,
    id: ProbeId,
    start: Instant,
    pings: Vec<SentPing>,
    next_ping: Duration,
    train_seq: u32,
    next_train: Duration,
    train_sent_packets: u32,
    counts: Vec<RelayCount>,
    pongs: u32,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl UdpProbe {
    /// A run for probe `id` starting at `now`.
    pub fn new(now: Instant, id: ProbeId, plan: Plan) -> Self {
        let next_train = plan.train_start();
        Self {
            plan,
            id,
            start: now,
            pings: Vec::new(),
            next_ping: Duration::ZERO,
            train_seq: 0,
            next_train,
            train_sent_packets: 0,
            counts: Vec::new(),
            pongs: 0,
        }
    }

    fn since(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.start)
    }

    /// The next datagram due at `now`, if any. Call until `None`, then wait until
    /// [`UdpProbe::poll_timeout`].
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.status(now) != Status::Running {
            return None;
        }
        let t = self.since(now);
        if self.next_ping <= t && self.next_ping <= self.plan.last_ping() {
            let at = self.next_ping;
            let quiet = at < self.plan.train_start() || at >= self.plan.quiet_again();
            let seq = self.pings.len() as u32;
            self.pings.push(SentPing {
                at,
                quiet,
                rtt: None,
                relay_rx_us: None,
            });
            self.next_ping += self.plan.ping_interval;
            return Some(
                Ping {
                    id: self.id,
                    seq,
                    sent_us: micros(at),
                }
                .encode()
                .to_vec(),
            );
        }
        if self.next_train <= t && self.next_train < self.plan.train_end() {
            let at = self.next_train;
            let kbps = self.plan.train_kbps(at - self.plan.train_start());
            let bits = (self.plan.train_len * 8) as f64;
            self.next_train += Duration::from_secs_f64(bits / (kbps * 1000.0));
            self.train_seq += 1;
            self.train_sent_packets += 1;
            return Some(
                Train {
                    id: self.id,
                    seq: self.train_seq - 1,
                    sent_us: micros(at),
                    len: self.plan.train_len,
                }
                .encode(),
            );
        }
        None
    }

    /// When something is next due (a datagram, the no-reply deadline, or the end).
    pub fn poll_timeout(&self) -> Instant {
        let mut next = self.plan.total();
        if self.next_ping <= self.plan.last_ping() {
            next = next.min(self.next_ping);
        }
        if self.next_train < self.plan.train_end() {
            next = next.min(self.next_train);
        }
        if self.pongs == 0 {
            next = next.min(self.plan.no_reply);
        }
        self.start + next
    }

    /// A datagram from the relay.
    pub fn handle_datagram(&mut self, now: Instant, data: &[u8]) {
        let Some(pong) = Pong::parse(data) else {
            return;
        };
        let t = self.since(now);
        let Some(ping) = self.pings.get_mut(pong.seq as usize) else {
            return;
        };
        // A pong must echo what we sent; anything else is stale or forged.
        if ping.rtt.is_some() || micros(ping.at) != pong.echo_us {
            return;
        }
        ping.rtt = Some(t.saturating_sub(ping.at));
        ping.relay_rx_us = Some(pong.relay_rx_us);
        self.pongs += 1;
        self.counts.push(RelayCount {
            seq: pong.seq,
            pings: pong.pings_received,
            train_packets: pong.train_packets,
            train_bytes: pong.train_bytes,
            train_last_us: pong.train_last_us,
        });
    }

    /// Where the run stands at `now`.
    pub fn status(&self, now: Instant) -> Status {
        let t = self.since(now);
        if self.pongs == 0 && t >= self.plan.no_reply {
            Status::NoReply
        } else if t >= self.plan.total() {
            Status::Done
        } else {
            Status::Running
        }
    }

    /// Share of the run done, 0–1.
    pub fn progress(&self, now: Instant) -> f32 {
        (self.since(now).as_secs_f32() / self.plan.total().as_secs_f32()).clamp(0.0, 1.0)
    }

    /// The figures so far (final once [`Status::Done`]).
    pub fn figures(&self) -> UdpFigures {
        let quiet: Vec<&SentPing> = self.pings.iter().filter(|p| p.quiet).collect();
        let mut rtts: Vec<f64> = quiet
            .iter()
            .filter_map(|p| p.rtt)
            .map(|d| d.as_secs_f64() * 1000.0)
            .collect();
        rtts.sort_by(f64::total_cmp);
        let transit: Vec<(u64, u32)> = quiet
            .iter()
            .filter_map(|p| Some((micros(p.at), p.relay_rx_us?)))
            .collect();
        let (upload, at_ceiling) = match self.upload_kbps() {
            Some(kbps) => (
                Some(kbps),
                kbps >= f64::from(self.plan.train_peak_kbps) * CEILING_SHARE,
            ),
            None => (None, false),
        };
        let (up, down) = self.loss(at_ceiling);
        UdpFigures {
            rtt_p50_ms: percentile(&rtts, 0.50).map(|v| v as f32),
            rtt_p95_ms: percentile(&rtts, 0.95).map(|v| v as f32),
            jitter_ms: interarrival_jitter_ms(&transit),
            loss_percent: up.map(|l| (l * 100.0) as f32),
            loss_down_percent: down.map(|l| (l * 100.0) as f32),
            upload_kbps: upload.map(|k| k.round() as u32),
            upload_at_ceiling: at_ceiling,
            samples: rtts.len() as u32,
        }
    }

    /// The steepest stretch of the relay's receive curve of at least [`RATE_WINDOW`].
    fn upload_kbps(&self) -> Option<f64> {
        let mut curve: Vec<(u32, u32)> = self
            .counts
            .iter()
            .filter(|c| c.train_packets > 0)
            .map(|c| (c.train_last_us, c.train_bytes))
            .collect();
        curve.sort_unstable();
        curve.dedup_by_key(|c| c.0);
        receive_rate_kbps(&curve, RATE_WINDOW)
    }

    /// Upstream and downstream loss (0–1). Upstream: the relay's ping count against the
    /// pings sent in the quiet phases, plus the whole train's datagrams when the train
    /// did not overrun the link (then its loss is the link's, with far more samples).
    /// Downstream: what the round trips lost beyond the upstream loss.
    fn loss(&self, train_counts: bool) -> (Option<f64>, Option<f64>) {
        let train_start = self.plan.train_start();
        let after = self.plan.quiet_again();
        let at = |c: &RelayCount| self.pings[c.seq as usize].at;
        // The warm-up: the latest answer to a warm-up ping.
        let warm = self
            .counts
            .iter()
            .filter(|c| at(c) < train_start)
            .max_by_key(|c| c.seq);
        // The cool-down: from its first answer to its last.
        let cool: Vec<&RelayCount> = self.counts.iter().filter(|c| at(c) >= after).collect();
        let first = cool.iter().min_by_key(|c| c.seq);
        let last = cool.iter().max_by_key(|c| c.seq);
        let (mut sent, mut received) = (0u64, 0u64);
        if let Some(w) = warm {
            sent += u64::from(w.seq) + 1;
            received += u64::from(w.pings);
        }
        if let (Some(a), Some(b)) = (first, last) {
            sent += u64::from(b.seq - a.seq);
            received += u64::from(b.pings.saturating_sub(a.pings));
        }
        if train_counts
            && let Some(final_count) = self.counts.iter().max_by_key(|c| c.train_packets)
            && at(final_count) >= self.plan.train_end()
        {
            sent += u64::from(self.train_sent_packets);
            received += u64::from(final_count.train_packets);
        }
        if sent == 0 {
            return (None, None);
        }
        let up = (1.0 - received as f64 / sent as f64).clamp(0.0, 1.0);
        // Round trips of the quiet pings, whose answers had the drain to come back.
        let quiet: Vec<&SentPing> = self.pings.iter().filter(|p| p.quiet).collect();
        let answered = quiet.iter().filter(|p| p.rtt.is_some()).count();
        if quiet.is_empty() {
            return (Some(up), None);
        }
        let round_trip_ok = answered as f64 / quiet.len() as f64;
        let down = if up >= 1.0 {
            None
        } else {
            Some((1.0 - round_trip_ok / (1.0 - up)).clamp(0.0, 1.0))
        };
        (Some(up), down)
    }
}

/// Nearest-rank percentile of sorted `values`.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

/// RFC 3550 interarrival jitter (§6.4.1) over `(send µs, receive µs)` pairs in send
/// order, each on its own clock: the smoothed change in one-way transit time, ms.
pub fn interarrival_jitter_ms(transit: &[(u64, u32)]) -> Option<f32> {
    if transit.len() < 2 {
        return None;
    }
    let mut jitter = 0.0f64;
    for w in transit.windows(2) {
        let (s0, r0) = (w[0].0 as f64, f64::from(w[0].1));
        let (s1, r1) = (w[1].0 as f64, f64::from(w[1].1));
        let d = (r1 - r0) - (s1 - s0);
        jitter += (d.abs() - jitter) / 16.0;
    }
    Some((jitter / 1000.0) as f32)
}

/// The highest receive rate over any stretch of at least `window` of a cumulative
/// `(receive µs, bytes so far)` curve sorted by time, kbit/s.
pub fn receive_rate_kbps(curve: &[(u32, u32)], window: Duration) -> Option<f64> {
    let window_us = micros(window) as f64;
    let mut best: Option<f64> = None;
    let mut j = 0;
    for i in 0..curve.len() {
        // The first point at least `window` after point i.
        j = j.max(i + 1);
        while j < curve.len() && f64::from(curve[j].0 - curve[i].0) < window_us {
            j += 1;
        }
        let Some(&(t1, b1)) = curve.get(j) else {
            break;
        };
        let (t0, b0) = curve[i];
        let kbps = f64::from(b1.saturating_sub(b0)) * 8.0 / f64::from(t1 - t0) * 1000.0;
        best = Some(best.map_or(kbps, |b| b.max(kbps)));
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), Some(50.0));
        assert_eq!(percentile(&v, 0.95), Some(95.0));
        assert_eq!(percentile(&[7.0], 0.95), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn jitter_is_zero_for_steady_transit_and_follows_swings() {
        let steady: Vec<(u64, u32)> = (0..50)
            .map(|i| (i * 20_000, 5_000 + i as u32 * 20_000))
            .collect();
        assert_eq!(interarrival_jitter_ms(&steady), Some(0.0));
        // Transit alternating 10 ms and 30 ms: |D| = 20 ms each step; the RFC 3550
        // filter converges towards it.
        let swinging: Vec<(u64, u32)> = (0..400)
            .map(|i| {
                let transit = if i % 2 == 0 { 10_000 } else { 30_000 };
                (i * 20_000, (i * 20_000) as u32 + transit)
            })
            .collect();
        let j = interarrival_jitter_ms(&swinging).unwrap();
        assert!((19.0..=20.0).contains(&j), "{j}");
        assert_eq!(interarrival_jitter_ms(&steady[..1]), None);
    }

    #[test]
    fn the_receive_rate_is_the_steepest_stretch() {
        // 1 Mbit/s for a second, then 4 Mbit/s for half a second: 125 and 500 bytes/ms.
        let mut curve = Vec::new();
        let mut bytes = 0u32;
        for ms in 0..1500u32 {
            bytes += if ms < 1000 { 125 } else { 500 };
            if ms % 20 == 0 {
                curve.push((ms * 1000, bytes));
            }
        }
        let kbps = receive_rate_kbps(&curve, RATE_WINDOW).unwrap();
        assert!((3900.0..=4100.0).contains(&kbps), "{kbps}");
        assert_eq!(
            receive_rate_kbps(&curve[..5], RATE_WINDOW),
            None,
            "shorter than a window"
        );
    }
}

//! The probe against the relay's real responder over a simulated link, in virtual time:
//! a seeded random stream decides losses, a bottleneck with a drop-tail buffer limits
//! the upload, and the measured figures must land near what the link was made to do.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lectern_proto::probe::ProbeId;
use lectern_relay::Metrics;
use lectern_relay::probe::ProbeResponder;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::core::{Plan, Status, UdpFigures, UdpProbe};

/// One direction of the simulated path.
#[derive(Debug, Clone)]
struct Path {
    delay: Duration,
    /// Extra delay drawn uniformly from `[0, jitter]`.
    jitter: Duration,
    loss: f64,
    /// Bottleneck rate, kbit/s; `None` for unlimited.
    kbps: Option<f64>,
    /// Bottleneck buffer, bytes.
    buffer: usize,
}

impl Path {
    fn clean(delay_ms: u64) -> Self {
        Self {
            delay: Duration::from_millis(delay_ms),
            jitter: Duration::ZERO,
            loss: 0.0,
            kbps: None,
            buffer: 256 * 1024,
        }
    }
}

/// A path's state: when its bottleneck is free again.
struct Pipe {
    path: Path,
    free_at: Instant,
}

impl Pipe {
    /// When a datagram of `len` bytes sent at `now` arrives, or `None` if lost.
    fn send(&mut self, now: Instant, len: usize, rng: &mut StdRng) -> Option<Instant> {
        if rng.random::<f64>() < self.path.loss {
            return None;
        }
        let mut leaves = now;
        if let Some(kbps) = self.path.kbps {
            let start = self.free_at.max(now);
            let queued_bytes = start.duration_since(now).as_secs_f64() * kbps * 1000.0 / 8.0;
            if queued_bytes + len as f64 > self.path.buffer as f64 {
                return None;
            }
            leaves = start + Duration::from_secs_f64(len as f64 * 8.0 / (kbps * 1000.0));
            self.free_at = leaves;
        }
        let jitter = self.path.jitter.mul_f64(rng.random::<f64>());
        Some(leaves + self.path.delay + jitter)
    }
}

/// A datagram on the wire: (arrival, order, towards the relay?, bytes).
type InFlight = (Instant, u64, bool, Vec<u8>);

/// Runs a probe through `up` and `down`; returns the final status and figures.
fn simulate(up: Path, down: Path, seed: u64) -> (Status, UdpFigures) {
    let t0 = Instant::now();
    let id = ProbeId([9; 16]);
    let client: SocketAddr = "192.0.2.10:5000".parse().unwrap();
    let mut relay = ProbeResponder::new(Arc::new(Metrics::default()));
    relay.grant(t0, id, 8687).unwrap();
    let mut probe = UdpProbe::new(t0, id, Plan::default());
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut up, mut down) = (
        Pipe {
            path: up,
            free_at: t0,
        },
        Pipe {
            path: down,
            free_at: t0,
        },
    );
    let mut wire: BinaryHeap<Reverse<InFlight>> = BinaryHeap::new();
    let mut order = 0u64;
    let mut now = t0;
    loop {
        while let Some(d) = probe.poll_transmit(now) {
            if let Some(at) = up.send(now, d.len(), &mut rng) {
                order += 1;
                wire.push(Reverse((at, order, true, d)));
            }
        }
        let status = probe.status(now);
        if status != Status::Running {
            return (status, probe.figures());
        }
        let next = wire
            .peek()
            .map_or(probe.poll_timeout(), |Reverse((t, ..))| {
                (*t).min(probe.poll_timeout())
            });
        now = next.max(now);
        while let Some(Reverse((t, ..))) = wire.peek()
            && *t <= now
        {
            let Reverse((_, _, to_relay, d)) = wire.pop().unwrap();
            if to_relay {
                if let Some(pong) = relay.handle_datagram(now, client, &d)
                    && let Some(at) = down.send(now, pong.len(), &mut rng)
                {
                    order += 1;
                    wire.push(Reverse((at, order, false, pong.to_vec())));
                }
            } else {
                probe.handle_datagram(now, &d);
            }
        }
    }
}

fn within(what: &str, v: f64, range: std::ops::RangeInclusive<f64>) {
    assert!(range.contains(&v), "{what} = {v}, expected {range:?}");
}

#[test]
fn a_clean_fast_link_measures_its_delay_and_reaches_the_ceiling() {
    let (status, f) = simulate(Path::clean(10), Path::clean(10), 1);
    assert_eq!(status, Status::Done);
    within("rtt p50", f64::from(f.rtt_p50_ms.unwrap()), 19.9..=20.5);
    within("rtt p95", f64::from(f.rtt_p95_ms.unwrap()), 19.9..=20.5);
    within("jitter", f64::from(f.jitter_ms.unwrap()), 0.0..=0.5);
    assert_eq!(f.loss_percent, Some(0.0));
    assert_eq!(f.loss_down_percent, Some(0.0));
    assert!(f.upload_at_ceiling, "{f:?}");
    within("upload", f64::from(f.upload_kbps.unwrap()), 6000.0..=8100.0);
    assert!(f.samples >= 80, "{f:?}");
}

#[test]
fn a_two_megabit_uplink_is_measured_as_such() {
    let up = Path {
        kbps: Some(2000.0),
        buffer: 64 * 1024,
        ..Path::clean(20)
    };
    let (status, f) = simulate(up, Path::clean(20), 2);
    assert_eq!(status, Status::Done);
    assert!(!f.upload_at_ceiling, "{f:?}");
    within("upload", f64::from(f.upload_kbps.unwrap()), 1850.0..=2100.0);
    // Quiet pings see the path, not the train's queue (the settle lets it drain).
    within("rtt p50", f64::from(f.rtt_p50_ms.unwrap()), 40.0..=42.0);
    // The train overran the buffer, but that is not the link's loss.
    within("loss", f64::from(f.loss_percent.unwrap()), 0.0..=1.0);
}

#[test]
fn random_loss_is_measured_in_each_direction() {
    let up = Path {
        loss: 0.10,
        ..Path::clean(25)
    };
    let down = Path {
        loss: 0.05,
        ..Path::clean(25)
    };
    let (_, f) = simulate(up, down, 3);
    within("up loss", f64::from(f.loss_percent.unwrap()), 8.0..=12.0);
    within(
        "down loss",
        f64::from(f.loss_down_percent.unwrap()),
        0.0..=12.0,
    );
    within("rtt p50", f64::from(f.rtt_p50_ms.unwrap()), 49.9..=51.0);
    assert!(
        f.upload_at_ceiling,
        "10 % loss still carries the ramp: {f:?}"
    );
}

#[test]
fn jitter_shows_up() {
    let up = Path {
        jitter: Duration::from_millis(40),
        ..Path::clean(20)
    };
    let (_, f) = simulate(up, Path::clean(20), 4);
    // Uniform 0–40 ms: mean |D| between two draws is 40/3 ≈ 13 ms.
    within("jitter", f64::from(f.jitter_ms.unwrap()), 8.0..=20.0);
    within("rtt p95", f64::from(f.rtt_p95_ms.unwrap()), 70.0..=81.0);
}

#[test]
fn udp_that_never_arrives_gives_up_after_two_seconds() {
    let up = Path {
        loss: 1.0,
        ..Path::clean(10)
    };
    let (status, f) = simulate(up, Path::clean(10), 5);
    assert_eq!(status, Status::NoReply);
    assert_eq!(f.samples, 0);
    assert_eq!(f.rtt_p50_ms, None);
}

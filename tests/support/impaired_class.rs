//! The console's publisher on a bad uplink: synthetic camera → openh264/Opus → WHIP
//! through the seeded UDP proxy → relay → a decoding viewer on a clean link. The viewer
//! decodes with a reorder buffer (waits for retransmissions, gives a frame up after
//! 400 ms and asks for a keyframe), so what it measures is what a student would see.

use crate::class::{Teacher, decoding_viewer};
use crate::decode::Decoded;
use crate::impair::{Impairment, UdpProxy};
use crate::relay::{Bots, start_loopback, token, wait_until};
use crate::shim::WhipShim;
use lectern_proto::{PublishState, PublishStats, Role, VideoMode};
use std::time::Duration;

/// What the viewer saw over the measured window.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Decoded frames in the window, in order.
    pub frames: Vec<Decoded>,
    /// The window on the media clock.
    pub from: Duration,
    pub to: Duration,
    /// The publisher's last figures.
    pub stats: PublishStats,
    /// Datagrams the proxy dropped / forwarded toward the relay.
    pub up_lost: u64,
    pub up_forwarded: u64,
    /// From the first offer to media flowing (ICE and DTLS through the same bad path).
    pub connect: Duration,
    /// Publisher packets the relay found missing / got repaired (NACK, FEC or late) /
    /// gave up.
    pub uplink_missing: u64,
    pub uplink_repaired: u64,
    pub uplink_given_up: u64,
}

impl Outcome {
    /// Camera frames captured in the window (30 fps).
    pub fn camera_frames(&self) -> u64 {
        ((self.to - self.from).as_secs_f64() * 30.0) as u64
    }

    /// Time without a new picture, counting every gap over 150 ms whole (including the
    /// window's edges).
    pub fn freeze(&self) -> Duration {
        let mut times: Vec<Duration> = vec![self.from];
        times.extend(self.frames.iter().map(|f| f.decoded));
        times.push(self.to);
        times
            .windows(2)
            .map(|w| w[1].saturating_sub(w[0]))
            .filter(|gap| *gap > Duration::from_millis(150))
            .sum()
    }

    /// Latencies of the decoded frames.
    pub fn latencies(&self) -> Vec<Duration> {
        self.frames.iter().map(Decoded::latency).collect()
    }
}

/// Runs the class for `warmup` + `measure` with `up` on the publisher→relay direction
/// and `down` on relay→publisher (feedback), both seeded with `seed`.
pub async fn run(
    up: Impairment,
    down: Impairment,
    seed: u64,
    warmup: Duration,
    measure: Duration,
) -> Outcome {
    let relay = start_loopback().await;
    let proxy = UdpProxy::start(relay.media_addr(), up, down, seed)
        .await
        .expect("proxy starts");
    let shim = WhipShim::start(relay.http_addr(), relay.media_addr(), proxy.addr())
        .await
        .expect("shim starts");
    let dialing = std::time::Instant::now();
    let teacher = Teacher::start(
        format!("{}/whip/bad", shim.base()),
        token(&relay, "bad", "teacher", Role::Teacher),
        VideoMode::HD_30,
    );
    teacher
        .wait_for(PublishState::Live, Duration::from_secs(90))
        .await;
    let connect = dialing.elapsed();
    let clock = teacher.clock;
    let mut bots = Bots::new();
    let (_, probe) = decoding_viewer(&mut bots, &relay, "bad", "viewer", clock);
    wait_until("a first decoded frame", Duration::from_secs(30), || {
        probe.count() > 0
    })
    .await;
    tokio::time::sleep(warmup).await;
    let from = clock.now();
    tokio::time::sleep(measure).await;
    let to = clock.now();
    let frames = probe
        .snapshot()
        .into_iter()
        .filter(|f| f.decoded >= from && f.decoded <= to)
        .collect();
    let stats = teacher.live.publisher().stats().borrow().clone();
    let (up_lost, up_forwarded) = (
        proxy.up.lost.load(std::sync::atomic::Ordering::Relaxed),
        proxy
            .up
            .forwarded
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    let uplink = relay.metrics().uplink_nacks.clone();
    probe.stop();
    teacher.live.stop().await;
    bots.stop().await;
    relay.shutdown().await;
    drop(shim);
    drop(proxy);
    Outcome {
        frames,
        from,
        to,
        stats,
        up_lost,
        up_forwarded,
        connect,
        uplink_missing: uplink.missing.load(std::sync::atomic::Ordering::Relaxed),
        uplink_repaired: uplink.repaired.load(std::sync::atomic::Ordering::Relaxed),
        uplink_given_up: uplink.given_up.load(std::sync::atomic::Ordering::Relaxed),
    }
}

//! A seeded userspace UDP proxy that impairs a link: random loss, fixed delay, jitter
//! (which reorders), and delay spikes. This kernel has no netem, so tests and benchmarks
//! put this between a peer and the relay instead.
//!
//! Peers send to [`UdpProxy::addr`]; the proxy gives each peer address its own upstream
//! socket, so the relay still sees one distinct source per peer. Both directions have
//! their own [`Impairment`] and their own random stream derived from one seed, so a run
//! is repeatable: the same seed drops the same packets of the same sequence.
//!
//! Queues: each direction holds at most [`PIPE_CAPACITY`] datagrams in flight; past
//! that a datagram is dropped and counted in [`PipeStats::overflow`] (a full pipe is a
//! link whose buffer overflowed, which is what real links do too).

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

/// Datagrams in flight per direction before the proxy drops.
pub const PIPE_CAPACITY: usize = 8192;

/// What one direction of the link does to datagrams.
#[derive(Debug, Clone, Default)]
pub struct Impairment {
    /// Probability in `[0, 1]` that a datagram is dropped.
    pub loss: f64,
    /// Fixed one-way delay.
    pub delay: Duration,
    /// Extra delay drawn uniformly from `[0, jitter]` per datagram. Datagrams whose
    /// delays cross are delivered out of order, as on a real jittery path.
    pub jitter: Duration,
    /// Delay spikes: from `start` (after the proxy starts) for `length`, every datagram
    /// gets `extra` delay on top (a Wi-Fi stall, a congested uplink).
    pub spikes: Vec<Spike>,
}

/// A stretch of time during which a direction is much slower.
#[derive(Debug, Clone, Copy)]
pub struct Spike {
    pub start: Duration,
    pub length: Duration,
    pub extra: Duration,
}

impl Impairment {
    /// Only random loss.
    pub fn loss(loss: f64) -> Self {
        Self {
            loss,
            ..Self::default()
        }
    }
}

/// Counters of one direction.
#[derive(Debug, Default)]
pub struct PipeStats {
    pub forwarded: AtomicU64,
    pub lost: AtomicU64,
    pub overflow: AtomicU64,
}

/// A running proxy; stops when dropped.
#[derive(Debug)]
pub struct UdpProxy {
    addr: SocketAddr,
    /// Peer → upstream.
    pub up: Arc<PipeStats>,
    /// Upstream → peer.
    pub down: Arc<PipeStats>,
    stop: watch::Sender<bool>,
}

impl UdpProxy {
    /// Starts a proxy on loopback in front of `upstream`.
    pub async fn start(
        upstream: SocketAddr,
        up: Impairment,
        down: Impairment,
        seed: u64,
    ) -> io::Result<Self> {
        let front = Arc::new(UdpSocket::bind(SocketAddr::new(upstream.ip(), 0)).await?);
        let addr = front.local_addr()?;
        let (stop, stop_rx) = watch::channel(false);
        let started = Instant::now();
        let (up_stats, down_stats) = (Arc::<PipeStats>::default(), Arc::<PipeStats>::default());
        let up_tx = spawn_pipe(up, seed, started, up_stats.clone(), stop_rx.clone());
        let down_tx = spawn_pipe(
            down,
            seed ^ 0x9e37_79b9_7f4a_7c15,
            started,
            down_stats.clone(),
            stop_rx.clone(),
        );
        tokio::spawn(serve_front(
            front,
            upstream,
            (up_tx, up_stats.clone()),
            (down_tx, down_stats.clone()),
            stop_rx,
        ));
        Ok(Self {
            addr,
            up: up_stats,
            down: down_stats,
            stop,
        })
    }

    /// Where peers send to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for UdpProxy {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// One datagram on its way: sent from `socket` to `to`.
type Item = (Arc<UdpSocket>, SocketAddr, Bytes);

async fn serve_front(
    front: Arc<UdpSocket>,
    upstream: SocketAddr,
    (up, up_stats): (mpsc::Sender<Item>, Arc<PipeStats>),
    down: (mpsc::Sender<Item>, Arc<PipeStats>),
    mut stop: watch::Receiver<bool>,
) {
    let mut peers: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, from) = tokio::select! {
            _ = stop.changed() => return,
            r = front.recv_from(&mut buf) => match r {
                Ok(r) => r,
                Err(_) => continue, // ICMP unreachable from an earlier send: not fatal
            },
        };
        let socket = match peers.get(&from) {
            Some(s) => s.clone(),
            None => {
                let Ok(s) = UdpSocket::bind(SocketAddr::new(upstream.ip(), 0)).await else {
                    continue;
                };
                let s = Arc::new(s);
                peers.insert(from, s.clone());
                tokio::spawn(serve_back(
                    s.clone(),
                    front.clone(),
                    from,
                    down.clone(),
                    stop.clone(),
                ));
                s
            }
        };
        if up
            .try_send((socket, upstream, Bytes::copy_from_slice(&buf[..n])))
            .is_err()
        {
            up_stats.overflow.fetch_add(1, Relaxed);
        }
    }
}

/// Reads what upstream sends to one peer's socket and queues it towards the peer.
async fn serve_back(
    socket: Arc<UdpSocket>,
    front: Arc<UdpSocket>,
    peer: SocketAddr,
    (down, stats): (mpsc::Sender<Item>, Arc<PipeStats>),
    mut stop: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 65536];
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            r = socket.recv_from(&mut buf) => {
                if let Ok((n, _)) = r
                    && down.try_send((front.clone(), peer, Bytes::copy_from_slice(&buf[..n]))).is_err()
                {
                    stats.overflow.fetch_add(1, Relaxed);
                }
            }
        }
    }
}

/// One direction: decides each datagram's fate with its own seeded random stream and
/// releases survivors when their time comes.
fn spawn_pipe(
    imp: Impairment,
    seed: u64,
    started: Instant,
    stats: Arc<PipeStats>,
    mut stop: watch::Receiver<bool>,
) -> mpsc::Sender<Item> {
    let (tx, mut rx) = mpsc::channel::<Item>(PIPE_CAPACITY);
    tokio::spawn(async move {
        let mut rng = StdRng::seed_from_u64(seed);
        // (release time, arrival order) → datagram; the order breaks ties FIFO.
        let mut heap: BinaryHeap<Reverse<(Instant, u64)>> = BinaryHeap::new();
        let mut waiting: HashMap<u64, Item> = HashMap::new();
        let mut order = 0u64;
        loop {
            let next = heap.peek().map(|Reverse((t, _))| *t);
            tokio::select! {
                _ = stop.changed() => return,
                item = rx.recv() => {
                    let Some(item) = item else { return };
                    if rng.random::<f64>() < imp.loss {
                        stats.lost.fetch_add(1, Relaxed);
                        continue;
                    }
                    if waiting.len() >= PIPE_CAPACITY {
                        stats.overflow.fetch_add(1, Relaxed);
                        continue;
                    }
                    let now = Instant::now();
                    let jitter = if imp.jitter.is_zero() {
                        Duration::ZERO
                    } else {
                        imp.jitter.mul_f64(rng.random::<f64>())
                    };
                    let since = now.saturating_duration_since(started);
                    let spike: Duration = imp
                        .spikes
                        .iter()
                        .filter(|s| since >= s.start && since < s.start + s.length)
                        .map(|s| s.extra)
                        .sum();
                    order += 1;
                    heap.push(Reverse((now + imp.delay + jitter + spike, order)));
                    waiting.insert(order, item);
                }
                _ = sleep_until(next) => {}
            }
            let now = Instant::now();
            while let Some(Reverse((t, id))) = heap.peek().copied() {
                if t > now {
                    break;
                }
                heap.pop();
                if let Some((socket, to, data)) = waiting.remove(&id) {
                    let _ = socket.send_to(&data, to).await;
                    stats.forwarded.fetch_add(1, Relaxed);
                }
            }
        }
    });
    tx
}

async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn echo_server() -> SocketAddr {
        let s = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let addr = s.local_addr().expect("addr");
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            while let Ok((n, from)) = s.recv_from(&mut buf).await {
                let _ = s.send_to(&buf[..n], from).await;
            }
        });
        addr
    }

    /// Sends `n` numbered datagrams through the proxy and returns the numbers that came
    /// back, in arrival order.
    async fn round_trip(proxy: &UdpProxy, n: u32) -> Vec<u32> {
        let client = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("bind"));
        // Read while sending: a socket buffer holds only a few hundred datagrams.
        let reader = {
            let client = client.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 16];
                while let Ok(Ok((len, _))) =
                    tokio::time::timeout(Duration::from_millis(500), client.recv_from(&mut buf))
                        .await
                {
                    assert_eq!(len, 4);
                    got.push(u32::from_be_bytes(buf[..4].try_into().expect("4 bytes")));
                }
                got
            })
        };
        for i in 0..n {
            client
                .send_to(&i.to_be_bytes(), proxy.addr())
                .await
                .expect("send");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        reader.await.expect("reader")
    }

    #[tokio::test]
    async fn loss_is_close_to_the_rate_and_repeatable_with_a_seed() {
        let upstream = echo_server().await;
        let mut runs = Vec::new();
        for _ in 0..2 {
            let proxy = UdpProxy::start(upstream, Impairment::loss(0.2), Impairment::default(), 7)
                .await
                .expect("proxy");
            let got = round_trip(&proxy, 1000).await;
            let lost = proxy.up.lost.load(Relaxed);
            assert!(
                (150..=250).contains(&lost),
                "20 % of 1000 dropped, got {lost}"
            );
            assert_eq!(got.len() as u64, 1000 - lost);
            runs.push(got);
        }
        assert_eq!(runs[0], runs[1], "one seed drops the same datagrams");
    }

    #[tokio::test]
    async fn jitter_reorders_and_delay_delays() {
        let upstream = echo_server().await;
        let proxy = UdpProxy::start(
            upstream,
            Impairment {
                delay: Duration::from_millis(20),
                jitter: Duration::from_millis(10),
                ..Impairment::default()
            },
            Impairment::default(),
            1,
        )
        .await
        .expect("proxy");
        let t0 = Instant::now();
        let got = round_trip(&proxy, 200).await;
        assert_eq!(got.len(), 200, "no loss configured");
        assert!(t0.elapsed() >= Duration::from_millis(20));
        let inversions = got.windows(2).filter(|w| w[0] > w[1]).count();
        assert!(inversions > 0, "10 ms of jitter at 0.2 ms spacing reorders");
    }
}

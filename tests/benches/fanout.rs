//! Fan-out: one publisher (600 kbit/s video + Opus-sized audio) → N subscribers through
//! the relay, with real DTLS-SRTP on every leg.
//!
//! The relay runs alone on one thread (a current-thread runtime), so its CPU time is its
//! own: read from `/proc/thread-self/stat`. Subscribers are bots on the other core; all
//! but four count SRTP packets from their clear headers (cheap), four decrypt and
//! measure the delay from the publisher's send stamp to their receipt.
//!
//! `cargo bench -p lectern-e2e --bench fanout -- [N,N,...] [seconds]` prints one JSON
//! line per N; `cargo xtask bench` turns them into the BENCHMARKS.md table.

use lectern_e2e::bot::{self, BotStats, Role as BotRole, Target};
use lectern_proto::{PeerId, Role, RoomId};
use lectern_relay::{Relay, RelayConfig, TokenSigner};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

const FULL_BOTS: usize = 4;

/// CPU seconds the calling thread has used (Linux), or `None` elsewhere.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the parenthesised name: state is field 3; utime and stime are 14, 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0) // USER_HZ is 100 on Linux
}

struct RelayThread {
    http: String,
    signer: TokenSigner,
    cpu: mpsc::Sender<oneshot::Sender<f64>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RelayThread {
    fn start() -> Self {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (cpu_tx, mut cpu_rx) = mpsc::channel::<oneshot::Sender<f64>>(4);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let relay = Relay::start(RelayConfig {
                    http: "127.0.0.1:0".parse().expect("addr"),
                    media: "127.0.0.1:0".parse().expect("addr"),
                    tcp: false,
                    ..RelayConfig::default()
                })
                .await
                .expect("relay starts");
                ready_tx
                    .send((format!("http://{}", relay.http_addr()), relay.signer().clone()))
                    .expect("bench waits");
                let mut stop_rx = stop_rx;
                loop {
                    tokio::select! {
                        _ = &mut stop_rx => break,
                        Some(reply) = cpu_rx.recv() => { let _ = reply.send(thread_cpu_seconds().unwrap_or(f64::NAN)); }
                    }
                }
                relay.shutdown().await;
            });
        });
        let (http, signer) = ready_rx.recv().expect("relay thread started");
        Self {
            http,
            signer,
            cpu: cpu_tx,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    async fn cpu(&self) -> f64 {
        let (tx, rx) = oneshot::channel();
        self.cpu.send(tx).await.expect("relay thread alive");
        rx.await.expect("relay thread answers")
    }

    fn token(&self, sub: &str, role: Role) -> String {
        self.signer.issue(
            RoomId::new("bench").expect("valid"),
            PeerId::new(sub).expect("valid"),
            sub,
            role,
            Duration::from_secs(3600),
        )
    }
}

impl Drop for RelayThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

async fn scenario(n: usize, seconds: u64) -> serde_json::Value {
    let relay = RelayThread::start();
    let (stop_tx, stop_rx) = watch::channel(false);
    let target = |token| Target {
        base: relay.http.clone(),
        room: "bench".into(),
        token,
    };
    let publisher = Arc::new(BotStats::default());
    let mut tasks = vec![tokio::spawn(bot::run(
        target(relay.token("teacher", Role::Teacher)),
        BotRole::Publish { video_kbps: 600 },
        publisher.clone(),
        stop_rx.clone(),
    ))];
    while !publisher.connected.load(Relaxed) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut subs = Vec::with_capacity(n);
    for i in 0..n {
        let stats = Arc::new(BotStats::default());
        tasks.push(tokio::spawn(bot::run(
            target(relay.token(&format!("s{i}"), Role::Student)),
            BotRole::Subscribe {
                peer: None,
                pli_every: None,
                light: i >= FULL_BOTS,
            },
            stats.clone(),
            stop_rx.clone(),
        )));
        subs.push(stats);
        if i % 25 == 24 {
            // Let handshakes finish in waves rather than all at once (a class does not
            // arrive in the same millisecond either).
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    let ramp = Instant::now();
    while subs.iter().filter(|s| s.connected.load(Relaxed)).count() < n
        && ramp.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let connected = subs.iter().filter(|s| s.connected.load(Relaxed)).count();
    tokio::time::sleep(Duration::from_secs(2)).await; // keyframe, steady state
    for s in &subs[..FULL_BOTS.min(n)] {
        s.delays_us.lock().expect("lock").clear();
    }
    let before: Vec<(u64, u64)> = subs
        .iter()
        .map(|s| (s.packets(), s.lost.load(Relaxed)))
        .collect();
    let sent_before = publisher.packets();
    let (cpu0, t0) = (relay.cpu().await, Instant::now());
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let (cpu1, wall) = (relay.cpu().await, t0.elapsed().as_secs_f64());
    let received: u64 = subs
        .iter()
        .zip(&before)
        .map(|(s, b)| s.packets() - b.0)
        .sum();
    let lost: u64 = subs
        .iter()
        .zip(&before)
        .map(|(s, b)| s.lost.load(Relaxed) - b.1)
        .sum();
    let _ = sent_before;
    let mut delays: Vec<u32> = subs[..FULL_BOTS.min(n)]
        .iter()
        .flat_map(|s| s.delays_us.lock().expect("lock").clone())
        .collect();
    delays.sort_unstable();
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    if std::env::var_os("FANOUT_DEBUG").is_some() {
        for (i, (s, b)) in subs.iter().zip(&before).enumerate() {
            eprintln!(
                "sub {i}: received {} lost {} connected {}",
                s.packets() - b.0,
                s.lost.load(Relaxed) - b.1,
                s.connected.load(Relaxed)
            );
        }
        let metrics = reqwest::get(format!("{}/metrics", relay.http))
            .await
            .map(|r| r.text());
        if let Ok(text) = metrics {
            eprintln!("{}", text.await.unwrap_or_default());
        }
    }
    let cpu = (cpu1 - cpu0) / wall;
    let per_sub = cpu / n as f64;
    serde_json::json!({
        "subscribers": n,
        "connected": connected,
        "relay_cpu": cpu,
        "cpu_us_per_sub_per_s": per_sub * 1e6,
        "subscribers_per_core": if per_sub > 0.0 { 1.0 / per_sub } else { f64::NAN },
        "delay_p50_ms": percentile(&delays, 0.50),
        "delay_p99_ms": percentile(&delays, 0.99),
        "delay_samples": delays.len(),
        "packets_received": received,
        "loss": if received + lost > 0 { lost as f64 / (received + lost) as f64 } else { 0.0 },
    })
}

fn main() {
    // `cargo bench` passes `--bench`; take the first two free arguments.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let ns: Vec<usize> = args
        .first()
        .map(|s| s.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| vec![50, 100, 250, 500]);
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for n in ns {
        let result = rt.block_on(scenario(n, seconds));
        println!("{result}");
    }
}

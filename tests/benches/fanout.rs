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
//!
//! Comparison with xiu: `cargo bench -p lectern-e2e --bench fanout -- 50,100 10 --xiu
//! /path/to/xiu` runs, for each N and right after our relay's scenario, the same scenario
//! against an xiu process it starts (WHIP/WHEP on a free loopback port, every other
//! protocol off, its config and log in a temporary directory). The binary must be xiu
//! 0.14.0 with the loopback and crypto-provider edits `cargo xtask bench` makes
//! (`xtask/src/xiu.rs`; it leaves the binary in `~/.cache/lectern/xiu-0.14.0/bin/xiu`).
//! xiu's CPU is the whole process's (all threads) from `/proc/<pid>/stat` over the same
//! window; its line has `"server":"xiu"` and `cpu_ratio_xiu_over_lectern`: xiu's CPU per
//! connected subscriber over ours. Connected counts and the first bot error are in the
//! lines, so a server that cannot connect a peer shows it.

use lectern_e2e::bot::{self, BotStats, Endpoint, Role as BotRole, Target};
use lectern_e2e::relay_thread::{RelayThread, percentile};
use lectern_proto::Role;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use tokio::sync::watch;

const FULL_BOTS: usize = 4;

/// An xiu process for one scenario: config and log in a temporary directory.
struct XiuProcess {
    child: std::process::Child,
    base: String,
    dir: tempfile::TempDir,
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl XiuProcess {
    fn start(binary: &std::path::Path) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let (port, api) = (
            free_port().map_err(|e| e.to_string())?,
            free_port().map_err(|e| e.to_string())?,
        );
        // Only WHIP/WHEP; xiu always starts its HTTP API, so it gets a free port too.
        // Log level `error`, as quiet as our relay's default.
        let config = dir.path().join("xiu.toml");
        std::fs::write(
            &config,
            format!(
                "[webrtc]\nenabled = true\nport = {port}\n\n[httpapi]\nport = {api}\n\n\
                 [authsecret]\nkey = \"\"\npassword = \"\"\n\n[log]\nlevel = \"error\"\n"
            ),
        )
        .map_err(|e| e.to_string())?;
        let log = std::fs::File::create(dir.path().join("xiu.log")).map_err(|e| e.to_string())?;
        let child = std::process::Command::new(binary)
            .arg("-c")
            .arg(&config)
            .current_dir(dir.path())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let mut xiu = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = xiu.child.try_wait() {
                return Err(format!("xiu exited ({status}): {}", xiu.log_tail()));
            }
            if started.elapsed() > Duration::from_secs(10) {
                return Err(format!("xiu did not listen on {port} within 10 s"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(xiu)
    }

    /// CPU seconds of the whole process (every thread), from `/proc/<pid>/stat`.
    fn cpu(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()));
        stat.ok()
            .and_then(|stat| {
                let rest = stat[stat.rfind(')')? + 2..].to_owned();
                let fields: Vec<&str> = rest.split(' ').collect();
                let utime: f64 = fields.get(11)?.parse().ok()?;
                let stime: f64 = fields.get(12)?.parse().ok()?;
                Some((utime + stime) / 100.0)
            })
            .unwrap_or(f64::NAN)
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("xiu.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for XiuProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::env::var_os("FANOUT_DEBUG").is_some() {
            eprintln!("xiu log (last lines):\n{}", self.log_tail());
        }
    }
}

/// The server a scenario runs against.
enum Server {
    Lectern(RelayThread),
    Xiu(XiuProcess),
}

impl Server {
    fn name(&self) -> &'static str {
        match self {
            Self::Lectern(_) => "lectern",
            Self::Xiu(_) => "xiu",
        }
    }

    fn endpoint(&self, sub: &str, role: Role) -> Endpoint {
        match self {
            Self::Lectern(relay) => Endpoint::Lectern(Target {
                base: relay.http.clone(),
                room: "bench".into(),
                token: relay.token(sub, role),
            }),
            Self::Xiu(xiu) => Endpoint::Xiu {
                base: xiu.base.clone(),
                app: "live".into(),
                stream: "bench".into(),
            },
        }
    }

    async fn cpu(&self) -> f64 {
        match self {
            Self::Lectern(relay) => relay.cpu().await,
            Self::Xiu(xiu) => xiu.cpu(),
        }
    }
}

/// A result line for a server that could not be measured at all.
fn not_measured(server: &str, n: usize, why: &str) -> serde_json::Value {
    serde_json::json!({
        "server": server,
        "subscribers": n,
        "connected": 0,
        "publisher_connected": false,
        "error": why,
    })
}

async fn scenario(n: usize, seconds: u64, server: Server) -> serde_json::Value {
    let (stop_tx, stop_rx) = watch::channel(false);
    let publisher = Arc::new(BotStats::default());
    let mut tasks = vec![tokio::spawn(bot::run(
        server.endpoint("teacher", Role::Teacher),
        BotRole::Publish { video_kbps: 600 },
        publisher.clone(),
        stop_rx.clone(),
    ))];
    let ramp = Instant::now();
    while !publisher.connected.load(Relaxed)
        && !tasks[0].is_finished()
        && ramp.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if !publisher.connected.load(Relaxed) {
        let _ = stop_tx.send(true);
        let why = match tasks.remove(0).await {
            Ok(Err(e)) => format!("publisher: {e:#}"),
            _ => "publisher did not connect within 30 s".to_owned(),
        };
        return not_measured(server.name(), n, &why);
    }
    let mut subs = Vec::with_capacity(n);
    for i in 0..n {
        let stats = Arc::new(BotStats::default());
        tasks.push(tokio::spawn(bot::run(
            server.endpoint(&format!("s{i}"), Role::Student),
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
    // Until every subscriber has connected or given up (its task ended), at most 60 s.
    while subs
        .iter()
        .zip(&tasks[1..])
        .any(|(s, t)| !s.connected.load(Relaxed) && !t.is_finished())
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
    let (cpu0, t0) = (server.cpu().await, Instant::now());
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let (cpu1, wall) = (server.cpu().await, t0.elapsed().as_secs_f64());
    let connected_at_end = subs.iter().filter(|s| s.connected.load(Relaxed)).count();
    let received: u64 = subs
        .iter()
        .zip(&before)
        .map(|(s, b)| s.packets() - b.0)
        .sum();
    let lost: u64 = subs
        .iter()
        .zip(&before)
        .map(|(s, b)| s.lost.load(Relaxed).saturating_sub(b.1))
        .sum();
    let mut delays: Vec<u32> = subs[..FULL_BOTS.min(n)]
        .iter()
        .flat_map(|s| s.delays_us.lock().expect("lock").clone())
        .collect();
    delays.sort_unstable();
    let _ = stop_tx.send(true);
    let mut errors = 0;
    let mut first_error = None;
    for t in tasks {
        if let Ok(Err(e)) = t.await {
            errors += 1;
            first_error.get_or_insert_with(|| format!("{e:#}"));
        }
    }
    if std::env::var_os("FANOUT_DEBUG").is_some() {
        for (i, (s, b)) in subs.iter().zip(&before).enumerate() {
            eprintln!(
                "sub {i}: received {} lost {} connected {}",
                s.packets() - b.0,
                s.lost.load(Relaxed).saturating_sub(b.1),
                s.connected.load(Relaxed)
            );
        }
        if let Server::Lectern(relay) = &server {
            let metrics = reqwest::get(format!("{}/metrics", relay.http))
                .await
                .map(|r| r.text());
            if let Ok(text) = metrics {
                eprintln!("{}", text.await.unwrap_or_default());
            }
        }
    }
    let cpu = (cpu1 - cpu0) / wall;
    let per_sub = cpu / n as f64;
    serde_json::json!({
        "server": server.name(),
        "subscribers": n,
        "connected": connected,
        "connected_at_end": connected_at_end,
        "publisher_connected": true,
        "relay_cpu": cpu,
        "cpu_us_per_sub_per_s": per_sub * 1e6,
        "subscribers_per_core": if per_sub > 0.0 { 1.0 / per_sub } else { f64::NAN },
        "delay_p50_ms": percentile(&delays, 0.50),
        "delay_p99_ms": percentile(&delays, 0.99),
        "delay_samples": delays.len(),
        "packets_received": received,
        "loss": if received + lost > 0 { lost as f64 / (received + lost) as f64 } else { 0.0 },
        "bot_errors": errors,
        "first_error": first_error,
    })
}

/// xiu's CPU per connected subscriber over ours, when both connected some.
fn cpu_ratio(xiu: &serde_json::Value, lectern: &serde_json::Value) -> Option<f64> {
    let per_sub = |v: &serde_json::Value| {
        let cpu = v["relay_cpu"].as_f64()?;
        let connected = v["connected"].as_f64()?;
        (connected > 0.0 && cpu > 0.0).then(|| cpu / connected)
    };
    Some(per_sub(xiu)? / per_sub(lectern)?)
}

fn main() {
    // `cargo bench` passes `--bench`; `--xiu PATH` names the xiu binary; take the first
    // two free arguments.
    let mut xiu = None;
    let mut args = Vec::new();
    let mut all = std::env::args().skip(1);
    while let Some(a) = all.next() {
        if a == "--xiu" {
            xiu = Some(std::path::PathBuf::from(
                all.next().expect("--xiu needs a path"),
            ));
        } else if !a.starts_with("--") {
            args.push(a);
        }
    }
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
        let lectern = rt.block_on(scenario(n, seconds, Server::Lectern(RelayThread::start())));
        println!("{lectern}");
        if let Some(binary) = &xiu {
            let mut result = match XiuProcess::start(binary) {
                Ok(process) => rt.block_on(scenario(n, seconds, Server::Xiu(process))),
                Err(why) => not_measured("xiu", n, &why),
            };
            result["cpu_ratio_xiu_over_lectern"] = cpu_ratio(&result, &lectern).into();
            println!("{result}");
        }
    }
}

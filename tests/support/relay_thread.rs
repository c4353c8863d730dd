//! The relay alone on one OS thread (a current-thread runtime), so a benchmark can read
//! the relay's own CPU time and nothing else's, while its clients run elsewhere.

use lectern_proto::{PeerId, Role, RoomId};
use lectern_relay::{Relay, RelayConfig, TokenSigner};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// CPU seconds per thread name, summed over the process's threads (Linux).
pub fn threads_cpu() -> std::collections::HashMap<String, f64> {
    let mut out = std::collections::HashMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        *out.entry(name).or_insert(0.0) += (ticks(11) + ticks(12)) / 100.0;
    }
    out
}

/// CPU seconds the calling thread has used (Linux), or `None` elsewhere.
pub fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the parenthesised name: state is field 3; utime and stime are 14, 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0) // USER_HZ is 100 on Linux
}

/// A relay on its own thread; stopped on drop.
pub struct RelayThread {
    /// `http://127.0.0.1:port`.
    pub http: String,
    /// Issues tokens for this relay.
    pub signer: TokenSigner,
    cpu: mpsc::Sender<oneshot::Sender<f64>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for RelayThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayThread")
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl RelayThread {
    /// Starts the relay (loopback, no TCP media) and waits until it listens.
    pub fn start() -> Self {
        Self::with_secret(String::new())
    }

    /// The same with a fixed token secret (empty: a random one), as a standalone relay
    /// on a server runs.
    pub fn with_secret(secret: String) -> Self {
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
                    secret,
                    rtmp: None,
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

    /// CPU seconds the relay thread has used so far.
    pub async fn cpu(&self) -> f64 {
        let (tx, rx) = oneshot::channel();
        self.cpu.send(tx).await.expect("relay thread alive");
        rx.await.expect("relay thread answers")
    }

    /// A token for room `bench`.
    pub fn token(&self, sub: &str, role: Role) -> String {
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

/// The `p` quantile of sorted microseconds, in milliseconds (NaN when empty).
pub fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

//! The self-check's network probe against a relay: round-trip time, jitter, loss, an
//! upload estimate, and whether UDP gets through or only TCP (`docs/protocol.md`,
//! "Network probe").
//!
//! [`run`] asks the relay for a probe id (`POST /probe`), then drives the sans-IO
//! [`UdpProbe`] over a UDP socket for about 4.5 s. If no pong comes back within 2 s,
//! it measures over HTTP instead (round trips to `/probe/{id}/echo`, one upload to
//! `/probe/{id}/upload`) and reports TCP only. If the HTTP request fails, the relay is
//! unreachable. [`findings`] turns the figures into self-check findings.

mod core;
mod findings;
#[cfg(test)]
mod sim;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lectern_proto::probe::{ProbeGrant, ProbeId};
use lectern_proto::{NetworkStats, NetworkTransport};
use tokio::net::UdpSocket;

use crate::ClientError;
pub use core::{Plan, RATE_WINDOW, Status, UdpFigures, UdpProbe};
pub use findings::findings;

/// Which relay to probe, and how.
#[derive(Debug, Clone, Default)]
pub struct ProbeTarget {
    /// The relay's base URL, e.g. `http://127.0.0.1:8686`.
    pub base_url: String,
    /// A token of this relay, for relays that only probe for token holders.
    pub token: Option<String>,
    /// Where probe datagrams go instead of the URL's host at the granted port (a port
    /// forward in front of the relay; tests put an impairment proxy here).
    pub udp_addr: Option<SocketAddr>,
}

/// Round trips over HTTP in the TCP fallback (the first, which opens the connection,
/// is not counted).
const TCP_ECHOES: usize = 12;
/// Bytes the TCP fallback uploads to estimate the upload.
const TCP_UPLOAD_BYTES: usize = 1024 * 1024;
/// One HTTP exchange may take this long.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// Probes `target` and returns what it measured. Fails only when the relay answered
/// `POST /probe` with a refusal (it does not offer the probe, or wants a token): a
/// relay that cannot be reached at all is a result, [`NetworkTransport::Unreachable`].
pub async fn run(
    target: &ProbeTarget,
    plan: Plan,
    progress: &mut (dyn FnMut(f32) + Send),
) -> Result<NetworkStats, ClientError> {
    let base = target.base_url.trim_end_matches('/').to_owned();
    let mut stats = NetworkStats {
        relay: base.clone(),
        transport: NetworkTransport::Unreachable,
        rtt_p50_ms: None,
        rtt_p95_ms: None,
        jitter_ms: None,
        loss_percent: None,
        loss_down_percent: None,
        upload_kbps: None,
        upload_at_ceiling: false,
        samples: 0,
    };
    let http = crate::http::client(HTTP_TIMEOUT, Duration::from_secs(3));
    let grant = match open(&http, &base, target.token.as_deref()).await {
        Ok(g) => g,
        Err(ClientError::Unreachable(why)) => {
            tracing::info!("network probe: relay unreachable: {why}");
            return Ok(stats);
        }
        Err(e) => return Err(e),
    };
    let id = ProbeId::parse(&grant.id).ok_or_else(|| ClientError::Refused {
        status: 200,
        code: "invalid_input".into(),
        message: "the relay's probe id is not 32 hex digits".into(),
    })?;
    let plan = Plan {
        train_peak_kbps: plan.train_peak_kbps.min(grant.max_kbps),
        ..plan
    };
    let udp_addr = match target.udp_addr {
        Some(a) => Some(a),
        None => media_addr(&base, grant.udp_port).await,
    };
    let udp = match udp_addr {
        Some(addr) => run_udp(addr, id, plan, progress).await,
        None => None,
    };
    match udp {
        Some(f) => {
            stats.transport = NetworkTransport::Udp;
            stats.rtt_p50_ms = f.rtt_p50_ms;
            stats.rtt_p95_ms = f.rtt_p95_ms;
            stats.jitter_ms = f.jitter_ms;
            stats.loss_percent = f.loss_percent;
            stats.loss_down_percent = f.loss_down_percent;
            stats.upload_kbps = f.upload_kbps;
            stats.upload_at_ceiling = f.upload_at_ceiling;
            stats.samples = f.samples;
        }
        None => {
            tracing::info!("network probe: no UDP answer from the relay; measuring over TCP");
            if run_tcp(&http, &base, &grant.id, &mut stats).await.is_ok() {
                stats.transport = NetworkTransport::TcpOnly;
            }
        }
    }
    progress(1.0);
    Ok(stats)
}

/// `POST /probe`.
async fn open(
    http: &reqwest::Client,
    base: &str,
    token: Option<&str>,
) -> Result<ProbeGrant, ClientError> {
    let mut req = http.post(format!("{base}/probe"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| ClientError::Unreachable(e.to_string()))?;
    let status = resp.status().as_u16();
    if status != 200 {
        let body = resp.text().await.unwrap_or_default();
        return Err(crate::whip::refusal(status, &body));
    }
    resp.json()
        .await
        .map_err(|e| ClientError::Unreachable(format!("probe grant: {e}")))
}

/// The relay's host from its URL, at the media port it granted.
async fn media_addr(base: &str, port: u16) -> Option<SocketAddr> {
    let url = reqwest::Url::parse(base).ok()?;
    let host = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']');
    tokio::net::lookup_host((host, port)).await.ok()?.next()
}

/// Drives a [`UdpProbe`] over a socket; `None` when no pong ever came.
async fn run_udp(
    to: SocketAddr,
    id: ProbeId,
    plan: Plan,
    progress: &mut (dyn FnMut(f32) + Send),
) -> Option<UdpFigures> {
    let local: SocketAddr = if to.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = match UdpSocket::bind(local).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("network probe: no UDP socket: {e}");
            return None;
        }
    };
    let mut probe = UdpProbe::new(Instant::now(), id, plan);
    let mut buf = [0u8; 2048];
    let mut reported = Instant::now();
    loop {
        let now = Instant::now();
        while let Some(datagram) = probe.poll_transmit(now) {
            // A send that fails (no route, a full buffer) is a lost datagram to the probe.
            if let Err(e) = socket.send_to(&datagram, to).await {
                tracing::debug!("network probe: send: {e}");
            }
        }
        match probe.status(now) {
            Status::Running => {}
            Status::NoReply => return None,
            Status::Done => return Some(probe.figures()),
        }
        if now.duration_since(reported) >= Duration::from_millis(100) {
            reported = now;
            progress(probe.progress(now) * 0.95);
        }
        let deadline = probe.poll_timeout().max(now);
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                // Only the relay's answers count; ICMP errors surface here on some systems.
                if let Ok((n, from)) = r && from.port() == to.port() {
                    probe.handle_datagram(Instant::now(), &buf[..n]);
                }
            }
            () = tokio::time::sleep_until(deadline.into()) => {}
        }
    }
}

/// The TCP fallback: round trips to `/probe/{id}/echo` and one timed upload.
async fn run_tcp(
    http: &reqwest::Client,
    base: &str,
    id: &str,
    stats: &mut NetworkStats,
) -> Result<(), reqwest::Error> {
    let echo = format!("{base}/probe/{id}/echo");
    let mut rtts = Vec::with_capacity(TCP_ECHOES);
    for i in 0..=TCP_ECHOES {
        let t0 = Instant::now();
        http.post(&echo).send().await?.error_for_status()?;
        if i > 0 {
            rtts.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let changes: Vec<f64> = rtts.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    let mut sorted = rtts.clone();
    sorted.sort_by(f64::total_cmp);
    let p50 = core::percentile(&sorted, 0.5).unwrap_or(0.0);
    stats.rtt_p50_ms = Some(p50 as f32);
    stats.rtt_p95_ms = core::percentile(&sorted, 0.95).map(|v| v as f32);
    stats.jitter_ms = Some((changes.iter().sum::<f64>() / changes.len().max(1) as f64) as f32);
    stats.samples = rtts.len() as u32;
    let t0 = Instant::now();
    http.post(format!("{base}/probe/{id}/upload"))
        .body(vec![0u8; TCP_UPLOAD_BYTES])
        .send()
        .await?
        .error_for_status()?;
    // The exchange is the transfer plus one round trip for the answer.
    let ms = (t0.elapsed().as_secs_f64() * 1000.0 - p50).max(0.5);
    stats.upload_kbps = Some((TCP_UPLOAD_BYTES as f64 * 8.0 / ms).round() as u32);
    Ok(())
}

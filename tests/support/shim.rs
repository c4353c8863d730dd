//! An HTTP front for a relay that points WHIP/WHEP answers at an impairment proxy.
//!
//! The console's publisher takes the relay's media address from the SDP answer. To put
//! a lossy, delayed path between them without a test hook in the publisher, requests go
//! through this shim: it forwards each request to the relay unchanged, and in an SDP
//! answer replaces the relay's UDP host candidate with the proxy's address (and drops
//! the ICE-TCP candidate, which would bypass the proxy). Everything else passes through.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A running shim; stops when dropped.
#[derive(Debug)]
pub struct WhipShim {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
}

impl WhipShim {
    /// Forwards to the relay at `relay_http`, sending media to `media_via` instead of the
    /// relay's `relay_media` candidate.
    pub async fn start(
        relay_http: SocketAddr,
        relay_media: SocketAddr,
        media_via: SocketAddr,
    ) -> std::io::Result<Self> {
        Self::start_with(relay_http, relay_media, media_via, false).await
    }

    /// As [`WhipShim::start`]; with `keep_tcp` the relay's ICE-TCP candidate stays in the
    /// answer (a network that blocks only UDP).
    pub async fn start_with(
        relay_http: SocketAddr,
        relay_media: SocketAddr,
        media_via: SocketAddr,
        keep_tcp: bool,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, mut stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop_rx.changed() => return,
                    Ok((conn, _)) = listener.accept() => {
                        tokio::spawn(async move {
                            if let Err(e) = serve(conn, relay_http, relay_media, media_via, keep_tcp).await {
                                eprintln!("shim: {e}");
                            }
                        });
                    }
                }
            }
        });
        Ok(Self { addr, stop })
    }

    /// The shim's base URL.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for WhipShim {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn serve(
    mut conn: TcpStream,
    relay_http: SocketAddr,
    relay_media: SocketAddr,
    via: SocketAddr,
    keep_tcp: bool,
) -> anyhow::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = conn.read(&mut chunk).await?;
        anyhow::ensure!(n > 0, "closed before the request head");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request = lines.next().unwrap_or_default();
    let mut parts = request.split(' ');
    let (method, path) = (parts.next().unwrap_or("GET"), parts.next().unwrap_or("/"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = conn.read(&mut chunk).await?;
        anyhow::ensure!(n > 0, "closed before the request body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_end..head_end + length].to_vec();
    let client = reqwest::Client::new();
    let mut req = client.request(method.parse()?, format!("http://{relay_http}{path}"));
    for (k, v) in &headers {
        if matches!(k.as_str(), "authorization" | "content-type") {
            req = req.header(k, v);
        }
    }
    let resp = req.body(body).send().await?;
    let status = resp.status();
    let mut out_headers = Vec::new();
    for name in ["location", "content-type", "etag"] {
        if let Some(v) = resp.headers().get(name).and_then(|v| v.to_str().ok()) {
            out_headers.push(format!("{name}: {v}\r\n"));
        }
    }
    let mut text = resp.text().await?;
    if text.starts_with("v=0") {
        text = point_at(&text, relay_media, via, keep_tcp);
    }
    let reply = format!(
        "HTTP/1.1 {} {}\r\n{}content-length: {}\r\nconnection: close\r\n\r\n{text}",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        out_headers.concat(),
        text.len()
    );
    conn.write_all(reply.as_bytes()).await?;
    conn.shutdown().await?;
    Ok(())
}

/// The SDP with the relay's UDP candidate moved to `via` and TCP candidates removed
/// (unless `keep_tcp`).
fn point_at(sdp: &str, relay: SocketAddr, via: SocketAddr, keep_tcp: bool) -> String {
    sdp.split_inclusive('\n')
        .filter_map(|line| {
            let Some(candidate) = line.trim_end().strip_prefix("a=candidate:") else {
                return Some(line.to_owned());
            };
            let mut f: Vec<String> = candidate.split(' ').map(str::to_owned).collect();
            if f.len() < 6 {
                return None;
            }
            if !f[2].eq_ignore_ascii_case("udp") {
                return keep_tcp.then(|| line.to_owned());
            }
            if f[4] == relay.ip().to_string() && f[5] == relay.port().to_string() {
                f[4] = via.ip().to_string();
                f[5] = via.port().to_string();
            }
            Some(format!("a=candidate:{}\r\n", f.join(" ")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_relays_candidate_moves_to_the_proxy() {
        let sdp = "v=0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\n\
                   a=candidate:2 1 tcp 1 127.0.0.1 5000 typ host tcptype passive\r\na=end-of-candidates\r\n";
        let out = super::point_at(
            sdp,
            "127.0.0.1:5000".parse().unwrap(),
            "127.0.0.1:6000".parse().unwrap(),
            false,
        );
        assert!(out.contains("udp 2130706431 127.0.0.1 6000 typ host\r\n"));
        assert!(!out.contains(" tcp "));
        assert!(out.ends_with("a=end-of-candidates\r\n"));
    }
}

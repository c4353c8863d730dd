//! Lectern's media relay.
//!
//! A selective forwarding unit for WebRTC (WHIP in, WHEP out) on one UDP port with an
//! ICE-TCP fallback; RTMP in and RTMP and HTTP-FLV out for WeChat mini-programs
//! ([`stream`]); rooms with a stage of up to six students, signed tokens, WebSocket
//! signaling, and the student web page. It runs inside the desktop app and as the
//! standalone `lectern-relay` binary; both call [`Relay::start`].
//!
//! Invariants:
//! - RTP is forwarded, never decoded; each subscriber gets its own SSRC and the payload
//!   type it negotiated.
//! - Every queue between tasks is bounded, and each states what happens when full (see
//!   the `sfu::shell` and `hub` module docs).
//! - Protocol logic (rooms, the SFU engine) is driven with explicit time and no I/O.

mod auth;
mod bridge;
mod config;
pub mod flv;
pub mod flv_webrtc;
mod http;
mod hub;
mod metrics;
pub mod probe;
pub mod room;
pub mod rtmp;
pub mod sfu;
mod stall;
pub mod stream;
pub mod webrtc_flv;

pub use auth::{Access, AuthError, MAX_TOKEN_LEN, TokenSigner, unix_now};
pub use bridge::StreamRefusal;
pub use config::{ConfigError, ProbeAccess, RelayConfig, parse_addr_or_off};
pub use metrics::{DropReason, Metrics, ProbeOutcome};

use sfu::{Engine, EngineConfig, LocalTransport};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Why a relay could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// A port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// No address to announce to peers was found.
    #[error("no network address to announce; set public_ips")]
    NoAddress,
}

/// A running relay.
#[derive(Debug)]
pub struct Relay {
    http_addr: SocketAddr,
    media_addr: SocketAddr,
    rtmp_addr: Option<SocketAddr>,
    announced: Vec<IpAddr>,
    signer: TokenSigner,
    metrics: Arc<Metrics>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

fn announce_addresses(config: &RelayConfig, bound: IpAddr) -> Vec<IpAddr> {
    if !config.public_ips.is_empty() {
        return config.public_ips.clone();
    }
    if !bound.is_unspecified() {
        return vec![bound];
    }
    let mut ips: Vec<IpAddr> = rtc::shared::ifaces::ifaces()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|i| i.addr.map(|a| a.ip()))
        // A dual-stack socket serves both families; an IPv4 one only IPv4.
        .filter(|ip| bound.is_ipv6() || ip.is_ipv4())
        .filter(|ip| config.include_loopback || !ip.is_loopback())
        // Link-local IPv6 needs a scope id browsers do not use in candidates.
        .filter(|ip| !matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80))
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

/// Socket buffers of the shared media port. Every peer's packets pass through this one
/// socket: with the OS default (≈ 200 KiB on Linux) a burst of keyframes to a few
/// hundred viewers, or a storm of DTLS handshakes, overflows it and drops keep-alives
/// along with media. The OS may cap the request (`net.core.rmem_max`/`wmem_max`).
const MEDIA_SOCKET_BUFFER: usize = 8 * 1024 * 1024;

/// Binds the shared media port, dual-stack when `addr` is `[::]`, with large buffers.
fn bind_media(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(false)?;
    }
    for (what, result) in [
        ("receive", socket.set_recv_buffer_size(MEDIA_SOCKET_BUFFER)),
        ("send", socket.set_send_buffer_size(MEDIA_SOCKET_BUFFER)),
    ] {
        if let Err(e) = result {
            tracing::warn!("media socket {what} buffer stays at the OS default: {e}");
        }
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

impl Relay {
    /// Binds the ports and starts the relay's tasks on the current tokio runtime.
    pub async fn start(mut config: RelayConfig) -> Result<Self, RelayError> {
        // rustls's process-wide provider: ring, which DTLS already uses. HTTP clients in
        // the same process (the console's, tests') find it installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let bind_err = |addr| move |source| RelayError::Bind { addr, source };
        // `[::]` is dual-stack on Linux, macOS and Windows; where IPv6 is switched off,
        // fall back to IPv4 only.
        let v4_any = |a: SocketAddr| match a {
            SocketAddr::V6(v6) if v6.ip().is_unspecified() => {
                SocketAddr::new(IpAddr::from([0, 0, 0, 0]), a.port())
            }
            other => other,
        };
        let udp = match bind_media(config.media) {
            Ok(s) => s,
            Err(e)
                if v4_any(config.media) != config.media
                    && e.kind() != std::io::ErrorKind::AddrInUse =>
            {
                tracing::info!("no IPv6 ({e}): relay on IPv4 only");
                config.media = v4_any(config.media);
                config.http = v4_any(config.http);
                config.rtmp = config.rtmp.map(v4_any);
                bind_media(config.media).map_err(bind_err(config.media))?
            }
            Err(e) => return Err(bind_err(config.media)(e)),
        };
        let mut udp = udp;
        let mut media_addr = udp.local_addr().map_err(bind_err(config.media))?;
        let tcp = if config.tcp {
            // ICE-TCP shares the UDP port's number. With port 0 the OS picked a UDP port
            // whose TCP twin may be taken: pick again a few times.
            let mut attempt = 0;
            loop {
                match TcpListener::bind(media_addr).await {
                    Ok(l) => break Some(l),
                    Err(e)
                        if config.media.port() == 0
                            && e.kind() == std::io::ErrorKind::AddrInUse
                            && attempt < 16 =>
                    {
                        attempt += 1;
                        udp = bind_media(config.media).map_err(bind_err(config.media))?;
                        media_addr = udp.local_addr().map_err(bind_err(config.media))?;
                    }
                    Err(e) => return Err(bind_err(media_addr)(e)),
                }
            }
        } else {
            None
        };
        let http = TcpListener::bind(config.http)
            .await
            .map_err(bind_err(config.http))?;
        let http_addr = http.local_addr().map_err(bind_err(config.http))?;
        let rtmp = match config.rtmp {
            None => None,
            Some(addr) => Some(match TcpListener::bind(addr).await {
                Ok(l) => l,
                Err(e) if v4_any(addr) != addr && e.kind() != std::io::ErrorKind::AddrInUse => {
                    tracing::info!("no IPv6 ({e}): RTMP on IPv4 only");
                    TcpListener::bind(v4_any(addr))
                        .await
                        .map_err(bind_err(v4_any(addr)))?
                }
                Err(e) => return Err(bind_err(addr)(e)),
            }),
        };
        let rtmp_addr = match &rtmp {
            Some(l) => Some(
                l.local_addr()
                    .map_err(bind_err(config.rtmp.expect("bound")))?,
            ),
            None => None,
        };
        let announced = announce_addresses(&config, media_addr.ip());
        if announced.is_empty() {
            return Err(RelayError::NoAddress);
        }

        let signer = if config.secret.is_empty() {
            TokenSigner::random()
        } else {
            TokenSigner::new(config.secret.as_bytes())
        };
        let metrics = Arc::new(Metrics::default());
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (engine_tx, engine_rx) = mpsc::channel(64);
        let (hub_tx, hub_rx) = mpsc::channel(1024);
        let (flv_tx, flv_rx) = mpsc::channel(webrtc_flv::TAP_QUEUE);
        let (external_tx, external_rx) = mpsc::channel(sfu::shell::EXTERNAL_QUEUE);
        let streams = stream::Streams::new(metrics.clone(), shutdown_rx.clone());
        let gate = bridge::StreamGate {
            signer: signer.clone(),
            hub: hub_tx.clone(),
            streams: streams.clone(),
            metrics: metrics.clone(),
            bridge: flv_webrtc::BridgeLinks {
                engine: engine_tx.clone(),
                media: external_tx,
                metrics: metrics.clone(),
                bridged: flv_webrtc::Bridged::default(),
            },
        };

        let engine = Engine::new(
            EngineConfig {
                transport: LocalTransport {
                    udp_port: media_addr.port(),
                    tcp_port: config.tcp.then_some(media_addr.port()),
                    addresses: announced.clone(),
                },
                max_sessions: config.max_sessions,
            },
            metrics.clone(),
        );
        let mut tasks = vec![
            tokio::spawn(sfu::shell::run(
                engine,
                probe::ProbeResponder::new(metrics.clone()),
                udp,
                tcp,
                (engine_rx, external_rx),
                sfu::shell::Outlets {
                    hub: hub_tx.clone(),
                    flv: flv_tx,
                },
                shutdown_rx.clone(),
            )),
            tokio::spawn(webrtc_flv::run(
                flv_rx,
                streams.clone(),
                engine_tx.clone(),
                metrics.clone(),
                shutdown_rx.clone(),
            )),
            tokio::spawn(hub::run(
                hub_rx,
                engine_tx.clone(),
                metrics.clone(),
                config.asset_limits(),
                streams,
                shutdown_rx.clone(),
            )),
        ];
        if let Some(listener) = rtmp {
            tasks.push(tokio::spawn(serve_rtmp(
                listener,
                gate.clone(),
                config.max_rtmp_connections,
                shutdown_rx.clone(),
            )));
        }
        let state = http::AppState {
            signer: signer.clone(),
            engine: engine_tx,
            hub: hub_tx,
            metrics: metrics.clone(),
            next_conn: Arc::new(AtomicU64::new(1)),
            max_asset_bytes: config.max_asset_bytes,
            probe: config.probe,
            streams: gate,
        };
        let app = http::router(state);
        let mut stop = shutdown_rx;
        tasks.push(tokio::spawn(async move {
            let served = axum::serve(stall::HttpListener(http), app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!("http server: {e}");
            }
        }));
        tracing::info!(%http_addr, %media_addr, ?rtmp_addr, ?announced, "relay started");
        Ok(Self {
            http_addr,
            media_addr,
            rtmp_addr,
            announced,
            signer,
            metrics,
            shutdown,
            tasks,
        })
    }

    /// Where the HTTP surface listens.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Where the media port (UDP, and ICE-TCP when on) listens.
    pub fn media_addr(&self) -> SocketAddr {
        self.media_addr
    }

    /// Where RTMP listens, unless it is off.
    pub fn rtmp_addr(&self) -> Option<SocketAddr> {
        self.rtmp_addr
    }

    /// Addresses announced in ICE candidates.
    pub fn announced(&self) -> &[IpAddr] {
        &self.announced
    }

    /// The token signer (the embedded relay's console issues tokens with it).
    pub fn signer(&self) -> &TokenSigner {
        &self.signer
    }

    /// Live counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Says goodbye to signaling clients, stops accepting, and waits for the tasks.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Accepts RTMP connections until shutdown, at most `max` at once; each connection runs
/// [`rtmp::serve_connection`] in its own task and is dropped at shutdown.
async fn serve_rtmp(
    listener: TcpListener,
    gate: bridge::StreamGate,
    max: usize,
    mut stop: watch::Receiver<bool>,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let slots = Arc::new(tokio::sync::Semaphore::new(
        max.min(tokio::sync::Semaphore::MAX_PERMITS),
    ));
    let metrics = gate.metrics.clone();
    loop {
        let (socket, peer) = tokio::select! {
            () = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: let it pass, do not spin.
                    tracing::warn!("RTMP accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics.stream_refused("capacity");
            tracing::warn!(%peer, "RTMP connection refused: {max} open already");
            drop(socket);
            continue;
        };
        let _ = socket.set_nodelay(true);
        metrics.rtmp_accepted.fetch_add(1, Relaxed);
        metrics.rtmp_connections.fetch_add(1, Relaxed);
        let gate = gate.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let metrics = gate.metrics.clone();
            let io = bridge::Counted {
                io: socket,
                metrics: metrics.clone(),
            };
            let bridge = bridge::RelayBridge(gate);
            tokio::select! {
                served = rtmp::serve_connection(io, rtmp::ShellConfig::default(), bridge) => {
                    if let Err(e) = served {
                        tracing::info!(%peer, "RTMP connection ended: {e}");
                    }
                }
                () = stopped(&mut stop) => {}
            }
            metrics.rtmp_connections.fetch_sub(1, Relaxed);
        });
    }
}

/// Resolves once the relay's shutdown flag is set (or its sender is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

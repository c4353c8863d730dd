//! The tokio shell around the [`Engine`]: one task owns it, the shared UDP socket and
//! the ICE-TCP connections.
//!
//! Queues and what happens when they fill:
//! - UDP out: the kernel socket buffer, written without waiting (on Linux a burst of up
//!   to [`UDP_SEND_BATCH`] datagrams per `sendmmsg` call). When it is full the datagram
//!   is dropped and counted (`send_queue_full`); the subscriber's NACKs recover video
//!   from the sender's packet cache, and a PLI follows if that fails.
//! - ICE-TCP out: 256 frames per connection. Full → the frame is dropped and counted,
//!   so one student on a slow TCP link never stalls the engine or anybody else.
//! - ICE-TCP in: 256 frames across connections; a reader waits (TCP back-pressure on
//!   that connection only).
//! - Commands from HTTP: 64; a full queue makes the HTTP handler wait.

use super::engine::{
    Engine, EngineEvent, ExternalPublisher, SessionAnswer, SessionId, SessionRequest, Transmit,
};
use crate::hub::HubCommand;
use crate::probe::{GrantRefused, ProbeResponder};
use crate::webrtc_flv::Media;
use crate::webrtc_flv::Tap;
use bytes::BytesMut;
use lectern_proto::probe::{self, ProbeGrant, ProbeId};
use lectern_proto::{ApiError, PeerId, RoomId};
use rtc::shared::TransportProtocol;
use rtc::shared::tcp_framing::{TcpFrameDecoder, frame_packet};
use std::collections::HashMap;
use std::collections::VecDeque;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot, watch};

/// Frames queued per ICE-TCP connection before dropping.
pub const TCP_QUEUE: usize = 256;
/// Largest RFC 4571 frame accepted on ICE-TCP.
const MAX_TCP_FRAME: usize = 16 * 1024;
/// Datagrams read per wake-up before the engine gets a chance to flush.
const UDP_BATCH: usize = 64;
/// Datagrams handed to the kernel per system call.
pub const UDP_SEND_BATCH: usize = 64;

/// What HTTP handlers and the hub ask of the engine.
#[derive(Debug)]
pub enum Command {
    Publish {
        req: SessionRequest,
        reply: oneshot::Sender<Result<SessionAnswer, ApiError>>,
    },
    Subscribe {
        req: SessionRequest,
        source: Option<PeerId>,
        reply: oneshot::Sender<Result<SessionAnswer, ApiError>>,
    },
    /// PATCH (trickle) or DELETE, checked against the session's room and owner.
    Modify {
        room: RoomId,
        session: SessionId,
        by: PeerId,
        teacher: bool,
        /// `Some(fragment)` to trickle, `None` to end the session.
        trickle: Option<String>,
        reply: oneshot::Sender<Result<(), ApiError>>,
    },
    /// A student left the stage: end their publish session.
    EndPublish { room: RoomId, peer: PeerId },
    /// Grant a network-probe id for the media port.
    OpenProbe {
        reply: oneshot::Sender<Result<ProbeGrant, ApiError>>,
    },
    /// Whether a network-probe id is live (the TCP fallback checks it).
    ProbeLive {
        id: ProbeId,
        reply: oneshot::Sender<bool>,
    },
    /// The FLV bridge needs a keyframe from a publisher.
    RequestKeyframe { session: SessionId },
    /// An RTMP publisher becomes a source for WebRTC viewers.
    OpenExternal {
        who: ExternalPublisher,
        reply: oneshot::Sender<Result<SessionId, ApiError>>,
    },
    /// An RTMP publisher's stream ended.
    CloseExternal { session: SessionId },
}

/// One RTP packet of an external (RTMP) publisher.
#[derive(Debug)]
pub struct ExternalRtp {
    pub session: SessionId,
    pub media: Media,
    pub packet: rtc::rtp::Packet,
}

/// Packets queued from the RTMP → WebRTC bridges to the engine. Full: the bridge drops
/// the packet (video then waits for the publisher's next keyframe).
pub const EXTERNAL_QUEUE: usize = 1024;

enum TcpEvent {
    Opened(SocketAddr, mpsc::Sender<Vec<u8>>),
    Frame(SocketAddr, BytesMut),
    Closed(SocketAddr),
}

/// Where the engine's output other than datagrams goes.
#[derive(Debug)]
pub struct Outlets {
    /// Publisher up/down events, to the signaling hub.
    pub hub: mpsc::Sender<HubCommand>,
    /// Copies of publishers' media, to the WebRTC → FLV bridge.
    pub flv: mpsc::Sender<Tap>,
}

/// Runs the engine (and the network-probe responder, which shares its port) until
/// `shutdown` flips to true.
pub async fn run(
    mut engine: Engine,
    mut probes: ProbeResponder,
    udp: UdpSocket,
    tcp: Option<TcpListener>,
    (mut commands, mut external): (mpsc::Receiver<Command>, mpsc::Receiver<ExternalRtp>),
    Outlets { hub, flv }: Outlets,
    mut shutdown: watch::Receiver<bool>,
) {
    // Opens and closes the bridge could not take yet (never dropped: a lost close
    // would leave an FLV stream published forever).
    let mut held: VecDeque<Tap> = VecDeque::new();
    let (tcp_tx, mut tcp_rx) = mpsc::channel::<TcpEvent>(TCP_QUEUE);
    if let Some(listener) = tcp {
        tokio::spawn(accept_tcp(listener, tcp_tx, shutdown.clone()));
    }
    let mut tcp_out: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>> = HashMap::new();
    let mut buf = vec![0u8; 2048];
    // Asked once: the socket's family decides how IPv4 destinations are written.
    let local = udp
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    loop {
        flush(&mut engine, &udp, local, &mut tcp_out, &hub);
        pass_taps(&mut engine, &flv, &mut held);
        let deadline = engine
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            r = udp.recv_from(&mut buf) => {
                let mut next = r;
                for _ in 0..UDP_BATCH {
                    match next {
                        // Probe datagrams (first byte 4–15) never reach the sessions.
                        Ok((n, from)) if probe::is_probe(&buf[..n]) => {
                            if let Some(pong) = probes.handle_datagram(Instant::now(), canonical(from), &buf[..n]) {
                                // A full socket buffer drops the pong: the client counts it lost.
                                let _ = udp.try_send_to(&pong, from);
                            }
                        }
                        Ok((n, from)) => {
                            engine.handle_datagram(Instant::now(), TransportProtocol::UDP, canonical(from), BytesMut::from(&buf[..n]));
                        }
                        // ICMP port unreachable surfaces here on some systems: not fatal.
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => { tracing::debug!("udp recv: {e}"); break; }
                    }
                    next = udp.try_recv_from(&mut buf);
                }
            }
            Some(ev) = tcp_rx.recv() => match ev {
                TcpEvent::Opened(addr, tx) => { tcp_out.insert(addr, tx); }
                TcpEvent::Frame(addr, data) => engine.handle_datagram(Instant::now(), TransportProtocol::TCP, addr, data),
                TcpEvent::Closed(addr) => { tcp_out.remove(&addr); engine.tcp_closed(addr); }
            },
            Some(cmd) = commands.recv() => handle_command(&mut engine, &mut probes, local.port(), cmd),
            Some(rtp) = external.recv() => {
                let now = Instant::now();
                engine.external_rtp(now, rtp.session, rtp.media, rtp.packet);
                // A burst: take what else is queued before flushing.
                for _ in 0..UDP_BATCH {
                    let Ok(rtp) = external.try_recv() else { break };
                    engine.external_rtp(now, rtp.session, rtp.media, rtp.packet);
                }
            }
            _ = tokio::time::sleep_until(deadline.into()) => {}
        }
        let now = Instant::now();
        if engine.poll_timeout().is_some_and(|t| t <= now) {
            engine.handle_timeout(now);
        }
    }
    tracing::info!("media engine stopped");
}

/// An IPv4 peer reaching a dual-stack socket shows up as `::ffff:a.b.c.d`; the engine
/// and ICE see it as the plain IPv4 address its candidates name.
fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => addr,
        },
        v4 => v4,
    }
}

/// The form of `to` that a socket bound to `local` can send to (mapped IPv4 on a
/// dual-stack socket).
fn on_socket(local: SocketAddr, to: SocketAddr) -> SocketAddr {
    match (local, to) {
        (SocketAddr::V6(_), SocketAddr::V4(v4)) => {
            SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port())
        }
        _ => to,
    }
}

fn handle_command(engine: &mut Engine, probes: &mut ProbeResponder, udp_port: u16, cmd: Command) {
    let now = Instant::now();
    match cmd {
        Command::OpenProbe { reply } => {
            let id = ProbeId(rand::random());
            let grant = probes.grant(now, id, udp_port).map_err(|e| match e {
                GrantRefused::Capacity => ApiError::new(
                    lectern_proto::ErrorCode::Capacity,
                    "too many network probes at once; try again in a few seconds",
                ),
            });
            let _ = reply.send(grant);
        }
        Command::ProbeLive { id, reply } => {
            let _ = reply.send(probes.is_live(now, &id));
        }
        Command::Publish { req, reply } => {
            let _ = reply.send(engine.publish(now, req));
        }
        Command::Subscribe { req, source, reply } => {
            let _ = reply.send(engine.subscribe(now, req, source.as_ref()));
        }
        Command::Modify {
            room,
            session,
            by,
            teacher,
            trickle,
            reply,
        } => {
            let result = match engine.session_owner(&room, session) {
                None => Err(ApiError::new(
                    lectern_proto::ErrorCode::NotFound,
                    "no such session",
                )),
                Some(owner) if owner != &by && !teacher => Err(ApiError::new(
                    lectern_proto::ErrorCode::Forbidden,
                    "the session belongs to someone else",
                )),
                Some(_) => match trickle {
                    Some(frag) => engine.trickle(now, session, &frag),
                    None => {
                        engine.close(session);
                        Ok(())
                    }
                },
            };
            let _ = reply.send(result);
        }
        Command::EndPublish { room, peer } => engine.end_publish(&room, &peer),
        Command::RequestKeyframe { session } => engine.request_keyframe_from(now, session),
        Command::OpenExternal { who, reply } => {
            let _ = reply.send(engine.open_external(now, who));
        }
        Command::CloseExternal { session } => engine.close_external(session),
    }
}

fn flush(
    engine: &mut Engine,
    udp: &UdpSocket,
    local: SocketAddr,
    tcp_out: &mut HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    hub: &mpsc::Sender<HubCommand>,
) {
    let mut burst: Vec<Transmit> = Vec::new();
    while let Some(t) = engine.poll_transmit() {
        match t.protocol {
            TransportProtocol::UDP => {
                burst.push(t);
                if burst.len() == UDP_SEND_BATCH {
                    send_burst(engine, udp, local, &mut burst);
                }
            }
            TransportProtocol::TCP => {
                if let Some(tx) = tcp_out.get(&t.to)
                    && tx.try_send(frame_packet(&t.data)).is_err()
                {
                    engine.dropped_on_send(t.session);
                }
            }
            _ => {}
        }
    }
    send_burst(engine, udp, local, &mut burst);
    while let Some(ev) = engine.poll_event() {
        let cmd = HubCommand::Engine(ev);
        if let Err(e) = hub.try_send(cmd) {
            // Publisher up/down are rare; a full hub queue means the hub is stuck.
            let HubCommand::Engine(ev) = e.into_inner() else {
                continue;
            };
            let lost: EngineEvent = ev;
            tracing::warn!(?lost, "signaling hub queue full: event lost");
        }
    }
}

/// Hands the engine's media copies to the FLV bridge without waiting: what does not
/// fit is dropped and counted (the bridge recovers at the next keyframe), except opens
/// and closes, which wait in `held` and go first next time.
fn pass_taps(engine: &mut Engine, flv: &mpsc::Sender<Tap>, held: &mut VecDeque<Tap>) {
    while let Some(tap) = held.pop_front() {
        match flv.try_send(tap) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(tap)) => {
                held.push_front(tap);
                break;
            }
            // No bridge (shutting down).
            Err(mpsc::error::TrySendError::Closed(_)) => held.clear(),
        }
    }
    while let Some(tap) = engine.poll_tap() {
        let control = matches!(tap, Tap::Open { .. } | Tap::Close { .. });
        if !held.is_empty() {
            // Keep the order behind a held open or close.
            if control {
                held.push_back(tap);
            } else {
                engine.tap_dropped();
            }
            continue;
        }
        match flv.try_send(tap) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
            Err(mpsc::error::TrySendError::Full(tap)) if control => held.push_back(tap),
            Err(mpsc::error::TrySendError::Full(_)) => engine.tap_dropped(),
        }
    }
}

/// Sends a burst of datagrams without waiting; what the socket will not take now is
/// dropped and counted.
fn send_burst(engine: &mut Engine, udp: &UdpSocket, local: SocketAddr, burst: &mut Vec<Transmit>) {
    let mut sent = 0;
    while sent < burst.len() {
        match send_some(udp, local, &burst[sent..]) {
            Ok(n) => sent += n.max(1),
            Err(e) => {
                if e.kind() == ErrorKind::WouldBlock {
                    engine.dropped_on_send(burst[sent].session);
                } else {
                    tracing::debug!(to = %burst[sent].to, "udp send: {e}");
                }
                sent += 1;
            }
        }
    }
    burst.clear();
}

/// Sends datagrams from the front of `burst`: as many as one `sendmmsg` takes.
#[cfg(target_os = "linux")]
fn send_some(udp: &UdpSocket, local: SocketAddr, burst: &[Transmit]) -> std::io::Result<usize> {
    use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg};
    use std::io::IoSlice;
    use std::os::fd::AsRawFd;
    if burst.len() == 1 {
        let t = &burst[0];
        return udp.try_send_to(&t.data, on_socket(local, t.to)).map(|_| 1);
    }
    let slices: Vec<[IoSlice<'_>; 1]> = burst.iter().map(|t| [IoSlice::new(&t.data)]).collect();
    let addrs: Vec<Option<SockaddrStorage>> = burst
        .iter()
        .map(|t| Some(SockaddrStorage::from(on_socket(local, t.to))))
        .collect();
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(burst.len(), None);
    let no_cmsgs: [ControlMessage<'_>; 0] = [];
    udp.try_io(tokio::io::Interest::WRITABLE, || {
        sendmmsg(
            udp.as_raw_fd(),
            &mut headers,
            &slices,
            &addrs,
            no_cmsgs,
            MsgFlags::empty(),
        )
        .map(Iterator::count)
        .map_err(std::io::Error::from)
    })
}

/// Sends the first datagram of `burst` (no batching system call on this OS).
#[cfg(not(target_os = "linux"))]
fn send_some(udp: &UdpSocket, local: SocketAddr, burst: &[Transmit]) -> std::io::Result<usize> {
    let t = &burst[0];
    udp.try_send_to(&t.data, on_socket(local, t.to)).map(|_| 1)
}

async fn accept_tcp(
    listener: TcpListener,
    events: mpsc::Sender<TcpEvent>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            r = listener.accept() => match r {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve_tcp(stream, canonical(addr), events.clone()));
                }
                Err(e) => {
                    tracing::warn!("ice-tcp accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

async fn serve_tcp(stream: TcpStream, addr: SocketAddr, events: mpsc::Sender<TcpEvent>) {
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(TCP_QUEUE);
    if events.send(TcpEvent::Opened(addr, tx)).await.is_err() {
        return;
    }
    let writer = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if wr.write_all(&frame).await.is_err() {
                break;
            }
        }
    });
    let mut decoder = TcpFrameDecoder::new();
    let mut buf = vec![0u8; 4096];
    loop {
        match rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                decoder.extend_from_slice(&buf[..n]);
                if decoder.buffered_len() > MAX_TCP_FRAME + 2 {
                    tracing::debug!(%addr, "ice-tcp frame too large: closing");
                    break;
                }
                while let Some(packet) = decoder.next_packet() {
                    if events
                        .send(TcpEvent::Frame(addr, BytesMut::from(&packet[..])))
                        .await
                        .is_err()
                    {
                        writer.abort();
                        return;
                    }
                }
            }
        }
    }
    writer.abort();
    let _ = events.send(TcpEvent::Closed(addr)).await;
}

//! How a session's packets reach the relay: UDP from one socket, or ICE-TCP (RFC 6544,
//! framed as RFC 4571) for networks that block UDP, as many school and hotel networks
//! do. Both are offered in every session: a host UDP candidate and an active TCP one.
//! ICE checks both; the relay ranks its TCP candidate lowest, so TCP carries media only
//! when UDP does not get through.
//!
//! The TCP connection is opened on the first packet ICE sends over it. Incoming frames
//! are read by a task per connection into a bounded queue ([`TCP_QUEUE`]); when the
//! session falls behind, the reader waits, and TCP's own flow control slows the relay.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, RTCIceCandidate, RTCIceCandidateInit,
};
use rtc::sansio::Protocol;
use rtc::shared::tcp_framing::{TcpFrameDecoder, frame_packet};
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

use crate::ClientError;

/// Frames read from TCP connections, waiting for the session.
const TCP_QUEUE: usize = 256;
/// A TCP connect that takes longer has failed (the relay answers in a round trip).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// After a failed connect, the address is not tried again for this long.
const CONNECT_RETRY: Duration = Duration::from_secs(5);

/// One datagram or frame from the relay.
pub(crate) struct Received {
    pub local: SocketAddr,
    pub from: SocketAddr,
    pub protocol: TransportProtocol,
    pub data: BytesMut,
}

impl Received {
    /// The packet as the peer connection reads it.
    pub fn tagged(self, now: Instant) -> TaggedBytesMut {
        TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr: self.local,
                peer_addr: self.from,
                ecn: None,
                transport_protocol: self.protocol,
            },
            message: self.data,
        }
    }
}

/// The session's UDP socket and its ICE-TCP connections.
pub(crate) struct Transport {
    udp: UdpSocket,
    local: SocketAddr,
    tcp: HashMap<SocketAddr, OwnedWriteHalf>,
    failed: HashMap<SocketAddr, Instant>,
    frames_tx: mpsc::Sender<Received>,
    frames: mpsc::Receiver<Received>,
    buf: Vec<u8>,
}

impl Transport {
    /// A UDP socket on `local_ip` (the address that routes to the relay).
    pub async fn bind(local_ip: std::net::IpAddr) -> Result<Self, ClientError> {
        let io = |e: std::io::Error| ClientError::Io(e.to_string());
        let udp = UdpSocket::bind(SocketAddr::new(local_ip, 0))
            .await
            .map_err(io)?;
        let local = udp.local_addr().map_err(io)?;
        let (frames_tx, frames) = mpsc::channel(TCP_QUEUE);
        Ok(Self {
            udp,
            local,
            tcp: HashMap::new(),
            failed: HashMap::new(),
            frames_tx,
            frames,
            buf: vec![0; 2048],
        })
    }

    /// Adds this transport's candidates (UDP host, TCP active) and ends gathering: the
    /// relay gets everything in the offer, no trickle needed.
    pub fn add_candidates(
        &self,
        pc: &mut RTCPeerConnection,
    ) -> Result<(), rtc::shared::error::Error> {
        for tcp in [false, true] {
            let candidate = CandidateHostConfig {
                base_config: CandidateConfig {
                    network: if tcp { "tcp" } else { "udp" }.to_owned(),
                    address: self.local.ip().to_string(),
                    // An active TCP candidate has no port of its own (RFC 6544: 9, discard).
                    port: if tcp { 9 } else { self.local.port() },
                    component: 1,
                    ..Default::default()
                },
                tcp_type: if tcp {
                    rtc::ice::tcp_type::TcpType::Active
                } else {
                    rtc::ice::tcp_type::TcpType::Unspecified
                },
            }
            .new_candidate_host()?;
            pc.add_local_candidate(RTCIceCandidate::from(&candidate).to_json()?)?;
        }
        pc.add_local_candidate(RTCIceCandidateInit::default())?;
        Ok(())
    }

    /// Sends everything the connection has queued.
    pub async fn flush(&mut self, pc: &mut RTCPeerConnection) {
        while let Some(out) = pc.poll_write() {
            let to = out.transport.peer_addr;
            if out.transport.transport_protocol == TransportProtocol::TCP {
                self.send_tcp(to, &out.message).await;
            } else if let Err(e) = self.udp.send_to(&out.message, to).await {
                // A full buffer or an unreachable port: the packet is lost; NACK and PLI
                // recover media, and a dead relay is noticed by the silence timeout.
                tracing::debug!("send to {to}: {e}");
            }
        }
    }

    async fn send_tcp(&mut self, to: SocketAddr, data: &[u8]) {
        if !self.tcp.contains_key(&to) {
            if self
                .failed
                .get(&to)
                .is_some_and(|t| t.elapsed() < CONNECT_RETRY)
            {
                return;
            }
            match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(to)).await {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    let Ok(local) = stream.local_addr() else {
                        return;
                    };
                    let (mut rd, wr) = stream.into_split();
                    let tx = self.frames_tx.clone();
                    tokio::spawn(async move {
                        let mut decoder = TcpFrameDecoder::new();
                        let mut buf = vec![0u8; 4096];
                        while let Ok(n) = rd.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                            decoder.extend_from_slice(&buf[..n]);
                            while let Some(p) = decoder.next_packet() {
                                let frame = Received {
                                    local,
                                    from: to,
                                    protocol: TransportProtocol::TCP,
                                    data: BytesMut::from(&p[..]),
                                };
                                if tx.send(frame).await.is_err() {
                                    return;
                                }
                            }
                        }
                    });
                    self.tcp.insert(to, wr);
                }
                Ok(Err(e)) => {
                    tracing::debug!("ICE-TCP to {to}: {e}");
                    self.failed.insert(to, Instant::now());
                    return;
                }
                Err(_) => {
                    tracing::debug!("ICE-TCP to {to}: no answer in {CONNECT_TIMEOUT:?}");
                    self.failed.insert(to, Instant::now());
                    return;
                }
            }
        }
        if let Some(wr) = self.tcp.get_mut(&to)
            && let Err(e) = wr.write_all(&frame_packet(data)).await
        {
            tracing::debug!("ICE-TCP to {to}: {e}");
            self.tcp.remove(&to);
        }
    }

    /// The next packet from the relay, over UDP or TCP.
    pub async fn recv(&mut self) -> Result<Received, ClientError> {
        tokio::select! {
            r = self.udp.recv_from(&mut self.buf) => {
                let (n, from) = r.map_err(|e| ClientError::Io(e.to_string()))?;
                Ok(Received {
                    local: self.local,
                    from,
                    protocol: TransportProtocol::UDP,
                    data: BytesMut::from(&self.buf[..n]),
                })
            }
            Some(frame) = self.frames.recv() => Ok(frame),
        }
    }
}

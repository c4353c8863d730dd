//! How a bot's datagrams reach the relay: straight over UDP, through an impairing
//! proxy, or framed over ICE-TCP.

use anyhow::{Context, Result};
use bytes::BytesMut;
use rtc::shared::tcp_framing::{TcpFrameDecoder, frame_packet};
use rtc::shared::{TaggedBytesMut, TransportProtocol};
use std::collections::HashMap;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

/// How a bot reaches the relay's media port.
#[derive(Debug, Clone, Copy, Default)]
pub struct Link {
    /// Send every UDP datagram through this proxy (an impairing [`crate::impair::UdpProxy`]
    /// in front of the relay's media port) instead of straight to the relay.
    pub via: Option<SocketAddr>,
    /// Offer only an active ICE-TCP candidate: media flows over TCP (RFC 4571 framing)
    /// to the relay's passive candidate, as for a student whose network blocks UDP.
    pub tcp: bool,
}

/// ICE-TCP connections of a bot: one per relay address, a reader task each.
pub(super) struct TcpLinks {
    pub(super) writers: HashMap<SocketAddr, OwnedWriteHalf>,
    pub(super) frames_tx: mpsc::Sender<(SocketAddr, SocketAddr, BytesMut)>,
}

impl TcpLinks {
    async fn send(&mut self, to: SocketAddr, data: &[u8]) -> Result<()> {
        if !self.writers.contains_key(&to) {
            let stream = TcpStream::connect(to).await?;
            stream.set_nodelay(true)?;
            let local = stream.local_addr()?;
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
                        if tx.send((local, to, BytesMut::from(&p[..]))).await.is_err() {
                            return;
                        }
                    }
                }
            });
            self.writers.insert(to, wr);
        }
        let wr = self.writers.get_mut(&to).context("tcp writer")?;
        wr.write_all(&frame_packet(data)).await?;
        Ok(())
    }
}

/// Sends what the peer connection wrote: over ICE-TCP, through the proxy, or straight.
pub(super) async fn transmit(
    socket: &UdpSocket,
    tcp: &mut TcpLinks,
    link: &Link,
    relay_udp: &mut Option<SocketAddr>,
    out: TaggedBytesMut,
) {
    let to = out.transport.peer_addr;
    if out.transport.transport_protocol == TransportProtocol::TCP {
        if let Err(e) = tcp.send(to, &out.message).await {
            bot_debug(&format!("bot tcp send to {to}: {e}"));
        }
        return;
    }
    *relay_udp = Some(to);
    let _ = socket.send_to(&out.message, link.via.unwrap_or(to)).await;
}

pub(super) fn bot_debug(msg: &str) {
    if std::env::var_os("BOT_DEBUG").is_some() {
        eprintln!("{msg}");
    }
}

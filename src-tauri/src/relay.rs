//! The relay inside the app: started with the window, stopped with it.

use lectern_proto::{ApiError, ErrorCode, RelayState, RelayStatus};
use lectern_relay::{Relay, RelayConfig, RelayError};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use tokio::sync::RwLock;

#[derive(Debug)]
enum Slot {
    Starting,
    Running(Relay),
    Failed(ApiError),
    Stopped,
}

/// URLs and tokens for one class on the embedded relay.
#[derive(Debug, Clone)]
pub struct ClassAccess {
    pub local: String,
    pub public: String,
    pub teacher_token: String,
    /// The class link students share; each exchanges it for a token of their own.
    pub student_token: String,
}

/// The app's own relay.
#[derive(Debug)]
pub struct EmbeddedRelay {
    slot: RwLock<Slot>,
}

impl Default for EmbeddedRelay {
    fn default() -> Self {
        Self {
            slot: RwLock::new(Slot::Starting),
        }
    }
}

fn url(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("http://{v4}:{port}"),
        IpAddr::V6(v6) => format!("http://[{v6}]:{port}"),
    }
}

impl EmbeddedRelay {
    /// Starts the relay on the default ports (or `LECTERN_RELAY_*` overrides); when a
    /// port is taken (another Lectern, another program), on free ones instead.
    pub async fn start(&self) {
        let result = async {
            let config = RelayConfig::load(None, |k| std::env::var(k).ok())
                .map_err(|e| ApiError::new(ErrorCode::InvalidInput, e.to_string()))?;
            match Relay::start(config.clone()).await {
                Ok(relay) => Ok(relay),
                Err(RelayError::Bind { addr, source }) => {
                    tracing::warn!(%addr, "relay port taken ({source}); using free ports");
                    let any = |a: SocketAddr| SocketAddr::new(a.ip(), 0);
                    Relay::start(RelayConfig {
                        http: any(config.http),
                        media: any(config.media),
                        rtmp: config.rtmp.map(any),
                        ..config
                    })
                    .await
                    .map_err(|e| ApiError::new(ErrorCode::Io, e.to_string()))
                }
                Err(e) => Err(ApiError::new(ErrorCode::Io, e.to_string())),
            }
        }
        .await;
        let mut slot = self.slot.write().await;
        *slot = match result {
            Ok(relay) => {
                tracing::info!(http = %relay.http_addr(), "embedded relay running");
                Slot::Running(relay)
            }
            Err(e) => {
                tracing::error!("embedded relay failed: {}", e.message);
                Slot::Failed(e)
            }
        };
    }

    /// Stops it, saying goodbye to every student.
    pub async fn stop(&self) {
        let old = std::mem::replace(&mut *self.slot.write().await, Slot::Stopped);
        if let Slot::Running(relay) = old {
            relay.shutdown().await;
        }
    }

    /// What a class in `room` needs from the relay: the loopback base URL the console
    /// uses, the base URL students can reach (LAN first), and tokens for the teacher and
    /// for the join link, valid for `ttl`.
    pub async fn class_access(
        &self,
        room: &lectern_proto::RoomId,
        teacher: &str,
        ttl: std::time::Duration,
    ) -> Result<ClassAccess, ApiError> {
        let slot = self.slot.read().await;
        let Slot::Running(relay) = &*slot else {
            return Err(ApiError::new(
                ErrorCode::Unreachable,
                "the relay inside Lectern is not running",
            ));
        };
        let port = relay.http_addr().port();
        let mut ips = relay.announced().to_vec();
        ips.sort_by_key(|ip| (ip.is_loopback(), ip.is_ipv6()));
        let public = ips.first().map_or_else(
            || url(IpAddr::from([127, 0, 0, 1]), port),
            |ip| url(*ip, port),
        );
        let local = if relay.http_addr().ip().is_unspecified() {
            url(IpAddr::from([127, 0, 0, 1]), port)
        } else {
            url(relay.http_addr().ip(), port)
        };
        let peer = |s: &str| {
            lectern_proto::PeerId::new(s)
                .map_err(|e| ApiError::new(ErrorCode::InvalidInput, e.to_string()))
        };
        Ok(ClassAccess {
            local,
            public,
            teacher_token: relay.signer().issue(
                room.clone(),
                peer("teacher")?,
                teacher,
                lectern_proto::Role::Teacher,
                ttl,
            ),
            student_token: relay.signer().issue_invite(
                room.clone(),
                lectern_proto::Role::Student,
                ttl,
            ),
        })
    }

    /// What the self-check's network stage probes. `LECTERN_SELFCHECK_RELAY` (with
    /// `LECTERN_SELFCHECK_TOKEN` for relays that want one) points it at another relay,
    /// such as the server a class will really use; otherwise the embedded relay, with a
    /// short token this app signs itself, so the probe works however the relay's probe
    /// access is set.
    pub async fn network_check(&self) -> lectern_client::selfcheck::NetworkCheck {
        use lectern_client::netprobe::ProbeTarget;
        use lectern_client::selfcheck::NetworkCheck;
        if let Some(url) = std::env::var("LECTERN_SELFCHECK_RELAY")
            .ok()
            .filter(|u| !u.trim().is_empty())
        {
            return NetworkCheck::Relay(ProbeTarget {
                base_url: url,
                token: std::env::var("LECTERN_SELFCHECK_TOKEN").ok(),
                udp_addr: None,
            });
        }
        let slot = self.slot.read().await;
        let Slot::Running(relay) = &*slot else {
            return NetworkCheck::Down("the relay inside Lectern".into());
        };
        let ip = if relay.http_addr().ip().is_unspecified() {
            IpAddr::from([127, 0, 0, 1])
        } else {
            relay.http_addr().ip()
        };
        let token = lectern_proto::RoomId::new("selfcheck")
            .ok()
            .zip(lectern_proto::PeerId::new("teacher").ok())
            .map(|(room, peer)| {
                relay.signer().issue(
                    room,
                    peer,
                    "",
                    lectern_proto::Role::Teacher,
                    std::time::Duration::from_secs(60),
                )
            });
        NetworkCheck::Relay(ProbeTarget {
            base_url: url(ip, relay.http_addr().port()),
            token,
            udp_addr: None,
        })
    }

    /// Where it is and how busy.
    pub async fn status(&self) -> RelayStatus {
        let slot = self.slot.read().await;
        let mut status = RelayStatus {
            state: RelayState::Starting,
            urls: Vec::new(),
            media_port: 0,
            tcp: false,
            rooms: 0,
            sessions: 0,
            connections: 0,
            error: None,
        };
        match &*slot {
            Slot::Starting => {}
            Slot::Failed(e) => {
                status.state = RelayState::Failed;
                status.error = Some(e.clone());
            }
            Slot::Stopped => {
                status.state = RelayState::Failed;
                status.error = Some(ApiError::new(ErrorCode::Internal, "the relay was stopped"));
            }
            Slot::Running(relay) => {
                let port = relay.http_addr().port();
                let mut ips = relay.announced().to_vec();
                // Addresses other machines can reach first; loopback last.
                ips.sort_by_key(|ip| (ip.is_loopback(), ip.is_ipv6()));
                let m = relay.metrics();
                status.state = RelayState::Running;
                status.urls = ips.into_iter().map(|ip| url(ip, port)).collect();
                status.media_port = relay.media_addr().port();
                status.tcp = true;
                status.rooms = m.rooms.load(Relaxed).max(0) as u32;
                status.sessions =
                    (m.publishers.load(Relaxed) + m.subscribers.load(Relaxed)).max(0) as u32;
                status.connections = m.signaling_connections.load(Relaxed).max(0) as u32;
            }
        }
        status
    }
}

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

/// A standalone relay the teacher's settings point at: classes go there instead of to the
/// relay inside the app, with tokens this console signs with that relay's secret.
#[derive(Clone)]
pub struct RemoteRelay {
    base: String,
    signer: lectern_relay::TokenSigner,
}

impl std::fmt::Debug for RemoteRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("RemoteRelay")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidInput, message)
}

impl RemoteRelay {
    /// The remote relay the settings name, `None` for the built-in one. A URL must be
    /// `http://` or `https://` with a host and nothing after the path's root; a secret
    /// must come with it.
    pub fn from_settings(s: &lectern_proto::RelaySettings) -> Result<Option<Self>, ApiError> {
        let Some(url) = s.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        let base = url.trim_end_matches('/');
        let rest = base
            .strip_prefix("https://")
            .or_else(|| base.strip_prefix("http://"))
            .ok_or_else(|| {
                invalid(format!(
                    "{url:?}: a relay URL starts with https:// or http://"
                ))
            })?;
        if rest.is_empty()
            || rest.contains(['/', '?', '#', '@'])
            || rest.chars().any(char::is_whitespace)
        {
            return Err(invalid(format!(
                "{url:?}: a relay URL is a scheme and a host with an optional port, like https://relay.example.org"
            )));
        }
        let secret = s.secret.as_deref().unwrap_or_default();
        if secret.trim().is_empty() {
            return Err(invalid(
                "a remote relay needs its token secret (the relay's --secret)",
            ));
        }
        Ok(Some(Self {
            base: base.to_owned(),
            signer: lectern_relay::TokenSigner::new(secret.as_bytes()),
        }))
    }

    /// Its base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Answers when the relay is up (`GET /healthz`), with a clear error when not.
    pub async fn check(&self) -> Result<(), ApiError> {
        let unreachable = |why: String| {
            ApiError::new(
                ErrorCode::Unreachable,
                format!("the relay at {} does not answer: {why}", self.base),
            )
        };
        let client = lectern_client::http::client(
            std::time::Duration::from_secs(5),
            std::time::Duration::from_secs(3),
        );
        let resp = client
            .get(format!("{}/healthz", self.base))
            .send()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(unreachable(format!("HTTP {}", resp.status())));
        }
        Ok(())
    }

    /// URLs and tokens for a class in `room`: everyone uses the relay's own URL.
    pub fn class_access(
        &self,
        room: &lectern_proto::RoomId,
        teacher: &str,
        ttl: std::time::Duration,
    ) -> Result<ClassAccess, ApiError> {
        Ok(ClassAccess {
            local: self.base.clone(),
            public: self.base.clone(),
            teacher_token: self.signer.issue(
                room.clone(),
                teacher_peer()?,
                teacher,
                lectern_proto::Role::Teacher,
                ttl,
            ),
            student_token: self.signer.issue_invite(
                room.clone(),
                lectern_proto::Role::Student,
                ttl,
            ),
        })
    }

    /// The self-check's probe target: this relay, with a short token of its own.
    pub fn probe_target(&self) -> lectern_client::netprobe::ProbeTarget {
        lectern_client::netprobe::ProbeTarget {
            base_url: self.base.clone(),
            token: probe_token(&self.signer),
            udp_addr: None,
        }
    }
}

fn teacher_peer() -> Result<lectern_proto::PeerId, ApiError> {
    lectern_proto::PeerId::new("teacher").map_err(|e| invalid(e.to_string()))
}

/// A one-minute teacher token for the probe's own room, `selfcheck`.
fn probe_token(signer: &lectern_relay::TokenSigner) -> Option<String> {
    lectern_proto::RoomId::new("selfcheck")
        .ok()
        .zip(lectern_proto::PeerId::new("teacher").ok())
        .map(|(room, peer)| {
            signer.issue(
                room,
                peer,
                "",
                lectern_proto::Role::Teacher,
                std::time::Duration::from_secs(60),
            )
        })
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
        Ok(ClassAccess {
            local,
            public,
            teacher_token: relay.signer().issue(
                room.clone(),
                teacher_peer()?,
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

    /// What the self-check's network stage probes: the relay classes will use. That is
    /// `LECTERN_SELFCHECK_RELAY` when set (with `LECTERN_SELFCHECK_TOKEN` for relays that
    /// want one), else the remote relay of the settings, else the embedded relay — with
    /// a short token this app signs itself, so the probe works however the relay's probe
    /// access is set.
    pub async fn network_check(
        &self,
        remote: Option<&RemoteRelay>,
    ) -> lectern_client::selfcheck::NetworkCheck {
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
        if let Some(remote) = remote {
            return NetworkCheck::Relay(remote.probe_target());
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
        let token = probe_token(relay.signer());
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

#[cfg(test)]
mod tests {
    use super::*;
    use lectern_proto::RelaySettings;

    fn settings(url: &str, secret: &str) -> RelaySettings {
        RelaySettings {
            url: Some(url.into()),
            secret: Some(secret.into()),
        }
    }

    #[test]
    fn no_url_is_the_built_in_relay_and_bad_ones_are_refused() {
        assert!(
            RemoteRelay::from_settings(&RelaySettings::default())
                .unwrap()
                .is_none()
        );
        assert!(
            RemoteRelay::from_settings(&settings("  ", "s"))
                .unwrap()
                .is_none()
        );
        for bad in [
            "relay.example.org",
            "ftp://relay.example.org",
            "https://",
            "https://relay.example.org/path",
            "https://relay.example.org?x=1",
            "https://user@relay.example.org",
            "https://relay example.org",
        ] {
            let e = RemoteRelay::from_settings(&settings(bad, "s")).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput, "{bad}");
        }
        let e =
            RemoteRelay::from_settings(&settings("https://relay.example.org", " ")).unwrap_err();
        assert!(e.message.contains("secret"), "{e:?}");
    }

    #[test]
    fn class_tokens_are_signed_with_the_remote_relays_secret() {
        let secret = "a-server-secret-a-server-secret-!";
        let remote =
            RemoteRelay::from_settings(&settings("https://relay.example.org:8443/", secret))
                .unwrap()
                .unwrap();
        assert_eq!(remote.base(), "https://relay.example.org:8443");
        let room = lectern_proto::RoomId::new("math-7a").unwrap();
        let access = remote
            .class_access(&room, "Ms Li", std::time::Duration::from_secs(60))
            .unwrap();
        assert_eq!(access.local, "https://relay.example.org:8443");
        assert_eq!(access.public, access.local);
        // The relay, knowing the same secret, accepts them; another secret does not.
        let relay = lectern_relay::TokenSigner::new(secret.as_bytes());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = relay.verify(&access.teacher_token, now).unwrap();
        assert_eq!(claims.role, lectern_proto::Role::Teacher);
        assert_eq!(claims.room, room);
        let other = lectern_relay::TokenSigner::new(&b"another-secret-another-secret-!!"[..]);
        assert!(other.verify(&access.teacher_token, now).is_err());
        assert!(relay.verify(&access.student_token, now).unwrap().invite);
        assert!(
            !format!("{remote:?}").contains(secret),
            "the secret stays out of logs"
        );
    }
}

//! Relay configuration: a TOML file, then `LECTERN_RELAY_*` environment overrides.

use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

/// How a relay listens and what it allows.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RelayConfig {
    /// HTTP address (WHIP, WHEP, signaling, pages). Default `[::]:8686`: IPv6 and IPv4
    /// (falls back to `0.0.0.0` where IPv6 is off).
    pub http: SocketAddr,
    /// Address of the shared media port, UDP and (when `tcp` is on) ICE-TCP. Default
    /// `[::]:8687`, dual-stack like `http`; port 0 picks a free one.
    pub media: SocketAddr,
    /// RTMP address (mini-program `live-pusher` in, `live-player` out; ffmpeg, OBS).
    /// Default `[::]:1935`, dual-stack like `http` (falls back to `0.0.0.0`); `"off"` in
    /// the file or the environment (`None` here) does not listen for RTMP at all.
    /// HTTP-FLV play is on the `http` address either way.
    #[serde(deserialize_with = "addr_or_off")]
    pub rtmp: Option<SocketAddr>,
    /// Most RTMP connections at once; more are closed at once, before the handshake.
    pub max_rtmp_connections: usize,
    /// Offer ICE-TCP on the media port for networks that block UDP.
    pub tcp: bool,
    /// Addresses announced to peers. Empty: every address of this machine's interfaces
    /// (or the bind address when it is specific). Set this to the public address of a
    /// server behind 1:1 NAT.
    pub public_ips: Vec<IpAddr>,
    /// Announce loopback addresses too (for peers on this machine).
    pub include_loopback: bool,
    /// Token secret. Empty: a random secret for this run only (tokens die with it).
    pub secret: String,
    /// Most WebRTC sessions at once.
    pub max_sessions: usize,
    /// Largest board asset (a PDF or an image) one upload may be, in bytes.
    pub max_asset_bytes: usize,
    /// Most bytes of board assets one room may hold.
    pub max_room_asset_bytes: usize,
    /// Most bytes of board assets all rooms together may hold. Assets are kept in
    /// memory (they live as long as their room, like the board), so this bounds what
    /// uploads can cost the relay.
    pub max_asset_total_bytes: usize,
    /// Who may run the self-check's network probe (`POST /probe`).
    pub probe: ProbeAccess,
}

/// Who may run the network probe. A self-check runs before any class exists, so the
/// console may hold no room token yet: the default is open, bounded by the probe's
/// own limits (see `docs/protocol.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ProbeAccess {
    /// Anyone who can reach the HTTP port.
    #[default]
    Open,
    /// Anyone with a valid token of this relay, for any room and role.
    Token,
    /// Nobody: `POST /probe` answers 404.
    Off,
}

impl std::str::FromStr for ProbeAccess {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(Self::Open),
            "token" => Ok(Self::Token),
            "off" => Ok(Self::Off),
            _ => Err("expected open, token or off".into()),
        }
    }
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            http: "[::]:8686".parse().expect("valid literal"),
            media: "[::]:8687".parse().expect("valid literal"),
            rtmp: Some("[::]:1935".parse().expect("valid literal")),
            max_rtmp_connections: 1000,
            tcp: true,
            public_ips: Vec::new(),
            include_loopback: true,
            secret: String::new(),
            max_sessions: 4000,
            max_asset_bytes: 50 << 20,
            max_room_asset_bytes: 200 << 20,
            max_asset_total_bytes: 1 << 30,
            probe: ProbeAccess::Open,
        }
    }
}

/// Parses an address, or `off` for none.
pub fn parse_addr_or_off(s: &str) -> Result<Option<SocketAddr>, String> {
    match s.trim() {
        "off" | "none" | "" => Ok(None),
        a => a
            .parse()
            .map(Some)
            .map_err(|e| format!("{e} (expected an address like [::]:1935, or off)")),
    }
}

fn addr_or_off<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let s = String::deserialize(d)?;
    parse_addr_or_off(&s).map_err(serde::de::Error::custom)
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// The file is not valid TOML for this configuration.
    #[error("{path}: {source}")]
    Parse {
        path: String,
        source: Box<toml::de::Error>,
    },
    /// An environment override does not parse.
    #[error("{name}={value}: {reason}")]
    Env {
        name: &'static str,
        value: String,
        reason: String,
    },
}

impl RelayConfig {
    /// The board asset limits this configuration sets.
    pub(crate) fn asset_limits(&self) -> crate::room::AssetLimits {
        crate::room::AssetLimits {
            file: self.max_asset_bytes,
            room: self.max_room_asset_bytes,
            total: self.max_asset_total_bytes,
        }
    }

    /// Reads `path` (if given), then applies environment overrides from `env`.
    pub fn load(
        path: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut config = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.display().to_string(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: p.display().to_string(),
                    source: Box::new(source),
                })?
            }
            None => Self::default(),
        };
        config.apply_env(env)?;
        Ok(config)
    }

    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(name: &'static str, value: String) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            value.parse().map_err(|e: T::Err| ConfigError::Env {
                name,
                reason: e.to_string(),
                value,
            })
        }
        if let Some(v) = env("LECTERN_RELAY_HTTP") {
            self.http = parse("LECTERN_RELAY_HTTP", v)?;
        }
        if let Some(v) = env("LECTERN_RELAY_MEDIA") {
            self.media = parse("LECTERN_RELAY_MEDIA", v)?;
        }
        if let Some(v) = env("LECTERN_RELAY_RTMP") {
            self.rtmp = parse_addr_or_off(&v).map_err(|reason| ConfigError::Env {
                name: "LECTERN_RELAY_RTMP",
                value: v,
                reason,
            })?;
        }
        if let Some(v) = env("LECTERN_RELAY_MAX_RTMP_CONNECTIONS") {
            self.max_rtmp_connections = parse("LECTERN_RELAY_MAX_RTMP_CONNECTIONS", v)?;
        }
        if let Some(v) = env("LECTERN_RELAY_TCP") {
            self.tcp = parse("LECTERN_RELAY_TCP", v)?;
        }
        if let Some(v) = env("LECTERN_RELAY_PUBLIC_IPS") {
            self.public_ips = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| parse("LECTERN_RELAY_PUBLIC_IPS", s.to_string()))
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = env("LECTERN_RELAY_SECRET") {
            self.secret = v;
        }
        if let Some(v) = env("LECTERN_RELAY_PROBE") {
            self.probe = parse("LECTERN_RELAY_PROBE", v)?;
        }
        if let Some(v) = env("LECTERN_RELAY_MAX_SESSIONS") {
            self.max_sessions = parse("LECTERN_RELAY_MAX_SESSIONS", v)?;
        }
        if let Some(v) = env("LECTERN_RELAY_MAX_ASSET_BYTES") {
            self.max_asset_bytes = parse("LECTERN_RELAY_MAX_ASSET_BYTES", v)?;
        }
        if let Some(v) = env("LECTERN_RELAY_MAX_ROOM_ASSET_BYTES") {
            self.max_room_asset_bytes = parse("LECTERN_RELAY_MAX_ROOM_ASSET_BYTES", v)?;
        }
        if let Some(v) = env("LECTERN_RELAY_MAX_ASSET_TOTAL_BYTES") {
            self.max_asset_total_bytes = parse("LECTERN_RELAY_MAX_ASSET_TOTAL_BYTES", v)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.toml");
        std::fs::write(
            &path,
            "http = \"127.0.0.1:9000\"\npublic_ips = [\"203.0.113.7\"]\n",
        )
        .unwrap();
        let config = RelayConfig::load(Some(&path), |name| {
            (name == "LECTERN_RELAY_MEDIA").then(|| "127.0.0.1:0".to_string())
        })
        .unwrap();
        assert_eq!(config.http, "127.0.0.1:9000".parse::<SocketAddr>().unwrap());
        assert_eq!(config.media, "127.0.0.1:0".parse::<SocketAddr>().unwrap());
        assert_eq!(
            config.public_ips,
            vec!["203.0.113.7".parse::<IpAddr>().unwrap()]
        );
        assert!(config.tcp);
        assert_eq!(config.probe, ProbeAccess::Open);
        let config = RelayConfig::load(None, |n| {
            (n == "LECTERN_RELAY_PROBE").then(|| "token".into())
        })
        .unwrap();
        assert_eq!(config.probe, ProbeAccess::Token);
    }

    #[test]
    fn rtmp_has_an_address_or_is_off() {
        assert_eq!(
            RelayConfig::default().rtmp,
            Some("[::]:1935".parse().unwrap())
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.toml");
        std::fs::write(&path, "rtmp = \"off\"\n").unwrap();
        assert_eq!(RelayConfig::load(Some(&path), |_| None).unwrap().rtmp, None);
        std::fs::write(&path, "rtmp = \"127.0.0.1:19350\"\n").unwrap();
        let config = RelayConfig::load(Some(&path), |_| None).unwrap();
        assert_eq!(config.rtmp, Some("127.0.0.1:19350".parse().unwrap()));
        let config = RelayConfig::load(Some(&path), |n| {
            (n == "LECTERN_RELAY_RTMP").then(|| "off".into())
        })
        .unwrap();
        assert_eq!(config.rtmp, None);
        let err = RelayConfig::load(None, |n| (n == "LECTERN_RELAY_RTMP").then(|| "1935".into()))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("LECTERN_RELAY_RTMP=1935"), "{err}");
    }

    #[test]
    fn mistakes_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.toml");
        std::fs::write(&path, "htp = \"x\"\n").unwrap();
        let err = RelayConfig::load(Some(&path), |_| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("htp"), "{err}");
        let err = RelayConfig::load(None, |n| (n == "LECTERN_RELAY_TCP").then(|| "maybe".into()))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("LECTERN_RELAY_TCP=maybe"), "{err}");
    }
}

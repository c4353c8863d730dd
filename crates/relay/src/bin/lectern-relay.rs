//! `lectern-relay`: the standalone relay, and its token tool.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use lectern_proto::{PeerId, Role, RoomId};
use lectern_relay::{Relay, RelayConfig, TokenSigner};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "lectern-relay",
    version,
    about = "Lectern's media relay: WHIP/WHEP SFU, RTMP and HTTP-FLV for mini-programs, rooms, signaling",
    after_help = "Listens on http (WHIP, WHEP, signaling, HTTP-FLV at /flv/{room}/{stream}.flv), \
media (UDP and ICE-TCP) and rtmp (rtmp://host:1935/{room}/{stream}?token=..., publish and play). \
Set them in the config file or LECTERN_RELAY_HTTP, _MEDIA, _RTMP (an address, or off)."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// TOML configuration file (environment variables LECTERN_RELAY_* override it).
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    /// RTMP address for mini-program live-pusher/live-player (default [::]:1935), or
    /// `off`; overrides the config file and LECTERN_RELAY_RTMP.
    #[arg(long, global = true, value_name = "ADDR|off")]
    rtmp: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the relay (the default).
    Serve,
    /// Print a signed token.
    Token {
        #[arg(long)]
        room: String,
        #[arg(long, default_value = "student")]
        role: Role,
        /// Display name (not with --invite).
        #[arg(long, required_unless_present = "invite", conflicts_with = "invite")]
        name: Option<String>,
        /// The bearer's id in the room (default: derived from the name).
        #[arg(long, conflicts_with = "invite")]
        id: Option<String>,
        /// A class link for many people: each exchanges it at `POST /join/{room}` for
        /// a token with their own id and the name they type.
        #[arg(long)]
        invite: bool,
        /// Lifetime, like 90s, 45m, 2h, 1d.
        #[arg(long, default_value = "1h", value_parser = parse_ttl)]
        ttl: Duration,
    },
}

fn parse_ttl(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a number and s, m, h or d"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(format!("{s:?}: unit must be s, m, h or d")),
    };
    Ok(Duration::from_secs(secs))
}

fn id_from_name(name: &str) -> String {
    let id: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let id = id.trim_matches('-').to_string();
    if id.is_empty() {
        format!("p-{:08x}", rand_u32())
    } else {
        id.chars().take(48).collect()
    }
}

fn rand_u32() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,rtc=warn,webrtc=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let mut config = RelayConfig::load(cli.config.as_deref(), |k| std::env::var(k).ok())?;
    if let Some(rtmp) = &cli.rtmp {
        config.rtmp = lectern_relay::parse_addr_or_off(rtmp)
            .map_err(|e| anyhow::anyhow!("--rtmp {rtmp}: {e}"))?;
    }
    match cli.command.unwrap_or(Cmd::Serve) {
        Cmd::Token {
            room,
            role,
            name,
            id,
            invite,
            ttl,
        } => {
            anyhow::ensure!(
                !config.secret.is_empty(),
                "set `secret` in the config file or LECTERN_RELAY_SECRET: a token must be signed with the relay's secret"
            );
            let room = RoomId::new(room).context("--room")?;
            let signer = TokenSigner::new(config.secret.as_bytes());
            if invite {
                println!("{}", signer.issue_invite(room, role, ttl));
                return Ok(());
            }
            let name = name.unwrap_or_default();
            let id = PeerId::new(id.unwrap_or_else(|| id_from_name(&name))).context("--id")?;
            println!("{}", signer.issue(room, id, &name, role, ttl));
            Ok(())
        }
        Cmd::Serve => {
            if config.secret.is_empty() {
                tracing::warn!(
                    "no secret configured: using a random one, so only tokens issued by this process work"
                );
            }
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let relay = Relay::start(config).await?;
                println!(
                    "lectern-relay listening: http://{} media {} (udp{}) rtmp {}",
                    relay.http_addr(),
                    relay.media_addr(),
                    if relay.announced().is_empty() {
                        ""
                    } else {
                        "+tcp"
                    },
                    relay
                        .rtmp_addr()
                        .map_or_else(|| "off".to_string(), |a| format!("rtmp://{a}"))
                );
                let ctrl_c = tokio::signal::ctrl_c();
                #[cfg(unix)]
                {
                    let mut term =
                        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
                    tokio::select! {
                        _ = ctrl_c => {}
                        _ = term.recv() => {}
                    }
                }
                #[cfg(not(unix))]
                ctrl_c.await?;
                tracing::info!("shutting down");
                relay.shutdown().await;
                anyhow::Ok(())
            })
        }
    }
}

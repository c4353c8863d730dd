//! A relay for a test: in-process, on free loopback ports, with a fixed secret.

use crate::bot::{self, BotStats, Link, Role, Target};
use lectern_proto::{PeerId, RoomId};
use lectern_relay::{Relay, RelayConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The token secret of test relays.
pub const SECRET: &str = "test-secret-test-secret-test-secret";

/// Starts a relay on 127.0.0.1 with free HTTP and media ports.
pub async fn start_loopback() -> Relay {
    let _ = env_logger::try_init();
    Relay::start(RelayConfig {
        http: "127.0.0.1:0".parse().expect("valid address"),
        media: "127.0.0.1:0".parse().expect("valid address"),
        secret: SECRET.into(),
        rtmp: None,
        ..RelayConfig::default()
    })
    .await
    .expect("relay starts")
}

/// The same with RTMP (and so HTTP-FLV's publishers) on a free loopback port too.
pub async fn start_with_rtmp() -> Relay {
    let _ = env_logger::try_init();
    Relay::start(RelayConfig {
        http: "127.0.0.1:0".parse().expect("valid address"),
        media: "127.0.0.1:0".parse().expect("valid address"),
        rtmp: Some("127.0.0.1:0".parse().expect("valid address")),
        secret: SECRET.into(),
        ..RelayConfig::default()
    })
    .await
    .expect("relay starts")
}

/// A ten-minute token for `sub` (also its display name) in `room`.
pub fn token(relay: &Relay, room: &str, sub: &str, role: lectern_proto::Role) -> String {
    relay.signer().issue(
        RoomId::new(room).expect("valid room"),
        PeerId::new(sub).expect("valid peer"),
        sub,
        role,
        Duration::from_secs(600),
    )
}

/// Bots that run until [`Bots::stop`], which also checks that each ran cleanly.
#[derive(Debug)]
pub struct Bots {
    /// Flips to true to stop every bot.
    pub stop: watch::Sender<bool>,
    /// One task per bot.
    pub tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Default for Bots {
    fn default() -> Self {
        Self::new()
    }
}

impl Bots {
    /// No bots yet.
    pub fn new() -> Self {
        Self {
            stop: watch::channel(false).0,
            tasks: Vec::new(),
        }
    }

    /// A bot in `room` of `relay`, straight over UDP.
    pub fn spawn(&mut self, relay: &Relay, room: &str, token: String, role: Role) -> Arc<BotStats> {
        self.spawn_on(relay, room, token, role, Link::default())
    }

    /// A bot in `room` of `relay`, reaching its media port as `link` says.
    pub fn spawn_on(
        &mut self,
        relay: &Relay,
        room: &str,
        token: String,
        role: Role,
        link: Link,
    ) -> Arc<BotStats> {
        let stats = Arc::new(BotStats::default());
        let target = Target {
            base: format!("http://{}", relay.http_addr()),
            room: room.into(),
            token,
        };
        self.tasks.push(tokio::spawn(bot::run_on(
            target,
            role,
            link,
            stats.clone(),
            self.stop.subscribe(),
        )));
        stats
    }

    /// Stops every bot; panics if one failed.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            t.await.expect("bot task").expect("bot ran cleanly");
        }
    }
}

/// Polls `f` every 50 ms until it holds; panics naming `what` after `timeout`.
pub async fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let started = Instant::now();
    while !f() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

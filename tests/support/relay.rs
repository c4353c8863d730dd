//! A relay for a test: in-process, on free loopback ports, with a fixed secret.

use lectern_proto::{PeerId, Role, RoomId};
use lectern_relay::{Relay, RelayConfig};
use std::time::Duration;

/// The token secret of test relays.
pub const SECRET: &str = "test-secret-test-secret-test-secret";

/// Starts a relay on 127.0.0.1 with free HTTP and media ports.
pub async fn start_loopback() -> Relay {
    let _ = env_logger::try_init();
    Relay::start(RelayConfig {
        http: "127.0.0.1:0".parse().expect("valid address"),
        media: "127.0.0.1:0".parse().expect("valid address"),
        secret: SECRET.into(),
        ..RelayConfig::default()
    })
    .await
    .expect("relay starts")
}

/// A ten-minute token for `sub` (also its display name) in `room`.
pub fn token(relay: &Relay, room: &str, sub: &str, role: Role) -> String {
    relay.signer().issue(
        RoomId::new(room).expect("valid room"),
        PeerId::new(sub).expect("valid peer"),
        sub,
        role,
        Duration::from_secs(600),
    )
}

//! The console's link to a relay: WHIP publish with congestion control, keyframes on
//! request, reconnects with back-off, and stats.
//!
//! [`Publisher::start`] takes the encoders' bounded queues and returns at once; a task
//! then keeps one WHIP session alive until [`Publisher::stop`]. Its state and one-second
//! figures are `watch` channels the UI reads.
//!
//! Why `rtc` (webrtc-rs 0.21's sans-IO core) and not its async `webrtc` wrapper: the
//! wrapper guards the connection with a mutex per call and delivers events through
//! callbacks; the core lets one task own the connection, read the socket, and decide
//! what to send next in one place, which is the shape the rest of Lectern has.

mod error;
mod feedback;
pub mod http;
mod link;
mod live;
pub mod netprobe;
mod pacer;
mod publisher;
mod rtp;
pub mod selfcheck;
mod transport;
mod watch;
mod whip;

pub use error::ClientError;
pub use live::{LiveMedia, MediaOptions};
pub use publisher::{PublishConfig, Publisher};
pub use watch::{WatchConfig, WatchCounters, WatchStatus, Watcher};
pub use whip::WhipSession;

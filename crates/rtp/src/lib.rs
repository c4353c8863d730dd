//! H.264 over RTP (RFC 6184), sans-IO, for both ends of Lectern's WebRTC links: the
//! relay (which turns a publisher's RTP into FLV) and the console (which decodes the
//! students on stage).
//!
//! Nothing here touches a socket or a clock: callers pass packets and `Instant`s in
//! and poll results out, so the same code runs in the relay's bridge task, the
//! console's subscriber and the fuzzers.

pub mod depacketize;
pub mod h264;

pub use depacketize::{AccessUnit, Depacketized, H264Depacketizer};

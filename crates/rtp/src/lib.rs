//! RTP for both ends of Lectern's WebRTC links: H.264 payloads (RFC 6184) for the relay
//! (which turns a publisher's RTP into FLV) and the console (which decodes the students
//! on stage); and repair on lossy paths — NACKs timed by the round trip ([`nack`]) and
//! frame-aligned FlexFEC ([`fec`]), as `rtc` interceptors.
//!
//! Nothing here touches a socket or a clock: callers pass packets and `Instant`s in
//! and poll results out, so the same code runs in the relay's bridge task, the
//! console's subscriber and the fuzzers.

pub mod depacketize;
pub mod fec;
pub mod h264;
pub mod nack;

pub use depacketize::{AccessUnit, Depacketized, H264Depacketizer};
pub use fec::{FecLevel, FrameFec, Protection};
pub use nack::{LossTracker, NackConfig, NackCounters, NackRequests};

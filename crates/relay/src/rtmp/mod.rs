//! RTMP, the server side: what WeChat's `live-pusher` publishes with and `live-player`
//! (or ffmpeg, OBS) plays with.
//!
//! Layers, each sans-IO (bytes and the time in, bytes and events out, no sockets, no
//! clock reads):
//! - [`handshake`]: the simple handshake (C0/C1/C2 ↔ S0/S1/S2);
//! - [`chunk`]: the chunk stream, both directions (header compression, chunk sizes,
//!   extended timestamps, wrap, abort) under [`ChunkLimits`];
//! - [`amf0`]: AMF0 values under [`Amf0Limits`];
//! - [`ServerSession`]: connect, createStream, publish, play, the protocol control
//!   messages (chunk size, acknowledgements, peer bandwidth, user control), and the
//!   `rtmp://host/{room}/{stream}?token=…` names. It reports [`Event`]s and waits for
//!   the shell to accept or reject a publish or a play.
//!
//! [`serve_connection`] is the thin tokio shell around a session on one TCP connection.
//!
//! Why our own code and not a crate (checked December 2026): `rml_rtmp` 0.8.0 is close in
//! shape (bytes in, results out) but has no notion of time, accepts any chunk size up to
//! 2³¹ − 1 and bounds neither message lengths, AMF nesting nor chunk streams; its
//! repository has seen little change for years. xiu's `rtmp` 0.6.6 owns its
//! `TcpStream` inside the session, talks to its stream hub over unbounded channels (the
//! pattern STYLE.md asks us to avoid) and pulls in `failure`, `chrono` and xiu's own
//! runtime crates. What we need is a few hundred lines of well-specified framing with
//! hard limits we can fuzz, so we wrote it.
//!
//! Every error ends only the connection it came from.

pub mod amf0;
pub mod chunk;
pub mod handshake;
mod session;
mod shell;
mod stream_name;

pub use amf0::{Amf0Error, Amf0Limits, Amf0Value};
pub use chunk::{ChunkDecoder, ChunkEncoder, ChunkLimits, Message};
pub use session::{
    Event, Output, Rejection, ServerSession, SessionConfig, StreamRequest, parse_stream_name,
};
pub use shell::{
    Bridge, PushOutcome, ShellConfig, ViewerReceiver, ViewerSender, serve_connection,
    viewer_channel,
};

/// Message type ids (RTMP 1.0, sections 5.4 and 7.1).
pub mod msg_type {
    /// Set Chunk Size.
    pub const SET_CHUNK_SIZE: u8 = 1;
    /// Abort Message.
    pub const ABORT: u8 = 2;
    /// Acknowledgement.
    pub const ACK: u8 = 3;
    /// User Control Message.
    pub const USER_CONTROL: u8 = 4;
    /// Window Acknowledgement Size.
    pub const WINDOW_ACK_SIZE: u8 = 5;
    /// Set Peer Bandwidth.
    pub const SET_PEER_BANDWIDTH: u8 = 6;
    /// Audio (an FLV audio tag body).
    pub const AUDIO: u8 = 8;
    /// Video (an FLV video tag body).
    pub const VIDEO: u8 = 9;
    /// Data message, AMF3.
    pub const DATA_AMF3: u8 = 15;
    /// Command, AMF3.
    pub const COMMAND_AMF3: u8 = 17;
    /// Data message, AMF0.
    pub const DATA_AMF0: u8 = 18;
    /// Command, AMF0.
    pub const COMMAND_AMF0: u8 = 20;
    /// Aggregate.
    pub const AGGREGATE: u8 = 22;
}

/// Why an RTMP connection ends.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RtmpError {
    /// C0 asked for a version other than 3 (6 is RTMPE; anything else is not RTMP).
    #[error("not RTMP: handshake version byte {0:#04x}")]
    BadVersion(u8),
    /// A fmt 1–3 chunk on a chunk stream that never had a fmt 0 header.
    #[error("chunk stream {0} continues a header it never sent")]
    NoPreviousHeader(u32),
    /// A fmt 0–2 header on a chunk stream whose message is unfinished.
    #[error("chunk stream {0} starts a message inside another")]
    InterleavedHeader(u32),
    /// A message longer than [`ChunkLimits::max_message_len`].
    #[error("message of {len} bytes exceeds {max}")]
    MessageTooLong { len: usize, max: usize },
    /// Set Chunk Size with 0, the top bit set, or above [`ChunkLimits::max_chunk_size`].
    #[error("chunk size {0} refused")]
    BadChunkSize(u32),
    /// More chunk streams than [`ChunkLimits::max_chunk_streams`].
    #[error("more than {0} chunk streams")]
    TooManyChunkStreams(usize),
    /// Unfinished messages would hold more than [`ChunkLimits::max_buffered`] bytes.
    #[error("more than {0} bytes of unfinished messages")]
    TooMuchBuffered(usize),
    /// A command or data message is not valid AMF0 within the limits.
    #[error("AMF0: {0}")]
    Amf(#[from] Amf0Error),
    /// A protocol control or user control message is too short.
    #[error("malformed control message type {0}")]
    BadControl(u8),
    /// An aggregate message whose sub-messages run past its end.
    #[error("malformed aggregate message")]
    BadAggregate,
    /// A command lacks a required part (name, transaction id, argument).
    #[error("malformed {0} command")]
    BadCommand(&'static str),
    /// A command came in a state that does not allow it (publish before connect, a
    /// second publish).
    #[error("{0} not allowed now")]
    OutOfOrder(&'static str),
    /// More `createStream` calls than a publisher or player needs.
    #[error("too many streams on one connection")]
    TooManyStreams,
    /// Handshake, connect and publish/play did not finish in time, or a publisher went
    /// quiet.
    #[error("timed out {0}")]
    Timeout(&'static str),
    /// The peer closed or reset the connection while we wrote (the shell reports this
    /// as a normal end).
    #[error("the peer left")]
    PeerLeft,
    /// The socket failed.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
}

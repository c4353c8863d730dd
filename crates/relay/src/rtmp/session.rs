//! One RTMP server connection as a state machine.
//!
//! ```text
//! Handshake ─► AwaitConnect ─connect─► Connected ─publish─► PublishPending ─accept─► Publishing
//!                                          │   ▲                    └─reject─► (onStatus error, Close)
//!                                          │   └─FCUnpublish / deleteStream / closeStream
//!                                          └─play──► PlayPending ─accept─► Playing
//! ```
//!
//! While a publish or play waits for the shell's decision, no further input is
//! processed (it stays buffered, bounded), so media that follows a `publish` in the same
//! read is never lost or let through early.
//!
//! Names are read by [`parse_stream_name`] (`stream_name.rs`).

use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::amf0::{self, Amf0Limits, Amf0Value};
use super::chunk::{ChunkDecoder, ChunkEncoder, ChunkLimits, Message};
use super::handshake::{HANDSHAKE_SIZE, Handshake};
use super::{RtmpError, msg_type};
use crate::flv::{Tag, TagKind};

pub use super::stream_name::{StreamRequest, parse_stream_name};

/// Streams one connection may create (ffmpeg and OBS create one).
const MAX_STREAMS: u32 = 8;

const CSID_CONTROL: u32 = 2;
const CSID_COMMAND: u32 = 3;
const CSID_STREAM: u32 = 5;
const CSID_AUDIO: u32 = 6;
const CSID_VIDEO: u32 = 7;

/// Settings of a session.
#[derive(Debug, Clone, Copy)]
pub struct SessionConfig {
    /// What we accept from the peer's chunk stream.
    pub chunk_limits: ChunkLimits,
    /// What we accept in commands and data messages.
    pub amf_limits: Amf0Limits,
    /// Our outgoing chunk size, announced right after `connect`.
    pub out_chunk_size: usize,
    /// The Window Acknowledgement Size and peer bandwidth we announce.
    pub window_ack_size: u32,
    /// Handshake, connect and the publish/play decision must all happen within this.
    pub setup_timeout: Duration,
    /// A publisher that sends nothing for this long is dropped.
    pub publish_idle_timeout: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            chunk_limits: ChunkLimits::default(),
            amf_limits: Amf0Limits::default(),
            out_chunk_size: 4096,
            window_ack_size: 2_500_000,
            setup_timeout: Duration::from_secs(10),
            publish_idle_timeout: Duration::from_secs(20),
        }
    }
}

/// Why the shell refuses a publish or a play; each becomes an `onStatus` error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// The room or stream does not exist or the name is malformed.
    BadName,
    /// No token, a bad token, or a token without the needed grant.
    Unauthorized,
    /// Someone already publishes that stream.
    Busy,
}

/// What the session asks of the shell.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The peer wants to publish; answer with [`ServerSession::accept_publish`] or
    /// [`ServerSession::reject`].
    Publish(StreamRequest),
    /// The peer wants to play; answer with [`ServerSession::accept_play`] or
    /// [`ServerSession::reject`].
    Play(StreamRequest),
    /// Audio, video or `onMetaData` from the publisher, as FLV tag bodies (the
    /// `@setDataFrame` wrapper removed).
    Media(Tag),
    /// The publisher stopped (FCUnpublish, closeStream or deleteStream).
    Unpublished,
    /// The player stopped (closeStream or deleteStream).
    PlayStopped,
}

/// What to do next, from [`ServerSession::poll_output`].
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Bytes to write to the peer.
    Transmit(Bytes),
    /// Something for the shell.
    Event(Event),
    /// Everything before has been written: close the connection (after a rejection).
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Handshake,
    AwaitConnect,
    Connected,
    PublishPending { stream_id: u32 },
    Publishing { stream_id: u32 },
    PlayPending { stream_id: u32 },
    Playing { stream_id: u32 },
    Closing,
}

/// A server-side RTMP connection, sans-IO.
#[derive(Debug)]
pub struct ServerSession {
    config: SessionConfig,
    phase: Phase,
    handshake: Handshake,
    decoder: ChunkDecoder,
    encoder: ChunkEncoder,
    out: BytesMut,
    outputs: VecDeque<Output>,
    /// `poll_output` has handed out `Output::Close`.
    close_given: bool,
    /// The app of `connect`: the room, maybe with a query.
    app: Option<String>,
    streams_created: u32,
    bytes_in: u64,
    acked: u64,
    peer_window: Option<u32>,
    setup_deadline: Instant,
    last_input: Instant,
    /// The publish or play transaction waiting for a decision.
    pending_tid: f64,
}

fn on_status(level: &str, code: &str, description: &str) -> Amf0Value {
    Amf0Value::object([
        ("level", Amf0Value::string(level)),
        ("code", Amf0Value::string(code)),
        ("description", Amf0Value::string(description)),
    ])
}

impl ServerSession {
    /// A session for a connection accepted at `now`; S1 carries `random`.
    pub fn new(config: SessionConfig, now: Instant, random: [u8; HANDSHAKE_SIZE - 8]) -> Self {
        Self {
            config,
            phase: Phase::Handshake,
            handshake: Handshake::new(random),
            decoder: ChunkDecoder::new(config.chunk_limits),
            encoder: ChunkEncoder::new(),
            out: BytesMut::new(),
            outputs: VecDeque::new(),
            close_given: false,
            app: None,
            streams_created: 0,
            bytes_in: 0,
            acked: 0,
            peer_window: None,
            setup_deadline: now + config.setup_timeout,
            last_input: now,
            pending_tid: 0.0,
        }
    }

    /// Bytes from the peer. An error ends the connection.
    pub fn handle_input(&mut self, now: Instant, mut input: &[u8]) -> Result<(), RtmpError> {
        self.last_input = now;
        self.bytes_in += input.len() as u64;
        if self.phase == Phase::Handshake {
            let (used, reply) = self.handshake.handle_input(input)?;
            if let Some(reply) = reply {
                self.flush_out();
                self.outputs.push_back(Output::Transmit(reply));
            }
            input = &input[used..];
            if !self.handshake.is_done() {
                return Ok(());
            }
            self.phase = Phase::AwaitConnect;
        }
        if self.phase == Phase::Closing {
            return Ok(());
        }
        self.decoder.push(input);
        if self.is_waiting() {
            // Buffered until the decision; a peer that keeps sending meanwhile is cut off.
            let cap = self.config.chunk_limits.max_chunk_size + 64 * 1024;
            if self.decoder.pending() > cap {
                return Err(RtmpError::TooMuchBuffered(cap));
            }
            return Ok(());
        }
        self.process()
    }

    fn is_waiting(&self) -> bool {
        matches!(
            self.phase,
            Phase::PublishPending { .. } | Phase::PlayPending { .. }
        )
    }

    fn process(&mut self) -> Result<(), RtmpError> {
        while !self.is_waiting() && self.phase != Phase::Closing {
            let Some((_csid, msg)) = self.decoder.poll_message()? else {
                break;
            };
            self.handle_message(msg)?;
        }
        // Acknowledge what the peer's window asks for (sequence number: bytes received,
        // handshake included, modulo 2³²).
        if let Some(window) = self.peer_window
            && window > 0
            && self.bytes_in - self.acked >= u64::from(window)
        {
            self.acked = self.bytes_in;
            self.send_control(msg_type::ACK, &(self.bytes_in as u32).to_be_bytes());
        }
        Ok(())
    }

    /// When [`handle_timeout`](Self::handle_timeout) wants to be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Publishing { .. } => Some(self.last_input + self.config.publish_idle_timeout),
            Phase::Playing { .. } | Phase::Closing => None,
            _ => Some(self.setup_deadline),
        }
    }

    /// Time passes; an error ends the connection.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), RtmpError> {
        match self.poll_timeout() {
            Some(t) if now >= t => Err(RtmpError::Timeout(match self.phase {
                Phase::Handshake => "in the handshake",
                Phase::Publishing { .. } => "waiting for the publisher's media",
                _ => "before publish or play",
            })),
            _ => Ok(()),
        }
    }

    /// The next output, until `None`. Nothing follows [`Output::Close`]: whatever the
    /// session queued behind it (an acknowledgement, a second command's answer) is for a
    /// connection that is already being closed.
    pub fn poll_output(&mut self) -> Option<Output> {
        if self.close_given {
            self.outputs.clear();
            return None;
        }
        self.flush_out();
        let out = self.outputs.pop_front();
        self.close_given = matches!(out, Some(Output::Close));
        out
    }

    /// True once publishing was accepted and has not stopped.
    pub fn is_publishing(&self) -> bool {
        matches!(self.phase, Phase::Publishing { .. })
    }

    /// True once playing was accepted and has not stopped.
    pub fn is_playing(&self) -> bool {
        matches!(self.phase, Phase::Playing { .. })
    }

    fn flush_out(&mut self) {
        if !self.out.is_empty() {
            let bytes = self.out.split().freeze();
            self.outputs.push_back(Output::Transmit(bytes));
        }
    }

    fn event(&mut self, e: Event) {
        self.flush_out();
        self.outputs.push_back(Output::Event(e));
    }

    fn send(&mut self, csid: u32, type_id: u8, stream_id: u32, timestamp: u32, payload: Bytes) {
        let msg = Message {
            type_id,
            stream_id,
            timestamp,
            payload,
        };
        self.encoder.encode(csid, &msg, &mut self.out);
    }

    fn send_control(&mut self, type_id: u8, payload: &[u8]) {
        self.send(CSID_CONTROL, type_id, 0, 0, Bytes::copy_from_slice(payload));
    }

    fn send_user_control(&mut self, event: u16, value: u32) {
        let mut p = [0u8; 6];
        p[..2].copy_from_slice(&event.to_be_bytes());
        p[2..].copy_from_slice(&value.to_be_bytes());
        self.send_control(msg_type::USER_CONTROL, &p);
    }

    fn send_command(&mut self, csid: u32, stream_id: u32, values: &[Amf0Value]) {
        // Our own values are small and well-formed: encoding cannot fail.
        let body = amf0::encode_all(values).expect("our commands encode");
        self.send(csid, msg_type::COMMAND_AMF0, stream_id, 0, body.freeze());
    }

    fn send_data(&mut self, stream_id: u32, values: &[Amf0Value]) {
        let body = amf0::encode_all(values).expect("our data messages encode");
        self.send(
            CSID_STREAM,
            msg_type::DATA_AMF0,
            stream_id,
            0,
            body.freeze(),
        );
    }

    fn send_status(
        &mut self,
        stream_id: u32,
        tid: f64,
        level: &str,
        code: &str,
        description: &str,
    ) {
        self.send_command(
            CSID_STREAM,
            stream_id,
            &[
                Amf0Value::string("onStatus"),
                Amf0Value::Number(tid),
                Amf0Value::Null,
                on_status(level, code, description),
            ],
        );
    }

    fn handle_message(&mut self, msg: Message) -> Result<(), RtmpError> {
        let p = &msg.payload[..];
        let be32 = |p: &[u8]| -> Result<u32, RtmpError> {
            p.get(..4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or(RtmpError::BadControl(msg.type_id))
        };
        match msg.type_id {
            msg_type::SET_CHUNK_SIZE => {
                let size = be32(p)?;
                self.decoder.set_chunk_size(size)?;
            }
            msg_type::ABORT => self.decoder.abort(be32(p)?),
            msg_type::ACK | msg_type::SET_PEER_BANDWIDTH => {}
            msg_type::WINDOW_ACK_SIZE => self.peer_window = Some(be32(p)?),
            msg_type::USER_CONTROL => {
                if p.len() < 2 {
                    return Err(RtmpError::BadControl(msg.type_id));
                }
                const PING_REQUEST: u16 = 6;
                const PING_RESPONSE: u16 = 7;
                if u16::from_be_bytes([p[0], p[1]]) == PING_REQUEST {
                    let ts = be32(&p[2..])?;
                    self.send_user_control(PING_RESPONSE, ts);
                }
                // SetBufferLength (3) from players and the rest need no answer.
            }
            msg_type::AUDIO | msg_type::VIDEO => {
                if let Phase::Publishing { stream_id } = self.phase
                    && msg.stream_id == stream_id
                    && !msg.payload.is_empty()
                {
                    let kind = if msg.type_id == msg_type::AUDIO {
                        TagKind::Audio
                    } else {
                        TagKind::Video
                    };
                    self.event(Event::Media(Tag {
                        kind,
                        timestamp: msg.timestamp,
                        data: msg.payload,
                    }));
                }
            }
            msg_type::DATA_AMF0 | msg_type::DATA_AMF3 => {
                let body = if msg.type_id == msg_type::DATA_AMF3 {
                    msg.payload.slice(1.min(msg.payload.len())..)
                } else {
                    msg.payload
                };
                self.handle_data(msg.stream_id, msg.timestamp, body)?;
            }
            msg_type::COMMAND_AMF0 | msg_type::COMMAND_AMF3 => {
                let body = if msg.type_id == msg_type::COMMAND_AMF3 {
                    &p[1.min(p.len())..]
                } else {
                    p
                };
                let values = amf0::decode_all(body, self.config.amf_limits)?;
                self.handle_command(msg.stream_id, values)?;
            }
            msg_type::AGGREGATE => self.handle_aggregate(msg)?,
            // Anything else is unknown and harmless to skip.
            _ => {}
        }
        Ok(())
    }

    /// An aggregate: FLV-tag-shaped sub-messages (11-byte header, body, 4-byte back
    /// pointer) whose timestamps are re-based on the aggregate's own. A sub-message
    /// whose size runs past the end is an error; the back pointer is not checked (some
    /// servers write it wrong, and nothing depends on it).
    fn handle_aggregate(&mut self, msg: Message) -> Result<(), RtmpError> {
        let mut rest = msg.payload.clone();
        let mut first_ts = None;
        while !rest.is_empty() {
            let h = rest.get(..11).ok_or(RtmpError::BadAggregate)?;
            let type_id = h[0];
            let len = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
            let ts = u32::from_be_bytes([h[7], h[4], h[5], h[6]]);
            if rest.len() < 11 + len + 4 {
                return Err(RtmpError::BadAggregate);
            }
            let first = *first_ts.get_or_insert(ts);
            let sub = Message {
                type_id,
                stream_id: msg.stream_id,
                timestamp: msg.timestamp.wrapping_add(ts.wrapping_sub(first)),
                payload: rest.slice(11..11 + len),
            };
            rest = rest.slice(11 + len + 4..);
            // Only media and data may be aggregated; never recurse.
            if matches!(
                type_id,
                msg_type::AUDIO | msg_type::VIDEO | msg_type::DATA_AMF0
            ) {
                self.handle_message(sub)?;
            }
        }
        Ok(())
    }

    fn handle_data(
        &mut self,
        stream_id: u32,
        timestamp: u32,
        body: Bytes,
    ) -> Result<(), RtmpError> {
        let Phase::Publishing {
            stream_id: publishing,
        } = self.phase
        else {
            return Ok(());
        };
        if stream_id != publishing {
            return Ok(());
        }
        let values = amf0::decode_all(&body, self.config.amf_limits)?;
        let data = match values.first().and_then(Amf0Value::as_str) {
            // `@setDataFrame`, "onMetaData", {…}: what an FLV script tag holds is the rest.
            Some("@setDataFrame") => amf0::encode_all(&values[1..])?.freeze(),
            Some("onMetaData") => body,
            _ => return Ok(()),
        };
        self.event(Event::Media(Tag {
            kind: TagKind::Script,
            timestamp,
            data,
        }));
        Ok(())
    }

    fn handle_command(&mut self, stream_id: u32, values: Vec<Amf0Value>) -> Result<(), RtmpError> {
        let mut it = values.into_iter();
        let Some(Amf0Value::String(name)) = it.next() else {
            return Err(RtmpError::BadCommand("unnamed"));
        };
        let tid = it.next().and_then(|v| v.as_number()).unwrap_or(0.0);
        let args: Vec<Amf0Value> = it.collect();
        match name.as_str() {
            "connect" => self.on_connect(tid, args),
            "createStream" => {
                self.require_connected("createStream")?;
                if self.streams_created >= MAX_STREAMS {
                    return Err(RtmpError::TooManyStreams);
                }
                self.streams_created += 1;
                let id = self.streams_created;
                self.send_command(
                    CSID_COMMAND,
                    0,
                    &[
                        Amf0Value::string("_result"),
                        Amf0Value::Number(tid),
                        Amf0Value::Null,
                        Amf0Value::Number(f64::from(id)),
                    ],
                );
                Ok(())
            }
            "releaseStream" | "FCPublish" => {
                self.require_connected("releaseStream")?;
                self.reply_empty_result(tid);
                Ok(())
            }
            "FCUnpublish" => {
                if let Phase::Publishing { .. } = self.phase {
                    self.back_to_connected();
                    self.event(Event::Unpublished);
                }
                self.reply_empty_result(tid);
                Ok(())
            }
            "publish" => {
                self.require_connected("publish")?;
                let name = args
                    .get(1)
                    .and_then(Amf0Value::as_str)
                    .ok_or(RtmpError::BadCommand("publish"))?;
                self.on_stream_request(stream_id, tid, name.to_owned(), true)
            }
            "play" => {
                self.require_connected("play")?;
                let name = args
                    .get(1)
                    .and_then(Amf0Value::as_str)
                    .ok_or(RtmpError::BadCommand("play"))?;
                self.on_stream_request(stream_id, tid, name.to_owned(), false)
            }
            "deleteStream" | "closeStream" => {
                let target = if name == "deleteStream" {
                    args.get(1)
                        .and_then(Amf0Value::as_number)
                        .map_or(stream_id, |n| n as u32)
                } else {
                    stream_id
                };
                match self.phase {
                    Phase::Publishing { stream_id } if stream_id == target => {
                        self.back_to_connected();
                        self.event(Event::Unpublished);
                    }
                    Phase::Playing { stream_id } if stream_id == target => {
                        self.back_to_connected();
                        self.event(Event::PlayStopped);
                    }
                    _ => {}
                }
                Ok(())
            }
            // getStreamLength, _checkbw, receiveAudio, pause, seek…: nothing to do for a
            // live stream, and no client waits for an answer.
            _ => Ok(()),
        }
    }

    /// After a stop the client gets a fresh set-up period to publish or play again (or
    /// leave) before the connection times out.
    fn back_to_connected(&mut self) {
        self.phase = Phase::Connected;
        self.setup_deadline = self.last_input + self.config.setup_timeout;
    }

    fn require_connected(&self, what: &'static str) -> Result<(), RtmpError> {
        match self.phase {
            Phase::Connected => Ok(()),
            Phase::Publishing { .. } | Phase::Playing { .. } if what == "createStream" => Ok(()),
            _ => Err(RtmpError::OutOfOrder(what)),
        }
    }

    fn reply_empty_result(&mut self, tid: f64) {
        if tid > 0.0 {
            self.send_command(
                CSID_COMMAND,
                0,
                &[
                    Amf0Value::string("_result"),
                    Amf0Value::Number(tid),
                    Amf0Value::Null,
                    Amf0Value::Undefined,
                ],
            );
        }
    }

    fn on_connect(&mut self, tid: f64, args: Vec<Amf0Value>) -> Result<(), RtmpError> {
        if self.phase != Phase::AwaitConnect {
            return Err(RtmpError::OutOfOrder("connect"));
        }
        let cmd = args.first().ok_or(RtmpError::BadCommand("connect"))?;
        let app = cmd
            .get("app")
            .and_then(Amf0Value::as_str)
            .ok_or(RtmpError::BadCommand("connect"))?;
        self.app = Some(app.to_owned());
        let object_encoding = cmd
            .get("objectEncoding")
            .and_then(Amf0Value::as_number)
            .unwrap_or(0.0);

        let window = self.config.window_ack_size;
        self.send_control(msg_type::WINDOW_ACK_SIZE, &window.to_be_bytes());
        let mut bw = window.to_be_bytes().to_vec();
        bw.push(2); // dynamic
        self.send_control(msg_type::SET_PEER_BANDWIDTH, &bw);
        let size = self.config.out_chunk_size.clamp(128, 0x7fff_ffff) as u32;
        self.send_control(msg_type::SET_CHUNK_SIZE, &size.to_be_bytes());
        self.encoder.set_chunk_size(size as usize);
        self.send_command(
            CSID_COMMAND,
            0,
            &[
                Amf0Value::string("_result"),
                Amf0Value::Number(tid),
                Amf0Value::object([
                    ("fmsVer", Amf0Value::string("FMS/3,0,1,123")),
                    ("capabilities", Amf0Value::Number(31.0)),
                ]),
                Amf0Value::object([
                    ("level", Amf0Value::string("status")),
                    ("code", Amf0Value::string("NetConnection.Connect.Success")),
                    ("description", Amf0Value::string("Connection succeeded.")),
                    ("objectEncoding", Amf0Value::Number(object_encoding)),
                ]),
            ],
        );
        self.phase = Phase::Connected;
        Ok(())
    }

    fn on_stream_request(
        &mut self,
        stream_id: u32,
        tid: f64,
        name: String,
        publish: bool,
    ) -> Result<(), RtmpError> {
        if stream_id == 0 || stream_id > self.streams_created {
            return Err(RtmpError::BadCommand(if publish {
                "publish"
            } else {
                "play"
            }));
        }
        let app = self.app.as_deref().unwrap_or("");
        self.pending_tid = tid;
        self.phase = if publish {
            Phase::PublishPending { stream_id }
        } else {
            Phase::PlayPending { stream_id }
        };
        match parse_stream_name(app, &name) {
            Some(request) => {
                self.event(if publish {
                    Event::Publish(request)
                } else {
                    Event::Play(request)
                });
            }
            None => self.reject(Rejection::BadName),
        }
        Ok(())
    }

    /// Accepts the pending publish: media events follow.
    pub fn accept_publish(&mut self, now: Instant) -> Result<(), RtmpError> {
        let Phase::PublishPending { stream_id } = self.phase else {
            return Err(RtmpError::OutOfOrder("accepting a publish"));
        };
        const STREAM_BEGIN: u16 = 0;
        self.send_user_control(STREAM_BEGIN, stream_id);
        let tid = self.pending_tid;
        self.send_status(
            stream_id,
            tid,
            "status",
            "NetStream.Publish.Start",
            "Publishing.",
        );
        self.phase = Phase::Publishing { stream_id };
        self.last_input = now;
        self.process()
    }

    /// Accepts the pending play: call [`send_media`](Self::send_media) from now on.
    pub fn accept_play(&mut self, _now: Instant) -> Result<(), RtmpError> {
        let Phase::PlayPending { stream_id } = self.phase else {
            return Err(RtmpError::OutOfOrder("accepting a play"));
        };
        const STREAM_BEGIN: u16 = 0;
        self.send_user_control(STREAM_BEGIN, stream_id);
        let tid = self.pending_tid;
        self.send_status(stream_id, tid, "status", "NetStream.Play.Reset", "Reset.");
        self.send_status(stream_id, tid, "status", "NetStream.Play.Start", "Playing.");
        self.send_data(
            stream_id,
            &[
                Amf0Value::string("|RtmpSampleAccess"),
                Amf0Value::Boolean(true),
                Amf0Value::Boolean(true),
            ],
        );
        self.phase = Phase::Playing { stream_id };
        self.process()
    }

    /// Refuses the pending publish or play with an `onStatus` error, then asks for the
    /// connection to be closed ([`Output::Close`]).
    pub fn reject(&mut self, why: Rejection) {
        let (stream_id, publish) = match self.phase {
            Phase::PublishPending { stream_id } => (stream_id, true),
            Phase::PlayPending { stream_id } => (stream_id, false),
            _ => return,
        };
        let (code, description) = match (publish, why) {
            (true, Rejection::BadName) => ("NetStream.Publish.BadName", "No such room or stream."),
            (true, Rejection::Busy) => ("NetStream.Publish.BadName", "Stream already publishing."),
            (true, Rejection::Unauthorized) => (
                "NetStream.Publish.Unauthorized",
                "Token missing, invalid, or without a stage grant.",
            ),
            (false, Rejection::BadName | Rejection::Busy) => {
                ("NetStream.Play.StreamNotFound", "No such room or stream.")
            }
            (false, Rejection::Unauthorized) => (
                "NetStream.Play.Unauthorized",
                "Token missing, invalid, or without a subscribe grant.",
            ),
        };
        let tid = self.pending_tid;
        self.send_status(stream_id, tid, "error", code, description);
        self.phase = Phase::Closing;
        self.flush_out();
        self.outputs.push_back(Output::Close);
    }

    /// Queues audio, video or script data (FLV tag bodies) for a player. Ignored unless
    /// playing. Timestamps are milliseconds and may wrap.
    pub fn send_media(&mut self, tag: &Tag) {
        let Phase::Playing { stream_id } = self.phase else {
            return;
        };
        let (csid, type_id) = match tag.kind {
            TagKind::Audio => (CSID_AUDIO, msg_type::AUDIO),
            TagKind::Video => (CSID_VIDEO, msg_type::VIDEO),
            TagKind::Script => (CSID_STREAM, msg_type::DATA_AMF0),
        };
        if tag.data.len() >= 1 << 24 {
            return;
        }
        self.send(csid, type_id, stream_id, tag.timestamp, tag.data.clone());
    }
}

#[cfg(test)]
mod tests;

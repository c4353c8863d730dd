//! The SFU core: every WebRTC session of the relay, driven without I/O.
//!
//! The shell feeds it datagrams (from the one shared UDP port or from ICE-TCP
//! connections) and the time, and drains datagrams to send, events for the rooms, and
//! its next deadline. It owns each `rtc` peer connection through `&mut`; forwarding is
//! a loop over a publisher's subscribers that rewrites SSRC and payload type and hands
//! the packet to the subscriber's sender, whose interceptors keep the NACK cache, add
//! TWCC sequence numbers and write sender reports.

use super::feedback::{FEEDBACK_SLOT, FeedbackToApplication};
use super::h264;
use super::offer::{self, OfferError, OfferSummary};
use super::stun;
use crate::metrics::{DropReason, Metrics};
use bytes::BytesMut;
use lectern_proto::{ApiError, ErrorCode, PeerId, Publisher, Role, RoomId, Transport};
use rtc::interceptor::{Registry, Slot};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::RTCPeerConnectionBuilder;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_nack, configure_rtcp_reports, configure_twcc_receiver_only,
};
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_RTX, MediaEngine,
};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, RTCIceCandidate, RTCIceCandidateInit,
};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters,
    RTCRtpEncodingParameters, RTCRtpRtxParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpReceiverId, RTCRtpSenderId};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// Shortest time between two keyframe requests sent to one publisher. Requests in
/// between are coalesced into one sent when the window ends.
pub const PLI_MIN_INTERVAL: Duration = Duration::from_millis(500);
/// A session that has not connected after this long is dropped.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Housekeeping tick: pending PLIs, connect time-outs.
const TICK: Duration = Duration::from_millis(100);

/// A WebRTC session on the relay (one WHIP publish or one WHEP watch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(u64);

impl SessionId {
    /// Parses the id from its URL form.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 16)
            .then(|| u64::from_str_radix(s, 16).ok())
            .flatten()
            .map(Self)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Where the relay can be reached, as announced in ICE candidates.
#[derive(Debug, Clone)]
pub struct LocalTransport {
    /// The shared UDP port.
    pub udp_port: u16,
    /// The ICE-TCP port, if TCP fallback is on.
    pub tcp_port: Option<u16>,
    /// Addresses to announce (host or NAT 1:1 public addresses), IPv4 and IPv6.
    pub addresses: Vec<IpAddr>,
}

/// Limits of one engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where peers reach us.
    pub transport: LocalTransport,
    /// Most sessions (publishers + subscribers) at once.
    pub max_sessions: usize,
}

/// Who asks for a session.
#[derive(Debug, Clone)]
pub struct SessionRequest {
    pub room: RoomId,
    pub peer: PeerId,
    pub name: String,
    pub role: Role,
    /// The SDP offer.
    pub offer: String,
}

/// A negotiated session.
#[derive(Debug, Clone)]
pub struct SessionAnswer {
    pub session: SessionId,
    /// The SDP answer with all candidates.
    pub sdp: String,
}

/// A datagram to send.
#[derive(Debug)]
pub struct Transmit {
    pub protocol: TransportProtocol,
    pub to: SocketAddr,
    /// Which session it belongs to (for per-subscriber accounting in the shell).
    pub session: SessionId,
    pub data: BytesMut,
}

/// What the rooms must learn from the media side.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// A publisher connected.
    PublisherUp { room: RoomId, publisher: Publisher },
    /// A publisher's session ended.
    PublisherDown { room: RoomId, peer: PeerId },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Audio,
    Video,
}

#[derive(Debug)]
struct Outbound {
    sender: RTCRtpSenderId,
    ssrc: u32,
    /// Negotiated payload type, learned once negotiation is done.
    payload_type: Option<u8>,
    /// Subtracted from the publisher's sequence numbers, fixed at the first packet
    /// forwarded: the subscriber's stream starts where it joins, with no gap for what
    /// it never got (video held back until a keyframe), so it NACKs nothing it cannot
    /// have.
    seq_offset: Option<u16>,
    mime: &'static str,
}

#[derive(Debug)]
enum Mode {
    Publisher {
        /// Track id → (kind, receiver, media SSRC).
        tracks: HashMap<String, (Kind, RTCRtpReceiverId, u32)>,
        subscribers: Vec<SessionId>,
        last_pli: Option<Instant>,
        pli_pending: bool,
        summary: OfferSummary,
        announced: bool,
    },
    Subscriber {
        source: SessionId,
        audio: Option<Outbound>,
        video: Option<Outbound>,
        awaiting_keyframe: bool,
    },
}

struct Session {
    id: SessionId,
    room: RoomId,
    peer: PeerId,
    name: String,
    role: Role,
    pc: RTCPeerConnection,
    ufrag: String,
    candidates: Vec<(TransportProtocol, SocketAddr)>,
    routes: Vec<(TransportProtocol, SocketAddr)>,
    state: RTCPeerConnectionState,
    /// Reached `Connected` at least once: from then on ICE decides when it has failed
    /// (a session that is briefly `Disconnected` under load is not dropped).
    ever_connected: bool,
    created: Instant,
    deadline: Option<Instant>,
    mode: Mode,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("room", &self.room)
            .field("peer", &self.peer)
            .field("state", &self.state)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The local candidate address matching how `from` reached us.
    fn local_addr(&self, protocol: TransportProtocol, from: SocketAddr) -> SocketAddr {
        self.candidates
            .iter()
            .find(|(p, a)| *p == protocol && a.is_ipv4() == from.is_ipv4())
            .or_else(|| self.candidates.iter().find(|(p, _)| *p == protocol))
            .map_or(from, |(_, a)| *a)
    }
}

/// Every WebRTC session of one relay.
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    metrics: Arc<Metrics>,
    sessions: HashMap<SessionId, Session>,
    by_ufrag: HashMap<String, SessionId>,
    by_route: HashMap<(TransportProtocol, SocketAddr), SessionId>,
    timers: BTreeSet<(Instant, SessionId)>,
    next_tick: Option<Instant>,
    transmits: std::collections::VecDeque<Transmit>,
    events: std::collections::VecDeque<EngineEvent>,
}

/// A fresh peer connection, its ICE ufrag, and the candidates it announces.
type NewPc = (
    RTCPeerConnection,
    String,
    Vec<(TransportProtocol, SocketAddr)>,
);

fn bad_sdp(e: impl fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::BadSdp, e.to_string())
}

fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..len)
        .map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]))
        .collect()
}

fn media_engine() -> Result<MediaEngine, rtc::shared::error::Error> {
    let mut me = MediaEngine::default();
    me.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: MIME_TYPE_OPUS.to_owned(),
                clock_rate: 48000,
                channels: 2,
                sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
                rtcp_feedback: vec![],
            },
            payload_type: 111,
        },
        RtpCodecKind::Audio,
    )?;
    let feedback = vec![
        RTCPFeedback {
            typ: "ccm".to_owned(),
            parameter: "fir".to_owned(),
        },
        RTCPFeedback {
            typ: "nack".to_owned(),
            parameter: String::new(),
        },
        RTCPFeedback {
            typ: "nack".to_owned(),
            parameter: "pli".to_owned(),
        },
    ];
    // Constrained baseline first (what mini-programs and every browser decode), then
    // baseline; both with packetization-mode 1 and an RTX pair each.
    for (pt, rtx, profile) in [(102u8, 103u8, "42e01f"), (104, 105, "42001f")] {
        me.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: RTCRtpCodec {
                    mime_type: MIME_TYPE_H264.to_owned(),
                    clock_rate: 90000,
                    channels: 0,
                    sdp_fmtp_line: format!(
                        "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id={profile}"
                    ),
                    rtcp_feedback: feedback.clone(),
                },
                payload_type: pt,
            },
            RtpCodecKind::Video,
        )?;
        me.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: RTCRtpCodec {
                    mime_type: MIME_TYPE_RTX.to_owned(),
                    clock_rate: 90000,
                    channels: 0,
                    sdp_fmtp_line: format!("apt={pt}"),
                    rtcp_feedback: vec![],
                },
                payload_type: rtx,
            },
            RtpCodecKind::Video,
        )?;
    }
    Ok(me)
}

impl Engine {
    /// An engine with no sessions.
    pub fn new(config: EngineConfig, metrics: Arc<Metrics>) -> Self {
        Self {
            config,
            metrics,
            sessions: HashMap::new(),
            by_ufrag: HashMap::new(),
            by_route: HashMap::new(),
            timers: BTreeSet::new(),
            next_tick: None,
            transmits: Default::default(),
            events: Default::default(),
        }
    }

    /// Number of live sessions.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    fn build_pc(&self, now: Instant, publisher: bool) -> Result<NewPc, ApiError> {
        let internal =
            |e: rtc::shared::error::Error| ApiError::new(ErrorCode::Internal, e.to_string());
        let mut me = media_engine().map_err(internal)?;
        let registry = configure_rtcp_reports(configure_nack(Registry::new(), &mut me))
            .with(Slot::from(FEEDBACK_SLOT), FeedbackToApplication::default());
        let registry = if publisher {
            configure_twcc_receiver_only(registry, &mut me).map_err(internal)?
        } else {
            registry
        };
        let ufrag = random_token(16);
        let settings = SettingEngineBuilder::new()
            .with_lite(true)
            .with_ice_credentials(ufrag.clone(), random_token(32))
            .build();
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_setting_engine(settings)
            .with_media_engine(me)
            .with_interceptor_registry(registry)
            .build(now)
            .map_err(internal)?;
        let mut candidates = Vec::new();
        let t = &self.config.transport;
        for ip in &t.addresses {
            let mut add = |network: &str, port: u16, tcp_type| -> Result<(), ApiError> {
                let candidate = CandidateHostConfig {
                    base_config: CandidateConfig {
                        network: network.to_owned(),
                        address: ip.to_string(),
                        port,
                        component: 1,
                        ..Default::default()
                    },
                    tcp_type,
                }
                .new_candidate_host()
                .map_err(internal)?;
                let init = RTCIceCandidate::from(&candidate)
                    .to_json()
                    .map_err(internal)?;
                pc.add_local_candidate(init).map_err(internal)?;
                Ok(())
            };
            add("udp", t.udp_port, Default::default())?;
            candidates.push((TransportProtocol::UDP, SocketAddr::new(*ip, t.udp_port)));
            if let Some(tcp) = t.tcp_port {
                add("tcp", tcp, rtc::ice::tcp_type::TcpType::Passive)?;
                candidates.push((TransportProtocol::TCP, SocketAddr::new(*ip, tcp)));
            }
        }
        pc.add_local_candidate(RTCIceCandidateInit::default())
            .map_err(internal)?;
        Ok((pc, ufrag, candidates))
    }

    fn check_capacity(&self) -> Result<(), ApiError> {
        if self.sessions.len() >= self.config.max_sessions {
            return Err(ApiError::new(
                ErrorCode::Capacity,
                format!(
                    "the relay serves at most {} sessions",
                    self.config.max_sessions
                ),
            ));
        }
        Ok(())
    }

    fn summarize(offer_sdp: &str) -> Result<OfferSummary, ApiError> {
        offer::summarize(offer_sdp).map_err(|e| match e {
            OfferError::TooLarge => ApiError::new(ErrorCode::TooLarge, e.to_string()),
            OfferError::NotSdp(_) => bad_sdp(e),
            OfferError::NoUsableCodec => ApiError::new(ErrorCode::UnsupportedCodec, e.to_string()),
        })
    }

    fn negotiate(
        pc: &mut RTCPeerConnection,
        now: Instant,
        offer_sdp: String,
    ) -> Result<String, ApiError> {
        let offer = RTCSessionDescription::offer(offer_sdp).map_err(bad_sdp)?;
        pc.set_remote_description(now, offer).map_err(bad_sdp)?;
        let answer = pc.create_answer(None).map_err(bad_sdp)?;
        pc.set_local_description(now, answer).map_err(bad_sdp)?;
        let sdp = pc
            .local_description()
            .ok_or_else(|| bad_sdp("no local description after negotiation"))?
            .sdp;
        Ok(sdp)
    }

    fn new_id(&self) -> SessionId {
        loop {
            let id = SessionId(rand::random::<u64>() | 1);
            if !self.sessions.contains_key(&id) {
                return id;
            }
        }
    }

    /// A WHIP publish. A peer that publishes again replaces its earlier session.
    pub fn publish(
        &mut self,
        now: Instant,
        req: SessionRequest,
    ) -> Result<SessionAnswer, ApiError> {
        let summary = Self::summarize(&req.offer)?;
        if let Some(old) = self.publisher_of(&req.room, &req.peer) {
            self.remove(old);
        }
        self.check_capacity()?;
        let (mut pc, ufrag, candidates) = self.build_pc(now, true)?;
        let sdp = Self::negotiate(&mut pc, now, req.offer)?;
        let id = self.new_id();
        self.insert(
            now,
            Session {
                id,
                room: req.room,
                peer: req.peer,
                name: req.name,
                role: req.role,
                pc,
                ufrag,
                candidates,
                routes: Vec::new(),
                state: RTCPeerConnectionState::New,
                ever_connected: false,
                created: now,
                deadline: None,
                mode: Mode::Publisher {
                    tracks: HashMap::new(),
                    subscribers: Vec::new(),
                    last_pli: None,
                    pli_pending: false,
                    summary,
                    announced: false,
                },
            },
        );
        self.metrics.publishers.fetch_add(1, Relaxed);
        Ok(SessionAnswer { session: id, sdp })
    }

    /// The session through which `peer` publishes in `room`, if any.
    pub fn publisher_of(&self, room: &RoomId, peer: &PeerId) -> Option<SessionId> {
        self.sessions
            .values()
            .find(|s| {
                &s.room == room && &s.peer == peer && matches!(s.mode, Mode::Publisher { .. })
            })
            .map(|s| s.id)
    }

    fn teacher_publisher(&self, room: &RoomId) -> Option<SessionId> {
        self.sessions
            .values()
            .filter(|s| &s.room == room && s.role == Role::Teacher)
            .filter(|s| matches!(s.mode, Mode::Publisher { .. }))
            .max_by_key(|s| s.created)
            .map(|s| s.id)
    }

    /// A WHEP watch of `source` (default: the room's teacher).
    pub fn subscribe(
        &mut self,
        now: Instant,
        req: SessionRequest,
        source: Option<&PeerId>,
    ) -> Result<SessionAnswer, ApiError> {
        Self::summarize(&req.offer)?;
        let source_id = match source {
            Some(peer) => self.publisher_of(&req.room, peer),
            None => self.teacher_publisher(&req.room),
        }
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                match source {
                    Some(p) => format!("{p} is not publishing in {}", req.room),
                    None => format!("the teacher is not publishing in {}", req.room),
                },
            )
        })?;
        self.check_capacity()?;
        let (mut pc, ufrag, candidates) = self.build_pc(now, false)?;
        let offer = RTCSessionDescription::offer(req.offer).map_err(bad_sdp)?;
        pc.set_remote_description(now, offer).map_err(bad_sdp)?;

        // One sender per kind the source publishes, with the source's codec.
        let Some(Mode::Publisher { summary, .. }) = self.sessions.get(&source_id).map(|s| &s.mode)
        else {
            return Err(ApiError::new(
                ErrorCode::Internal,
                "source is not a publisher",
            ));
        };
        let summary = *summary;
        let stream_id = format!("lectern-{source_id}");
        let mut add = |kind: RtpCodecKind, mime: &'static str| -> Result<Outbound, ApiError> {
            let ssrc = rand::random::<u32>();
            let (codec, rtx) = match kind {
                RtpCodecKind::Video => (
                    RTCRtpCodec {
                        mime_type: mime.to_owned(),
                        clock_rate: 90000,
                        channels: 0,
                        sdp_fmtp_line:
                            "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
                                .to_owned(),
                        rtcp_feedback: vec![],
                    },
                    Some(RTCRtpRtxParameters {
                        ssrc: rand::random::<u32>(),
                    }),
                ),
                _ => (
                    RTCRtpCodec {
                        mime_type: mime.to_owned(),
                        clock_rate: 48000,
                        channels: 2,
                        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
                        rtcp_feedback: vec![],
                    },
                    None,
                ),
            };
            let track = MediaStreamTrack::new(
                stream_id.clone(),
                format!(
                    "{stream_id}-{}",
                    if mime == MIME_TYPE_H264 {
                        "video"
                    } else {
                        "audio"
                    }
                ),
                "lectern".to_owned(),
                kind,
                vec![RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters {
                        ssrc: Some(ssrc),
                        rtx,
                        ..Default::default()
                    },
                    codec,
                    ..Default::default()
                }],
            );
            let sender = pc.add_track(track).map_err(bad_sdp)?;
            // The stack may assign its own SSRC; RTCP from the subscriber names that one.
            let ssrc = pc
                .rtp_sender(sender)
                .and_then(|s| s.track().ssrcs().next())
                .unwrap_or(ssrc);
            Ok(Outbound {
                sender,
                ssrc,
                payload_type: None,
                seq_offset: None,
                mime,
            })
        };
        let audio = if summary.opus {
            Some(add(RtpCodecKind::Audio, MIME_TYPE_OPUS)?)
        } else {
            None
        };
        let video = if summary.h264 {
            Some(add(RtpCodecKind::Video, MIME_TYPE_H264)?)
        } else {
            None
        };
        let answer = pc.create_answer(None).map_err(bad_sdp)?;
        pc.set_local_description(now, answer).map_err(bad_sdp)?;
        let sdp = pc
            .local_description()
            .ok_or_else(|| bad_sdp("no local description after negotiation"))?
            .sdp;
        let id = self.new_id();
        if let Some(Mode::Publisher { subscribers, .. }) =
            self.sessions.get_mut(&source_id).map(|s| &mut s.mode)
        {
            subscribers.push(id);
        }
        self.insert(
            now,
            Session {
                id,
                room: req.room,
                peer: req.peer,
                name: req.name,
                role: req.role,
                pc,
                ufrag,
                candidates,
                routes: Vec::new(),
                state: RTCPeerConnectionState::New,
                ever_connected: false,
                created: now,
                deadline: None,
                mode: Mode::Subscriber {
                    source: source_id,
                    audio,
                    video,
                    awaiting_keyframe: true,
                },
            },
        );
        self.metrics.subscribers.fetch_add(1, Relaxed);
        Ok(SessionAnswer { session: id, sdp })
    }

    fn insert(&mut self, now: Instant, session: Session) {
        let id = session.id;
        self.by_ufrag.insert(session.ufrag.clone(), id);
        self.sessions.insert(id, session);
        self.drain(now, id);
        if self.next_tick.is_none() {
            self.next_tick = Some(now + TICK);
        }
    }

    /// Checks that `session` exists in `room`, and who owns it.
    pub fn session_owner(&self, room: &RoomId, session: SessionId) -> Option<&PeerId> {
        self.sessions
            .get(&session)
            .filter(|s| &s.room == room)
            .map(|s| &s.peer)
    }

    /// Adds trickled candidates (an `application/trickle-ice-sdpfrag` body).
    pub fn trickle(
        &mut self,
        now: Instant,
        session: SessionId,
        frag: &str,
    ) -> Result<(), ApiError> {
        let s = self
            .sessions
            .get_mut(&session)
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such session"))?;
        for line in frag.lines().map(|l| l.trim_end_matches('\r')) {
            if let Some(candidate) = line.strip_prefix("a=candidate:") {
                s.pc.add_remote_candidate(RTCIceCandidateInit {
                    candidate: format!("candidate:{candidate}"),
                    ..Default::default()
                })
                .map_err(bad_sdp)?;
            }
        }
        self.drain(now, session);
        Ok(())
    }

    /// Ends a session (DELETE).
    pub fn close(&mut self, session: SessionId) {
        self.remove(session);
    }

    /// Ends `peer`'s publishing in `room` (they left the stage).
    pub fn end_publish(&mut self, room: &RoomId, peer: &PeerId) {
        if let Some(id) = self.publisher_of(room, peer) {
            self.remove(id);
        }
    }

    fn remove(&mut self, id: SessionId) {
        let Some(mut s) = self.sessions.remove(&id) else {
            return;
        };
        let _ = s.pc.close();
        // Flush what closing produced (DTLS close_notify) so the peer learns at once.
        while let Some(out) = s.pc.poll_write() {
            self.transmits.push_back(Transmit {
                protocol: out.transport.transport_protocol,
                to: out.transport.peer_addr,
                session: id,
                data: out.message,
            });
        }
        self.by_ufrag.remove(&s.ufrag);
        for route in &s.routes {
            if self.by_route.get(route) == Some(&id) {
                self.by_route.remove(route);
            }
        }
        if let Some(d) = s.deadline {
            self.timers.remove(&(d, id));
        }
        match s.mode {
            Mode::Publisher {
                subscribers,
                announced,
                tracks,
                ..
            } => {
                self.metrics.publishers.fetch_sub(1, Relaxed);
                self.metrics.tracks.fetch_sub(tracks.len() as i64, Relaxed);
                if announced {
                    self.events.push_back(EngineEvent::PublisherDown {
                        room: s.room.clone(),
                        peer: s.peer.clone(),
                    });
                }
                // Watchers of a publisher that left re-subscribe when it comes back
                // (signaling says `publisher_added`); their sessions end here.
                for sub in subscribers {
                    self.remove(sub);
                }
            }
            Mode::Subscriber { source, .. } => {
                self.metrics.subscribers.fetch_sub(1, Relaxed);
                if let Some(Mode::Publisher { subscribers, .. }) =
                    self.sessions.get_mut(&source).map(|s| &mut s.mode)
                {
                    subscribers.retain(|x| *x != id);
                }
            }
        }
    }

    /// Feeds one datagram received on the shared UDP port or an ICE-TCP connection.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        protocol: TransportProtocol,
        from: SocketAddr,
        data: BytesMut,
    ) {
        let route = (protocol, from);
        let id = match stun::binding_request_ufrag(&data).and_then(|u| self.by_ufrag.get(u)) {
            Some(&id) => {
                if self.by_route.insert(route, id) != Some(id)
                    && let Some(s) = self.sessions.get_mut(&id)
                {
                    s.routes.push(route);
                }
                id
            }
            None => match self.by_route.get(&route) {
                Some(&id) => id,
                None => {
                    self.metrics.drop_packet(DropReason::UnknownSource);
                    return;
                }
            },
        };
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        let local_addr = s.local_addr(protocol, from);
        let result = s.pc.handle_read(TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr,
                peer_addr: from,
                ecn: None,
                transport_protocol: protocol,
            },
            message: data,
        });
        if let Err(e) = result {
            tracing::debug!(session = %id, "read: {e}");
        }
        self.drain(now, id);
    }

    /// An ICE-TCP connection closed.
    pub fn tcp_closed(&mut self, from: SocketAddr) {
        self.by_route.remove(&(TransportProtocol::TCP, from));
    }

    /// The next instant [`Engine::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let first = self.timers.first().map(|(t, _)| *t);
        match (first, self.next_tick) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Lets time pass.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(t, id)) = self.timers.first() {
            if t > now {
                break;
            }
            self.timers.pop_first();
            if let Some(s) = self.sessions.get_mut(&id) {
                s.deadline = None;
                let _ = s.pc.handle_timeout(now);
                self.drain(now, id);
            }
        }
        if self.next_tick.is_some_and(|t| t <= now) {
            self.tick(now);
            self.next_tick = (!self.sessions.is_empty()).then_some(now + TICK);
        }
    }

    fn tick(&mut self, now: Instant) {
        let stale: Vec<SessionId> = self
            .sessions
            .values()
            .filter(|s| {
                !s.ever_connected && now.saturating_duration_since(s.created) > CONNECT_TIMEOUT
            })
            .map(|s| s.id)
            .collect();
        for id in stale {
            tracing::info!(session = %id, "dropped: not connected after {CONNECT_TIMEOUT:?}");
            self.remove(id);
        }
        let pending: Vec<SessionId> = self
            .sessions
            .values()
            .filter(|s| {
                matches!(
                    s.mode,
                    Mode::Publisher {
                        pli_pending: true,
                        ..
                    }
                )
            })
            .map(|s| s.id)
            .collect();
        for id in pending {
            self.request_keyframe(now, id, true);
        }
    }

    /// Next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Next event for the rooms.
    pub fn poll_event(&mut self) -> Option<EngineEvent> {
        self.events.pop_front()
    }

    /// Asks the publisher `id` for a keyframe, at most once per [`PLI_MIN_INTERVAL`].
    fn request_keyframe(&mut self, now: Instant, id: SessionId, from_tick: bool) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        let Mode::Publisher {
            tracks,
            last_pli,
            pli_pending,
            ..
        } = &mut s.mode
        else {
            return;
        };
        if last_pli.is_some_and(|t| now.saturating_duration_since(t) < PLI_MIN_INTERVAL) {
            if !from_tick {
                self.metrics.plis_coalesced.fetch_add(1, Relaxed);
            }
            *pli_pending = true;
            return;
        }
        let Some((_, receiver, ssrc)) =
            tracks.values().find(|(k, _, _)| *k == Kind::Video).copied()
        else {
            // No video yet: ask again once it opens.
            *pli_pending = true;
            return;
        };
        *pli_pending = false;
        *last_pli = Some(now);
        if let Some(mut r) = s.pc.rtp_receiver(receiver) {
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: ssrc,
            };
            if r.write_rtcp(now, vec![Box::new(pli)]).is_ok() {
                self.metrics.plis_forwarded.fetch_add(1, Relaxed);
            }
        }
        self.drain(now, id);
    }

    /// Moves everything session `id` produced to where it goes.
    fn drain(&mut self, now: Instant, id: SessionId) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        while let Some(out) = s.pc.poll_write() {
            self.transmits.push_back(Transmit {
                protocol: out.transport.transport_protocol,
                to: out.transport.peer_addr,
                session: id,
                data: out.message,
            });
        }
        let mut events = Vec::new();
        while let Some(e) = s.pc.poll_event() {
            events.push(e);
        }
        let mut reads = Vec::new();
        while let Some(m) = s.pc.poll_read() {
            reads.push(m);
        }
        for e in events {
            self.on_event(now, id, e);
        }
        for m in reads {
            self.on_message(now, id, m);
        }
        self.reschedule(id);
    }

    fn reschedule(&mut self, id: SessionId) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        let next = s.pc.poll_timeout();
        if next != s.deadline {
            if let Some(d) = s.deadline {
                self.timers.remove(&(d, id));
            }
            if let Some(n) = next {
                self.timers.insert((n, id));
            }
            s.deadline = next;
        }
    }

    fn on_event(&mut self, now: Instant, id: SessionId, event: RTCPeerConnectionEvent) {
        match event {
            RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => {
                let Some(s) = self.sessions.get_mut(&id) else {
                    return;
                };
                s.state = state;
                s.ever_connected |= state == RTCPeerConnectionState::Connected;
                tracing::debug!(session = %id, peer = %s.peer, "connection {state}");
                match state {
                    RTCPeerConnectionState::Connected => match &mut s.mode {
                        Mode::Publisher {
                            summary, announced, ..
                        } => {
                            if !*announced {
                                *announced = true;
                                self.events.push_back(EngineEvent::PublisherUp {
                                    room: s.room.clone(),
                                    publisher: Publisher {
                                        peer: s.peer.clone(),
                                        name: s.name.clone(),
                                        role: s.role,
                                        audio: summary.opus,
                                        video: summary.h264,
                                        transport: Transport::Whip,
                                    },
                                });
                            }
                        }
                        Mode::Subscriber {
                            source,
                            audio,
                            video,
                            ..
                        } => {
                            let source = *source;
                            for out in [audio, video].into_iter().flatten() {
                                resolve_payload_type(&mut s.pc, out);
                            }
                            // A new watcher needs a keyframe now, not at the next GOP.
                            self.request_keyframe(now, source, false);
                        }
                    },
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                        self.remove(id);
                    }
                    _ => {}
                }
            }
            RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                let Some(s) = self.sessions.get_mut(&id) else {
                    return;
                };
                let kind =
                    s.pc.rtp_receiver(init.receiver_id)
                        .map(|r| r.track().kind());
                let kind = match kind {
                    Some(RtpCodecKind::Video) => Kind::Video,
                    Some(RtpCodecKind::Audio) => Kind::Audio,
                    _ => return,
                };
                if let Mode::Publisher {
                    tracks,
                    pli_pending,
                    ..
                } = &mut s.mode
                {
                    tracks.insert(init.track_id, (kind, init.receiver_id, init.ssrc));
                    self.metrics.tracks.fetch_add(1, Relaxed);
                    if kind == Kind::Video && *pli_pending {
                        self.request_keyframe(now, id, false);
                    }
                }
            }
            _ => {}
        }
    }

    fn on_message(&mut self, now: Instant, id: SessionId, message: TaggedRTCMessage) {
        match message.message {
            RTCMessage::RtpPacket(track_id, packet) => self.forward(now, id, &track_id, packet),
            RTCMessage::RtcpPacket(_, packets) => {
                let Some(s) = self.sessions.get(&id) else {
                    return;
                };
                let Mode::Subscriber { source, .. } = s.mode else {
                    return;
                };
                let mut wants_keyframe = false;
                for p in &packets {
                    let any = p.as_any();
                    if any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>() {
                        wants_keyframe = true;
                    } else if any.is::<TransportLayerNack>() {
                        self.metrics.nacks.fetch_add(1, Relaxed);
                    }
                }
                if wants_keyframe {
                    self.request_keyframe(now, source, false);
                }
            }
            _ => {}
        }
    }

    fn forward(&mut self, now: Instant, from: SessionId, track_id: &str, packet: rtc::rtp::Packet) {
        let Some(s) = self.sessions.get(&from) else {
            return;
        };
        let Mode::Publisher {
            tracks,
            subscribers,
            ..
        } = &s.mode
        else {
            return;
        };
        let Some(&(kind, _, _)) = tracks.get(track_id) else {
            return;
        };
        self.metrics.rtp_in_packets.fetch_add(1, Relaxed);
        self.metrics
            .rtp_in_bytes
            .fetch_add(packet.payload.len() as u64, Relaxed);
        let keyframe = kind == Kind::Video && h264::starts_keyframe(&packet.payload);
        let subscribers = subscribers.clone();
        for sub in subscribers {
            let Some(s) = self.sessions.get_mut(&sub) else {
                continue;
            };
            if s.state != RTCPeerConnectionState::Connected {
                continue;
            }
            let Mode::Subscriber {
                audio,
                video,
                awaiting_keyframe,
                ..
            } = &mut s.mode
            else {
                continue;
            };
            let out = match kind {
                Kind::Audio => audio,
                Kind::Video => {
                    if *awaiting_keyframe {
                        if !keyframe {
                            self.metrics.drop_packet(DropReason::AwaitingKeyframe);
                            continue;
                        }
                        *awaiting_keyframe = false;
                    }
                    video
                }
            };
            let Some(out) = out else {
                continue;
            };
            let Some(pt) = out
                .payload_type
                .or_else(|| resolve_payload_type(&mut s.pc, out))
            else {
                continue;
            };
            let seq_in = packet.header.sequence_number;
            let offset = *out
                .seq_offset
                .get_or_insert_with(|| seq_in.wrapping_sub(rand::random::<u16>()));
            let mut p = packet.clone();
            p.header.sequence_number = seq_in.wrapping_sub(offset);
            p.header.ssrc = out.ssrc;
            p.header.payload_type = pt;
            // Extension ids were negotiated with the publisher, not this subscriber: the
            // subscriber's own interceptors add what it negotiated.
            p.header.extension = false;
            p.header.extensions.clear();
            let bytes = p.payload.len() as u64;
            if let Some(mut sender) = s.pc.rtp_sender(out.sender)
                && sender.write_rtp(now, p).is_ok()
            {
                self.metrics.rtp_out_packets.fetch_add(1, Relaxed);
                self.metrics.rtp_out_bytes.fetch_add(bytes, Relaxed);
            }
            while let Some(w) = s.pc.poll_write() {
                self.transmits.push_back(Transmit {
                    protocol: w.transport.transport_protocol,
                    to: w.transport.peer_addr,
                    session: sub,
                    data: w.message,
                });
            }
            self.reschedule(sub);
        }
    }

    /// Reports a datagram the shell could not send (the subscriber's queue was full).
    pub fn dropped_on_send(&mut self, session: SessionId) {
        self.metrics.drop_packet(DropReason::SendQueueFull);
        let _ = session;
    }
}

/// Finds the payload type the subscriber negotiated for `out`'s codec.
fn resolve_payload_type(pc: &mut RTCPeerConnection, out: &mut Outbound) -> Option<u8> {
    let mut sender = pc.rtp_sender(out.sender)?;
    let params = sender.get_parameters();
    let pt = params
        .rtp_parameters
        .codecs
        .iter()
        .find(|c| {
            c.rtp_codec.mime_type.eq_ignore_ascii_case(out.mime)
                && (out.mime != MIME_TYPE_H264
                    || c.rtp_codec.sdp_fmtp_line.contains("packetization-mode=1"))
        })
        .map(|c| c.payload_type)?;
    out.payload_type = Some(pt);
    Some(pt)
}

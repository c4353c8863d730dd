//! The SFU core: every WebRTC session of the relay, driven without I/O.
//!
//! The shell feeds it datagrams (from the one shared UDP port or from ICE-TCP
//! connections) and the time, and drains datagrams to send, events for the rooms, and
//! its next deadline. It owns each `rtc` peer connection through `&mut`; forwarding is
//! a loop over a publisher's subscribers that rewrites SSRC and payload type and hands
//! the packet to the subscriber's sender, whose interceptors keep the NACK cache, add
//! TWCC sequence numbers and write sender reports.

use super::feedback::{FEEDBACK_SLOT, FeedbackToApplication};
mod external;
mod forward;
mod negotiate;
mod peer;
mod session;

use external::External;
pub use external::ExternalPublisher;

use session::{Kind, Mode, Outbound, Session};

use peer::bad_sdp;

use super::h264;
use super::offer::{self, OfferError, OfferSummary};
use super::stun;
use crate::metrics::{DropReason, Metrics};
use crate::webrtc_flv::{Media, TAP_QUEUE, Tap};
use bytes::BytesMut;
use lectern_proto::{ApiError, ErrorCode, PeerId, Publisher, Role, RoomId, Transport};
use lectern_rtp::{NackConfig, NackRequests};
use rtc::interceptor::{FlexFec03ReceiveBuilder, Registry, Slot};
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
use rtc::rtcp::sender_report::SenderReport;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters,
    RTCRtpEncodingParameters, RTCRtpRtxParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpReceiverId, RTCRtpSenderId};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use std::collections::BTreeSet;
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
/// After forwarding, a subscriber's next deadline is asked of `rtc` (a walk over its
/// whole pipeline) at most this often. Forwarding never makes a deadline earlier than
/// what the session already has in the timer set by more than this: its own timers
/// are reports (1 s) and ICE consent checks (seconds).
const FORWARD_RESCHEDULE: Duration = Duration::from_millis(20);

/// The engine's maps: keyed by our random session ids and by peer addresses, hashed
/// with a fast keyed hash (per-process random seed) instead of SipHash.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

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

/// Every WebRTC session of one relay.
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    metrics: Arc<Metrics>,
    sessions: HashMap<SessionId, Session>,
    /// RTMP publishers bridged in (no peer connection), by the same kind of id.
    externals: HashMap<SessionId, External>,
    by_ufrag: HashMap<String, SessionId>,
    by_route: HashMap<(TransportProtocol, SocketAddr), SessionId>,
    timers: BTreeSet<(Instant, SessionId)>,
    next_tick: Option<Instant>,
    transmits: std::collections::VecDeque<Transmit>,
    events: std::collections::VecDeque<EngineEvent>,
    /// Subscribers written to since their last drain, drained (one pass through their
    /// `rtc` pipeline for a whole burst of packets) before the next transmit is polled.
    dirty: Vec<SessionId>,
    /// The time of the latest input, for those deferred drains.
    last_input: Option<Instant>,
    /// Copies of publishers' media for the FLV bridge, drained by the shell after every
    /// input (bounded by [`TAP_QUEUE`]: beyond it, RTP copies are dropped and counted).
    taps: std::collections::VecDeque<Tap>,
}

/// A fresh peer connection, its ICE ufrag, and the candidates it announces.
type NewPc = (
    RTCPeerConnection,
    String,
    Vec<(TransportProtocol, SocketAddr)>,
);
impl Engine {
    /// An engine with no sessions.
    pub fn new(config: EngineConfig, metrics: Arc<Metrics>) -> Self {
        Self {
            config,
            metrics,
            sessions: HashMap::default(),
            externals: HashMap::default(),
            by_ufrag: HashMap::default(),
            by_route: HashMap::default(),
            timers: BTreeSet::new(),
            next_tick: None,
            transmits: Default::default(),
            events: Default::default(),
            dirty: Vec::new(),
            last_input: None,
            taps: Default::default(),
        }
    }

    /// Number of live sessions.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    fn check_capacity(&self) -> Result<(), ApiError> {
        if self.sessions.len() + self.externals.len() >= self.config.max_sessions {
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

    fn new_id(&self) -> SessionId {
        loop {
            let id = SessionId(rand::random::<u64>() | 1);
            if !self.sessions.contains_key(&id) && !self.externals.contains_key(&id) {
                return id;
            }
        }
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
        if self.remove_external(id) {
            return;
        }
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
                    self.taps.push_back(Tap::Close { session: id });
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
                } else if let Some(e) = self.externals.get_mut(&source) {
                    e.subscribers.retain(|x| *x != id);
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
        self.last_input = Some(now);
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
        if self.transmits.is_empty() && !self.dirty.is_empty() {
            self.drain_dirty();
        }
        self.transmits.pop_front()
    }

    /// Drains every subscriber that forwarded packets were written to.
    fn drain_dirty(&mut self) {
        let now = self.last_input.unwrap_or_else(Instant::now);
        let dirty = std::mem::take(&mut self.dirty);
        for &id in &dirty {
            let Some(s) = self.sessions.get_mut(&id) else {
                continue;
            };
            s.dirty = false;
            let reschedule = s.deadline.is_none()
                || s.rescheduled
                    .is_none_or(|t| now.saturating_duration_since(t) >= FORWARD_RESCHEDULE);
            self.drain_with(now, id, reschedule);
        }
        // Keep the allocation for the next burst.
        self.dirty = dirty;
        self.dirty.clear();
    }

    /// Next event for the rooms.
    pub fn poll_event(&mut self) -> Option<EngineEvent> {
        self.events.pop_front()
    }

    /// Next copy of publisher media for the FLV bridge.
    pub fn poll_tap(&mut self) -> Option<Tap> {
        self.taps.pop_front()
    }

    /// Counts a media copy the bridge could not take.
    pub fn tap_dropped(&self) {
        self.metrics.flv_tap_dropped.fetch_add(1, Relaxed);
    }

    /// Asks publisher `session` for a keyframe (the FLV bridge lost video, or an FLV
    /// viewer joined with no keyframe cached); rate-limited like subscribers' PLIs.
    pub fn request_keyframe_from(&mut self, now: Instant, session: SessionId) {
        self.request_keyframe(now, session, false);
    }

    /// Moves everything session `id` produced to where it goes.
    fn drain(&mut self, now: Instant, id: SessionId) {
        self.drain_with(now, id, true);
    }

    fn drain_with(&mut self, now: Instant, id: SessionId, reschedule: bool) {
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
        let quiet = events.is_empty() && reads.is_empty();
        for e in events {
            self.on_event(now, id, e);
        }
        for m in reads {
            self.on_message(now, id, m);
        }
        if reschedule || !quiet {
            self.reschedule(now, id);
        }
    }

    fn reschedule(&mut self, now: Instant, id: SessionId) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        s.rescheduled = Some(now);
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
                                self.taps.push_back(Tap::Open {
                                    session: id,
                                    room: s.room.clone(),
                                    peer: s.peer.clone(),
                                });
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
                                peer::resolve_payload_type(&mut s.pc, out);
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
}

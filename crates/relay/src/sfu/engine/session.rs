//! One WebRTC session as the engine keeps it.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Audio,
    Video,
}

impl Kind {
    pub(super) fn media(self) -> Media {
        match self {
            Self::Audio => Media::Audio,
            Self::Video => Media::Video,
        }
    }
}

#[derive(Debug)]
pub(super) struct Outbound {
    pub(super) sender: RTCRtpSenderId,
    pub(super) ssrc: u32,
    /// Negotiated payload type, learned once negotiation is done.
    pub(super) payload_type: Option<u8>,
    /// Subtracted from the publisher's sequence numbers, fixed at the first packet
    /// forwarded: the subscriber's stream starts where it joins, with no gap for what
    /// it never got (video held back until a keyframe), so it NACKs nothing it cannot
    /// have.
    pub(super) seq_offset: Option<u16>,
    pub(super) mime: &'static str,
}

#[derive(Debug)]
pub(super) enum Mode {
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

pub(super) struct Session {
    pub(super) id: SessionId,
    pub(super) room: RoomId,
    pub(super) peer: PeerId,
    pub(super) name: String,
    pub(super) role: Role,
    pub(super) pc: RTCPeerConnection,
    pub(super) ufrag: String,
    pub(super) candidates: Vec<(TransportProtocol, SocketAddr)>,
    pub(super) routes: Vec<(TransportProtocol, SocketAddr)>,
    pub(super) state: RTCPeerConnectionState,
    /// Reached `Connected` at least once: from then on ICE decides when it has failed
    /// (a session that is briefly `Disconnected` under load is not dropped).
    pub(super) ever_connected: bool,
    pub(super) created: Instant,
    pub(super) deadline: Option<Instant>,
    /// Written to since the last drain (listed in the engine's `dirty`).
    pub(super) dirty: bool,
    /// When its deadline was last asked of `rtc`.
    pub(super) rescheduled: Option<Instant>,
    pub(super) mode: Mode,
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
    pub(super) fn new(
        id: SessionId,
        req: SessionRequest,
        (pc, ufrag, candidates): NewPc,
        now: Instant,
        mode: Mode,
    ) -> Self {
        Self {
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
            dirty: false,
            rescheduled: None,
            mode,
        }
    }

    /// The local candidate address matching how `from` reached us.
    pub(super) fn local_addr(&self, protocol: TransportProtocol, from: SocketAddr) -> SocketAddr {
        self.candidates
            .iter()
            .find(|(p, a)| *p == protocol && a.is_ipv4() == from.is_ipv4())
            .or_else(|| self.candidates.iter().find(|(p, _)| *p == protocol))
            .map_or(from, |(_, a)| *a)
    }
}

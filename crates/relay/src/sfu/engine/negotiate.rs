//! Sessions being opened: a WHIP publish, a WHEP watch, and which publisher (WHIP or
//! external) a watch is of.

use super::*;

impl Engine {
    /// A WHIP publish. A peer that publishes again replaces its earlier session.
    pub fn publish(
        &mut self,
        now: Instant,
        mut req: SessionRequest,
    ) -> Result<SessionAnswer, ApiError> {
        let summary = Self::summarize(&req.offer)?;
        if let Some(old) = self.publisher_of(&req.room, &req.peer) {
            self.remove(old);
        }
        self.check_capacity()?;
        let (mut pc, ufrag, candidates) =
            peer::build_pc(now, true, &self.config.transport, &self.metrics)?;
        let sdp = peer::negotiate(&mut pc, now, std::mem::take(&mut req.offer))?;
        let id = self.new_id();
        self.insert(
            now,
            Session::new(
                id,
                req,
                (pc, ufrag, candidates),
                now,
                Mode::Publisher {
                    tracks: HashMap::default(),
                    subscribers: Vec::new(),
                    last_pli: None,
                    pli_pending: false,
                    summary,
                    announced: false,
                },
            ),
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
            .or_else(|| {
                self.externals
                    .iter()
                    .find(|(_, e)| &e.room == room && &e.peer == peer)
                    .map(|(id, _)| *id)
            })
    }

    fn teacher_publisher(&self, room: &RoomId) -> Option<SessionId> {
        let webrtc = self
            .sessions
            .values()
            .filter(|s| &s.room == room && s.role == Role::Teacher)
            .filter(|s| matches!(s.mode, Mode::Publisher { .. }))
            .map(|s| (s.created, s.id));
        let rtmp = self
            .externals
            .iter()
            .filter(|(_, e)| &e.room == room && e.role == Role::Teacher)
            .map(|(id, e)| (e.created, *id));
        webrtc
            .chain(rtmp)
            .max_by_key(|(created, _)| *created)
            .map(|(_, id)| id)
    }

    /// A WHEP watch of `source` (default: the room's teacher).
    pub fn subscribe(
        &mut self,
        now: Instant,
        mut req: SessionRequest,
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
        let (mut pc, ufrag, candidates) =
            peer::build_pc(now, false, &self.config.transport, &self.metrics)?;
        let offer =
            RTCSessionDescription::offer(std::mem::take(&mut req.offer)).map_err(bad_sdp)?;
        pc.set_remote_description(now, offer).map_err(bad_sdp)?;

        // One sender per kind the source publishes, with the source's codec.
        let summary = match self.sessions.get(&source_id).map(|s| &s.mode) {
            Some(Mode::Publisher { summary, .. }) => *summary,
            _ => match self.externals.get(&source_id) {
                Some(e) => e.summary,
                None => {
                    return Err(ApiError::new(
                        ErrorCode::Internal,
                        "source is not a publisher",
                    ));
                }
            },
        };
        let stream_id = format!("lectern-{source_id}");
        let audio = if summary.opus {
            Some(peer::add_outbound(
                &mut pc,
                &stream_id,
                RtpCodecKind::Audio,
            )?)
        } else {
            None
        };
        let video = if summary.h264 {
            Some(peer::add_outbound(
                &mut pc,
                &stream_id,
                RtpCodecKind::Video,
            )?)
        } else {
            None
        };
        let answer = pc.create_answer(None).map_err(bad_sdp)?;
        pc.set_local_description(now, answer).map_err(bad_sdp)?;
        let sdp = peer::answer_sdp(
            pc.local_description()
                .ok_or_else(|| bad_sdp("no local description after negotiation"))?
                .sdp,
        );
        let id = self.new_id();
        if let Some(Mode::Publisher { subscribers, .. }) =
            self.sessions.get_mut(&source_id).map(|s| &mut s.mode)
        {
            subscribers.push(id);
        } else if let Some(e) = self.externals.get_mut(&source_id) {
            e.subscribers.push(id);
        }
        self.insert(
            now,
            Session::new(
                id,
                req,
                (pc, ufrag, candidates),
                now,
                Mode::Subscriber {
                    source: source_id,
                    audio,
                    video,
                    awaiting_keyframe: true,
                },
            ),
        );
        self.metrics.subscribers.fetch_add(1, Relaxed);
        Ok(SessionAnswer { session: id, sdp })
    }
}

//! Publishers that are not WebRTC sessions: RTMP pushers (a mini-program student on
//! stage, OBS) whose FLV stream the relay turns into RTP (`crate::flv_webrtc`). To the
//! rest of the engine an external publisher is a source like any other: WHEP viewers
//! subscribe to it by peer id, the room hears `publisher_added` with transport `rtmp`,
//! and its packets go out through the same fan-out loop. It has no peer connection, so
//! keyframe requests to it go nowhere (an RTMP pusher cannot be asked; its next GOP
//! comes on its own, and new viewers wait for it).

use super::*;

/// An RTMP publisher as the engine sees it.
#[derive(Debug)]
pub(super) struct External {
    pub(super) room: RoomId,
    pub(super) peer: PeerId,
    pub(super) role: Role,
    pub(super) created: Instant,
    pub(super) summary: OfferSummary,
    pub(super) subscribers: Vec<SessionId>,
}

/// Who an external publisher is.
#[derive(Debug, Clone)]
pub struct ExternalPublisher {
    pub room: RoomId,
    pub peer: PeerId,
    pub name: String,
    pub role: Role,
    pub audio: bool,
    pub video: bool,
}

impl Engine {
    /// Adds an external publisher and announces it; an earlier publisher of the same
    /// peer (WHIP or external) is replaced.
    pub fn open_external(
        &mut self,
        now: Instant,
        who: ExternalPublisher,
    ) -> Result<SessionId, ApiError> {
        if let Some(old) = self.publisher_of(&who.room, &who.peer) {
            self.remove(old);
        }
        self.check_capacity()?;
        let id = self.new_id();
        self.externals.insert(
            id,
            External {
                room: who.room.clone(),
                peer: who.peer.clone(),
                role: who.role,
                created: now,
                summary: OfferSummary {
                    opus: who.audio,
                    h264: who.video,
                    audio_sections: usize::from(who.audio),
                    video_sections: usize::from(who.video),
                },
                subscribers: Vec::new(),
            },
        );
        self.metrics.publishers.fetch_add(1, Relaxed);
        self.events.push_back(EngineEvent::PublisherUp {
            room: who.room,
            publisher: Publisher {
                peer: who.peer,
                name: who.name,
                role: who.role,
                audio: who.audio,
                video: who.video,
                transport: Transport::Rtmp,
            },
        });
        Ok(id)
    }

    /// One RTP packet of external publisher `id` (its own sequence numbers and
    /// timestamps; the fan-out rewrites SSRC, payload type and sequence per viewer).
    pub fn external_rtp(
        &mut self,
        now: Instant,
        id: SessionId,
        media: Media,
        packet: rtc::rtp::Packet,
    ) {
        self.last_input = Some(now);
        let Some(e) = self.externals.get_mut(&id) else {
            return;
        };
        self.metrics.rtp_in_packets.fetch_add(1, Relaxed);
        self.metrics
            .rtp_in_bytes
            .fetch_add(packet.payload.len() as u64, Relaxed);
        let kind = match media {
            Media::Audio => Kind::Audio,
            Media::Video => Kind::Video,
        };
        let keyframe = kind == Kind::Video && h264::starts_keyframe(&packet.payload);
        let subscribers = std::mem::take(&mut e.subscribers);
        self.fan_out(now, &subscribers, kind, keyframe, &packet);
        if let Some(e) = self.externals.get_mut(&id) {
            e.subscribers = subscribers;
        }
    }

    /// Ends external publisher `id`: its viewers' sessions end, the room hears it left.
    pub fn close_external(&mut self, id: SessionId) {
        self.remove(id);
    }

    /// Removes an external publisher (part of [`Engine::remove`]).
    pub(super) fn remove_external(&mut self, id: SessionId) -> bool {
        let Some(e) = self.externals.remove(&id) else {
            return false;
        };
        self.metrics.publishers.fetch_sub(1, Relaxed);
        self.events.push_back(EngineEvent::PublisherDown {
            room: e.room,
            peer: e.peer,
        });
        for sub in e.subscribers {
            self.remove(sub);
        }
        true
    }
}

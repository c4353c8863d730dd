//! The media path: RTP from a publisher to its subscribers, keyframe requests back.

use super::*;

impl Engine {
    /// Queues a copy for the FLV bridge; beyond [`TAP_QUEUE`] (the shell stopped
    /// draining) media copies are dropped and counted.
    fn tap(&mut self, tap: Tap) {
        if self.taps.len() >= TAP_QUEUE && matches!(tap, Tap::Rtp { .. } | Tap::Report { .. }) {
            self.metrics.flv_tap_dropped.fetch_add(1, Relaxed);
            return;
        }
        self.taps.push_back(tap);
    }

    /// Asks the publisher `id` for a keyframe, at most once per [`PLI_MIN_INTERVAL`].
    pub(super) fn request_keyframe(&mut self, now: Instant, id: SessionId, from_tick: bool) {
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

    pub(super) fn on_message(&mut self, now: Instant, id: SessionId, message: TaggedRTCMessage) {
        match message.message {
            RTCMessage::RtpPacket(track_id, packet) => self.forward(now, id, &track_id, packet),
            RTCMessage::RtcpPacket(_, packets) => {
                let Some(s) = self.sessions.get(&id) else {
                    return;
                };
                let source = match &s.mode {
                    Mode::Subscriber { source, .. } => *source,
                    Mode::Publisher { tracks, .. } => {
                        // Sender reports place the publisher's tracks on one clock (FLV
                        // lip sync).
                        let reports: Vec<Tap> = packets
                            .iter()
                            .filter_map(|p| p.as_any().downcast_ref::<SenderReport>())
                            .filter_map(|sr| {
                                let (kind, _, _) =
                                    tracks.values().find(|(_, _, ssrc)| *ssrc == sr.ssrc)?;
                                Some(Tap::Report {
                                    session: id,
                                    media: kind.media(),
                                    ntp: sr.ntp_time,
                                    rtp: sr.rtp_time,
                                })
                            })
                            .collect();
                        for r in reports {
                            self.tap(r);
                        }
                        return;
                    }
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

    fn forward(
        &mut self,
        now: Instant,
        from: SessionId,
        track_id: &str,
        mut packet: rtc::rtp::Packet,
    ) {
        let Some(s) = self.sessions.get_mut(&from) else {
            return;
        };
        let Mode::Publisher { tracks, .. } = &s.mode else {
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
        self.tap(Tap::Rtp {
            session: from,
            media: kind.media(),
            seq: packet.header.sequence_number,
            timestamp: packet.header.timestamp,
            marker: packet.header.marker,
            payload: packet.payload.clone(),
            at: now,
        });
        let Some(Session {
            mode: Mode::Publisher { subscribers, .. },
            ..
        }) = self.sessions.get_mut(&from)
        else {
            return;
        };
        // Extension ids were negotiated with the publisher, not the subscribers: each
        // subscriber's own interceptors add what it negotiated.
        packet.header.extension = false;
        packet.header.extensions.clear();
        // Borrowed out of the publisher for the loop (nothing in it changes the list).
        let subscribers = std::mem::take(subscribers);
        self.fan_out(now, &subscribers, kind, keyframe, &packet);
        if let Some(Mode::Publisher { subscribers: s, .. }) =
            self.sessions.get_mut(&from).map(|s| &mut s.mode)
        {
            *s = subscribers;
        }
    }

    /// Writes one packet of a source to each of its `subscribers`: video only from a
    /// keyframe on for each, with the subscriber's SSRC, payload type and sequence.
    pub(super) fn fan_out(
        &mut self,
        now: Instant,
        subscribers: &[SessionId],
        kind: Kind,
        keyframe: bool,
        packet: &rtc::rtp::Packet,
    ) {
        for &sub in subscribers {
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
                .or_else(|| peer::resolve_payload_type(&mut s.pc, out))
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
            let bytes = p.payload.len() as u64;
            if let Some(mut sender) = s.pc.rtp_sender(out.sender)
                && sender.write_rtp(now, p).is_ok()
            {
                self.metrics.rtp_out_packets.fetch_add(1, Relaxed);
                self.metrics.rtp_out_bytes.fetch_add(bytes, Relaxed);
            }
            // The packet goes through the subscriber's interceptors and SRTP when it is
            // drained: once per burst, not once per packet.
            if !s.dirty {
                s.dirty = true;
                self.dirty.push(sub);
            }
        }
    }

    /// Reports a datagram the shell could not send (the subscriber's queue was full).
    pub fn dropped_on_send(&mut self, session: SessionId) {
        self.metrics.drop_packet(DropReason::SendQueueFull);
        let _ = session;
    }
}

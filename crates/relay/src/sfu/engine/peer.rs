//! How the relay builds a peer connection: codecs, interceptors, ICE-lite credentials
//! and the candidates it announces; and negotiating an offer.

use super::*;

pub(super) fn bad_sdp(e: impl fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::BadSdp, e.to_string())
}

fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..len)
        .map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]))
        .collect()
}

/// The payload type the relay answers FlexFEC with when a publisher offers it.
const FLEXFEC_PT: u8 = 106;

/// Codecs for one peer connection. Publishers may also protect their video with
/// FlexFEC (the console does): the relay rebuilds lost packets from it and forwards only
/// media, so subscribers are not offered it.
fn media_engine(publisher: bool) -> Result<MediaEngine, rtc::shared::error::Error> {
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
    if publisher {
        me.register_codec(lectern_rtp::fec::flexfec03(FLEXFEC_PT), RtpCodecKind::Video)?;
    }
    Ok(me)
}

pub(super) fn build_pc(
    now: Instant,
    publisher: bool,
    t: &LocalTransport,
    metrics: &Metrics,
) -> Result<NewPc, ApiError> {
    let internal = |e: rtc::shared::error::Error| ApiError::new(ErrorCode::Internal, e.to_string());
    let mut me = media_engine(publisher).map_err(internal)?;
    // NACKs go out as soon as a gap shows and again a round trip later (lectern-rtp),
    // not on rtc's fixed 100 ms tick.
    let registry = configure_rtcp_reports(configure_nack(Registry::new(), &mut me))
        .with(
            Slot::NackGenerator,
            NackRequests::with_counters(NackConfig::default(), metrics.uplink_nacks.clone()),
        )
        .with(Slot::from(FEEDBACK_SLOT), FeedbackToApplication::default());
    let registry = if publisher {
        configure_twcc_receiver_only(registry, &mut me)
            .map_err(internal)?
            .with(Slot::FecDecoder, FlexFec03ReceiveBuilder::new().build())
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

pub(super) fn negotiate(
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
    Ok(answer_sdp(sdp))
}

/// The answer as sent: `rtc` lists every candidate twice, for component 1 (RTP) and 2
/// (RTCP). With `a=rtcp-mux`, which every WebRTC peer offers, component 2 never carries
/// anything; some stacks (GStreamer's webrtcbin) warn about and drop those lines, so
/// they are left out.
pub(super) fn answer_sdp(sdp: String) -> String {
    if !sdp.contains("a=rtcp-mux") {
        return sdp;
    }
    sdp.split_inclusive('\n')
        .filter(|line| {
            line.strip_prefix("a=candidate:")
                .and_then(|c| c.split(' ').nth(1))
                .is_none_or(|component| component != "2")
        })
        .collect()
}

/// Finds the payload type the subscriber negotiated for `out`'s codec.
pub(super) fn resolve_payload_type(pc: &mut RTCPeerConnection, out: &mut Outbound) -> Option<u8> {
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

/// Adds a send-only track of `kind` to a subscriber's connection, with the codec the
/// relay forwards (H.264 with an RTX pair, or Opus).
pub(super) fn add_outbound(
    pc: &mut RTCPeerConnection,
    stream_id: &str,
    kind: RtpCodecKind,
) -> Result<Outbound, ApiError> {
    let mime = if kind == RtpCodecKind::Video {
        MIME_TYPE_H264
    } else {
        MIME_TYPE_OPUS
    };
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
        stream_id.to_owned(),
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
}

#[cfg(test)]
mod tests {
    use super::answer_sdp;

    #[test]
    fn rtcp_candidates_are_dropped_only_with_rtcp_mux() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtcp-mux\r\n\
                   a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\n\
                   a=candidate:1 2 udp 2130706431 127.0.0.1 5000 typ host\r\n\
                   a=candidate:2 1 tcp 1 127.0.0.1 5000 typ host tcptype passive\r\n\
                   a=candidate:2 2 tcp 1 127.0.0.1 5000 typ host tcptype passive\r\n\
                   a=end-of-candidates\r\n";
        let out = answer_sdp(sdp.to_owned());
        assert_eq!(out.matches("a=candidate:").count(), 2);
        assert!(!out.contains("a=candidate:1 2 ") && !out.contains("a=candidate:2 2 "));
        assert!(out.ends_with("a=end-of-candidates\r\n"));
        let no_mux = sdp.replace("a=rtcp-mux\r\n", "");
        assert_eq!(answer_sdp(no_mux.clone()), no_mux);
    }
}

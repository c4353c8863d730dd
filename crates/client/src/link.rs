//! One WHIP session: build the peer connection, offer, then pump media and the socket
//! until the session ends. [`crate::Publisher`] runs sessions back to back.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use lectern_media::{AudioStats, EncodedAudio, EncodedVideo, VideoControl};
use lectern_rtp::{FecLevel, FrameFec, Protection};
use rtc::interceptor::{BandwidthEstimator, EstimatorStats, Gcc, PacketReport, Registry, Slot};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::{
    CongestionFeedback, configure_congestion_control, register_default_interceptors,
};
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_FLEX_FEC03, MIME_TYPE_H264, MIME_TYPE_OPUS, MediaEngine,
};
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters,
    RTCRtpEncodingParameters, RTCRtpFecParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpSenderId, RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use rtc::sansio::Protocol;
use rtc::statistics::StatsSelector;
use rtc::statistics::report::RTCStatsReportEntry;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use crate::feedback::{KEYFRAME_REQUEST_SLOT, KeyframeRequests, asks_for_keyframe};
use crate::pacer::FastPacer;
use crate::rtp::{AudioRtp, VideoRtp};
use crate::transport::Transport;
use crate::{ClientError, PublishConfig, whip};

/// ICE and DTLS must complete within this, or the attempt failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The relay answers consent checks and sends receiver reports and TWCC feedback many
/// times a second; this long without a datagram means it is gone (restarted, or the
/// network dropped). Much faster than waiting for ICE consent to expire (30 s).
const SILENCE_TIMEOUT: Duration = Duration::from_secs(3);
/// Audio gets this much of the estimate before video.
pub(crate) const AUDIO_BPS: u32 = 40_000;
/// The payload type of the FlexFEC repair stream protecting the video.
const FLEXFEC_PT: u8 = 97;
/// FEC from the first packet, until the relay's feedback says how lossy the path is:
/// the first keyframe is the packet run a viewer can least afford to lose.
const FEC_AT_START: Protection = Protection {
    group: 4,
    copies: 1,
};

/// The encoders' queues, owned by the publisher across sessions.
#[derive(Debug)]
pub(crate) struct Inputs {
    pub video: mpsc::Receiver<EncodedVideo>,
    pub audio: mpsc::Receiver<EncodedAudio>,
}

/// Counters for the whole class (they survive reconnects).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub video_bytes: AtomicU64,
    pub audio_bytes: AtomicU64,
    pub frames_sent: AtomicU64,
    pub plis: AtomicU64,
    /// NACKs and RTT/loss from finished sessions plus the live one.
    pub nacks_before: AtomicU64,
    pub nacks_live: AtomicU64,
    /// RTT in µs and loss in per mille from the last receiver report (`u64::MAX`: none).
    pub rtt_us: AtomicU64,
    pub loss_permille: AtomicU64,
    pub estimate_bps: AtomicU64,
    /// Loss of media packets on the wire (before FEC and NACK repair), per mille, from
    /// the congestion controller's transport-wide feedback (`u64::MAX`: none yet).
    pub wire_loss_permille: AtomicU64,
}

/// What a session needs from the publisher.
#[derive(Debug)]
pub(crate) struct Shared {
    pub video: Arc<VideoControl>,
    pub audio: Arc<AudioStats>,
    pub counters: Counters,
    /// How much FEC protects the video; follows the wire loss.
    pub fec: Arc<FecLevel>,
}

/// Runs one session until `stop` turns true (`Ok`) or the link breaks (`Err`). `live` is
/// called once when media starts to flow.
pub(crate) async fn run(
    config: &PublishConfig,
    inputs: &mut Inputs,
    shared: &Shared,
    stop: &mut watch::Receiver<bool>,
    mut live: impl FnMut(),
) -> Result<(), ClientError> {
    let relay_ip = relay_ip(&config.whip_url).await?;
    let mut transport = Transport::bind(route_to(relay_ip).await?).await?;
    let start_bps = shared.video.target() + AUDIO_BPS;
    shared.fec.set(FEC_AT_START);
    let (mut pc, estimate) = build_pc(
        &transport,
        start_bps,
        config.max_bps + AUDIO_BPS,
        &shared.fec,
    )
    .map_err(|e| ClientError::Sdp(e.to_string()))?;
    let rtc_err = |e: rtc::shared::error::Error| ClientError::Connection(e.to_string());
    let (audio, video) = add_senders(&mut pc).map_err(rtc_err)?;
    let http = whip::http();
    let session = whip::negotiate(&mut pc, &http, &config.whip_url, &config.token).await?;
    let result = pump(
        &mut pc,
        &mut transport,
        video,
        audio,
        inputs,
        shared,
        &estimate,
        stop,
        &mut live,
    )
    .await;
    let nacks = shared.counters.nacks_live.swap(0, Relaxed);
    shared.counters.nacks_before.fetch_add(nacks, Relaxed);
    if let Some(url) = &session.url {
        // On stop, and also after a failure: a relay that is still there frees the slot.
        whip::delete(&http, url, &config.token).await;
    }
    let _ = pc.close();
    result
}

/// The session's loop: socket in, media in, timers, until stop or failure.
#[allow(clippy::too_many_arguments)]
async fn pump(
    pc: &mut RTCPeerConnection,
    transport: &mut Transport,
    video: RTCRtpSenderId,
    audio: RTCRtpSenderId,
    inputs: &mut Inputs,
    shared: &Shared,
    estimate: &Estimate,
    stop: &mut watch::Receiver<bool>,
    live: &mut impl FnMut(),
) -> Result<(), ClientError> {
    let started = Instant::now();
    let mut last_rx = Instant::now();
    let mut connected = false;
    let mut senders: Option<[(RTCRtpSenderId, u32, u8); 2]> = None;
    let mut video_rtp = VideoRtp::new();
    let mut audio_rtp = AudioRtp::new();
    let mut awaiting_keyframe = true;
    let mut next_stats = Instant::now() + Duration::from_secs(1);
    let mut next_target = Instant::now();
    // A WHIP server that did not accept flexfec-03 gets no repair packets (rtc binds
    // none), so the video keeps its whole budget.
    let fec_on = negotiated_fec(pc, video);
    if !fec_on {
        shared.fec.set(Protection::OFF);
    }
    loop {
        transport.flush(pc).await;
        while let Some(event) = pc.poll_event() {
            if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) = event {
                match state {
                    RTCPeerConnectionState::Connected if !connected => {
                        connected = true;
                        senders = Some([sender_info(pc, video)?, sender_info(pc, audio)?]);
                        // Viewers need a decodable start, and this is a new stream to them.
                        shared.video.request_keyframe();
                        awaiting_keyframe = true;
                        live();
                    }
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                        return Err(ClientError::Connection(format!("connection {state}")));
                    }
                    _ => {}
                }
            }
        }
        while let Some(msg) = pc.poll_read() {
            if let RTCMessage::RtcpPacket(_, packets) = msg.message
                && asks_for_keyframe(&packets)
            {
                shared.counters.plis.fetch_add(1, Relaxed);
                shared.video.request_keyframe();
            }
        }
        let now = Instant::now();
        if !connected && now.duration_since(started) > CONNECT_TIMEOUT {
            return Err(ClientError::Connection(
                "ICE/DTLS did not complete in 10 s".into(),
            ));
        }
        if connected && now.duration_since(last_rx) > SILENCE_TIMEOUT {
            return Err(ClientError::Connection("the relay went silent".into()));
        }
        if now >= next_target {
            let bps = f64::from_bits(estimate.target.load(Relaxed));
            shared.counters.estimate_bps.store(bps as u64, Relaxed);
            let loss = estimate.wire_loss.load(Relaxed);
            shared.counters.wire_loss_permille.store(loss, Relaxed);
            if fec_on && loss != u64::MAX {
                shared.fec.set(Protection::for_loss(loss as f64 / 1000.0));
            }
            // The repair packets come out of the video's share.
            let video = f64::from((bps as u32).saturating_sub(AUDIO_BPS))
                / (1.0 + shared.fec.get().overhead());
            shared.video.set_target(video as u32);
            next_target = now + Duration::from_millis(100);
        }
        if now >= next_stats {
            read_stats(pc, now, shared);
            next_stats = now + Duration::from_secs(1);
        }
        let wake = pc
            .poll_timeout()
            .unwrap_or(now + Duration::from_millis(100))
            .min(next_target)
            .min(next_stats)
            .max(now);
        tokio::select! {
            biased;
            _ = stop.changed() => return Ok(()),
            r = transport.recv() => {
                last_rx = Instant::now();
                let _ = pc.handle_read(r?.tagged(last_rx));
            }
            Some(frame) = inputs.video.recv() => {
                // Before the connection is up (and until a keyframe after it) frames are
                // dropped: sending them later would only add delay.
                let Some([(id, ssrc, pt), _]) = senders else { continue };
                if awaiting_keyframe && !frame.keyframe {
                    continue;
                }
                awaiting_keyframe = false;
                let now = Instant::now();
                for mut packet in video_rtp.packetize(&frame) {
                    packet.header.ssrc = ssrc;
                    packet.header.payload_type = pt;
                    shared.counters.video_bytes.fetch_add(packet.payload.len() as u64, Relaxed);
                    if let Some(mut s) = pc.rtp_sender(id) {
                        s.write_rtp(now, packet).map_err(|e| ClientError::Connection(e.to_string()))?;
                    }
                }
                shared.counters.frames_sent.fetch_add(1, Relaxed);
            }
            Some(packet) = inputs.audio.recv() => {
                let Some([_, (id, ssrc, pt)]) = senders else { continue };
                let mut rtp = audio_rtp.packetize(&packet);
                rtp.header.ssrc = ssrc;
                rtp.header.payload_type = pt;
                shared.counters.audio_bytes.fetch_add(rtp.payload.len() as u64, Relaxed);
                if let Some(mut s) = pc.rtp_sender(id) {
                    s.write_rtp(Instant::now(), rtp).map_err(|e| ClientError::Connection(e.to_string()))?;
                }
            }
            _ = tokio::time::sleep_until(wake.into()) => {
                let _ = pc.handle_timeout(Instant::now());
            }
        }
    }
}

/// Whether the answer accepted FlexFEC for the video sender.
fn negotiated_fec(pc: &mut RTCPeerConnection, video: RTCRtpSenderId) -> bool {
    pc.rtp_sender(video).is_some_and(|mut sender| {
        sender
            .get_parameters()
            .rtp_parameters
            .codecs
            .iter()
            .any(|c| {
                c.rtp_codec
                    .mime_type
                    .eq_ignore_ascii_case(MIME_TYPE_FLEX_FEC03)
            })
    })
}

/// The SSRC and negotiated payload type of a sender.
fn sender_info(
    pc: &mut RTCPeerConnection,
    id: RTCRtpSenderId,
) -> Result<(RTCRtpSenderId, u32, u8), ClientError> {
    let mut sender = pc
        .rtp_sender(id)
        .ok_or_else(|| ClientError::Connection("sender vanished".into()))?;
    let ssrc = sender
        .track()
        .ssrcs()
        .next()
        .ok_or_else(|| ClientError::Connection("sender has no SSRC".into()))?;
    let pt = sender
        .get_parameters()
        .rtp_parameters
        .codecs
        .first()
        .map(|c| c.payload_type)
        .ok_or_else(|| ClientError::Sdp("the answer accepted no codec for a track".into()))?;
    Ok((id, ssrc, pt))
}

/// Reads RTT, loss and NACKs from the connection's stats.
fn read_stats(pc: &mut RTCPeerConnection, now: Instant, shared: &Shared) {
    let report = pc.get_stats(now, StatsSelector::None);
    let mut nacks = 0u64;
    let (mut rtt, mut loss) = (None::<f64>, None::<f64>);
    let mut ice_rtt = None::<f64>;
    for entry in report.iter() {
        match entry {
            // ICE consent checks time the path too; used when no receiver report
            // carries a round trip (the relay's reports may lack LSR/DLSR).
            RTCStatsReportEntry::IceCandidatePair(p)
                if p.nominated && p.current_round_trip_time > 0.0 =>
            {
                ice_rtt = Some(p.current_round_trip_time);
            }
            RTCStatsReportEntry::OutboundRtp(s) => nacks += u64::from(s.nack_count),
            RTCStatsReportEntry::RemoteInboundRtp(s) => {
                if s.round_trip_time_measurements > 0 {
                    rtt = Some(rtt.map_or(s.round_trip_time, |r| r.max(s.round_trip_time)));
                }
                loss = Some(loss.map_or(s.fraction_lost, |l| l.max(s.fraction_lost)));
            }
            _ => {}
        }
    }
    let rtt = rtt.or(ice_rtt);
    let c = &shared.counters;
    c.nacks_live.store(nacks, Relaxed);
    c.rtt_us
        .store(rtt.map_or(u64::MAX, |r| (r * 1e6) as u64), Relaxed);
    c.loss_permille
        .store(loss.map_or(u64::MAX, |l| (l * 1000.0) as u64), Relaxed);
    if let Some(l) = loss {
        // Opus FEC is sized for the loss the relay sees.
        shared
            .audio
            .expected_loss
            .store((l * 100.0) as u32, Relaxed);
    }
}

/// What the congestion controller tells the session: its target (f64 bits, bps) and
/// the loss it sees on the wire (per mille, `u64::MAX` until feedback arrives).
#[derive(Debug, Clone)]
struct Estimate {
    target: Arc<AtomicU64>,
    wire_loss: Arc<AtomicU64>,
}

/// Google Congestion Control that also leaves its target and loss where the session
/// can read them.
struct Reporting {
    inner: Gcc,
    out: Estimate,
}

impl Reporting {
    fn publish(&self) {
        self.out
            .target
            .store(self.inner.target_bitrate().to_bits(), Relaxed);
        if let Some(loss) = self.inner.stats().packet_loss {
            self.out
                .wire_loss
                .store((loss * 1000.0).round() as u64, Relaxed);
        }
    }
}

impl BandwidthEstimator for Reporting {
    fn on_reports(&mut self, now: Instant, reports: &[PacketReport]) {
        self.inner.on_reports(now, reports);
        self.publish();
    }

    fn target_bitrate(&self) -> f64 {
        self.inner.target_bitrate()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.inner.handle_timeout(now);
        self.publish();
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.inner.poll_timeout()
    }

    fn stats(&self) -> EstimatorStats {
        self.inner.stats()
    }
}

pub(crate) fn codec(kind: RtpCodecKind) -> RTCRtpCodec {
    match kind {
        RtpCodecKind::Video => RTCRtpCodec {
            mime_type: MIME_TYPE_H264.to_owned(),
            clock_rate: 90_000,
            channels: 0,
            // Constrained baseline 3.1: every browser and mini-program decodes it.
            sdp_fmtp_line: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
                .to_owned(),
            rtcp_feedback: [("nack", ""), ("nack", "pli"), ("ccm", "fir")]
                .into_iter()
                .map(|(typ, parameter)| RTCPFeedback {
                    typ: typ.to_owned(),
                    parameter: parameter.to_owned(),
                })
                .collect(),
        },
        _ => RTCRtpCodec {
            mime_type: MIME_TYPE_OPUS.to_owned(),
            clock_rate: 48_000,
            channels: 2,
            sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
            rtcp_feedback: vec![],
        },
    }
}

/// The audio and video senders, send-only: a WHIP publisher receives nothing (RFC 9725
/// §4.2), so the offer says `a=sendonly` and the relay needs no receive state for us.
fn add_senders(
    pc: &mut RTCPeerConnection,
) -> Result<(RTCRtpSenderId, RTCRtpSenderId), rtc::shared::error::Error> {
    let sendonly = || {
        Some(RTCRtpTransceiverInit {
            direction: RTCRtpTransceiverDirection::Sendonly,
            streams: vec![],
            send_encodings: vec![],
        })
    };
    let audio = pc.add_transceiver_from_track(track(RtpCodecKind::Audio), sendonly())?;
    let video = pc.add_transceiver_from_track(track(RtpCodecKind::Video), sendonly())?;
    Ok((audio.into(), video.into()))
}

fn track(kind: RtpCodecKind) -> MediaStreamTrack {
    // Video gets a FlexFEC repair stream if the answer accepts flexfec-03 (the relay
    // does); without it rtc sends none.
    let fec = (kind == RtpCodecKind::Video).then(|| RTCRtpFecParameters {
        ssrc: rand::random(),
    });
    MediaStreamTrack::new(
        "lectern".to_owned(),
        format!("lectern-{kind}"),
        format!("lectern {kind}"),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(rand::random()),
                fec,
                ..Default::default()
            },
            codec: codec(kind),
            ..Default::default()
        }],
    )
}

/// H.264 (payload type 96) and Opus (111), as the publisher and the stage subscriber
/// both negotiate them.
pub(crate) fn media_engine() -> Result<MediaEngine, rtc::shared::error::Error> {
    let mut me = MediaEngine::default();
    for (kind, pt) in [(RtpCodecKind::Video, 96), (RtpCodecKind::Audio, 111)] {
        me.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: codec(kind),
                payload_type: pt,
            },
            kind,
        )?;
    }
    Ok(me)
}

/// A peer connection with H.264 and Opus, FlexFEC for the video at `fec`'s level,
/// TWCC-driven congestion control and the candidates of `transport`. Returns what the
/// estimator publishes.
fn build_pc(
    transport: &Transport,
    start_bps: u32,
    max_bps: u32,
    fec: &Arc<FecLevel>,
) -> Result<(RTCPeerConnection, Estimate), rtc::shared::error::Error> {
    let mut me = media_engine()?;
    me.register_codec(lectern_rtp::fec::flexfec03(FLEXFEC_PT), RtpCodecKind::Video)?;
    let min = f64::from(lectern_media::MIN_VIDEO_BPS + AUDIO_BPS);
    let max = f64::from(max_bps).max(min);
    let gcc = Gcc::new(f64::from(start_bps).clamp(min, max), min, max);
    let out = Estimate {
        target: Arc::new(AtomicU64::new(gcc.target_bitrate().to_bits())),
        wire_loss: Arc::new(AtomicU64::new(u64::MAX)),
    };
    let estimator = Reporting {
        inner: gcc,
        out: out.clone(),
    };
    let registry = configure_congestion_control(
        Registry::new(),
        estimator,
        CongestionFeedback::Twcc,
        &mut me,
    )?;
    let registry = register_default_interceptors(registry, &mut me)?
        .with(
            Slot::Pacer,
            FastPacer::new(f64::from(start_bps).clamp(min, max), fec.clone()),
        )
        .with(Slot::FecEncoder, FrameFec::new(fec.clone()))
        .with(
            Slot::from(KEYFRAME_REQUEST_SLOT),
            KeyframeRequests::default(),
        );
    let mut pc = RTCPeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(me)
        .with_interceptor_registry(registry)
        .build(Instant::now())?;
    transport.add_candidates(&mut pc)?;
    Ok((pc, out))
}

/// The relay's address from the WHIP URL.
pub(crate) async fn relay_ip(url: &str) -> Result<IpAddr, ClientError> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| ClientError::Unreachable(format!("{url}: {e}")))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| ClientError::Unreachable(format!("{url}: no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = parsed.port_or_known_default().unwrap_or(80);
    if let Ok(ip) = host.parse() {
        return Ok(ip);
    }
    tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| ClientError::Unreachable(format!("{host}: {e}")))?
        .next()
        .map(|a| a.ip())
        .ok_or_else(|| ClientError::Unreachable(format!("{host}: no address")))
}

/// The local address the system routes to `ip` from (no packet is sent).
pub(crate) async fn route_to(ip: IpAddr) -> Result<IpAddr, ClientError> {
    let any: SocketAddr = if ip.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    let probe = UdpSocket::bind(any)
        .await
        .map_err(|e| ClientError::Io(e.to_string()))?;
    probe
        .connect(SocketAddr::new(ip, 9))
        .await
        .map_err(|e| ClientError::Unreachable(format!("no route to {ip}: {e}")))?;
    probe
        .local_addr()
        .map(|a| a.ip())
        .map_err(|e| ClientError::Io(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_whip_offer_sends_h264_and_opus_and_receives_nothing() {
        let transport = Transport::bind("127.0.0.1".parse().unwrap()).await.unwrap();
        let (mut pc, _estimate) =
            build_pc(&transport, 1_000_000, 2_000_000, &FecLevel::new(2)).unwrap();
        add_senders(&mut pc).unwrap();
        let offer = pc.create_offer(None).unwrap();
        pc.set_local_description(Instant::now(), offer).unwrap();
        let sdp = pc.local_description().unwrap().sdp;
        let media: Vec<&str> = sdp.split("m=").skip(1).collect();
        assert_eq!(media.len(), 2, "{sdp}");
        for m in &media {
            assert!(m.contains("a=sendonly"), "not send-only: {m}");
            assert!(
                !m.contains("a=sendrecv") && !m.contains("a=recvonly"),
                "{m}"
            );
        }
        assert!(
            media[0].starts_with("audio") && media[0].contains("opus/48000/2"),
            "{}",
            media[0]
        );
        assert!(
            media[1].starts_with("video") && media[1].contains("H264/90000"),
            "{}",
            media[1]
        );
        // The video offers a FlexFEC repair stream on its own SSRC.
        assert!(
            media[1].contains("flexfec-03/90000") && media[1].contains("a=ssrc-group:FEC-FR"),
            "{}",
            media[1]
        );
        // UDP first, and ICE-TCP for networks that block UDP.
        assert!(
            sdp.contains(" udp ") && sdp.contains("tcptype active"),
            "{sdp}"
        );
    }
}

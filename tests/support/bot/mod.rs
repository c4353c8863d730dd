//! Lightweight WebRTC peers for tests and benchmarks: a real `rtc` peer connection
//! (ICE, DTLS-SRTP) per bot, talking WHIP or WHEP to a relay over loopback.
//!
//! A publishing bot sends H.264-shaped RTP (a keyframe every two seconds and on PLI)
//! and Opus-sized audio at a chosen bitrate; every payload carries its send time in
//! microseconds since [`epoch`], so a subscribing bot in the same process measures the
//! delay the relay added. Payloads are not decodable video: the relay never decodes.

use anyhow::{Context, Result, bail};
use bytes::{Bytes, BytesMut};
use lectern_relay::sfu::{FEEDBACK_SLOT, FeedbackToApplication};
use rtc::interceptor::{Registry, Slot};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_H264, MIME_TYPE_OPUS, MediaEngine,
};
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, RTCIceCandidate, RTCIceCandidateInit,
};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters,
    RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{
    RTCRtpReceiverId, RTCRtpSenderId, RTCRtpTransceiverDirection, RTCRtpTransceiverInit,
};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

mod link;
mod seq;

pub use link::Link;
use link::{TcpLinks, transmit};
use seq::{LossCount, SeqUnwrap};

/// The shared time origin of send stamps.
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn stamp_now() -> u64 {
    Instant::now()
        .saturating_duration_since(epoch())
        .as_micros() as u64
}

/// What a bot does.
#[derive(Debug, Clone)]
pub enum Role {
    /// WHIP: send video at `video_kbps` and Opus-sized audio.
    Publish { video_kbps: u32 },
    /// WHEP: receive `peer` (or the teacher), optionally sending a PLI every interval.
    Subscribe {
        peer: Option<String>,
        pli_every: Option<Duration>,
        /// Count SRTP packets from their clear RTP headers instead of decrypting them
        /// (a benchmark's many cheap viewers; delay needs a full one).
        light: bool,
    },
}

/// Counters a bot keeps while it runs.
#[derive(Debug, Default)]
pub struct BotStats {
    pub connected: AtomicBool,
    pub video_packets: AtomicU64,
    pub audio_packets: AtomicU64,
    pub bytes: AtomicU64,
    /// Video packets that start a keyframe (IDR or SPS, in any packetization).
    pub keyframes: AtomicU64,
    /// Whether the first video packet received started a keyframe.
    pub first_video_was_keyframe: AtomicBool,
    pub plis_received: AtomicU64,
    /// Packets lost as RFC 3550 counts them: expected (the span of sequence numbers seen,
    /// per SSRC) less received. A late or retransmitted packet that fills a hole takes
    /// its loss back, so reordering is not loss.
    pub lost: AtomicU64,
    /// Delay samples in microseconds (send stamp → receipt), capped at 100 000 samples.
    pub delays_us: Mutex<Vec<u32>>,
    /// NACKs that reached a publishing bot (the relay asking for retransmissions).
    pub nacks_received: AtomicU64,
    /// Distinct video sequence numbers a full (decrypting) subscriber received,
    /// unwrapped past 65535: retransmissions fill holes here, however late they come.
    pub video_seqs: Mutex<BTreeSet<u64>>,
    /// The session URL (path) the WHIP/WHEP server answered with.
    pub location: Mutex<Option<String>>,
    /// A decoder that may ask this subscriber to send a PLI (see `decode`).
    pub keyframe_probe: Mutex<Option<Arc<crate::decode::Probe>>>,
    /// Where a full subscriber copies each video packet it receives (see `decode`).
    pub video_tap: Mutex<Option<std::sync::mpsc::SyncSender<(Instant, rtc::rtp::Packet)>>>,
}

impl BotStats {
    /// Media packets received or sent.
    pub fn packets(&self) -> u64 {
        self.video_packets.load(Relaxed) + self.audio_packets.load(Relaxed)
    }

    /// Of the video sequence numbers in `from..=to` (unwrapped), how many never arrived
    /// and how many did.
    pub fn video_holes(&self, from: u64, to: u64) -> (u64, u64) {
        let seqs = self.video_seqs.lock().unwrap_or_else(|e| e.into_inner());
        let got = seqs.range(from..=to).count() as u64;
        ((to + 1).saturating_sub(from).saturating_sub(got), got)
    }

    /// The highest unwrapped video sequence number received so far.
    pub fn highest_video_seq(&self) -> Option<u64> {
        let seqs = self.video_seqs.lock().unwrap_or_else(|e| e.into_inner());
        seqs.last().copied()
    }
}

/// How to reach the relay.
#[derive(Debug, Clone)]
pub struct Target {
    /// `http://127.0.0.1:port`
    pub base: String,
    pub room: String,
    pub token: String,
}

/// Where a bot connects: our relay, or another WHIP/WHEP server for a comparison.
#[derive(Debug, Clone)]
pub enum Endpoint {
    Lectern(Target),
    /// xiu 0.14 (`/whip?app=…&stream=…`, `/whep?app=…&stream=…`, no token). Its WHIP side
    /// reads only payload type 96 as H.264, so bots offer H.264 at 96 and nothing else
    /// for video there; its HTTP parser waits for a body only after a `Content-Length`
    /// header spelled in title case and answers one request per connection.
    Xiu {
        /// `http://127.0.0.1:port`
        base: String,
        app: String,
        stream: String,
    },
}

impl From<Target> for Endpoint {
    fn from(target: Target) -> Self {
        Self::Lectern(target)
    }
}

impl Endpoint {
    fn base(&self) -> &str {
        match self {
            Self::Lectern(t) => &t.base,
            Self::Xiu { base, .. } => base,
        }
    }

    fn url(&self, role: &Role) -> String {
        match (self, role) {
            (Self::Lectern(t), Role::Publish { .. }) => format!("{}/whip/{}", t.base, t.room),
            (Self::Lectern(t), Role::Subscribe { peer, .. }) => match peer {
                Some(p) => format!("{}/whep/{}?peer={p}", t.base, t.room),
                None => format!("{}/whep/{}", t.base, t.room),
            },
            (Self::Xiu { base, app, stream }, Role::Publish { .. }) => {
                format!("{base}/whip?app={app}&stream={stream}")
            }
            (Self::Xiu { base, app, stream }, Role::Subscribe { .. }) => {
                format!("{base}/whep?app={app}&stream={stream}")
            }
        }
    }

    fn token(&self) -> Option<&str> {
        match self {
            Self::Lectern(t) => Some(&t.token),
            Self::Xiu { .. } => None,
        }
    }

    fn is_xiu(&self) -> bool {
        matches!(self, Self::Xiu { .. })
    }
}

fn media_engine(h264_at_96: bool) -> Result<MediaEngine> {
    let mut me = MediaEngine::default();
    if !h264_at_96 {
        me.register_default_codecs()?;
        return Ok(me);
    }
    let audio = sender_track_codec(RtpCodecKind::Audio);
    me.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: audio,
            payload_type: 111,
        },
        RtpCodecKind::Audio,
    )?;
    let mut video = sender_track_codec(RtpCodecKind::Video);
    video.rtcp_feedback = [
        ("goog-remb", ""),
        ("ccm", "fir"),
        ("nack", ""),
        ("nack", "pli"),
    ]
    .into_iter()
    .map(|(typ, parameter)| RTCPFeedback {
        typ: typ.to_owned(),
        parameter: parameter.to_owned(),
    })
    .collect();
    me.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: video,
            payload_type: 96,
        },
        RtpCodecKind::Video,
    )?;
    Ok(me)
}

fn build_pc(local: SocketAddr, h264_at_96: bool, tcp: bool) -> Result<RTCPeerConnection> {
    let mut me = media_engine(h264_at_96)?;
    let registry = register_default_interceptors(Registry::new(), &mut me)?
        .with(Slot::from(FEEDBACK_SLOT), FeedbackToApplication::default());
    let mut pc = RTCPeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(me)
        .with_interceptor_registry(registry)
        .build(Instant::now())?;
    let candidate = CandidateHostConfig {
        base_config: CandidateConfig {
            network: if tcp { "tcp" } else { "udp" }.to_owned(),
            address: local.ip().to_string(),
            // An active TCP candidate has no port of its own (RFC 6544: 9, the discard port).
            port: if tcp { 9 } else { local.port() },
            component: 1,
            ..Default::default()
        },
        tcp_type: if tcp {
            rtc::ice::tcp_type::TcpType::Active
        } else {
            rtc::ice::tcp_type::TcpType::Unspecified
        },
    }
    .new_candidate_host()?;
    pc.add_local_candidate(RTCIceCandidate::from(&candidate).to_json()?)?;
    pc.add_local_candidate(RTCIceCandidateInit::default())?;
    Ok(pc)
}

struct Sending {
    video: RTCRtpSenderId,
    video_ssrc: u32,
    audio: RTCRtpSenderId,
    audio_ssrc: u32,
    seq_v: u16,
    seq_a: u16,
    frame: u64,
    want_keyframe: bool,
    video_kbps: u32,
}

fn sender_track_codec(kind: RtpCodecKind) -> RTCRtpCodec {
    match kind {
        RtpCodecKind::Video => RTCRtpCodec {
            mime_type: MIME_TYPE_H264.to_owned(),
            clock_rate: 90000,
            channels: 0,
            sdp_fmtp_line: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
                .to_owned(),
            rtcp_feedback: vec![],
        },
        _ => RTCRtpCodec {
            mime_type: MIME_TYPE_OPUS.to_owned(),
            clock_rate: 48000,
            channels: 2,
            sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
            rtcp_feedback: vec![],
        },
    }
}

fn sender_track(kind: RtpCodecKind, ssrc: u32) -> MediaStreamTrack {
    let codec = sender_track_codec(kind);
    MediaStreamTrack::new(
        "bot".to_owned(),
        format!("bot-{kind}"),
        "bot".to_owned(),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec,
            ..Default::default()
        }],
    )
}

/// Runs one bot against `endpoint` (a [`Target`] is our relay) until `stop` turns true,
/// straight over UDP.
pub async fn run(
    endpoint: impl Into<Endpoint>,
    role: Role,
    stats: Arc<BotStats>,
    stop: watch::Receiver<bool>,
) -> Result<()> {
    run_on(endpoint, role, Link::default(), stats, stop).await
}

/// Runs one bot against `endpoint` until `stop` turns true, reaching its media port as
/// `link` says.
pub async fn run_on(
    endpoint: impl Into<Endpoint>,
    role: Role,
    link: Link,
    stats: Arc<BotStats>,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let endpoint = endpoint.into();
    let _ = epoch();
    // The bot's address family follows the relay URL's.
    let bind = if endpoint.base().contains("[::1]") {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    };
    let socket = UdpSocket::bind(bind).await?;
    let local = socket.local_addr()?;
    let mut pc = build_pc(local, endpoint.is_xiu(), link.tcp)?;
    let (frames_tx, mut frames_rx) = mpsc::channel(256);
    let mut tcp = TcpLinks {
        writers: HashMap::new(),
        frames_tx,
    };
    // Behind a proxy, datagrams from it are the relay's: the one remote UDP address ICE
    // last sent to.
    let mut relay_udp: Option<SocketAddr> = None;
    let mut seq_unwrap = SeqUnwrap::default();
    let mut sending = None;
    let pli_every = match &role {
        Role::Publish { video_kbps } => {
            let audio = pc.add_track(sender_track(RtpCodecKind::Audio, rand::random()))?;
            let video = pc.add_track(sender_track(RtpCodecKind::Video, rand::random()))?;
            // The stack may assign its own SSRCs; PLIs name those.
            let ssrc_of = |pc: &mut RTCPeerConnection, id| {
                pc.rtp_sender(id)
                    .and_then(|s| s.track().ssrcs().next())
                    .context("sender has no SSRC")
            };
            let (video_ssrc, audio_ssrc) = (ssrc_of(&mut pc, video)?, ssrc_of(&mut pc, audio)?);
            sending = Some(Sending {
                video,
                video_ssrc,
                audio,
                audio_ssrc,
                seq_v: 0,
                seq_a: 0,
                frame: 0,
                want_keyframe: true,
                video_kbps: *video_kbps,
            });
            None
        }
        Role::Subscribe { pli_every, .. } => {
            for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
                pc.add_transceiver_from_kind(
                    kind,
                    Some(RTCRtpTransceiverInit {
                        direction: RTCRtpTransceiverDirection::Recvonly,
                        streams: vec![],
                        send_encodings: vec![],
                    }),
                )?;
            }
            *pli_every
        }
    };
    let url = endpoint.url(&role);
    let offer = pc.create_offer(None)?;
    pc.set_local_description(Instant::now(), offer)?;
    let sdp = pc.local_description().context("no local description")?.sdp;
    let http = if endpoint.is_xiu() {
        reqwest::Client::builder()
            .http1_title_case_headers()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(10))
            .build()?
    } else {
        reqwest::Client::new()
    };
    let mut post = http
        .post(&url)
        .header("content-type", "application/sdp")
        .body(sdp);
    if let Some(token) = endpoint.token() {
        post = post.bearer_auth(token);
    }
    let resp = post.send().await?;
    let status = resp.status();
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut body = resp.text().await?;
    if status.as_u16() != 201 {
        bail!("{url}: {status}: {body}");
    }
    *stats.location.lock().unwrap_or_else(|e| e.into_inner()) = location.clone();
    if endpoint.is_xiu() {
        // Test traffic stays on loopback, whatever candidates another server offers.
        body = loopback_candidates_only(&body);
    }
    pc.set_remote_description(Instant::now(), RTCSessionDescription::answer(body)?)?;

    let mut buf = vec![0u8; 2048];
    let mut receivers: Vec<(RTCRtpReceiverId, u32, bool)> = Vec::new();
    let mut last_seq: HashMap<u32, LossCount> = HashMap::new();
    let started = Instant::now();
    let mut next_video = Instant::now();
    let mut next_audio = Instant::now();
    let mut next_pli = pli_every.map(|d| Instant::now() + d);
    let mut connected = false;
    let light = matches!(role, Role::Subscribe { light: true, .. });
    let mut video_pts: Vec<u8> = Vec::new();
    loop {
        while let Some(out) = pc.poll_write() {
            transmit(&socket, &mut tcp, &link, &mut relay_udp, out).await;
        }
        while let Some(ev) = pc.poll_event() {
            match ev {
                RTCPeerConnectionEvent::OnConnectionStateChangeEvent(s) => {
                    if s == RTCPeerConnectionState::Connected {
                        connected = true;
                        stats.connected.store(true, Relaxed);
                        let ids: Vec<_> = pc.get_receivers().collect();
                        video_pts.clear();
                        for id in ids {
                            if let Some(mut r) = pc.rtp_receiver(id) {
                                video_pts.extend(
                                    r.get_parameters()
                                        .rtp_parameters
                                        .codecs
                                        .iter()
                                        .filter(|c| {
                                            c.rtp_codec
                                                .mime_type
                                                .eq_ignore_ascii_case(MIME_TYPE_H264)
                                        })
                                        .map(|c| c.payload_type),
                                );
                            }
                        }
                    }
                    if matches!(
                        s,
                        RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
                    ) {
                        stats.connected.store(false, Relaxed);
                        bail!("connection {s}");
                    }
                }
                RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                    let video = pc
                        .rtp_receiver(init.receiver_id)
                        .map(|r| r.track().kind() == RtpCodecKind::Video)
                        .unwrap_or(false);
                    receivers.push((init.receiver_id, init.ssrc, video));
                }
                _ => {}
            }
        }
        while let Some(msg) = pc.poll_read() {
            match msg.message {
                RTCMessage::RtpPacket(_, p) => {
                    let video = receivers
                        .iter()
                        .find(|(_, ssrc, _)| *ssrc == p.header.ssrc)
                        .is_some_and(|r| r.2);
                    if video {
                        let keyframe = lectern_relay::sfu::h264::starts_keyframe(&p.payload);
                        if stats.video_packets.fetch_add(1, Relaxed) == 0 {
                            stats.first_video_was_keyframe.store(keyframe, Relaxed);
                        }
                        if keyframe {
                            stats.keyframes.fetch_add(1, Relaxed);
                        }
                    } else {
                        stats.audio_packets.fetch_add(1, Relaxed);
                    }
                    stats.bytes.fetch_add(p.payload.len() as u64, Relaxed);
                    if video
                        && let Some(tap) =
                            &*stats.video_tap.lock().unwrap_or_else(|e| e.into_inner())
                    {
                        let _ = tap.try_send((Instant::now(), p.clone()));
                    }
                    if video {
                        let mut seqs = stats.video_seqs.lock().unwrap_or_else(|e| e.into_inner());
                        if seqs.len() < 200_000 {
                            seqs.insert(seq_unwrap.unwrap(p.header.sequence_number));
                        }
                    }
                    last_seq
                        .entry(p.header.ssrc)
                        .or_default()
                        .count(p.header.sequence_number, &stats.lost);
                    if p.payload.len() >= 13 && &p.payload[9..13] == STAMP_MARK {
                        let sent = u64::from_be_bytes(p.payload[1..9].try_into().expect("8 bytes"));
                        let delay = stamp_now().saturating_sub(sent);
                        let mut d = stats.delays_us.lock().unwrap_or_else(|e| e.into_inner());
                        if d.len() < 100_000 && delay < 10_000_000 {
                            d.push(delay as u32);
                        }
                    }
                }
                RTCMessage::RtcpPacket(_, packets) => {
                    if std::env::var_os("BOT_DEBUG").is_some() {
                        eprintln!("bot rtcp: {packets:?}");
                    }
                    let nacks = packets
                        .iter()
                        .filter(|p| p.as_any().is::<TransportLayerNack>())
                        .count();
                    stats.nacks_received.fetch_add(nacks as u64, Relaxed);
                    if packets
                        .iter()
                        .any(|p| p.as_any().is::<PictureLossIndication>())
                    {
                        stats.plis_received.fetch_add(1, Relaxed);
                        if let Some(s) = sending.as_mut() {
                            s.want_keyframe = true;
                        }
                    }
                }
                _ => {}
            }
        }
        let now = Instant::now();
        if connected {
            if let Some(s) = sending.as_mut() {
                if now >= next_video {
                    send_frame(&mut pc, s, now)?;
                    next_video += Duration::from_millis(33);
                }
                if now >= next_audio {
                    send_audio(&mut pc, s, now)?;
                    next_audio += Duration::from_millis(20);
                }
            }
            let asked = stats
                .keyframe_probe
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .is_some_and(|p| p.want_keyframe.swap(false, Relaxed));
            if asked || next_pli.is_some_and(|t| now >= t) {
                for (id, ssrc, video) in &receivers {
                    if *video && let Some(mut r) = pc.rtp_receiver(*id) {
                        let pli = PictureLossIndication {
                            sender_ssrc: 0,
                            media_ssrc: *ssrc,
                        };
                        r.write_rtcp(now, vec![Box::new(pli)])?;
                    }
                }
                next_pli = pli_every.map(|d| now + d);
            }
        } else if started.elapsed() > Duration::from_secs(20) {
            bail!("not connected after 20 s");
        }
        while let Some(out) = pc.poll_write() {
            transmit(&socket, &mut tcp, &link, &mut relay_udp, out).await;
        }
        let mut wake = pc.poll_timeout().unwrap_or(now + Duration::from_secs(1));
        if connected && sending.is_some() {
            wake = wake.min(next_video).min(next_audio);
        }
        if let Some(t) = next_pli {
            wake = wake.min(t);
        }
        tokio::select! {
            _ = stop.changed() => break,
            Some((local_addr, from, data)) = frames_rx.recv() => {
                let _ = pc.handle_read(TaggedBytesMut {
                    now: Instant::now(),
                    transport: TransportContext { local_addr, peer_addr: from, ecn: None, transport_protocol: TransportProtocol::TCP },
                    message: data,
                });
            }
            r = socket.recv_from(&mut buf) => {
                let (n, mut from) = r?;
                if link.via == Some(from) {
                    match relay_udp {
                        Some(relay) => from = relay,
                        None => continue,
                    }
                }
                if light && connected && n >= 12 && (128..192).contains(&buf[0]) {
                    if !(192..=223).contains(&buf[1]) {
                        count_clear_rtp(&buf[..n], &video_pts, &stats, &mut last_seq);
                    }
                    continue;
                }
                if std::env::var_os("BOT_DEBUG").is_some() && n > 1 && (192..=223).contains(&buf[1]) && buf[0] >= 128 {
                    eprintln!("bot wire rtcp pt={} len={n}", buf[1]);
                }
                let _ = pc.handle_read(TaggedBytesMut {
                    now: Instant::now(),
                    transport: TransportContext { local_addr: local, peer_addr: from, ecn: None, transport_protocol: TransportProtocol::UDP },
                    message: BytesMut::from(&buf[..n]),
                });
            }
            _ = tokio::time::sleep_until(wake.into()) => {
                let _ = pc.handle_timeout(Instant::now());
            }
        }
    }
    if let Some(location) = location {
        let mut delete = http.delete(format!("{}{location}", endpoint.base()));
        if let Some(token) = endpoint.token() {
            delete = delete.bearer_auth(token);
        }
        let _ = delete.send().await;
    }
    let _ = pc.close();
    Ok(())
}

/// Drops the `a=candidate` lines of an SDP whose address is not a loopback address.
fn loopback_candidates_only(sdp: &str) -> String {
    sdp.split_inclusive('\n')
        .filter(|line| {
            let Some(candidate) = line.trim_end().strip_prefix("a=candidate:") else {
                return true;
            };
            // foundation component transport priority address port typ …
            candidate
                .split(' ')
                .nth(4)
                .and_then(|a| a.parse::<std::net::IpAddr>().ok())
                .is_some_and(|ip| ip.is_loopback())
        })
        .collect()
}

/// Counts an SRTP packet from its clear header: payload type, sequence number, SSRC.
fn count_clear_rtp(
    packet: &[u8],
    video_pts: &[u8],
    stats: &BotStats,
    last_seq: &mut HashMap<u32, LossCount>,
) {
    let pt = packet[1] & 0x7f;
    let seq = u16::from_be_bytes([packet[2], packet[3]]);
    let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
    if video_pts.contains(&pt) {
        stats.video_packets.fetch_add(1, Relaxed);
    } else {
        stats.audio_packets.fetch_add(1, Relaxed);
    }
    stats.bytes.fetch_add(packet.len() as u64, Relaxed);
    last_seq.entry(ssrc).or_default().count(seq, &stats.lost);
}

/// Marks a payload whose bytes 1..9 are a bot's send stamp (real media never is).
const STAMP_MARK: &[u8; 4] = b"LECT";

fn payload(first: u8, len: usize) -> Bytes {
    let mut p = vec![0u8; len.max(13)];
    p[0] = first;
    p[1..9].copy_from_slice(&stamp_now().to_be_bytes());
    p[9..13].copy_from_slice(STAMP_MARK);
    Bytes::from(p)
}

fn send_frame(pc: &mut RTCPeerConnection, s: &mut Sending, now: Instant) -> Result<()> {
    s.frame += 1;
    let keyframe = s.want_keyframe || s.frame % 60 == 1;
    s.want_keyframe = false;
    // Bytes per frame at 30 fps; keyframes are 4× larger.
    let mut bytes = (s.video_kbps as usize * 1000 / 8 / 30) * if keyframe { 4 } else { 1 };
    let ts = (s.frame * 3000) as u32;
    let mut first = true;
    while bytes > 0 {
        let len = bytes.min(1100);
        bytes -= len;
        let nal = if first && keyframe { 0x65 } else { 0x41 };
        first = false;
        s.seq_v = s.seq_v.wrapping_add(1);
        let packet = rtc::rtp::Packet {
            header: rtc::rtp::header::Header {
                version: 2,
                marker: bytes == 0,
                payload_type: 0,
                sequence_number: s.seq_v,
                timestamp: ts,
                ssrc: s.video_ssrc,
                ..Default::default()
            },
            payload: payload(nal, len),
        };
        write(pc, s.video, now, packet)?;
    }
    Ok(())
}

fn send_audio(pc: &mut RTCPeerConnection, s: &mut Sending, now: Instant) -> Result<()> {
    s.seq_a = s.seq_a.wrapping_add(1);
    let packet = rtc::rtp::Packet {
        header: rtc::rtp::header::Header {
            version: 2,
            payload_type: 0,
            sequence_number: s.seq_a,
            timestamp: u32::from(s.seq_a) * 960,
            ssrc: s.audio_ssrc,
            ..Default::default()
        },
        payload: payload(0x78, 80),
    };
    write(pc, s.audio, now, packet)
}

fn write(
    pc: &mut RTCPeerConnection,
    sender: RTCRtpSenderId,
    now: Instant,
    mut packet: rtc::rtp::Packet,
) -> Result<()> {
    let mut sender = pc.rtp_sender(sender).context("sender vanished")?;
    let pt = sender
        .get_parameters()
        .rtp_parameters
        .codecs
        .first()
        .map(|c| c.payload_type)
        .context("no negotiated codec")?;
    packet.header.payload_type = pt;
    sender.write_rtp(now, packet)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_loopback_candidates_are_kept() {
        let sdp = "v=0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n\
                   a=candidate:2 1 udp 2130706431 10.0.0.5 40001 typ host\r\n\
                   a=candidate:3 1 udp 2130706431 ::1 40002 typ host\r\na=end-of-candidates\r\n";
        let kept = super::loopback_candidates_only(sdp);
        assert!(kept.contains("127.0.0.1 40000") && kept.contains("::1 40002"));
        assert!(!kept.contains("10.0.0.5"));
        assert!(kept.starts_with("v=0\r\n") && kept.ends_with("a=end-of-candidates\r\n"));
    }
}

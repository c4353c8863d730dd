//! One WHEP session: offer to receive audio and video, then pump the socket, the
//! depacketizer and the audio decoder until the session ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use bytes::Bytes;
use lectern_media::{H264Decoder, OpusDecoder, PlayoutInput, VideoFrame};
use lectern_rtp::NackRequests;
use lectern_rtp::{Depacketized, H264Depacketizer};
use rtc::interceptor::{Registry, Slot};
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::rtp_transceiver::{RTCRtpReceiverId, RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use rtc::sansio::Protocol;
use tokio::sync::watch;

use super::{DECODE_QUEUE, PLI_INTERVAL, WatchConfig, WatchCounters};
use crate::link::{media_engine, relay_ip, route_to};
use crate::transport::Transport;
use crate::{ClientError, whip};

/// ICE and DTLS must complete within this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The relay sends media, sender reports and consent checks many times a second.
const SILENCE_TIMEOUT: Duration = Duration::from_secs(3);
/// Lost Opus packets rebuilt or concealed per gap; a longer gap is silence (the
/// playout re-primes).
const MAX_CONCEALED: u16 = 3;

/// Where a session's media goes; outlives sessions.
#[derive(Debug)]
pub(super) struct Sink {
    pub audio: Option<PlayoutInput>,
    pub pictures: watch::Sender<Option<Arc<VideoFrame>>>,
    pub counters: Arc<WatchCounters>,
}

/// Runs one session until `stop` (`Ok`) or the link breaks (`Err`); `live` is called
/// when the connection is up.
pub(super) async fn run(
    config: &WatchConfig,
    sink: &Sink,
    stop: &mut watch::Receiver<bool>,
    mut live: impl FnMut(),
) -> Result<(), ClientError> {
    let relay = relay_ip(&config.whep_url).await?;
    let mut transport = Transport::bind(route_to(relay).await?).await?;
    let rtc_err = |e: rtc::shared::error::Error| ClientError::Connection(e.to_string());
    let mut pc = build_pc(&transport).map_err(rtc_err)?;
    let http = whip::http();
    let session = whip::negotiate(&mut pc, &http, &config.whep_url, &config.token).await?;
    let decoder = Decoding::start(sink)?;
    let result = pump(&mut pc, &mut transport, sink, &decoder, stop, &mut live).await;
    if let Some(url) = &session.url {
        whip::delete(&http, url, &config.token).await;
    }
    let _ = pc.close();
    result
}

/// The decoder thread and the flag it raises when it needs a keyframe.
struct Decoding {
    units: SyncSender<Vec<u8>>,
    want_keyframe: Arc<AtomicBool>,
}

impl Decoding {
    fn start(sink: &Sink) -> Result<Self, ClientError> {
        let mut decoder = H264Decoder::new().map_err(|e| ClientError::Connection(e.to_string()))?;
        let (units, rx) = sync_channel::<Vec<u8>>(DECODE_QUEUE);
        let want_keyframe = Arc::new(AtomicBool::new(false));
        let (want, pictures, counters) = (
            want_keyframe.clone(),
            sink.pictures.clone(),
            sink.counters.clone(),
        );
        std::thread::Builder::new()
            .name("stage decoder".into())
            .spawn(move || {
                // Ends when the session drops its sender.
                while let Ok(unit) = rx.recv() {
                    match decoder.decode(&unit) {
                        Ok(Some(picture)) => {
                            counters.pictures.fetch_add(1, Relaxed);
                            pictures.send_replace(Some(Arc::new(picture)));
                        }
                        Ok(None) => {}
                        Err(e) => {
                            tracing::debug!("stage picture: {e}");
                            counters.video_dropped.fetch_add(1, Relaxed);
                            want.store(true, Relaxed);
                        }
                    }
                }
            })
            .map_err(|e| ClientError::Io(format!("decoder thread: {e}")))?;
        Ok(Self {
            units,
            want_keyframe,
        })
    }
}

/// What one session knows about its receivers.
#[derive(Default)]
struct Tracks {
    /// (receiver, SSRC, is video)
    receivers: Vec<(RTCRtpReceiverId, u32, bool)>,
}

impl Tracks {
    fn kind(&self, ssrc: u32) -> Option<bool> {
        self.receivers.iter().find(|r| r.1 == ssrc).map(|r| r.2)
    }
}

/// Opus in sequence, with losses rebuilt or concealed.
struct AudioIn {
    decoder: OpusDecoder,
    last_seq: Option<u16>,
}

impl AudioIn {
    fn push(&mut self, seq: u16, payload: &[u8], sink: &Sink) {
        let Some(out) = &sink.audio else { return };
        let gap = self
            .last_seq
            .map_or(0, |l| seq.wrapping_sub(l).wrapping_sub(1));
        if self.last_seq.is_some() && gap >= 0x8000 {
            // A late duplicate or a reordered packet already concealed.
            return;
        }
        self.last_seq = Some(seq);
        if gap > 0 && gap <= MAX_CONCEALED {
            for i in 0..gap {
                // The last missing packet is rebuilt from this one's FEC.
                let next = (i + 1 == gap).then_some(payload);
                if let Ok(samples) = self.decoder.conceal(next) {
                    out.push(samples);
                    sink.counters.audio_concealed.fetch_add(1, Relaxed);
                }
            }
        }
        match self.decoder.decode(payload) {
            Ok(samples) => out.push(samples),
            Err(e) => tracing::debug!("stage audio: {e}"),
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn pump(
    pc: &mut RTCPeerConnection,
    transport: &mut Transport,
    sink: &Sink,
    decoding: &Decoding,
    stop: &mut watch::Receiver<bool>,
    live: &mut impl FnMut(),
) -> Result<(), ClientError> {
    let started = Instant::now();
    let mut last_rx = Instant::now();
    let mut connected = false;
    let mut tracks = Tracks::default();
    let mut depacketizer = H264Depacketizer::new();
    let mut audio = AudioIn {
        decoder: OpusDecoder::new().map_err(|e| ClientError::Connection(e.to_string()))?,
        last_seq: None,
    };
    // Until the first keyframe nothing decodes: ask for one as soon as video flows.
    let mut need_keyframe = true;
    let mut last_pli: Option<Instant> = None;
    loop {
        transport.flush(pc).await;
        while let Some(event) = pc.poll_event() {
            match event {
                RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => match state {
                    RTCPeerConnectionState::Connected if !connected => {
                        connected = true;
                        live();
                    }
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                        return Err(ClientError::Connection(format!("connection {state}")));
                    }
                    _ => {}
                },
                RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                    let video = pc
                        .rtp_receiver(init.receiver_id)
                        .is_some_and(|r| r.track().kind() == RtpCodecKind::Video);
                    tracks.receivers.push((init.receiver_id, init.ssrc, video));
                }
                _ => {}
            }
        }
        let now = Instant::now();
        while let Some(msg) = pc.poll_read() {
            let RTCMessage::RtpPacket(_, packet) = msg.message else {
                continue;
            };
            sink.counters
                .bytes
                .fetch_add(packet.payload.len() as u64, Relaxed);
            match tracks.kind(packet.header.ssrc) {
                Some(true) => depacketizer.push(
                    now,
                    packet.header.sequence_number,
                    packet.header.timestamp,
                    packet.header.marker,
                    packet.payload,
                ),
                Some(false) => {
                    sink.counters.audio_packets.fetch_add(1, Relaxed);
                    audio.push(packet.header.sequence_number, &packet.payload, sink);
                }
                None => {}
            }
        }
        depacketizer.handle_timeout(now);
        while let Some(out) = depacketizer.poll() {
            match out {
                Depacketized::Frame(unit) => {
                    sink.counters.video_frames.fetch_add(1, Relaxed);
                    if need_keyframe && !unit.keyframe {
                        sink.counters.video_dropped.fetch_add(1, Relaxed);
                        continue;
                    }
                    match decoding.units.try_send(annex_b(&unit.nalus)) {
                        Ok(()) => need_keyframe = false,
                        Err(TrySendError::Full(_)) => {
                            sink.counters.video_dropped.fetch_add(1, Relaxed);
                            need_keyframe = true;
                        }
                        Err(TrySendError::Disconnected(_)) => {
                            return Err(ClientError::Connection("the decoder stopped".into()));
                        }
                    }
                }
                Depacketized::NeedKeyframe => need_keyframe = true,
            }
        }
        if decoding.want_keyframe.swap(false, Relaxed) {
            need_keyframe = true;
        }
        if need_keyframe
            && connected
            && last_pli.is_none_or(|t| now.duration_since(t) >= PLI_INTERVAL)
        {
            for (id, ssrc, video) in &tracks.receivers {
                if *video && let Some(mut r) = pc.rtp_receiver(*id) {
                    let pli = PictureLossIndication {
                        sender_ssrc: 0,
                        media_ssrc: *ssrc,
                    };
                    if r.write_rtcp(now, vec![Box::new(pli)]).is_ok() {
                        sink.counters.keyframe_requests.fetch_add(1, Relaxed);
                        last_pli = Some(now);
                    }
                }
            }
        }
        if !connected && now.duration_since(started) > CONNECT_TIMEOUT {
            return Err(ClientError::Connection(
                "ICE/DTLS did not complete in 10 s".into(),
            ));
        }
        if connected && now.duration_since(last_rx) > SILENCE_TIMEOUT {
            return Err(ClientError::Connection("the relay went silent".into()));
        }
        let mut wake = pc
            .poll_timeout()
            .unwrap_or(now + Duration::from_millis(100))
            .min(now + Duration::from_millis(100));
        if let Some(t) = depacketizer.poll_timeout() {
            wake = wake.min(t);
        }
        let wake = wake.max(now);
        tokio::select! {
            biased;
            _ = stop.changed() => return Ok(()),
            r = transport.recv() => {
                last_rx = Instant::now();
                let _ = pc.handle_read(r?.tagged(last_rx));
            }
            _ = tokio::time::sleep_until(wake.into()) => {
                let _ = pc.handle_timeout(Instant::now());
            }
        }
    }
}

/// NAL units with 4-byte start codes, as openh264 reads them.
fn annex_b(nalus: &[Bytes]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nalus.iter().map(|n| n.len() + 4).sum());
    for n in nalus {
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(n);
    }
    out
}

/// A receive-only peer connection with H.264 and Opus and the candidates of `transport`.
fn build_pc(transport: &Transport) -> Result<RTCPeerConnection, rtc::shared::error::Error> {
    let mut me = media_engine()?;
    // NACKs for lost packets and receiver reports come from the default interceptors.
    // Repairs asked for as soon as a gap shows (lectern-rtp), not on a 100 ms tick.
    let registry = register_default_interceptors(Registry::new(), &mut me)?
        .with(Slot::NackGenerator, NackRequests::default());
    let mut pc = RTCPeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(me)
        .with_interceptor_registry(registry)
        .build(Instant::now())?;
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
    transport.add_candidates(&mut pc)?;
    Ok(pc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_whep_offer_receives_h264_and_opus_and_sends_nothing() {
        let transport = Transport::bind("127.0.0.1".parse().unwrap()).await.unwrap();
        let mut pc = build_pc(&transport).unwrap();
        let offer = pc.create_offer(None).unwrap();
        pc.set_local_description(Instant::now(), offer).unwrap();
        let sdp = pc.local_description().unwrap().sdp;
        let media: Vec<&str> = sdp.split("m=").skip(1).collect();
        assert_eq!(media.len(), 2, "{sdp}");
        assert!(media.iter().all(|m| m.contains("a=recvonly")), "{sdp}");
        assert!(media[0].starts_with("audio") && media[0].contains("opus/48000/2"));
        assert!(media[1].starts_with("video") && media[1].contains("H264/90000"));
    }

    #[test]
    fn access_units_get_start_codes() {
        let units = [
            Bytes::from_static(&[0x67, 1]),
            Bytes::from_static(&[0x65, 2, 3]),
        ];
        assert_eq!(
            annex_b(&units),
            [0, 0, 0, 1, 0x67, 1, 0, 0, 0, 1, 0x65, 2, 3]
        );
    }
}

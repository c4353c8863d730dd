//! FLV streams and the payloads we bridge: `flv::FlvDemuxer`, then the AVC/AAC header
//! and configuration parsers on every tag body.

#![no_main]

use bytes::BytesMut;
use lectern_relay::flv::{
    AudioSpecificConfig, AvcConfig, FlvDemuxer, FlvMuxer, TagKind, VideoHeader, annexb_to_avcc,
    avcc_nalus, avcc_to_annexb, parse_aac_body, parse_script,
};
use lectern_relay::flv_webrtc::{FlvToRtp, MAX_PAYLOAD};
use libfuzzer_sys::fuzz_target;

const MAX_TAG: u32 = 256 * 1024;

fuzz_target!(|data: &[u8]| {
    let mut d = FlvDemuxer::new(MAX_TAG);
    let mut tags = Vec::new();
    // Two reads, split where the input's length says, to exercise partial tags.
    let (a, b) = data.split_at(data.len() / 3);
    for piece in [a, b] {
        d.push(piece);
        loop {
            match d.poll_tag() {
                Ok(Some(t)) => tags.push(t),
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    for t in &tags {
        assert!(t.data.len() <= MAX_TAG as usize);
        match t.kind {
            TagKind::Video => {
                if let Ok((h, body)) = VideoHeader::parse(&t.data) {
                    // The header round-trips.
                    assert_eq!(VideoHeader::parse(&h.body(body)).unwrap(), (h, body));
                    if let Ok(c) = AvcConfig::parse(body) {
                        if let Ok(bytes) = c.to_bytes() {
                            assert_eq!(AvcConfig::parse(&bytes).unwrap(), c);
                        }
                    }
                    if let Ok(nalus) = avcc_nalus(body, 4) {
                        let annexb = avcc_to_annexb(body, 4).unwrap();
                        // Start-code emulation inside a NAL unit is the encoder's job to
                        // prevent; for clean units the framing round-trips.
                        if nalus.iter().all(|n| {
                            !n.is_empty()
                                && !n.windows(3).any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 1)
                                && n.last() != Some(&0)
                        }) {
                            assert_eq!(annexb_to_avcc(&annexb), body);
                        }
                    }
                }
            }
            TagKind::Audio => {
                if let Ok((_, body)) = parse_aac_body(&t.data) {
                    if let Ok(c) = AudioSpecificConfig::parse(body) {
                        if let Ok(bytes) = c.to_bytes() {
                            assert_eq!(AudioSpecificConfig::parse(&bytes).unwrap(), c);
                        }
                    }
                }
            }
            TagKind::Script => {
                let _ = parse_script(&t.data);
            }
        }
    }
    // The RTMP → WebRTC bridge takes the same tags (AVCC and slice headers, AAC decode
    // and Opus encode): it must not panic, and its RTP payloads fit a packet.
    let mut rtp = FlvToRtp::new();
    for t in &tags {
        for out in rtp.push(t) {
            assert!(out.payload.len() <= MAX_PAYLOAD);
        }
    }
    // What demuxed muxes back and demuxes to the same tags.
    let mut out = BytesMut::from(&FlvMuxer::header(true, true)[..]);
    for t in &tags {
        FlvMuxer::tag(t, &mut out).unwrap();
    }
    let mut again = FlvDemuxer::new(MAX_TAG);
    again.push(&out);
    for t in &tags {
        assert_eq!(&again.poll_tag().unwrap().unwrap(), t);
    }
    assert_eq!(again.poll_tag(), Ok(None));
    assert_eq!(again.pending(), 0);
});

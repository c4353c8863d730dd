//! The WebRTC → FLV bridge on hostile RTP: `webrtc_flv::FlvSource` fed packets whose
//! sequence numbers, timestamps, markers and payloads all come from the input, H.264
//! (RFC 6184 depacketizing) and Opus (decode, then AAC encode) mixed, with sender
//! reports and timeouts in between. It must not panic, and what it emits must be FLV
//! tags the muxer accepts with timestamps that never go back within a track.

#![no_main]

use bytes::{Bytes, BytesMut};
use lectern_relay::flv::{FlvMuxer, TagKind};
use lectern_relay::webrtc_flv::{FlvSource, Media, SourceOutput};
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    let mut src = FlvSource::new(t0);
    let mut rest = data;
    let mut now = t0;
    let mut last = [0u32; 2];
    while rest.len() >= 9 {
        let (head, tail) = rest.split_at(9);
        let len = usize::from(head[8] & 0x7f).min(tail.len());
        let (payload, tail) = tail.split_at(len);
        rest = tail;
        now += Duration::from_millis(u64::from(head[7] & 0x3f));
        let seq = u16::from_be_bytes([head[0], head[1]]);
        let ts = u32::from_be_bytes([head[2], head[3], head[4], head[5]]);
        match head[6] & 3 {
            0 => src.push_rtp(now, Media::Video, seq, ts, head[6] & 4 != 0, Bytes::copy_from_slice(payload)),
            1 => src.push_rtp(now, Media::Audio, seq, ts, true, Bytes::copy_from_slice(payload)),
            2 => src.push_report(
                if head[6] & 4 != 0 { Media::Video } else { Media::Audio },
                u64::from(ts) << 16 | u64::from(seq),
                ts.rotate_left(7),
            ),
            _ => src.handle_timeout(now + Duration::from_millis(200)),
        }
        while let Some(out) = src.poll() {
            if let SourceOutput::Tag(tag) = out {
                let i = usize::from(tag.kind == TagKind::Video);
                assert!(tag.timestamp >= last[i], "a track's timestamps went back");
                last[i] = tag.timestamp;
                FlvMuxer::tag(&tag, &mut BytesMut::new()).expect("a tag the muxer takes");
            }
        }
    }
});

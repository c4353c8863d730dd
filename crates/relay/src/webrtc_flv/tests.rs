use super::*;
use crate::flv::{AudioSpecificConfig, parse_aac_body};
use std::time::Duration;

const SPS: &[u8] = &[0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01];
const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];

fn stap(nalus: &[&[u8]]) -> Bytes {
    let mut out = vec![0x78];
    for n in nalus {
        out.extend((n.len() as u16).to_be_bytes());
        out.extend_from_slice(n);
    }
    out.into()
}

fn opus_packets(n: usize) -> Vec<Vec<u8>> {
    let mut enc =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
    (0..n)
        .map(|i| {
            let pcm: Vec<f32> = (0..960)
                .map(|j| 0.2 * (((i * 960 + j) as f32) * 0.0576).sin())
                .collect();
            enc.encode_vec_float(&pcm, 4000).unwrap()
        })
        .collect()
}

fn tags(src: &mut FlvSource) -> (Vec<Tag>, usize) {
    let mut tags = Vec::new();
    let mut requests = 0;
    while let Some(o) = src.poll() {
        match o {
            SourceOutput::Tag(t) => tags.push(t),
            SourceOutput::NeedKeyframe => requests += 1,
        }
    }
    (tags, requests)
}

fn ntp(us: u64) -> u64 {
    ((us / 1_000_000) << 32) | (((us % 1_000_000) << 32) / 1_000_000)
}

/// One second of a publisher: 30 fps video (a keyframe first) and 20 ms Opus packets,
/// both captured from publisher time 7 s, video arriving 50 ms after its audio.
fn one_second(src: &mut FlvSource, t0: Instant, with_reports: bool) -> Vec<Tag> {
    let (a0, v0) = (1_000u32, 4_000_000_000u32);
    if with_reports {
        src.push_report(Media::Audio, ntp(7_000_000), a0);
        src.push_report(Media::Video, ntp(7_000_000), v0);
    }
    let audio = opus_packets(50);
    let mut out = Vec::new();
    let mut vseq = 100u16;
    for ms in 0..1000u32 {
        let now = t0 + Duration::from_millis(u64::from(ms));
        if ms % 20 == 0 {
            let i = (ms / 20) as usize;
            src.push_rtp(
                now,
                Media::Audio,
                i as u16,
                a0 + 960 * i as u32,
                true,
                audio[i].clone().into(),
            );
        }
        // Video frame f is captured at f × 33 ms and arrives 50 ms later.
        if ms >= 50 && (ms - 50) % 33 == 0 {
            let f = (ms - 50) / 33;
            let ts = v0.wrapping_add(f * 2970);
            if f == 0 {
                src.push_rtp(now, Media::Video, vseq, ts, false, stap(&[SPS, PPS]));
                src.push_rtp(
                    now,
                    Media::Video,
                    vseq + 1,
                    ts,
                    true,
                    Bytes::from_static(&[0x65, 1, 2, 3]),
                );
                vseq += 2;
            } else {
                src.push_rtp(
                    now,
                    Media::Video,
                    vseq,
                    ts,
                    true,
                    Bytes::from_static(&[0x41, 9, 9]),
                );
                vseq += 1;
            }
        }
        out.extend(tags(src).0);
    }
    out
}

#[test]
fn a_publisher_becomes_flv_tags_sequence_headers_first() {
    let t0 = Instant::now();
    let mut src = FlvSource::new(t0);
    let tags = one_second(&mut src, t0, false);
    let video: Vec<&Tag> = tags.iter().filter(|t| t.kind == TagKind::Video).collect();
    let audio: Vec<&Tag> = tags.iter().filter(|t| t.kind == TagKind::Audio).collect();

    assert!(video[0].is_config(), "AVC sequence header first");
    let (h, record) = VideoHeader::parse(&video[0].data).unwrap();
    assert_eq!(h.packet_type, AVC_SEQUENCE_HEADER);
    let config = AvcConfig::parse(record).unwrap();
    assert_eq!((&config.sps[0][..], &config.pps[0][..]), (SPS, PPS));
    assert!(video[1].is_keyframe() && !video[1].is_config());
    // The keyframe's body is the IDR alone, AVCC-framed.
    assert_eq!(
        VideoHeader::parse(&video[1].data).unwrap().1,
        &[0, 0, 0, 4, 0x65, 1, 2, 3]
    );
    assert_eq!(video.len(), 1 + 29, "one header and every frame");
    assert!(video[2..].iter().all(|t| !t.is_keyframe()));

    assert!(audio[0].is_config(), "AAC sequence header first");
    let (_, asc) = parse_aac_body(&audio[0].data).unwrap();
    assert_eq!(
        AudioSpecificConfig::parse(asc).unwrap(),
        AudioSpecificConfig::aac_lc(48_000, 1)
    );
    // Audio from the very first packet on: 49 packets complete 45 AAC frames (the first
    // one primes the decoder), a frame every 21⅓ ms.
    assert!(audio.len() > 44, "{} audio tags", audio.len());
    for w in audio[1..].windows(2) {
        let step = w[1].timestamp - w[0].timestamp;
        assert!((21..=22).contains(&step), "{step}");
    }
    // Timestamps never go back within a track.
    assert!(video.windows(2).all(|w| w[1].timestamp >= w[0].timestamp));
}

#[test]
fn sender_reports_put_video_on_the_audio_timeline() {
    let t0 = Instant::now();
    // Without reports, video is placed by its arrival: 50 ms late.
    let mut plain = FlvSource::new(t0);
    let plain_tags = one_second(&mut plain, t0, false);
    let mut synced = FlvSource::new(t0);
    let synced_tags = one_second(&mut synced, t0, true);
    let first = |tags: &[Tag], kind, nth: usize| {
        tags.iter()
            .filter(|t| t.kind == kind && !t.is_config())
            .nth(nth)
            .unwrap()
            .timestamp as i64
    };
    // The second AAC frame starts at the first sample (the first is priming).
    let plain_offset =
        first(&plain_tags, TagKind::Video, 0) - first(&plain_tags, TagKind::Audio, 1);
    let synced_offset =
        first(&synced_tags, TagKind::Video, 0) - first(&synced_tags, TagKind::Audio, 1);
    assert!(
        (49..=51).contains(&plain_offset),
        "arrival puts video {plain_offset} ms late"
    );
    assert!(
        synced_offset.abs() <= 1,
        "reports put video {synced_offset} ms off audio"
    );
}

#[test]
fn a_stream_that_starts_without_a_keyframe_asks_for_one_at_a_bounded_rate() {
    let t0 = Instant::now();
    let mut src = FlvSource::new(t0);
    let mut requests = 0;
    for f in 0..60u32 {
        let now = t0 + Duration::from_millis(u64::from(f) * 33);
        src.push_rtp(
            now,
            Media::Video,
            f as u16,
            f * 3000,
            true,
            Bytes::from_static(&[0x41, 1]),
        );
        let (tags, r) = tags(&mut src);
        assert!(tags.is_empty(), "no picture before a keyframe");
        requests += r;
    }
    // Two seconds of frames: one request per 500 ms.
    assert!((4..=5).contains(&requests), "{requests} requests");
}

#[test]
fn a_full_stream_queue_skips_video_to_the_next_keyframe() {
    let t0 = Instant::now();
    let mut src = FlvSource::new(t0);
    src.push_rtp(t0, Media::Video, 0, 0, false, stap(&[SPS, PPS]));
    src.push_rtp(t0, Media::Video, 1, 0, true, Bytes::from_static(&[0x65, 1]));
    assert_eq!(tags(&mut src).0.len(), 2);
    src.video_dropped(t0);
    assert_eq!(tags(&mut src).1, 1, "a keyframe is asked for");
    src.push_rtp(
        t0,
        Media::Video,
        2,
        3000,
        true,
        Bytes::from_static(&[0x41, 1]),
    );
    assert!(tags(&mut src).0.is_empty(), "deltas wait for the keyframe");
    src.push_rtp(t0, Media::Video, 3, 6000, false, stap(&[SPS, PPS]));
    src.push_rtp(
        t0,
        Media::Video,
        4,
        6000,
        true,
        Bytes::from_static(&[0x65, 2]),
    );
    let (t, _) = tags(&mut src);
    assert_eq!(t.len(), 1, "same parameter sets: no new sequence header");
    assert!(t[0].is_keyframe());
}

#[test]
fn a_hole_waits_for_its_repair_before_video_skips_to_a_keyframe() {
    let t0 = Instant::now();
    let mut src = FlvSource::new(t0);
    let key = |src: &mut FlvSource, now, seq: u16, ts| {
        src.push_rtp(now, Media::Video, seq, ts, false, stap(&[SPS, PPS]));
        src.push_rtp(
            now,
            Media::Video,
            seq + 1,
            ts,
            true,
            Bytes::from_static(&[0x65, 1]),
        );
    };
    let delta = |src: &mut FlvSource, now, seq: u16, ts| {
        src.push_rtp(
            now,
            Media::Video,
            seq,
            ts,
            true,
            Bytes::from_static(&[0x41, 9]),
        );
    };
    key(&mut src, t0, 0, 0);
    // Packet 2 is lost; 3 and 4 wait behind it.
    delta(&mut src, t0 + Duration::from_millis(66), 3, 6000);
    delta(&mut src, t0 + Duration::from_millis(100), 4, 9000);
    let (_, early) = tags(&mut src);
    // A repair two round trips late (300 ms) still arrives in time: nothing is skipped
    // and no keyframe is asked for.
    src.handle_timeout(t0 + Duration::from_millis(300));
    assert_eq!(tags(&mut src).1 + early, 0, "asked for a keyframe too soon");
    delta(&mut src, t0 + Duration::from_millis(300), 2, 3000);
    let (after, requests) = tags(&mut src);
    assert_eq!(requests, 0);
    assert_eq!(
        after
            .iter()
            .filter(|t| t.kind == crate::flv::TagKind::Video && !t.is_config())
            .count(),
        3,
        "frames 2, 3, 4"
    );

    // A hole that is never repaired is given up after REPAIR_WAIT, with a request.
    delta(&mut src, t0 + Duration::from_millis(400), 6, 15000);
    assert_eq!(tags(&mut src).1, 0);
    src.handle_timeout(t0 + Duration::from_millis(400) + REPAIR_WAIT);
    assert_eq!(tags(&mut src).1, 1, "given up: a keyframe is asked for");
}

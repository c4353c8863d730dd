//! Per-frame costs of the self-check, preview and stage paths. Run through `cargo xtask bench`,
//! which copies the results into BENCHMARKS.md.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use lectern_media::diagnostics::{CameraProbe, MicProbe};
use lectern_media::synthetic::{Faults, SyntheticCamera};
use lectern_media::{
    H264Encoder, MediaClock, PreviewEncoder, VideoEncoder, VideoFrame, VideoSource,
};
use lectern_proto::VideoMode;

/// Thirty consecutive frames of the synthetic camera at `w`×`h`, with sensor-like grain.
fn frames(w: u32, h: u32) -> Vec<VideoFrame> {
    let mut cam = SyntheticCamera::open(
        VideoMode {
            width: w,
            height: h,
            fps: 120,
        },
        Faults::default(),
        MediaClock::start(),
    )
    .expect("synthetic camera opens");
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    (0..30)
        .map(|_| {
            let mut f = cam.next_frame().expect("synthetic frame");
            for p in f.y_mut().iter_mut().step_by(3) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *p = p.saturating_add((seed % 5) as u8);
            }
            f
        })
        .collect()
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    for (name, w, h, bps) in [
        ("h264_720p", 1280, 720, 1_500_000),
        ("h264_360p", 640, 360, 600_000),
    ] {
        let input = frames(w, h);
        let mut enc = H264Encoder::new(bps, 30.0).expect("openh264 starts");
        let mut i = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % input.len();
                black_box(enc.encode(&input[i]).expect("encodes"))
            })
        });
    }
    group.finish();
}

fn diagnostics(c: &mut Criterion) {
    let mut group = c.benchmark_group("diagnostics");
    let input = frames(1280, 720);
    let mut probe = CameraProbe::new(VideoMode::HD_30);
    let mut i = 0;
    group.bench_function("camera_frame_720p", |b| {
        b.iter(|| {
            i = (i + 1) % input.len();
            probe.push(black_box(&input[i]));
        })
    });
    let chunk: Vec<f32> = (0..480).map(|i| (i as f32 * 0.05).sin() * 0.2).collect();
    let mut mic = MicProbe::new();
    group.bench_function("mic_chunk_10ms", |b| b.iter(|| mic.push(black_box(&chunk))));
    group.finish();
}

fn preview(c: &mut Criterion) {
    let mut group = c.benchmark_group("preview");
    let input = frames(1280, 720);
    let mut enc = PreviewEncoder::new(640, 70);
    let mut i = 0;
    group.bench_function("jpeg_720p_to_640", |b| {
        b.iter(|| {
            i = (i + 1) % input.len();
            black_box(enc.encode(&input[i]))
        })
    });
    // The pattern alone: `next_frame` would also sleep to pace the frames.
    let mut frame = VideoFrame::grey(1280, 720);
    let mut seq = 0;
    group.bench_function("synthetic_frame_720p", |b| {
        b.iter(|| {
            seq += 1;
            lectern_media::synthetic::paint(black_box(&mut frame), seq, seq * 33_333);
        })
    });
    group.finish();
}

/// The console's side of the stage: the echo canceller on the teacher's microphone (per
/// 10 ms chunk, with a far end playing), and decoding a student's picture.
fn stage(c: &mut Criterion) {
    let mut group = c.benchmark_group("stage");
    let (reference, mut aec) = lectern_media::echo_canceller();
    let far: Vec<f32> = (0..480).map(|i| (i as f32 * 0.031).sin() * 0.3).collect();
    let mut mic: Vec<f32> = far.iter().map(|s| s * 0.05).collect();
    group.bench_function("aec3_chunk_10ms", |b| {
        b.iter(|| {
            reference.played(&far);
            aec.process(black_box(&mut mic));
        })
    });
    let mut enc = H264Encoder::new(600_000, 30.0).unwrap();
    let units: Vec<Vec<u8>> = frames(640, 360)
        .iter()
        .filter_map(|f| enc.encode(f).unwrap().map(|e| e.data))
        .collect();
    let mut i = 0;
    let mut dec = lectern_media::H264Decoder::new().unwrap();
    group.bench_function("decode_360p", |b| {
        b.iter(|| {
            // Start over on the keyframe after every pass.
            if i == units.len() {
                i = 0;
                dec = lectern_media::H264Decoder::new().unwrap();
            }
            black_box(dec.decode(&units[i]).unwrap());
            i += 1;
        })
    });
    group.finish();
}

criterion_group!(benches, encode, diagnostics, preview, stage);
criterion_main!(benches);

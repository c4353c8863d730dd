//! A viewer that really decodes: RTP from a bot's video tap → H.264 depacketization →
//! openh264 → the synthetic camera's barcode, read back from the decoded picture.
//!
//! Every decoded frame yields the camera's frame counter and capture time, so a test
//! checks the picture is the one sent and a benchmark measures glass-to-glass latency
//! on the publisher's media clock (both live in one process).

use bytes::Bytes;
use lectern_media::MediaClock;
use lectern_media::synthetic::read_barcode;
use openh264::decoder::Decoder;
use openh264::formats::YUVSource;
use rtc::rtp::codec::h264::H264Packet;
use rtc::rtp::packetizer::Depacketizer;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Packets buffered between the bot and the decoder thread; more are dropped (and the
/// decoder then sees a gap, like any receiver would).
const TAP_QUEUE: usize = 8192;

/// One decoded picture.
#[derive(Debug, Clone, Copy)]
pub struct Decoded {
    /// The camera's frame counter, read from the picture.
    pub seq: u64,
    /// Capture time on the publisher's media clock.
    pub captured: Duration,
    /// When the last packet of the frame arrived.
    pub arrived: Duration,
    /// When decoding finished.
    pub decoded: Duration,
    pub width: u32,
    pub height: u32,
}

impl Decoded {
    /// Capture to decoded picture.
    pub fn latency(&self) -> Duration {
        self.decoded.saturating_sub(self.captured)
    }
}

/// What the decoder saw.
#[derive(Debug, Default)]
pub struct Probe {
    pub frames: Mutex<Vec<Decoded>>,
    /// Access units the decoder refused or that carried no readable barcode.
    pub undecodable: Mutex<u64>,
}

impl Probe {
    /// Frames decoded so far.
    pub fn count(&self) -> usize {
        self.frames.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// A copy of the decoded frames.
    pub fn snapshot(&self) -> Vec<Decoded> {
        self.frames
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Starts a decoder thread; hand the sender to a bot's `video_tap`.
pub fn start(clock: MediaClock) -> (SyncSender<(Instant, rtc::rtp::Packet)>, Arc<Probe>) {
    let (tx, rx) = sync_channel(TAP_QUEUE);
    let probe = Arc::new(Probe::default());
    let p = probe.clone();
    std::thread::Builder::new()
        .name("probe decoder".into())
        .spawn(move || decode_loop(rx, clock, &p))
        .expect("spawn decoder");
    (tx, probe)
}

fn decode_loop(rx: Receiver<(Instant, rtc::rtp::Packet)>, clock: MediaClock, probe: &Probe) {
    let mut decoder = Decoder::new().expect("openh264 decoder");
    let mut depacketizer = H264Packet::default();
    let mut access_unit: Vec<u8> = Vec::new();
    let mut current_ts = None;
    let mut next_seq: Option<u16> = None;
    let mut broken = false;
    let mut luma = Vec::new();
    while let Ok((arrived, packet)) = rx.recv() {
        let seq = packet.header.sequence_number;
        // A gap inside a frame makes it undecodable; drop it and wait for the next one.
        if next_seq.is_some_and(|n| n != seq) {
            broken = true;
        }
        next_seq = Some(seq.wrapping_add(1));
        if current_ts != Some(packet.header.timestamp) {
            access_unit.clear();
            current_ts = Some(packet.header.timestamp);
            broken = false;
        }
        match depacketizer.depacketize(&Bytes::clone(&packet.payload)) {
            Ok(nal) => access_unit.extend_from_slice(&nal),
            Err(_) => broken = true,
        }
        if !packet.header.marker {
            continue;
        }
        if broken {
            *probe.undecodable.lock().unwrap_or_else(|e| e.into_inner()) += 1;
            continue;
        }
        let decoded = match decoder.decode(&access_unit) {
            Ok(Some(yuv)) => {
                let (w, h) = yuv.dimensions();
                let (stride, _, _) = yuv.strides();
                luma.clear();
                for row in 0..h {
                    luma.extend_from_slice(&yuv.y()[row * stride..row * stride + w]);
                }
                read_barcode(&luma, w as u32, h as u32).map(|(seq, micros)| Decoded {
                    seq,
                    captured: Duration::from_micros(micros),
                    arrived: clock.at(arrived),
                    decoded: clock.now(),
                    width: w as u32,
                    height: h as u32,
                })
            }
            _ => None,
        };
        match decoded {
            Some(d) => probe
                .frames
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(d),
            None => *probe.undecodable.lock().unwrap_or_else(|e| e.into_inner()) += 1,
        }
        access_unit.clear();
    }
}

/// The `p`th percentile (0–100) of `values`, which it sorts.
pub fn percentile(values: &mut [Duration], p: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.sort_unstable();
    let i = ((values.len() - 1) as f64 * p / 100.0).round() as usize;
    values[i]
}

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
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
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
    /// Access units the decoder refused, that carried no readable barcode, or that were
    /// given up because a packet never came.
    pub undecodable: Mutex<u64>,
    /// Set when a frame was given up: the viewer should send a PLI (see `BotStats`).
    pub want_keyframe: AtomicBool,
    stop: AtomicBool,
}

impl Probe {
    /// Frames decoded so far.
    pub fn count(&self) -> usize {
        self.frames.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Ends the decoder thread.
    pub fn stop(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn stopped(&self) -> bool {
        self.stop.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A copy of the decoded frames.
    pub fn snapshot(&self) -> Vec<Decoded> {
        self.frames
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Starts a decoder thread; hand the sender to a bot's `video_tap` (and the probe to
/// its `keyframe_probe`, so given-up frames bring a PLI).
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

/// How long a missing packet is waited for (NACK and retransmission) before its frame
/// counts as lost and a keyframe is asked for.
const REPAIR_WAIT: Duration = Duration::from_millis(400);

/// Packets in sequence order, unwrapped past 65535.
#[derive(Default)]
struct Reorder {
    last: Option<u64>,
    buffer: BTreeMap<u64, (Instant, rtc::rtp::Packet)>,
}

impl Reorder {
    fn unwrap(&mut self, seq: u16) -> u64 {
        let v = match self.last {
            None => u64::from(seq) + (1 << 32),
            Some(last) => {
                let delta = i64::from(seq.wrapping_sub(last as u16) as i16);
                (last as i64 + delta) as u64
            }
        };
        if self.last.is_none_or(|l| v > l) {
            self.last = Some(v);
        }
        v
    }
}

fn decode_loop(rx: Receiver<(Instant, rtc::rtp::Packet)>, clock: MediaClock, probe: &Probe) {
    let mut decoder = Decoder::new().expect("openh264 decoder");
    let mut reorder = Reorder::default();
    // The next sequence number to decode from; `None` until a keyframe starts.
    let mut next: Option<u64> = None;
    let mut luma = Vec::new();
    loop {
        let (arrived, packet) = match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(item) => item,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) if probe.stopped() => return,
            // Nothing new: a frame at the head may still have waited long enough.
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
        };
        let seq = reorder.unwrap(packet.header.sequence_number);
        if next.is_some_and(|n| seq < n) {
            continue; // a late duplicate of something already decoded or skipped
        }
        if next.is_none() && !lectern_relay::sfu::h264::starts_keyframe(&packet.payload) {
            continue;
        }
        next.get_or_insert(seq);
        reorder.buffer.insert(seq, (arrived, packet));
        // Decode every complete frame at the head of the buffer.
        while let Some(from) = next {
            let mut end = None;
            for (expect, (&s, (_, p))) in (from..).zip(reorder.buffer.range(from..)) {
                if s != expect {
                    break;
                }
                if p.header.marker {
                    end = Some(s);
                    break;
                }
            }
            let Some(end) = end else {
                // Incomplete: wait for repairs, unless the head has waited too long.
                let waited = reorder
                    .buffer
                    .range(from..)
                    .next()
                    .is_some_and(|(_, (t, _))| t.elapsed() > REPAIR_WAIT);
                let head_missing = !reorder.buffer.contains_key(&from);
                if waited || (head_missing && reorder.buffer.len() > 2000) {
                    // Give the frame up, ask for a keyframe, start again from one.
                    *probe.undecodable.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                    probe
                        .want_keyframe
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                    // The next keyframe *after* this frame: restarting from the frame
                    // just given up would give it up again forever.
                    let kept: Vec<u64> = reorder
                        .buffer
                        .range(from + 1..)
                        .filter(|(_, (_, p))| lectern_relay::sfu::h264::starts_keyframe(&p.payload))
                        .map(|(s, _)| *s)
                        .collect();
                    match kept.first() {
                        Some(&k) => {
                            reorder.buffer.retain(|s, _| *s >= k);
                            next = Some(k);
                        }
                        None => {
                            reorder.buffer.clear();
                            next = None;
                        }
                    }
                    continue;
                }
                break;
            };
            let mut depacketizer = H264Packet::default();
            let mut access_unit = Vec::new();
            let mut last_arrival = None;
            let mut ok = true;
            for (_, (t, p)) in reorder.buffer.range(from..=end) {
                last_arrival = Some(last_arrival.map_or(*t, |l: Instant| l.max(*t)));
                match depacketizer.depacketize(&Bytes::clone(&p.payload)) {
                    Ok(nal) => access_unit.extend_from_slice(&nal),
                    Err(_) => ok = false,
                }
            }
            reorder.buffer.retain(|s, _| *s > end);
            next = Some(end + 1);
            let decoded = ok
                .then(|| match decoder.decode(&access_unit) {
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
                            arrived: clock.at(last_arrival.unwrap_or_else(Instant::now)),
                            decoded: clock.now(),
                            width: w as u32,
                            height: h as u32,
                        })
                    }
                    _ => None,
                })
                .flatten();
            match decoded {
                Some(d) => probe
                    .frames
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(d),
                None => *probe.undecodable.lock().unwrap_or_else(|e| e.into_inner()) += 1,
            }
        }
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

use std::collections::VecDeque;
use std::f32::consts::TAU;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lectern_proto::{DeviceInfo, DeviceKind};

use super::{Faults, MICROPHONE_ID, Noise, SPEAKER_ID};
use crate::{
    AUDIO_CHUNK, AudioChunk, AudioSink, AudioSource, CaptureError, MediaClock, SAMPLE_RATE,
};

/// How loud the synthetic speaker is in the synthetic microphone: −30 dB, like a laptop
/// at moderate volume.
const COUPLING: f32 = 0.0316;
/// Acoustic delay from speaker to microphone.
const PATH_DELAY: usize = (SAMPLE_RATE as usize) * 25 / 1000;
/// At most two seconds of sound in flight between the synthetic speaker and microphone.
const PATH_CAPACITY: usize = 2 * SAMPLE_RATE as usize;

/// The air between the synthetic speaker and the synthetic microphone: what one plays
/// the other hears, later and quieter. Bounded: the oldest sound is lost when full.
#[derive(Debug, Clone, Default)]
pub struct AcousticPath(Arc<Mutex<VecDeque<f32>>>);

impl AcousticPath {
    fn emit(&self, samples: &[f32]) -> usize {
        let mut q = self.0.lock().expect("acoustic path lock");
        if q.is_empty() {
            q.extend(std::iter::repeat_n(0.0, PATH_DELAY));
        }
        q.extend(samples.iter().map(|s| s * COUPLING));
        let excess = q.len().saturating_sub(PATH_CAPACITY);
        q.drain(..excess);
        excess
    }

    fn hear(&self, out: &mut [f32]) {
        let mut q = self.0.lock().expect("acoustic path lock");
        let n = q.len().min(AUDIO_CHUNK);
        for (o, s) in out.iter_mut().zip(q.drain(..n)) {
            *o += s;
        }
    }
}

/// "Lectern test microphone": a cycle of a 440 Hz tone, a rising chirp and speech-like
/// noise bursts over a quiet room floor, paced in real time, plus whatever the
/// synthetic speaker plays.
#[derive(Debug)]
pub struct SyntheticMicrophone {
    info: DeviceInfo,
    faults: Faults,
    clock: MediaClock,
    opened: Instant,
    seq: u64,
    noise: Noise,
    /// One-pole low-pass state shaping noise into something voice-like.
    shaped: f32,
    path: AcousticPath,
}

impl SyntheticMicrophone {
    /// The device as listed.
    pub fn info() -> DeviceInfo {
        DeviceInfo {
            id: MICROPHONE_ID.to_owned(),
            name: "Lectern test microphone".to_owned(),
            kind: DeviceKind::Microphone,
            synthetic: true,
            is_default: false,
        }
    }

    /// Opens the microphone; it hears what is played into `path`.
    pub fn open(
        faults: Faults,
        clock: MediaClock,
        path: AcousticPath,
    ) -> Result<Self, CaptureError> {
        if faults.busy {
            return Err(CaptureError::Busy("Lectern test microphone".to_owned()));
        }
        Ok(Self {
            info: Self::info(),
            faults,
            clock,
            opened: Instant::now(),
            seq: 0,
            noise: Noise::new(0x5EED),
            shaped: 0.0,
            path,
        })
    }

    /// The clean programme: a 4 s cycle of tone (0.5 s), chirp (0.5 s), and 3 s of
    /// syllable-rate bursts of shaped noise with pauses.
    fn programme(&mut self, n: u64) -> f32 {
        let t = n as f32 / SAMPLE_RATE as f32;
        let cycle = t % 4.0;
        let floor = self.noise.next() * 0.000_3; // about −76 dBFS
        let signal = if cycle < 0.5 {
            0.1 * (TAU * 440.0 * t).sin()
        } else if cycle < 1.0 {
            let x = cycle - 0.5;
            0.1 * (TAU * (300.0 * x + 1500.0 * x * x)).sin()
        } else {
            // 4 syllables per second, each voiced for 60% of its slot, with a 0.5 s pause.
            let phase = (cycle - 1.0) * 4.0;
            let in_pause = cycle > 3.5;
            let env = if in_pause || phase.fract() > 0.6 {
                0.0
            } else {
                (phase.fract() / 0.6 * std::f32::consts::PI).sin()
            };
            self.shaped += 0.15 * (self.noise.next() - self.shaped);
            let voiced = 0.5 * (TAU * 140.0 * t).sin() * 0.3 + self.shaped * 2.0;
            0.25 * env * voiced
        };
        signal + floor
    }
}

impl AudioSource for SyntheticMicrophone {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn next_chunk(&mut self) -> Result<AudioChunk, CaptureError> {
        let period = Duration::from_millis(10);
        let due = self.opened + period * (self.seq as u32 + 1);
        if self.faults.unplugged && due.duration_since(self.opened) > Duration::from_millis(1500) {
            return Err(CaptureError::Disconnected(
                "Lectern test microphone".to_owned(),
            ));
        }
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let first = self.seq * AUDIO_CHUNK as u64;
        let mut samples: Vec<f32> = (0..AUDIO_CHUNK as u64)
            .map(|i| self.programme(first + i))
            .collect();
        self.path.hear(&mut samples);
        let f = self.faults;
        for s in &mut samples {
            if f.muted {
                *s = 0.0;
            } else if f.silent {
                *s *= 0.000_5;
            } else if f.clipping {
                // Input gain far too high: every loud passage hits full scale.
                *s = (*s * 12.0).clamp(-1.0, 1.0);
            } else if f.noisy {
                *s += 0.06 * self.noise.next();
            }
        }
        let chunk = AudioChunk {
            seq: self.seq,
            captured_at: self.clock.now().saturating_sub(period),
            samples,
        };
        self.seq += 1;
        Ok(chunk)
    }
}

/// "Lectern test speaker": plays into an [`AcousticPath`] that the synthetic
/// microphone hears.
#[derive(Debug)]
pub struct SyntheticSpeaker {
    info: DeviceInfo,
    path: AcousticPath,
}

impl SyntheticSpeaker {
    /// The device as listed.
    pub fn info() -> DeviceInfo {
        DeviceInfo {
            id: SPEAKER_ID.to_owned(),
            name: "Lectern test speaker".to_owned(),
            kind: DeviceKind::Speaker,
            synthetic: true,
            is_default: false,
        }
    }

    /// Opens the speaker playing into `path`.
    pub fn open(faults: Faults, path: AcousticPath) -> Result<Self, CaptureError> {
        if faults.busy {
            return Err(CaptureError::Busy("Lectern test speaker".to_owned()));
        }
        Ok(Self {
            info: Self::info(),
            path,
        })
    }
}

impl AudioSink for SyntheticSpeaker {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn play(&mut self, samples: &[f32]) -> Result<(), CaptureError> {
        match self.path.emit(samples) {
            0 => Ok(()),
            lost => Err(CaptureError::Backend(format!(
                "speaker queue full, {lost} samples dropped"
            ))),
        }
    }
}

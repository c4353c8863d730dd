//! The students on stage, mixed and played through the teacher's speakers.
//!
//! Each student's decoded audio goes into its own [`PlayoutInput`]: a small jitter
//! buffer that starts playing once [`PRIME`] is queued and holds at most [`MAX_QUEUE`].
//! A playout thread wakes every 10 ms on an absolute schedule, takes 10 ms from every
//! primed input, sums them, limits the sum softly (six students talking at once must not
//! clip) and hands it to the speaker and to the echo canceller's reference.
//!
//! Overflow and underflow policy, per input:
//! - More than [`MAX_QUEUE`] queued (a burst after a network stall, or a sender's clock
//!   running fast): the oldest samples are dropped down to [`PRIME`] and counted, so
//!   the student's delay never grows past 200 ms.
//! - Nothing queued when due (a loss the decoder could not conceal, a student who left):
//!   silence, and the input waits to re-prime instead of stuttering packet by packet.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::{AUDIO_CHUNK, AudioSink, EchoReference, SAMPLE_RATE};

/// Queued before an input starts (or restarts) playing: 60 ms of network jitter.
pub const PRIME: usize = SAMPLE_RATE as usize * 60 / 1000;
/// Most an input may queue: 200 ms.
pub const MAX_QUEUE: usize = SAMPLE_RATE as usize * 200 / 1000;
/// The mix is limited softly above this level.
const KNEE: f32 = 0.7;

#[derive(Debug, Default)]
struct Queue {
    samples: VecDeque<f32>,
    playing: bool,
}

#[derive(Debug, Default)]
struct InputShared {
    queue: Mutex<Queue>,
    /// RMS of the last 100 ms played, as `f32` bits.
    level: AtomicU32,
    /// Samples dropped because the queue was full.
    overflowed: AtomicU64,
    /// 10 ms slots played as silence because the queue ran dry while playing.
    underruns: AtomicU64,
    muted: AtomicBool,
    /// The owner dropped its input: the playout forgets the voice.
    closed: AtomicBool,
}

/// One voice in the mix. Dropping it removes the voice.
#[derive(Debug)]
pub struct PlayoutInput {
    shared: Arc<InputShared>,
}

impl PlayoutInput {
    /// Queues decoded 48 kHz mono samples (any length).
    pub fn push(&self, samples: &[f32]) {
        let mut q = self
            .shared
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        q.samples.extend(samples);
        if q.samples.len() > MAX_QUEUE {
            let excess = q.samples.len() - PRIME;
            q.samples.drain(..excess);
            self.shared.overflowed.fetch_add(excess as u64, Relaxed);
        }
    }

    /// The voice's recent level (RMS, 0–1).
    pub fn level(&self) -> f32 {
        f32::from_bits(self.shared.level.load(Relaxed))
    }

    /// Samples dropped because too much was queued.
    pub fn overflowed(&self) -> u64 {
        self.shared.overflowed.load(Relaxed)
    }

    /// 10 ms slots that found the queue dry.
    pub fn underruns(&self) -> u64 {
        self.shared.underruns.load(Relaxed)
    }

    /// A handle on the voice's level and mute switch, for whoever shows it.
    pub fn meter(&self) -> VoiceMeter {
        VoiceMeter {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for PlayoutInput {
    fn drop(&mut self) {
        self.shared.closed.store(true, Relaxed);
    }
}

/// A voice's level and mute switch, apart from the input that feeds it.
#[derive(Debug, Clone)]
pub struct VoiceMeter {
    shared: Arc<InputShared>,
}

impl VoiceMeter {
    /// The voice's recent level (RMS, 0–1).
    pub fn level(&self) -> f32 {
        f32::from_bits(self.shared.level.load(Relaxed))
    }

    /// Leaves the voice out of the mix (its level is still measured).
    pub fn set_muted(&self, muted: bool) {
        self.shared.muted.store(muted, Relaxed);
    }

    /// Whether the voice is left out of the mix.
    pub fn muted(&self) -> bool {
        self.shared.muted.load(Relaxed)
    }
}

/// Mixes the inputs to a speaker until dropped.
#[derive(Debug)]
pub struct Playout {
    inputs: Arc<Mutex<Vec<Arc<InputShared>>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Chunks the speaker refused (its own queue was full).
    pub sink_errors: Arc<AtomicU64>,
}

impl Playout {
    /// Starts playing into `sink`, telling `echo` what was played.
    pub fn start(
        mut sink: Box<dyn AudioSink>,
        echo: Option<EchoReference>,
    ) -> std::io::Result<Self> {
        let inputs: Arc<Mutex<Vec<Arc<InputShared>>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let sink_errors = Arc::new(AtomicU64::new(0));
        let thread = {
            let (inputs, stop, errors) = (inputs.clone(), stop.clone(), sink_errors.clone());
            std::thread::Builder::new()
                .name("playout".into())
                .spawn(move || {
                    let mut mixer = Mixer::default();
                    let started = Instant::now();
                    let mut tick: u32 = 0;
                    while !stop.load(Relaxed) {
                        tick += 1;
                        let due = started + Duration::from_millis(10) * tick;
                        let now = Instant::now();
                        if due > now {
                            std::thread::sleep(due - now);
                        } else if now - due > Duration::from_millis(200) {
                            // Suspended (a laptop lid): start the schedule afresh.
                            tick = (now - started).as_millis() as u32 / 10;
                        }
                        let current = {
                            let mut list = inputs.lock().unwrap_or_else(PoisonError::into_inner);
                            list.retain(|i| !i.closed.load(Relaxed));
                            list.clone()
                        };
                        let out = mixer.mix(&current);
                        if let Err(e) = sink.play(out)
                            && errors.fetch_add(1, Relaxed) == 0
                        {
                            tracing::warn!("speaker: {e}");
                        }
                        if let Some(echo) = &echo {
                            echo.played(out);
                        }
                    }
                })?
        };
        Ok(Self {
            inputs,
            stop,
            thread: Some(thread),
            sink_errors,
        })
    }

    /// A new voice in the mix.
    pub fn input(&self) -> PlayoutInput {
        let shared = Arc::new(InputShared::default());
        self.inputs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(shared.clone());
        PlayoutInput { shared }
    }
}

impl Drop for Playout {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One 10 ms mix at a time (separate from the thread so it is testable).
#[derive(Debug)]
struct Mixer {
    out: Vec<f32>,
    voice: Vec<f32>,
}

impl Default for Mixer {
    fn default() -> Self {
        Self {
            out: vec![0.0; AUDIO_CHUNK],
            voice: vec![0.0; AUDIO_CHUNK],
        }
    }
}

impl Mixer {
    fn mix(&mut self, inputs: &[Arc<InputShared>]) -> &[f32] {
        self.out.fill(0.0);
        for input in inputs {
            if input.closed.load(Relaxed) {
                continue;
            }
            self.voice.fill(0.0);
            let mut took = 0;
            {
                let mut q = input.queue.lock().unwrap_or_else(PoisonError::into_inner);
                if !q.playing && q.samples.len() >= PRIME {
                    q.playing = true;
                }
                if q.playing {
                    took = q.samples.len().min(AUDIO_CHUNK);
                    for (v, s) in self.voice.iter_mut().zip(q.samples.drain(..took)) {
                        *v = s;
                    }
                    if took < AUDIO_CHUNK {
                        q.playing = false;
                        input.underruns.fetch_add(1, Relaxed);
                    }
                }
            }
            let rms = (self.voice.iter().map(|s| s * s).sum::<f32>() / AUDIO_CHUNK as f32).sqrt();
            // A 100 ms moving level: each chunk weighs a tenth.
            let old = f32::from_bits(input.level.load(Relaxed));
            input
                .level
                .store((old * 0.9 + rms * 0.1).to_bits(), Relaxed);
            if took > 0 && !input.muted.load(Relaxed) {
                for (o, v) in self.out.iter_mut().zip(&self.voice) {
                    *o += v;
                }
            }
        }
        for s in &mut self.out {
            *s = limit(*s);
        }
        &self.out
    }
}

/// Unity below the knee, then a smooth curve that never passes ±1.
fn limit(x: f32) -> f32 {
    let a = x.abs();
    if a <= KNEE {
        return x;
    }
    let room = 1.0 - KNEE;
    (KNEE + room * ((a - KNEE) / room).tanh()).copysign(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CaptureError;
    use lectern_proto::DeviceInfo;
    use std::sync::mpsc;

    fn input(mixer_inputs: &mut Vec<Arc<InputShared>>) -> PlayoutInput {
        let shared = Arc::new(InputShared::default());
        mixer_inputs.push(shared.clone());
        PlayoutInput { shared }
    }

    #[test]
    fn voices_wait_for_the_prime_then_add_up() {
        let mut inputs = Vec::new();
        let (a, b) = (input(&mut inputs), input(&mut inputs));
        let mut m = Mixer::default();
        a.push(&vec![0.1; PRIME - 1]);
        assert!(
            m.mix(&inputs).iter().all(|&s| s == 0.0),
            "played before primed"
        );
        a.push(&[0.1]);
        b.push(&vec![0.2; PRIME]);
        let out = m.mix(&inputs);
        assert!(out.iter().all(|&s| (s - 0.3).abs() < 1e-6), "{}", out[0]);
        assert!(a.level() > 0.0);
    }

    #[test]
    fn a_dry_voice_goes_silent_and_primes_again() {
        let mut inputs = Vec::new();
        let a = input(&mut inputs);
        let mut m = Mixer::default();
        a.push(&vec![0.5; PRIME + AUDIO_CHUNK / 2]);
        for _ in 0..PRIME / AUDIO_CHUNK {
            m.mix(&inputs);
        }
        // Half a chunk left: played, then the voice waits.
        let out = m.mix(&inputs).to_vec();
        assert!(out[0] > 0.0 && out[AUDIO_CHUNK - 1] == 0.0);
        assert_eq!(a.underruns(), 1);
        a.push(&vec![0.5; AUDIO_CHUNK]);
        assert!(
            m.mix(&inputs).iter().all(|&s| s == 0.0),
            "stutters instead of re-priming"
        );
    }

    #[test]
    fn a_burst_is_cut_back_to_the_prime() {
        let mut inputs = Vec::new();
        let a = input(&mut inputs);
        a.push(&vec![0.1; MAX_QUEUE + 1]);
        assert_eq!(a.overflowed(), (MAX_QUEUE + 1 - PRIME) as u64);
        assert_eq!(a.shared.queue.lock().unwrap().samples.len(), PRIME);
    }

    #[test]
    fn six_loud_voices_do_not_clip_and_muted_or_dropped_ones_are_not_heard() {
        let mut inputs = Vec::new();
        let mut voices: Vec<_> = (0..6).map(|_| input(&mut inputs)).collect();
        for v in &voices {
            v.push(&vec![0.9; PRIME]);
        }
        let mut m = Mixer::default();
        assert!(m.mix(&inputs).iter().all(|&s| s <= 1.0 && s > 0.9));
        // Five muted, one gone: nothing is heard, though the muted are still measured.
        for v in &voices[1..] {
            v.meter().set_muted(true);
        }
        drop(voices.remove(0));
        assert!(m.mix(&inputs).iter().all(|&s| s == 0.0));
        assert!(voices.iter().all(|v| v.level() > 0.0));
    }

    struct Capture(mpsc::Sender<Vec<f32>>, DeviceInfo);

    impl AudioSink for Capture {
        fn info(&self) -> &DeviceInfo {
            &self.1
        }
        fn play(&mut self, samples: &[f32]) -> Result<(), CaptureError> {
            let _ = self.0.send(samples.to_vec());
            Ok(())
        }
    }

    #[test]
    fn the_thread_plays_10_ms_chunks_to_the_sink_and_the_echo_reference() {
        let (tx, rx) = mpsc::channel();
        let (reference, mut aec) = crate::echo_canceller();
        let playout = Playout::start(
            Box::new(Capture(tx, crate::synthetic::SyntheticSpeaker::info())),
            Some(reference),
        )
        .unwrap();
        let voice = playout.input();
        voice.push(&vec![0.25; PRIME * 2]);
        let heard = (0..20)
            .map(|_| rx.recv_timeout(Duration::from_secs(2)).unwrap())
            .find(|c| c.iter().any(|&s| s != 0.0))
            .expect("the voice reached the speaker");
        assert_eq!(heard.len(), AUDIO_CHUNK);
        drop(playout);
        // The canceller was fed what was played.
        let mut mic = vec![0.0; AUDIO_CHUNK];
        aec.process(&mut mic);
        assert!(aec.stats().cancelled_chunks.load(Relaxed) == 1);
    }
}

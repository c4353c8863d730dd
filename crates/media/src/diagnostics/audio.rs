use lectern_proto::{Finding, FindingCode, MeterLevel, MicStats};

use crate::SAMPLE_RATE;

/// Below this RMS over the whole check (at least two seconds) nothing reaches the mic.
pub const SILENCE_DBFS: f32 = -60.0;
/// Consecutive full-scale samples that make a clip.
pub const CLIP_RUN: u32 = 6;
/// A sample at or above this magnitude is full scale.
const FULL_SCALE: f32 = 0.999;
/// Below this RMS the signal is usable but quiet.
const QUIET_DBFS: f32 = -42.0;
/// A noise floor above this is a noisy room.
const NOISY_FLOOR_DBFS: f32 = -45.0;
/// Minimum audio before silence is judged.
pub const MIN_SILENCE_SECONDS: f32 = 2.0;
/// Window for the noise-floor estimate: 50 ms.
const WINDOW: usize = SAMPLE_RATE as usize / 20;

/// Level in dBFS of a linear amplitude; −120 for zero.
pub fn dbfs(linear: f32) -> f32 {
    if linear <= 1e-6 {
        -120.0
    } else {
        20.0 * linear.log10()
    }
}

/// Counts runs of at least [`CLIP_RUN`] full-scale samples, carrying a run across calls.
#[derive(Debug, Clone, Default)]
struct ClipCounter {
    run: u32,
    runs: u32,
}

impl ClipCounter {
    fn push(&mut self, s: f32) {
        if s.abs() >= FULL_SCALE {
            self.run += 1;
            if self.run == CLIP_RUN {
                self.runs += 1;
            }
        } else {
            self.run = 0;
        }
    }
}

/// The live meter: RMS and peak over a short window, for the UI's level bar.
#[derive(Debug, Clone)]
pub struct LevelMeter {
    window: usize,
    sum_sq: f64,
    peak: f32,
    n: usize,
    clip: ClipCounter,
}

impl LevelMeter {
    /// A meter reporting every `window` samples.
    pub fn new(window: usize) -> Self {
        Self {
            window: window.max(1),
            sum_sq: 0.0,
            peak: 0.0,
            n: 0,
            clip: ClipCounter::default(),
        }
    }

    /// Adds samples; returns a reading each time a window completes (the last one if several did).
    pub fn push(&mut self, samples: &[f32]) -> Option<MeterLevel> {
        let mut reading = None;
        for &s in samples {
            self.sum_sq += f64::from(s) * f64::from(s);
            self.peak = self.peak.max(s.abs());
            self.clip.push(s);
            self.n += 1;
            if self.n == self.window {
                reading = Some(MeterLevel {
                    rms_dbfs: dbfs((self.sum_sq / self.n as f64).sqrt() as f32),
                    peak_dbfs: dbfs(self.peak),
                    clipping: self.clip.runs > 0,
                });
                *self = Self::new(self.window);
            }
        }
        reading
    }
}

/// Accumulates what the microphone delivered during a check.
#[derive(Debug, Clone, Default)]
pub struct MicProbe {
    samples: u64,
    sum_sq: f64,
    peak: f32,
    nonzero: u64,
    clip: ClipCounter,
    window_sum: f64,
    window_n: usize,
    window_rms: Vec<f32>,
}

impl MicProbe {
    /// An empty probe.
    pub fn new() -> Self {
        Self::default()
    }

    /// Seconds of audio seen.
    pub fn seconds(&self) -> f32 {
        self.samples as f32 / SAMPLE_RATE as f32
    }

    /// Adds samples (mono, 48 kHz).
    pub fn push(&mut self, samples: &[f32]) {
        for &s in samples {
            let sq = f64::from(s) * f64::from(s);
            self.samples += 1;
            self.sum_sq += sq;
            self.peak = self.peak.max(s.abs());
            if s != 0.0 {
                self.nonzero += 1;
            }
            self.clip.push(s);
            self.window_sum += sq;
            self.window_n += 1;
            if self.window_n == WINDOW {
                self.window_rms
                    .push((self.window_sum / WINDOW as f64).sqrt() as f32);
                self.window_sum = 0.0;
                self.window_n = 0;
            }
        }
    }

    /// The quiet level between sounds: the 10th percentile of 50 ms window levels, dBFS.
    pub fn noise_floor_dbfs(&self) -> f32 {
        if self.window_rms.is_empty() {
            return -120.0;
        }
        let mut w = self.window_rms.clone();
        w.sort_by(f32::total_cmp);
        dbfs(w[w.len() / 10])
    }

    /// The measurements and the findings. `device` names the microphone in the report.
    pub fn finish(&self, device: &str) -> (MicStats, Vec<Finding>) {
        let rms = if self.samples == 0 {
            0.0
        } else {
            (self.sum_sq / self.samples as f64).sqrt() as f32
        };
        let stats = MicStats {
            device: device.to_owned(),
            rms_dbfs: dbfs(rms),
            peak_dbfs: dbfs(self.peak),
            noise_floor_dbfs: self.noise_floor_dbfs(),
            clipping_runs: self.clip.runs,
            seconds: self.seconds(),
        };
        let mut findings = Vec::new();
        let round = |x: f32| (x * 10.0).round() / 10.0;
        let long_enough = stats.seconds >= MIN_SILENCE_SECONDS;
        if long_enough && self.nonzero == 0 {
            findings.push(Finding::new(FindingCode::MicMuted).with("device", device));
        } else if long_enough && stats.rms_dbfs < SILENCE_DBFS {
            findings.push(Finding::new(FindingCode::MicSilent).with("rms", round(stats.rms_dbfs)));
        } else if self.samples > 0 {
            if self.clip.runs > 0 {
                findings.push(Finding::new(FindingCode::MicClipping).with("runs", self.clip.runs));
            } else if stats.rms_dbfs < QUIET_DBFS {
                findings
                    .push(Finding::new(FindingCode::MicQuiet).with("rms", round(stats.rms_dbfs)));
            }
            if stats.noise_floor_dbfs > NOISY_FLOOR_DBFS {
                findings.push(
                    Finding::new(FindingCode::MicNoisy)
                        .with("floor", round(stats.noise_floor_dbfs)),
                );
            }
            if findings.is_empty() {
                findings.push(
                    Finding::new(FindingCode::MicOk)
                        .with("rms", round(stats.rms_dbfs))
                        .with("peak", round(stats.peak_dbfs)),
                );
            }
        }
        (stats, findings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{AcousticPath, Faults, SyntheticMicrophone};
    use crate::{AudioSource, MediaClock};

    fn codes(samples: &[f32]) -> Vec<FindingCode> {
        let mut p = MicProbe::new();
        p.push(samples);
        p.finish("mic").1.into_iter().map(|f| f.code).collect()
    }

    fn tone(amplitude: f32, seconds: f32) -> Vec<f32> {
        (0..(seconds * SAMPLE_RATE as f32) as usize)
            .map(|i| {
                amplitude * (i as f32 * 440.0 * std::f32::consts::TAU / SAMPLE_RATE as f32).sin()
            })
            .collect()
    }

    /// Three seconds from the synthetic microphone with `faults`, without real-time pacing.
    fn synthetic(faults: Faults) -> Vec<f32> {
        let mut mic =
            SyntheticMicrophone::open(faults, MediaClock::start(), AcousticPath::default())
                .unwrap();
        (0..300)
            .flat_map(|_| mic.next_chunk().unwrap().samples)
            .collect()
    }

    #[test]
    fn dbfs_of_full_scale_and_silence() {
        assert!(dbfs(1.0).abs() < 1e-6);
        assert!((dbfs(0.1) + 20.0).abs() < 1e-4);
        assert_eq!(dbfs(0.0), -120.0);
    }

    #[test]
    fn a_speaking_voice_is_ok() {
        assert_eq!(
            codes(&synthetic(Faults::default())),
            vec![FindingCode::MicOk]
        );
    }

    #[test]
    fn silence_is_found_only_after_two_seconds() {
        let faint = tone(0.0005, 2.5); // about −69 dBFS RMS
        assert_eq!(codes(&faint), vec![FindingCode::MicSilent]);
        assert_eq!(codes(&faint[..48_000]), vec![FindingCode::MicQuiet]);
        assert_eq!(
            codes(&synthetic(Faults {
                silent: true,
                ..Faults::default()
            })),
            vec![FindingCode::MicSilent]
        );
    }

    #[test]
    fn digital_zeros_mean_muted() {
        assert_eq!(codes(&vec![0.0; 48_000 * 3]), vec![FindingCode::MicMuted]);
        assert_eq!(
            codes(&synthetic(Faults {
                muted: true,
                ..Faults::default()
            })),
            vec![FindingCode::MicMuted]
        );
    }

    #[test]
    fn clipping_needs_six_consecutive_full_scale_samples() {
        let mut s = synthetic(Faults::default());
        s[1000..1005].fill(1.0);
        assert_eq!(codes(&s), vec![FindingCode::MicOk], "five is not a clip");
        s[2000..2006].fill(-1.0);
        assert_eq!(codes(&s), vec![FindingCode::MicClipping]);
        assert_eq!(
            codes(&synthetic(Faults {
                clipping: true,
                ..Faults::default()
            })),
            vec![FindingCode::MicClipping]
        );
    }

    #[test]
    fn a_noisy_room_raises_the_floor() {
        let found = codes(&synthetic(Faults {
            noisy: true,
            ..Faults::default()
        }));
        assert_eq!(found, vec![FindingCode::MicNoisy]);
        let mut p = MicProbe::new();
        p.push(&synthetic(Faults::default()));
        assert!(p.noise_floor_dbfs() < -65.0, "{}", p.noise_floor_dbfs());
    }

    #[test]
    fn meter_reports_each_window() {
        let mut m = LevelMeter::new(2400);
        assert!(m.push(&tone(0.5, 0.01)).is_none());
        let r = m.push(&tone(0.5, 0.05)).unwrap();
        assert!((r.rms_dbfs - dbfs(0.5 / 2f32.sqrt())).abs() < 0.2, "{r:?}");
        assert!((r.peak_dbfs - dbfs(0.5)).abs() < 0.1);
        assert!(!r.clipping);
    }
}

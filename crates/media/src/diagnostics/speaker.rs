use std::f32::consts::{PI, TAU};

use rustfft::FftPlanner;
use rustfft::num_complex::Complex32;

use crate::SAMPLE_RATE;

/// Minimum normalized correlation for "heard", and the peak must also stand
/// [`PEAK_OVER_NOISE`] times above the correlation's RMS over all lags.
pub const HEARD_CORRELATION: f32 = 0.05;
const PEAK_OVER_NOISE: f32 = 6.0;
const PROBE_SECONDS: f32 = 0.5;
const PROBE_AMPLITUDE: f32 = 0.5;

/// The test signal: a 0.5 s linear chirp from 600 Hz to 4 kHz with 20 ms fades.
///
/// A chirp correlates sharply at one lag (time-bandwidth product ≈ 1700, about 32 dB of
/// processing gain), so it is found even under speech or room noise.
pub fn probe_signal() -> Vec<f32> {
    let n = (PROBE_SECONDS * SAMPLE_RATE as f32) as usize;
    let fade = SAMPLE_RATE as usize / 50;
    let (f0, f1) = (600.0, 4000.0);
    let k = (f1 - f0) / PROBE_SECONDS;
    (0..n)
        .map(|i| {
            let t = i as f32 / SAMPLE_RATE as f32;
            let edge = i.min(n - 1 - i);
            let env = if edge < fade {
                0.5 - 0.5 * (PI * edge as f32 / fade as f32).cos()
            } else {
                1.0
            };
            PROBE_AMPLITUDE * env * (TAU * (f0 * t + 0.5 * k * t * t)).sin()
        })
        .collect()
}

/// Where and how strongly the probe was found in a recording.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// Peak normalized cross-correlation, 0–1.
    pub correlation: f32,
    /// Peak over the RMS of the correlation across all lags.
    pub peak_over_noise: f32,
    /// Samples from the start of the recording to the probe.
    pub lag: usize,
    /// Gain from played to recorded probe, dB (0 dB: as loud as played).
    pub coupling_db: f32,
    /// Level of the recorded probe, dBFS (RMS).
    pub level_dbfs: f32,
}

impl Detection {
    /// True when the probe is clearly in the recording.
    pub fn heard(&self) -> bool {
        self.correlation >= HEARD_CORRELATION && self.peak_over_noise >= PEAK_OVER_NOISE
    }

    /// The lag in milliseconds.
    pub fn delay_ms(&self) -> f32 {
        self.lag as f32 * 1000.0 / SAMPLE_RATE as f32
    }
}

/// Finds `probe` in `recording` by FFT cross-correlation, normalized per lag by the
/// energy of the recording under the probe. `None` when the recording is shorter than
/// the probe or either is all zeros.
pub fn detect_probe(probe: &[f32], recording: &[f32]) -> Option<Detection> {
    let (n, m) = (probe.len(), recording.len());
    if n == 0 || m < n {
        return None;
    }
    let probe_energy: f32 = probe.iter().map(|x| x * x).sum();
    if probe_energy <= 0.0 {
        return None;
    }
    let size = (n + m).next_power_of_two();
    let mut planner = FftPlanner::<f32>::new();
    let (fwd, inv) = (
        planner.plan_fft_forward(size),
        planner.plan_fft_inverse(size),
    );
    let mut a: Vec<Complex32> = recording.iter().map(|&x| Complex32::new(x, 0.0)).collect();
    a.resize(size, Complex32::default());
    let mut b: Vec<Complex32> = probe.iter().map(|&x| Complex32::new(x, 0.0)).collect();
    b.resize(size, Complex32::default());
    fwd.process(&mut a);
    fwd.process(&mut b);
    for (x, y) in a.iter_mut().zip(&b) {
        *x *= y.conj();
    }
    inv.process(&mut a);
    let scale = 1.0 / size as f32;

    // Energy of recording[k..k+n] for every lag, from prefix sums.
    let mut prefix = Vec::with_capacity(m + 1);
    prefix.push(0.0f64);
    for &x in recording {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + f64::from(x) * f64::from(x));
    }
    let lags = m - n + 1;
    let (mut best, mut best_lag, mut sum_sq) = (0.0f32, 0usize, 0.0f64);
    for (k, c) in a.iter().take(lags).enumerate() {
        let window = (prefix[k + n] - prefix[k]) as f32;
        let ncc = if window > 1e-12 {
            c.re * scale / (probe_energy * window).sqrt()
        } else {
            0.0
        };
        sum_sq += f64::from(ncc) * f64::from(ncc);
        if ncc > best {
            best = ncc;
            best_lag = k;
        }
    }
    if best <= 0.0 {
        return None;
    }
    let rms = (sum_sq / lags as f64).sqrt() as f32;
    let gain = a[best_lag].re * scale / probe_energy;
    let probe_rms = (probe_energy / n as f32).sqrt();
    Some(Detection {
        correlation: best,
        peak_over_noise: if rms > 0.0 { best / rms } else { 0.0 },
        lag: best_lag,
        coupling_db: super::dbfs(gain.abs()),
        level_dbfs: super::dbfs(gain.abs() * probe_rms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::Faults;

    fn speechy_noise(n: usize, amplitude: f32) -> Vec<f32> {
        let mut noise = crate::synthetic::Noise::new(42);
        (0..n).map(|_| amplitude * noise.next()).collect()
    }

    #[test]
    fn finds_a_quiet_delayed_probe_under_louder_noise() {
        let probe = probe_signal();
        let mut rec = speechy_noise(72_000, 0.05); // about −31 dBFS of noise
        let delay = 7_200; // 150 ms
        for (i, &p) in probe.iter().enumerate() {
            rec[delay + i] += 0.0316 * p; // −30 dB coupling: the probe is quieter than the noise
        }
        let d = detect_probe(&probe, &rec).unwrap();
        assert!(d.heard(), "{d:?}");
        assert_eq!(d.lag, delay);
        assert!((d.delay_ms() - 150.0).abs() < 0.1);
        assert!((d.coupling_db + 30.0).abs() < 1.0, "{d:?}");
    }

    #[test]
    fn noise_alone_is_not_heard() {
        let probe = probe_signal();
        let d = detect_probe(&probe, &speechy_noise(72_000, 0.05)).unwrap();
        assert!(!d.heard(), "{d:?}");
    }

    #[test]
    fn silence_and_short_recordings_give_nothing() {
        let probe = probe_signal();
        assert!(detect_probe(&probe, &vec![0.0; 72_000]).is_none());
        assert!(detect_probe(&probe, &probe[..100]).is_none());
        let _ = Faults::default();
    }

    #[test]
    fn loud_coupling_reads_near_zero_db() {
        let probe = probe_signal();
        let mut rec = vec![0.0; 60_000];
        rec[1000..1000 + probe.len()].copy_from_slice(&probe);
        let d = detect_probe(&probe, &rec).unwrap();
        assert!(
            d.heard() && d.coupling_db.abs() < 0.5 && d.correlation > 0.99,
            "{d:?}"
        );
    }
}

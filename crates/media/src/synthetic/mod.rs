//! Lectern's synthetic test devices: a camera, a microphone and a speaker that behave
//! like hardware (paced in real time, behind the same traits) and can misbehave on
//! purpose so every diagnostic can be seen firing.
//!
//! `LECTERN_SYNTHETIC_FAULTS=black,frozen,dark,backlit,low-fps,silent,muted,clipping,noisy,busy,unplugged`
//! picks the faults; see [`Faults::parse`].

mod audio;
mod camera;
mod pattern;

pub use audio::{AcousticPath, SyntheticMicrophone, SyntheticSpeaker};
pub use camera::SyntheticCamera;
pub use pattern::paint;
pub use pattern::{BARCODE_BITS, read_barcode};

/// Device ids of the synthetic devices.
pub const CAMERA_ID: &str = "synthetic:camera";
/// Device id of the synthetic microphone.
pub const MICROPHONE_ID: &str = "synthetic:microphone";
/// Device id of the synthetic speaker.
pub const SPEAKER_ID: &str = "synthetic:speaker";

/// Faults the synthetic devices can show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Camera: all frames black.
    pub black: bool,
    /// Camera: the same picture over and over.
    pub frozen: bool,
    /// Camera: a very dim picture.
    pub dark: bool,
    /// Camera: bright surround, dark centre.
    pub backlit: bool,
    /// Camera: 8 fps whatever was asked.
    pub low_fps: bool,
    /// Microphone: a signal far below −60 dBFS.
    pub silent: bool,
    /// Microphone: exact digital zeros.
    pub muted: bool,
    /// Microphone: a tone driven past full scale.
    pub clipping: bool,
    /// Microphone: loud broadband background noise.
    pub noisy: bool,
    /// All devices: opening fails as if another application held them.
    pub busy: bool,
    /// Camera and microphone: they stop delivering after 1.5 s.
    pub unplugged: bool,
}

impl Faults {
    /// Parses a comma-separated list; unknown names are returned as errors so a typo
    /// in `LECTERN_SYNTHETIC_FAULTS` is reported instead of silently ignored.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut f = Self::default();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let flag = match name.to_ascii_lowercase().replace('_', "-").as_str() {
                "black" => &mut f.black,
                "frozen" => &mut f.frozen,
                "dark" => &mut f.dark,
                "backlit" => &mut f.backlit,
                "low-fps" => &mut f.low_fps,
                "silent" => &mut f.silent,
                "muted" => &mut f.muted,
                "clipping" => &mut f.clipping,
                "noisy" => &mut f.noisy,
                "busy" => &mut f.busy,
                "unplugged" => &mut f.unplugged,
                _ => return Err(name.to_owned()),
            };
            *flag = true;
        }
        Ok(f)
    }

    /// The faults named in `LECTERN_SYNTHETIC_FAULTS`, ignoring (with a log line) names it does not know.
    pub fn from_env() -> Self {
        let raw = std::env::var("LECTERN_SYNTHETIC_FAULTS").unwrap_or_default();
        match Self::parse(&raw) {
            Ok(f) => f,
            Err(bad) => {
                tracing::warn!(
                    "LECTERN_SYNTHETIC_FAULTS: unknown fault {bad:?}; ignoring the list"
                );
                Self::default()
            }
        }
    }
}

/// Small deterministic PRNG (xorshift64*) for noise; seeded so tests repeat.
#[derive(Debug, Clone)]
pub(crate) struct Noise(u64);

impl Noise {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// Uniform in −1.0..1.0.
    pub(crate) fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        ((v >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_and_reject_typos() {
        let f = Faults::parse("black, low-fps,clipping").unwrap();
        assert!(f.black && f.low_fps && f.clipping && !f.frozen);
        assert_eq!(Faults::parse("").unwrap(), Faults::default());
        assert_eq!(Faults::parse("blak"), Err("blak".to_owned()));
        assert!(Faults::parse("LOW_FPS").unwrap().low_fps);
    }

    #[test]
    fn noise_is_bounded_and_centred() {
        let mut n = Noise::new(7);
        let xs: Vec<f32> = (0..10_000).map(|_| n.next()).collect();
        assert!(xs.iter().all(|x| (-1.0..1.0).contains(x)));
        let mean = xs.iter().sum::<f32>() / xs.len() as f32;
        assert!(mean.abs() < 0.05, "{mean}");
    }
}

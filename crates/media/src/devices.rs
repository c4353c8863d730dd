use lectern_proto::{DeviceInfo, DeviceList, VideoMode};

use crate::synthetic::{
    self, AcousticPath, Faults, SyntheticCamera, SyntheticMicrophone, SyntheticSpeaker,
};
use crate::{AudioSink, AudioSource, CaptureError, MediaClock, VideoSource};

/// When Lectern's synthetic devices are offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntheticMode {
    /// Only for a kind with no real device (the default).
    WhenMissing,
    /// Always, beside the real devices (`LECTERN_SYNTHETIC_DEVICES=1`).
    Always,
    /// Never (tests of the "no device" findings).
    Never,
}

impl SyntheticMode {
    /// `Always` when `LECTERN_SYNTHETIC_DEVICES` is `1`/`true`, `Never` when `0`/`false`,
    /// else `WhenMissing`.
    pub fn from_env() -> Self {
        match std::env::var("LECTERN_SYNTHETIC_DEVICES")
            .as_deref()
            .map(str::trim)
        {
            Ok("1" | "true" | "yes") => Self::Always,
            Ok("0" | "false" | "no") => Self::Never,
            _ => Self::WhenMissing,
        }
    }
}

/// The device catalogue: enumerates real and synthetic devices and opens them by id.
///
/// Every device returned by [`Devices::list`] can be passed back to an `open_*` call;
/// synthetic devices share one [`AcousticPath`], so the synthetic speaker is heard by
/// the synthetic microphone as a real one would be.
#[derive(Debug, Clone)]
pub struct Devices {
    mode: SyntheticMode,
    faults: Faults,
    hardware: bool,
    path: AcousticPath,
}

impl Devices {
    /// A catalogue configured from the environment (`LECTERN_SYNTHETIC_DEVICES`,
    /// `LECTERN_SYNTHETIC_FAULTS`).
    pub fn from_env() -> Self {
        Self::new(SyntheticMode::from_env(), Faults::from_env())
    }

    /// A catalogue with real devices (when built with them) and synthetic ones per `mode`.
    pub fn new(mode: SyntheticMode, faults: Faults) -> Self {
        Self {
            mode,
            faults,
            hardware: cfg!(feature = "hardware"),
            path: AcousticPath::default(),
        }
    }

    /// A catalogue of synthetic devices only, whatever hardware exists (tests, benchmarks).
    pub fn synthetic_only(faults: Faults) -> Self {
        Self {
            mode: SyntheticMode::Always,
            faults,
            hardware: false,
            path: AcousticPath::default(),
        }
    }

    /// A catalogue with no devices at all (tests of the missing-device findings).
    pub fn empty() -> Self {
        Self {
            mode: SyntheticMode::Never,
            faults: Faults::default(),
            hardware: false,
            path: AcousticPath::default(),
        }
    }

    /// The faults the synthetic devices show.
    pub fn faults(&self) -> Faults {
        self.faults
    }

    /// Every usable device right now. Enumeration failures count as "no devices".
    pub fn list(&self) -> DeviceList {
        let (mut cameras, mut microphones, mut speakers) = self.list_hardware();
        let add = |list: &mut Vec<DeviceInfo>, info: DeviceInfo| {
            let wanted = match self.mode {
                SyntheticMode::Always => true,
                SyntheticMode::WhenMissing => list.is_empty(),
                SyntheticMode::Never => false,
            };
            if wanted {
                let is_default = list.is_empty();
                list.push(DeviceInfo { is_default, ..info });
            }
        };
        add(&mut cameras, SyntheticCamera::info());
        add(&mut microphones, SyntheticMicrophone::info());
        add(&mut speakers, SyntheticSpeaker::info());
        DeviceList {
            cameras,
            microphones,
            speakers,
        }
    }

    #[cfg(feature = "hardware")]
    fn list_hardware(&self) -> (Vec<DeviceInfo>, Vec<DeviceInfo>, Vec<DeviceInfo>) {
        if !self.hardware {
            return Default::default();
        }
        (
            crate::hardware::list_cameras(),
            crate::hardware::list_microphones(),
            crate::hardware::list_speakers(),
        )
    }

    #[cfg(not(feature = "hardware"))]
    fn list_hardware(&self) -> (Vec<DeviceInfo>, Vec<DeviceInfo>, Vec<DeviceInfo>) {
        Default::default()
    }

    /// Resolves a selection to a listed device: the one with this id, or with `None`
    /// the default (else the first) device of the list.
    pub fn pick<'a>(
        list: &'a [DeviceInfo],
        id: Option<&str>,
    ) -> Result<&'a DeviceInfo, CaptureError> {
        match id {
            Some(id) => list
                .iter()
                .find(|d| d.id == id)
                .ok_or_else(|| CaptureError::NotFound(id.to_owned())),
            None => list
                .iter()
                .find(|d| d.is_default)
                .or_else(|| list.first())
                .ok_or_else(|| CaptureError::NotFound("none".to_owned())),
        }
    }

    /// Opens a camera at (or near) `mode`.
    pub fn open_camera(
        &self,
        info: &DeviceInfo,
        mode: VideoMode,
        clock: MediaClock,
    ) -> Result<Box<dyn VideoSource>, CaptureError> {
        if info.id == synthetic::CAMERA_ID {
            return Ok(Box::new(SyntheticCamera::open(mode, self.faults, clock)?));
        }
        #[cfg(feature = "hardware")]
        if self.hardware {
            return Ok(Box::new(crate::hardware::NokhwaCamera::open(
                info.clone(),
                mode,
                clock,
            )?));
        }
        Err(CaptureError::NotFound(info.id.clone()))
    }

    /// Opens a microphone.
    pub fn open_microphone(
        &self,
        info: &DeviceInfo,
        clock: MediaClock,
    ) -> Result<Box<dyn AudioSource>, CaptureError> {
        if info.id == synthetic::MICROPHONE_ID {
            return Ok(Box::new(SyntheticMicrophone::open(
                self.faults,
                clock,
                self.path.clone(),
            )?));
        }
        #[cfg(feature = "hardware")]
        if self.hardware {
            return Ok(Box::new(crate::hardware::CpalMicrophone::open(
                info.clone(),
                clock,
            )?));
        }
        Err(CaptureError::NotFound(info.id.clone()))
    }

    /// Opens a speaker.
    pub fn open_speaker(&self, info: &DeviceInfo) -> Result<Box<dyn AudioSink>, CaptureError> {
        if info.id == synthetic::SPEAKER_ID {
            return Ok(Box::new(SyntheticSpeaker::open(
                self.faults,
                self.path.clone(),
            )?));
        }
        #[cfg(feature = "hardware")]
        if self.hardware {
            return Ok(Box::new(crate::hardware::CpalSpeaker::open(info.clone())?));
        }
        Err(CaptureError::NotFound(info.id.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_catalogue_lists_and_opens_one_of_each() {
        let devices = Devices::synthetic_only(Faults::default());
        let list = devices.list();
        assert_eq!(list.cameras.len(), 1);
        assert!(list.cameras[0].synthetic && list.cameras[0].is_default);
        let clock = MediaClock::start();
        let cam = Devices::pick(&list.cameras, None).unwrap();
        let mut cam = devices
            .open_camera(
                cam,
                VideoMode {
                    width: 321,
                    height: 241,
                    fps: 30,
                },
                clock,
            )
            .unwrap();
        assert_eq!((cam.mode().width, cam.mode().height), (320, 240));
        assert_eq!(cam.next_frame().unwrap().data.len(), 320 * 240 * 3 / 2);
        assert!(Devices::pick(&list.microphones, Some("nope")).is_err());
    }

    #[test]
    fn never_mode_without_hardware_lists_nothing() {
        assert_eq!(Devices::empty().list(), DeviceList::default());
    }

    #[test]
    fn busy_fault_refuses_to_open() {
        let devices = Devices::synthetic_only(Faults {
            busy: true,
            ..Faults::default()
        });
        let list = devices.list();
        let Err(err) = devices.open_microphone(&list.microphones[0], MediaClock::start()) else {
            panic!("a busy microphone opened");
        };
        assert!(matches!(err, CaptureError::Busy(_)));
    }
}

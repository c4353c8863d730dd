use serde::{Deserialize, Serialize};

/// What a device does for the class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Camera,
    Microphone,
    Speaker,
}

/// One capture or playback device, real or synthetic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DeviceInfo {
    /// Stable across runs where the platform allows; `synthetic:*` for Lectern's test devices.
    pub id: String,
    /// What the operating system calls the device.
    pub name: String,
    pub kind: DeviceKind,
    /// True for Lectern's synthetic test devices.
    pub synthetic: bool,
    /// True for the system's default device of this kind.
    pub is_default: bool,
}

/// Every device Lectern can use right now, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DeviceList {
    pub cameras: Vec<DeviceInfo>,
    pub microphones: Vec<DeviceInfo>,
    pub speakers: Vec<DeviceInfo>,
}

/// The devices the teacher picked; `None` means "the default, or the first one there is".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DeviceSelection {
    pub camera: Option<String>,
    pub microphone: Option<String>,
    pub speaker: Option<String>,
}

/// A capture resolution and frame rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct VideoMode {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

impl VideoMode {
    /// 1280×720 at 30 fps: what a class publishes at when the laptop can.
    pub const HD_30: Self = Self {
        width: 1280,
        height: 720,
        fps: 30,
    };
}

/// One reading of the live microphone meter (about 20 per second).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MeterLevel {
    /// Root-mean-square level over the last window, dBFS (−120 for digital silence).
    pub rms_dbfs: f32,
    /// Highest absolute sample over the last window, dBFS.
    pub peak_dbfs: f32,
    /// True when the window held a run of full-scale samples.
    pub clipping: bool,
}

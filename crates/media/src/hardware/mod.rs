//! Real devices: cameras through nokhwa, microphones and speakers through cpal.
//! Each is one implementation of the device traits; nothing else in the crate
//! depends on these libraries, so either can be replaced per platform.

mod audio;
mod camera;

pub(crate) use audio::{CpalMicrophone, CpalSpeaker, list_microphones, list_speakers};
pub(crate) use camera::{NokhwaCamera, list_cameras};

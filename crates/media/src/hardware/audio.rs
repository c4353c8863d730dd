use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample};
use lectern_proto::{DeviceInfo, DeviceKind};

use crate::{
    AUDIO_CHUNK, AudioChunk, AudioSink, AudioSource, CaptureError, MediaClock, Resampler,
    SAMPLE_RATE,
};

/// Chunks captured but not yet taken: half a second. When full the newest chunk is
/// dropped and counted; a consumer that far behind has lost real time anyway.
const MIC_QUEUE: usize = 50;
/// Blocks queued for playback: four seconds of 10 ms blocks.
const SPEAKER_QUEUE: usize = 400;
const CHUNK_TIMEOUT: Duration = Duration::from_secs(2);
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);

/// ALSA lists its plugins (rate converters, up/down-mixers, the null device, bridges to
/// servers) beside real devices. None is a device a teacher can pick; `null` even
/// "records" endless silence as fast as it is read.
const ALSA_PSEUDO_DEVICES: &[&str] = &[
    "null",
    "lavrate",
    "samplerate",
    "speexrate",
    "speex",
    "upmix",
    "vdownmix",
    "oss",
    "jack",
];

fn is_pseudo(id: &str) -> bool {
    id.strip_prefix("alsa:")
        .map(|name| name.split([':', ',']).next().unwrap_or(name))
        .is_some_and(|name| ALSA_PSEUDO_DEVICES.contains(&name))
}

fn describe(
    device: &cpal::Device,
    kind: DeviceKind,
    default_id: Option<&str>,
) -> Option<DeviceInfo> {
    let id = device.id().ok()?.to_string();
    // A device that cannot even report a configuration (a sound server that is not
    // running, a card that went away) would only fail later: leave it out of the list.
    let usable = match kind {
        DeviceKind::Microphone => device.default_input_config().is_ok(),
        _ => device.default_output_config().is_ok(),
    };
    if is_pseudo(&id) || !usable {
        return None;
    }
    let name = device
        .description()
        .map(|d| d.name().to_owned())
        .unwrap_or_else(|_| device.to_string());
    Some(DeviceInfo {
        is_default: default_id == Some(id.as_str()),
        id,
        name,
        kind,
        synthetic: false,
    })
}

/// Microphones the default host reports.
pub(crate) fn list_microphones() -> Vec<DeviceInfo> {
    list(DeviceKind::Microphone)
}

/// Speakers the default host reports.
pub(crate) fn list_speakers() -> Vec<DeviceInfo> {
    list(DeviceKind::Speaker)
}

fn list(kind: DeviceKind) -> Vec<DeviceInfo> {
    let host = cpal::default_host();
    let input = kind == DeviceKind::Microphone;
    let default = if input {
        host.default_input_device()
    } else {
        host.default_output_device()
    }
    .and_then(|d| d.id().ok())
    .map(|i| i.to_string());
    let devices = if input {
        host.input_devices()
    } else {
        host.output_devices()
    };
    devices
        .map(|ds| {
            ds.filter_map(|d| describe(&d, kind, default.as_deref()))
                .collect()
        })
        .unwrap_or_default()
}

fn find(id: &str, input: bool) -> Result<cpal::Device, CaptureError> {
    let host = cpal::default_host();
    let mut devices = if input {
        host.input_devices()
    } else {
        host.output_devices()
    }
    .map_err(|e| map_error(&e))?;
    devices
        .find(|d| d.id().map(|i| i.to_string() == id).unwrap_or(false))
        .ok_or_else(|| CaptureError::NotFound(id.to_owned()))
}

fn map_error(e: &cpal::Error) -> CaptureError {
    use cpal::ErrorKind as K;
    let text = e.to_string();
    match e.kind() {
        K::DeviceBusy => CaptureError::Busy(text),
        K::PermissionDenied => CaptureError::PermissionDenied(text),
        K::DeviceNotAvailable | K::StreamInvalidated => CaptureError::Disconnected(text),
        K::UnsupportedConfig => CaptureError::NoSupportedFormat(text),
        _ => CaptureError::Backend(text),
    }
}

/// A microphone through cpal, converted to mono f32 48 kHz in 10 ms chunks.
pub(crate) struct CpalMicrophone {
    info: DeviceInfo,
    chunks: Receiver<Result<Vec<f32>, CaptureError>>,
    clock: MediaClock,
    seq: u64,
    _stream: cpal::Stream,
}

impl std::fmt::Debug for CpalMicrophone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpalMicrophone")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl CpalMicrophone {
    pub(crate) fn open(info: DeviceInfo, clock: MediaClock) -> Result<Self, CaptureError> {
        let device = find(&info.id, true)?;
        let supported = device.default_input_config().map_err(|e| map_error(&e))?;
        let channels = usize::from(supported.channels().max(1));
        let rate = supported.sample_rate();
        let (tx, chunks) = mpsc::sync_channel(MIC_QUEUE);
        let err_tx = tx.clone();
        let config = supported.config();
        let framer = Framer::new(channels, rate, tx);
        let on_error = move |e: cpal::Error| {
            use cpal::ErrorKind as K;
            if !matches!(e.kind(), K::Xrun | K::RealtimeDenied | K::DeviceChanged) {
                let _ = err_tx.try_send(Err(map_error(&e)));
            }
        };
        let stream = match supported.sample_format() {
            SampleFormat::F32 => build_input::<f32>(&device, config, framer, on_error),
            SampleFormat::I16 => build_input::<i16>(&device, config, framer, on_error),
            SampleFormat::I32 => build_input::<i32>(&device, config, framer, on_error),
            SampleFormat::U16 => build_input::<u16>(&device, config, framer, on_error),
            SampleFormat::U8 => build_input::<u8>(&device, config, framer, on_error),
            other => {
                framer.stop();
                return Err(CaptureError::NoSupportedFormat(format!(
                    "sample format {other}"
                )));
            }
        }?;
        stream.play().map_err(|e| map_error(&e))?;
        Ok(Self {
            info,
            chunks,
            clock,
            seq: 0,
            _stream: stream,
        })
    }
}

fn build_input<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    mut framer: Framer,
    on_error: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<cpal::Stream, CaptureError>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    device
        .build_input_stream::<T, _, _>(
            config,
            move |data: &[T], _| framer.push(data.iter().map(|&s| f32::from_sample_(s))),
            on_error,
            Some(OPEN_TIMEOUT),
        )
        .map_err(|e| map_error(&e))
}

/// Turns interleaved device samples into mono 48 kHz 10 ms chunks, in the audio callback.
struct Framer {
    channels: usize,
    resampler: Resampler,
    mono: Vec<f32>,
    out: Vec<f32>,
    tx: SyncSender<Result<Vec<f32>, CaptureError>>,
    dropped: u64,
}

impl Framer {
    fn new(channels: usize, rate: u32, tx: SyncSender<Result<Vec<f32>, CaptureError>>) -> Self {
        Self {
            channels,
            resampler: Resampler::new(rate, SAMPLE_RATE),
            mono: Vec::new(),
            out: Vec::new(),
            tx,
            dropped: 0,
        }
    }

    fn push(&mut self, interleaved: impl Iterator<Item = f32>) {
        self.mono.clear();
        let mut acc = 0.0;
        for (i, s) in interleaved.enumerate() {
            acc += s;
            if (i + 1) % self.channels == 0 {
                self.mono.push(acc / self.channels as f32);
                acc = 0.0;
            }
        }
        self.resampler.process(&self.mono, &mut self.out);
        while self.out.len() >= AUDIO_CHUNK {
            let chunk: Vec<f32> = self.out.drain(..AUDIO_CHUNK).collect();
            if let Err(TrySendError::Full(_)) = self.tx.try_send(Ok(chunk)) {
                self.dropped += 1;
                if self.dropped.is_power_of_two() {
                    tracing::warn!(
                        dropped = self.dropped,
                        "microphone queue full; dropping chunks"
                    );
                }
            }
        }
    }

    fn stop(self) {}
}

impl AudioSource for CpalMicrophone {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn next_chunk(&mut self) -> Result<AudioChunk, CaptureError> {
        let samples = match self.chunks.recv_timeout(CHUNK_TIMEOUT) {
            Ok(chunk) => chunk?,
            Err(RecvTimeoutError::Timeout) => return Err(CaptureError::Timeout),
            Err(RecvTimeoutError::Disconnected) => {
                return Err(CaptureError::Disconnected(self.info.name.clone()));
            }
        };
        let chunk = AudioChunk {
            seq: self.seq,
            captured_at: self.clock.now().saturating_sub(Duration::from_millis(10)),
            samples,
        };
        self.seq += 1;
        Ok(chunk)
    }
}

/// A speaker through cpal; mono 48 kHz in, the device's layout out.
pub(crate) struct CpalSpeaker {
    info: DeviceInfo,
    blocks: SyncSender<Vec<f32>>,
    _stream: cpal::Stream,
}

impl std::fmt::Debug for CpalSpeaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpalSpeaker")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl CpalSpeaker {
    pub(crate) fn open(info: DeviceInfo) -> Result<Self, CaptureError> {
        let device = find(&info.id, false)?;
        let supported = device.default_output_config().map_err(|e| map_error(&e))?;
        if supported.sample_format() != SampleFormat::F32
            && supported.sample_format() != SampleFormat::I16
        {
            return Err(CaptureError::NoSupportedFormat(format!(
                "sample format {}",
                supported.sample_format()
            )));
        }
        let channels = usize::from(supported.channels().max(1));
        let (blocks, rx) = mpsc::sync_channel::<Vec<f32>>(SPEAKER_QUEUE);
        let mut feeder = Feeder {
            rx,
            pending: VecDeque::new(),
            resampler: Resampler::new(SAMPLE_RATE, supported.sample_rate()),
            channels,
        };
        let on_error = |e: cpal::Error| tracing::warn!("speaker stream: {e}");
        let config = supported.config();
        let stream = if supported.sample_format() == SampleFormat::F32 {
            device.build_output_stream::<f32, _, _>(
                config,
                move |out, _| feeder.fill(out, |s| s),
                on_error,
                Some(OPEN_TIMEOUT),
            )
        } else {
            device.build_output_stream::<i16, _, _>(
                config,
                move |out, _| {
                    feeder.fill(out, |s| (s.clamp(-1.0, 1.0) * f32::from(i16::MAX)) as i16)
                },
                on_error,
                Some(OPEN_TIMEOUT),
            )
        }
        .map_err(|e| map_error(&e))?;
        stream.play().map_err(|e| map_error(&e))?;
        Ok(Self {
            info,
            blocks,
            _stream: stream,
        })
    }
}

/// Feeds the output callback from the bounded block queue; silence when it runs dry.
struct Feeder {
    rx: Receiver<Vec<f32>>,
    pending: VecDeque<f32>,
    resampler: Resampler,
    channels: usize,
}

impl Feeder {
    fn fill<T: Copy>(&mut self, out: &mut [T], convert: impl Fn(f32) -> T) {
        let frames = out.len() / self.channels;
        let mut resampled = Vec::new();
        while self.pending.len() < frames {
            match self.rx.try_recv() {
                Ok(block) => {
                    resampled.clear();
                    self.resampler.process(&block, &mut resampled);
                    self.pending.extend(resampled.iter());
                }
                Err(_) => break,
            }
        }
        for frame in out.chunks_exact_mut(self.channels) {
            let s = self.pending.pop_front().unwrap_or(0.0);
            frame.fill(convert(s));
        }
    }
}

impl AudioSink for CpalSpeaker {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn play(&mut self, samples: &[f32]) -> Result<(), CaptureError> {
        for (i, block) in samples.chunks(AUDIO_CHUNK).enumerate() {
            match self.blocks.try_send(block.to_vec()) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    let lost = samples.len() - i * AUDIO_CHUNK;
                    return Err(CaptureError::Backend(format!(
                        "speaker queue full, {lost} samples dropped"
                    )));
                }
                Err(TrySendError::Disconnected(_)) => {
                    return Err(CaptureError::Disconnected(self.info.name.clone()));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn alsa_plugins_are_not_devices() {
        for id in ["alsa:null", "alsa:lavrate", "alsa:upmix", "alsa:speex"] {
            assert!(super::is_pseudo(id), "{id}");
        }
        for id in [
            "alsa:default",
            "alsa:pulse",
            "alsa:hw:CARD=PCH,DEV=0",
            "alsa:sysdefault:CARD=PCH",
            "coreaudio:null",
        ] {
            assert!(!super::is_pseudo(id), "{id}");
        }
    }
}

//! A class's media from capture to the relay: the encode threads and the publish link,
//! started and stopped together.

use std::sync::Arc;

use lectern_media::{
    AudioStats, CaptureSession, EchoCanceller, EncodeError, EncodeThread, MediaClock, VideoControl,
    spawn_audio_encoder, spawn_video_encoder,
};
use tokio::sync::mpsc;

use crate::{PublishConfig, Publisher};

/// Encoded frames waiting for the link: 100 ms at 30 fps. A link that cannot keep up
/// makes the encoder skip raw frames instead (see `lectern_media::pipeline`).
const VIDEO_QUEUE: usize = 3;
/// Opus packets waiting for the link: 200 ms.
const AUDIO_QUEUE: usize = 10;

/// How to encode.
#[derive(Debug, Clone, Copy)]
pub struct MediaOptions {
    /// The video bitrate to start from before the estimate arrives.
    pub start_bps: u32,
    /// Frame rate the encoder is tuned for.
    pub fps: f32,
    /// Noise suppression on the microphone.
    pub denoise: bool,
    pub audio_bps: u32,
}

impl Default for MediaOptions {
    fn default() -> Self {
        Self {
            start_bps: 1_200_000,
            fps: 30.0,
            denoise: true,
            audio_bps: 32_000,
        }
    }
}

/// Encoders and publisher for one class. Dropping it stops everything.
#[derive(Debug)]
pub struct LiveMedia {
    publisher: Publisher,
    /// The video encoder's controls and counters.
    pub video: Arc<VideoControl>,
    /// The audio encoder's counters.
    pub audio: Arc<AudioStats>,
    _threads: Vec<EncodeThread>,
}

impl LiveMedia {
    /// Encodes whatever `capture` has (camera, microphone, or both) and publishes it;
    /// `echo` cancels what the speakers play from the microphone. Must be called inside
    /// a tokio runtime.
    pub fn start(
        capture: &CaptureSession,
        config: PublishConfig,
        options: MediaOptions,
        clock: MediaClock,
        echo: Option<EchoCanceller>,
    ) -> Result<Self, EncodeError> {
        let video = VideoControl::new(options.start_bps, config.max_bps);
        let audio = Arc::new(AudioStats::default());
        let (video_tx, video_rx) = mpsc::channel(VIDEO_QUEUE);
        let (audio_tx, audio_rx) = mpsc::channel(AUDIO_QUEUE);
        let mut threads = Vec::new();
        if let Some(camera) = &capture.camera {
            threads.push(spawn_video_encoder(
                camera.subscribe(),
                video.clone(),
                video_tx,
                clock,
                options.fps,
            )?);
        }
        if let Some(mic) = &capture.microphone {
            threads.push(spawn_audio_encoder(
                mic.subscribe(),
                options.denoise,
                echo,
                options.audio_bps,
                audio.clone(),
                audio_tx,
            )?);
        }
        let publisher = Publisher::start(config, video_rx, audio_rx, video.clone(), audio.clone());
        Ok(Self {
            publisher,
            video,
            audio,
            _threads: threads,
        })
    }

    /// The publish link.
    pub fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    /// Stops the encoders and ends the WHIP session.
    pub async fn stop(self) {
        let Self {
            publisher,
            _threads,
            ..
        } = self;
        drop(_threads);
        publisher.stop().await;
    }
}

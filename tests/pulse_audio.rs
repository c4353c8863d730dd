//! The microphone meter and the speaker→microphone test through real cpal devices: a
//! PulseAudio null sink (started by `cargo xtask test`) whose monitor is the default
//! source, so what the speaker plays the microphone really captures, in real time.

use std::time::Duration;

use lectern_e2e::{codes, run_selfcheck};
use lectern_media::diagnostics::LevelMeter;
use lectern_media::synthetic::{AcousticPath, Faults, SyntheticMicrophone};
use lectern_media::{AUDIO_CHUNK, AudioSource, Devices, MediaClock, SyntheticMode};
use lectern_proto::{FindingCode as C, SpeakerMethod};

fn real_devices() -> Devices {
    assert!(
        std::env::var_os("LECTERN_PULSE").is_some(),
        "run through `cargo xtask test`, which starts PulseAudio"
    );
    Devices::new(SyntheticMode::Never, Faults::default())
}

/// A few seconds of voice-like programme to play, as a teacher talking would.
fn voice(seconds: usize) -> Vec<f32> {
    let mut mic = SyntheticMicrophone::open(
        Faults::default(),
        MediaClock::start(),
        AcousticPath::default(),
    )
    .unwrap();
    (0..seconds * 100)
        .flat_map(|_| mic.next_chunk().unwrap().samples)
        .collect()
}

#[test]
#[ignore = "needs PulseAudio: run by `cargo xtask test`"]
fn pulse_meter_reads_a_real_device() {
    let devices = real_devices();
    let list = devices.list();
    let mic =
        Devices::pick(&list.microphones, None).expect("PulseAudio provides a default microphone");
    let speaker =
        Devices::pick(&list.speakers, None).expect("PulseAudio provides a default speaker");
    assert!(!mic.synthetic && !speaker.synthetic);
    let mut source = devices.open_microphone(mic, MediaClock::start()).unwrap();
    let mut sink = devices.open_speaker(speaker).unwrap();
    // A 1 kHz tone at −12 dBFS peak (−15 dBFS RMS) for two seconds.
    let tone: Vec<f32> = (0..96_000)
        .map(|i| 0.25 * (i as f32 * 1000.0 * std::f32::consts::TAU / 48_000.0).sin())
        .collect();
    sink.play(&tone).unwrap();
    let mut meter = LevelMeter::new(2_400);
    let mut loudest = f32::MIN;
    let started = std::time::Instant::now();
    // Start-up of the server and streams can take a few seconds: wait with a bound.
    while started.elapsed() < Duration::from_secs(8) && loudest < -16.0 {
        let chunk = source.next_chunk().expect("the real microphone delivers");
        assert_eq!(chunk.samples.len(), AUDIO_CHUNK);
        if let Some(level) = meter.push(&chunk.samples) {
            loudest = loudest.max(level.rms_dbfs);
        }
    }
    assert!(
        (-17.0..=-13.0).contains(&loudest),
        "meter read {loudest} dBFS for a −15 dBFS tone"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PulseAudio: run by `cargo xtask test`"]
async fn pulse_selfcheck_hears_the_real_speaker_in_the_real_microphone() {
    let devices = real_devices();
    let list = devices.list();
    let speaker = Devices::pick(&list.speakers, None).unwrap().clone();
    // The teacher talks during the check (played into the same sink the mic listens to).
    let mut talker = devices.open_speaker(&speaker).unwrap();
    talker.play(&voice(4)).unwrap();
    let (report, _) = run_selfcheck(&devices, 3.0).await;
    drop(talker);
    let found = codes(&report);
    assert!(
        found.contains(&C::CameraMissing),
        "no camera on this machine: {found:?}"
    );
    assert!(
        found.contains(&C::MicOk),
        "{found:?} {:?}",
        report.microphone
    );
    assert!(
        found.contains(&C::SpeakersHeard),
        "{found:?} {:?}",
        report.speakers
    );
    // The null sink loops the speaker into the microphone at full level: echo risk.
    assert!(found.contains(&C::SpeakersEchoRisk), "{found:?}");
    let speakers = report.speakers.unwrap();
    assert_eq!(speakers.method, SpeakerMethod::Microphone);
    assert!(speakers.delay_ms.unwrap() < 1000.0, "{speakers:?}");
}

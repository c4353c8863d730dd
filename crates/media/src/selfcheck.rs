//! The device self-check: camera, microphone, speakers and encoder, one verdict.
//!
//! [`run`] drives the pure probes of [`crate::diagnostics`] over a [`CaptureSession`]
//! that the preview may be reading at the same time. The same function serves the
//! window, the headless `lectern selfcheck` and the tests.

use std::sync::Arc;
use std::time::Duration;

use lectern_proto::{
    DeviceInfo, DeviceSelection, Finding, FindingCode, SelfCheckProgress, SelfCheckReport,
    SpeakerMethod, SpeakerStats, Stage, Verdict, VideoMode, sort_findings,
};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use crate::diagnostics::{
    CameraProbe, EncoderProbe, MIN_SILENCE_SECONDS, MicProbe, detect_probe, probe_signal,
};
use crate::session::CaptureState;
use crate::{AudioChunk, CaptureError, CaptureSession, Devices};

/// Echo is likely when the speakers reach the microphone louder than this (dB re. played).
const ECHO_COUPLING_DB: f32 = -20.0;
/// How long past its deadline the check waits for a late microphone's audio.
const AUDIO_GRACE: Duration = Duration::from_secs(2);
/// Silence played before the test signal: output devices (Bluetooth above all) often
/// swallow the first few hundred milliseconds of a new stream.
const SPEAKER_PRE_ROLL: Duration = Duration::from_millis(300);
/// Gap between the two chirps of the test signal.
const PROBE_GAP: Duration = Duration::from_millis(700);
/// How long to listen: pre-roll, chirp, gap, chirp, and a second of output latency.
const SPEAKER_LISTEN: Duration = Duration::from_millis(3500);

/// What to check and for how long.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seconds of camera and microphone observation (at least 2).
    pub seconds: f32,
    /// The camera mode the class would use.
    pub mode: VideoMode,
    /// Frames encoded per resolution by the encoder probe.
    pub encoder_frames: u32,
    /// Written into the report.
    pub app_version: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            seconds: 4.0,
            mode: VideoMode::HD_30,
            encoder_frames: 20,
            app_version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// Runs the whole check over `session` (opened from `selection`) and returns the report,
/// not yet stored. Never fails: every problem becomes a finding.
pub async fn run(
    devices: &Devices,
    session: &CaptureSession,
    selection: &DeviceSelection,
    options: &Options,
    progress: &mut (dyn FnMut(SelfCheckProgress) + Send),
) -> SelfCheckReport {
    let started = Instant::now();
    let seconds = options.seconds.max(2.0);
    let mut findings = Vec::new();
    progress(SelfCheckProgress {
        stage: Stage::Devices,
        fraction: 0.0,
    });

    findings.extend(open_findings(session));
    progress(SelfCheckProgress {
        stage: Stage::CameraAndMicrophone,
        fraction: 0.05,
    });
    let (camera, microphone) =
        observe(session, options.mode, seconds, &mut findings, progress).await;

    progress(SelfCheckProgress {
        stage: Stage::Speakers,
        fraction: 0.72,
    });
    let speakers = check_speakers(devices, session, selection, &mut findings).await;

    progress(SelfCheckProgress {
        stage: Stage::Encoder,
        fraction: 0.82,
    });
    let frames = options.encoder_frames;
    let probe = tokio::task::spawn_blocking(move || EncoderProbe::run(frames))
        .await
        .unwrap_or_default();
    let (encoder, encoder_findings) = probe.finish();
    findings.extend(encoder_findings);

    sort_findings(&mut findings);
    progress(SelfCheckProgress {
        stage: Stage::Done,
        fraction: 1.0,
    });
    let now = time::OffsetDateTime::now_utc();
    SelfCheckReport {
        id: None,
        created_at: now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        duration_ms: started.elapsed().as_millis().min(u128::from(u32::MAX)) as u32,
        app_version: options.app_version.clone(),
        os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        verdict: Verdict::from_findings(&findings),
        devices: DeviceSelection {
            camera: session.camera.as_ref().map(|t| t.info().id.clone()),
            microphone: session.microphone.as_ref().map(|t| t.info().id.clone()),
            speaker: speakers.as_ref().map(|(info, _)| info.id.clone()),
        },
        findings,
        camera,
        microphone,
        speakers: speakers.map(|(_, s)| s),
        encoder: Some(encoder),
        network: None,
    }
}

/// Records the teacher's answer to "did you hear the test tone?" in a report whose
/// speaker check had to ask: the question becomes a confirmed or a not-confirmed finding
/// and the verdict follows. Returns false (changing nothing) when no question is pending.
pub fn apply_speaker_answer(report: &mut SelfCheckReport, heard: bool) -> bool {
    let Some(question) = report
        .findings
        .iter_mut()
        .find(|f| f.code == FindingCode::SpeakersAskUser)
    else {
        return false;
    };
    *question = Finding::new(if heard {
        FindingCode::SpeakersConfirmed
    } else {
        FindingCode::SpeakersNotConfirmed
    });
    if let Some(speakers) = &mut report.speakers {
        speakers.heard = Some(heard);
    }
    sort_findings(&mut report.findings);
    report.verdict = Verdict::from_findings(&report.findings);
    true
}

/// Findings for devices that are missing or failed to open.
pub fn open_findings(session: &CaptureSession) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some((info, e)) = &session.camera_error {
        out.push(device_finding(info.as_ref(), e, DeviceFindings::CAMERA));
    }
    if let Some((info, e)) = &session.microphone_error {
        out.push(device_finding(info.as_ref(), e, DeviceFindings::MICROPHONE));
    }
    out
}

/// The codes one kind of device uses for open failures.
struct DeviceFindings {
    missing: FindingCode,
    busy: FindingCode,
    failed: FindingCode,
    no_format: FindingCode,
}

impl DeviceFindings {
    const CAMERA: Self = Self {
        missing: FindingCode::CameraMissing,
        busy: FindingCode::CameraBusy,
        failed: FindingCode::CameraOpenFailed,
        no_format: FindingCode::CameraNoFormat,
    };
    const MICROPHONE: Self = Self {
        missing: FindingCode::MicMissing,
        busy: FindingCode::MicBusy,
        failed: FindingCode::MicOpenFailed,
        no_format: FindingCode::MicOpenFailed,
    };
    const SPEAKER: Self = Self {
        missing: FindingCode::SpeakersMissing,
        busy: FindingCode::SpeakersOpenFailed,
        failed: FindingCode::SpeakersOpenFailed,
        no_format: FindingCode::SpeakersOpenFailed,
    };
}

fn device_finding(info: Option<&DeviceInfo>, e: &CaptureError, codes: DeviceFindings) -> Finding {
    let Some(info) = info else {
        return Finding::new(codes.missing);
    };
    let code = match e {
        CaptureError::Busy(_) => codes.busy,
        CaptureError::NoSupportedFormat(_) => codes.no_format,
        _ => codes.failed,
    };
    Finding::new(code)
        .with("device", info.name.as_str())
        .with("reason", e.to_string())
}

type Observed = (
    Option<lectern_proto::CameraStats>,
    Option<lectern_proto::MicStats>,
);

/// Watches the camera and microphone for `seconds`, feeding the probes.
async fn observe(
    session: &CaptureSession,
    mode: VideoMode,
    seconds: f32,
    findings: &mut Vec<Finding>,
    progress: &mut (dyn FnMut(SelfCheckProgress) + Send),
) -> Observed {
    let start = Instant::now();
    let mut deadline = start + Duration::from_secs_f32(seconds);
    // A microphone that starts late (a busy machine, a slow driver) gets up to this long
    // past the deadline to deliver the audio that silence is judged on.
    let last_chance = deadline + AUDIO_GRACE;
    let mut video = session.camera.as_ref().map(|t| (t.subscribe(), t.state()));
    let mut audio = session
        .microphone
        .as_ref()
        .map(|t| (t.subscribe(), t.state()));
    let mut camera_probe = CameraProbe::new(mode);
    let mut mic_probe = MicProbe::new();
    let mut camera_stopped = None;
    let mut mic_stopped = None;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => {
                let short = audio.is_some() && mic_probe.seconds() < MIN_SILENCE_SECONDS.min(seconds);
                if !short || Instant::now() >= last_chance {
                    break;
                }
                deadline += Duration::from_millis(50);
            }
            _ = tick.tick() => {
                let share = start.elapsed().as_secs_f32() / seconds;
                progress(SelfCheckProgress { stage: Stage::CameraAndMicrophone, fraction: 0.05 + 0.65 * share.min(1.0) });
            }
            frame = recv(&mut video) => match frame {
                Some(f) => camera_probe.push(&f),
                None => { camera_stopped = Some(start.elapsed()); video = None; }
            },
            chunk = recv(&mut audio) => match chunk {
                Some(c) => mic_probe.push(&c.samples),
                None => { mic_stopped = Some(start.elapsed()); audio = None; }
            },
        }
    }
    let camera = session.camera.as_ref().map(|tap| {
        let (stats, mut found) = camera_probe.finish(&tap.info().name);
        if let Some(at) = camera_stopped {
            found.retain(|f| f.code != FindingCode::CameraOk);
            found.insert(0, stopped(FindingCode::CameraStopped, &tap.info().name, at));
        } else if camera_probe.frames() == 0 {
            found.push(stopped(
                FindingCode::CameraStopped,
                &tap.info().name,
                Duration::ZERO,
            ));
        }
        findings.extend(found);
        stats
    });
    let microphone = session.microphone.as_ref().map(|tap| {
        let (stats, mut found) = mic_probe.finish(&tap.info().name);
        if let Some(at) = mic_stopped {
            found.retain(|f| f.code != FindingCode::MicOk);
            found.insert(0, stopped(FindingCode::MicStopped, &tap.info().name, at));
        } else if mic_probe.seconds() == 0.0 {
            found.push(stopped(
                FindingCode::MicStopped,
                &tap.info().name,
                Duration::ZERO,
            ));
        }
        findings.extend(found);
        stats
    });
    (camera, microphone)
}

fn stopped(code: FindingCode, device: &str, at: Duration) -> Finding {
    Finding::new(code)
        .with("device", device)
        .with("seconds", (at.as_secs_f32() * 10.0).round() / 10.0)
}

type Subscription<T> = Option<(
    tokio::sync::broadcast::Receiver<Arc<T>>,
    tokio::sync::watch::Receiver<CaptureState>,
)>;

/// The next item of a tap, skipping over lag; `None` once capture has ended.
/// Pending forever when there is no tap, so `select!` ignores it.
async fn recv<T: Clone>(sub: &mut Subscription<T>) -> Option<Arc<T>> {
    let Some((rx, state)) = sub else {
        return std::future::pending().await;
    };
    loop {
        if *state.borrow() != CaptureState::Running {
            return None;
        }
        tokio::select! {
            item = rx.recv() => match item {
                Ok(item) => return Some(item),
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            },
            changed = state.changed() => if changed.is_err() { return None },
        }
    }
}

/// Plays the probe on the speakers and looks for it in the microphone.
async fn check_speakers(
    devices: &Devices,
    session: &CaptureSession,
    selection: &DeviceSelection,
    findings: &mut Vec<Finding>,
) -> Option<(DeviceInfo, SpeakerStats)> {
    let list = devices.list();
    let info = match Devices::pick(&list.speakers, selection.speaker.as_deref()) {
        Ok(info) => info.clone(),
        Err(e) => {
            findings.push(device_finding(None, &e, DeviceFindings::SPEAKER));
            return None;
        }
    };
    let mut sink = match devices.open_speaker(&info) {
        Ok(s) => s,
        Err(e) => {
            findings.push(device_finding(Some(&info), &e, DeviceFindings::SPEAKER));
            return None;
        }
    };
    let probe = probe_signal();
    // The chirp twice: if a device mangles one (a stream start-up glitch), the other counts.
    let gap = vec![0.0; (PROBE_GAP.as_secs_f32() * crate::SAMPLE_RATE as f32) as usize];
    let signal: Vec<f32> = [&probe[..], &gap, &probe].concat();
    let mic = session
        .microphone
        .as_ref()
        .filter(|m| *m.state().borrow() == CaptureState::Running)
        .filter(|_| {
            !findings
                .iter()
                .any(|f| matches!(f.code, FindingCode::MicMuted | FindingCode::MicSilent))
        });
    let Some(mic) = mic else {
        let _ = sink.play(&probe);
        findings.push(Finding::new(FindingCode::SpeakersAskUser));
        let stats = SpeakerStats {
            device: info.name.clone(),
            method: SpeakerMethod::AskUser,
            heard: None,
            correlation: 0.0,
            delay_ms: None,
            level_dbfs: None,
        };
        return Some((info, stats));
    };
    tokio::time::sleep(SPEAKER_PRE_ROLL).await;
    // Listen from the moment the signal is handed over, so the lag is the output delay.
    let mut sub: Subscription<AudioChunk> = Some((mic.subscribe(), mic.state()));
    if let Err(e) = sink.play(&signal) {
        findings.push(device_finding(Some(&info), &e, DeviceFindings::SPEAKER));
        return None;
    }
    let mut recording = Vec::with_capacity(SPEAKER_LISTEN.as_millis() as usize * 48);
    let deadline = Instant::now() + SPEAKER_LISTEN;
    while let Ok(Some(chunk)) = tokio::time::timeout_at(deadline, recv(&mut sub)).await {
        recording.extend_from_slice(&chunk.samples);
    }
    drop(sink);
    let detection = detect_probe(&probe, &recording);
    let heard = detection.is_some_and(|d| d.heard());
    // Which chirp matched is ambiguous only for output delays above chirp + gap (1.2 s),
    // far beyond any real device; below that, a lag past one period is the second chirp.
    let period = probe.len() + gap.len();
    let delay_ms = |d: &crate::diagnostics::Detection| {
        let lag = if d.lag >= period {
            d.lag - period
        } else {
            d.lag
        };
        lag as f32 * 1000.0 / crate::SAMPLE_RATE as f32
    };
    let stats = SpeakerStats {
        device: info.name.clone(),
        method: SpeakerMethod::Microphone,
        heard: Some(heard),
        correlation: detection.map_or(0.0, |d| d.correlation),
        delay_ms: detection.filter(|_| heard).map(|d| delay_ms(&d)),
        level_dbfs: detection.filter(|_| heard).map(|d| d.level_dbfs),
    };
    match detection.filter(|d| d.heard()) {
        Some(d) => {
            let round = |x: f32| (x * 10.0).round() / 10.0;
            findings.push(
                Finding::new(FindingCode::SpeakersHeard)
                    .with("delay_ms", delay_ms(&d).round())
                    .with("level", round(d.level_dbfs)),
            );
            if d.coupling_db > ECHO_COUPLING_DB {
                findings.push(
                    Finding::new(FindingCode::SpeakersEchoRisk).with("level", round(d.coupling_db)),
                );
            }
        }
        None => findings.push(Finding::new(FindingCode::SpeakersNotHeard)),
    }
    Some((info, stats))
}

#[cfg(test)]
mod tests {
    use lectern_proto::{Severity, SpeakerMethod};

    use super::*;

    fn asked() -> SelfCheckReport {
        let findings = vec![
            Finding::new(FindingCode::SpeakersAskUser),
            Finding::new(FindingCode::CameraOk),
        ];
        SelfCheckReport {
            id: Some(7),
            created_at: String::new(),
            duration_ms: 0,
            app_version: String::new(),
            os: String::new(),
            verdict: Verdict::from_findings(&findings),
            findings,
            devices: DeviceSelection::default(),
            camera: None,
            microphone: None,
            speakers: Some(SpeakerStats {
                device: "spk".into(),
                method: SpeakerMethod::AskUser,
                heard: None,
                correlation: 0.0,
                delay_ms: None,
                level_dbfs: None,
            }),
            encoder: None,
            network: None,
        }
    }

    #[test]
    fn a_no_answer_turns_the_question_into_a_warning() {
        let mut report = asked();
        assert_eq!(report.verdict, Verdict::Ready);
        assert!(apply_speaker_answer(&mut report, false));
        assert_eq!(report.findings[0].code, FindingCode::SpeakersNotConfirmed);
        assert_eq!(report.findings[0].severity, Severity::Warning);
        assert_eq!(report.verdict, Verdict::ReadyWithWarnings);
        assert_eq!(report.speakers.as_ref().unwrap().heard, Some(false));
        assert!(!apply_speaker_answer(&mut report, true), "answered once");
    }

    #[test]
    fn a_yes_answer_confirms_the_speakers() {
        let mut report = asked();
        assert!(apply_speaker_answer(&mut report, true));
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.code == FindingCode::SpeakersConfirmed)
        );
        assert_eq!(report.verdict, Verdict::Ready);
    }
}

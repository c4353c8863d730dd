use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::DeviceSelection;

/// Which part of the set-up a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Area {
    Camera,
    Microphone,
    Speakers,
    Encoder,
    Network,
}

/// How much a finding matters for the class about to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Checked and fine.
    Ok,
    /// Worth knowing; nothing to fix.
    Info,
    /// The class can run, but something will be worse than it should.
    Warning,
    /// The class should not start until this is fixed.
    Blocker,
}

/// Declares [`FindingCode`] with its stable names and the list of all codes, from one
/// table, so a new code cannot be missing from either.
macro_rules! finding_codes {
    ($( $(#[doc = $doc:literal])* $variant:ident => $name:literal, )*) => {
        /// Every finding the self-check can report. The serialized name is the stable code:
        /// the UI's i18n catalogs hold a title and a fix for each under `finding.<code>`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "specta", derive(specta::Type))]
        #[serde(rename_all = "snake_case")]
        #[non_exhaustive]
        pub enum FindingCode {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl FindingCode {
            /// Every code, camera first.
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            /// The stable string form, as serialized.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }
        }
    };
}

finding_codes! {
    /// The camera delivered clear frames at the requested rate.
    CameraOk => "camera_ok",
    /// No camera is connected; the class can still run with audio and the whiteboard.
    CameraMissing => "camera_missing",
    /// Another application holds the camera.
    CameraBusy => "camera_busy",
    /// The camera could not be opened (permissions, driver).
    CameraOpenFailed => "camera_open_failed",
    /// The camera offers no format Lectern can use.
    CameraNoFormat => "camera_no_format",
    /// The camera stopped delivering frames during the check.
    CameraStopped => "camera_stopped",
    /// Fewer frames per second than requested.
    CameraLowFps => "camera_low_fps",
    /// A lower resolution than requested.
    CameraLowResolution => "camera_low_resolution",
    /// The picture is black (lens cover, privacy shutter).
    CameraBlack => "camera_black",
    /// The picture does not change (frozen driver or virtual camera).
    CameraFrozen => "camera_frozen",
    /// The picture is too dark.
    CameraDark => "camera_dark",
    /// A bright background behind a dark face.
    CameraBacklit => "camera_backlit",
    /// The microphone delivers a usable signal.
    MicOk => "mic_ok",
    /// No microphone is connected.
    MicMissing => "mic_missing",
    /// Another application holds the microphone.
    MicBusy => "mic_busy",
    /// The microphone could not be opened (permissions, driver).
    MicOpenFailed => "mic_open_failed",
    /// The microphone stopped delivering audio during the check.
    MicStopped => "mic_stopped",
    /// Exact digital silence: the device or the OS has muted it.
    MicMuted => "mic_muted",
    /// Signal below −60 dBFS for two seconds: nothing reaches the microphone.
    MicSilent => "mic_silent",
    /// The signal is usable but quiet.
    MicQuiet => "mic_quiet",
    /// Runs of full-scale samples: the input gain is too high.
    MicClipping => "mic_clipping",
    /// The background noise is loud.
    MicNoisy => "mic_noisy",
    /// The test tone played on the speakers was picked up by the microphone.
    SpeakersHeard => "speakers_heard",
    /// The speakers are loud in the microphone: students will hear themselves.
    SpeakersEchoRisk => "speakers_echo_risk",
    /// The test tone was not picked up (a headset, or muted speakers).
    SpeakersNotHeard => "speakers_not_heard",
    /// No microphone to listen with: the teacher is asked whether they heard the tone.
    SpeakersAskUser => "speakers_ask_user",
    /// No microphone could listen, and the teacher said they heard the test tone.
    SpeakersConfirmed => "speakers_confirmed",
    /// No microphone could listen, and the teacher said they did not hear the test tone.
    SpeakersNotConfirmed => "speakers_not_confirmed",
    /// No output device is connected.
    SpeakersMissing => "speakers_missing",
    /// The output device could not be opened.
    SpeakersOpenFailed => "speakers_open_failed",
    /// The H.264 encoder keeps up at the named publish resolution.
    EncoderOk => "encoder_ok",
    /// The encoder cannot keep up even at 360p.
    EncoderSlow => "encoder_slow",
    /// The H.264 encoder could not start.
    EncoderFailed => "encoder_failed",
    /// The link to the relay is good enough for 720p.
    NetworkOk => "network_ok",
    /// Round trips to the relay are slow: students hear and see the teacher late.
    NetworkHighLatency => "network_high_latency",
    /// Round-trip times swing widely (typical of busy Wi-Fi).
    NetworkJitter => "network_jitter",
    /// Packets to the relay are lost.
    NetworkLoss => "network_loss",
    /// The upload cannot carry 720p; a smaller publish resolution will.
    NetworkUploadLow => "network_upload_low",
    /// The upload cannot carry even 360p video.
    NetworkUploadTooLow => "network_upload_too_low",
    /// UDP to the relay is blocked; only TCP works.
    NetworkTcpOnly => "network_tcp_only",
    /// The relay cannot be reached at all.
    NetworkUnreachable => "network_unreachable",
}

impl FindingCode {
    /// The area this code belongs to.
    pub fn area(self) -> Area {
        let name = self.as_str();
        if name.starts_with("camera") {
            Area::Camera
        } else if name.starts_with("mic") {
            Area::Microphone
        } else if name.starts_with("speakers") {
            Area::Speakers
        } else if name.starts_with("network") {
            Area::Network
        } else {
            Area::Encoder
        }
    }

    /// How much this finding matters. Camera problems never block a class: it can run
    /// with audio and the whiteboard. A microphone that delivers nothing does.
    pub fn severity(self) -> Severity {
        use FindingCode::*;
        match self {
            CameraOk | MicOk | SpeakersHeard | SpeakersConfirmed | EncoderOk | NetworkOk => {
                Severity::Ok
            }
            SpeakersNotHeard | SpeakersAskUser => Severity::Info,
            MicMissing | MicBusy | MicOpenFailed | MicStopped | MicMuted | MicSilent
            | EncoderFailed | NetworkUnreachable => Severity::Blocker,
            _ => Severity::Warning,
        }
    }
}

/// A number or a piece of text that a finding's message interpolates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(untagged)]
pub enum ParamValue {
    Number(f64),
    Text(String),
}

impl From<f64> for ParamValue {
    fn from(v: f64) -> Self {
        Self::Number(v)
    }
}

impl From<f32> for ParamValue {
    /// Keeps the f32's shortest decimal form (−90.8, not −90.80000305…), so the value reads
    /// the same in JSON, in the UI and after a round trip through the store.
    fn from(v: f32) -> Self {
        Self::Number(v.to_string().parse().unwrap_or(f64::from(v)))
    }
}

impl From<u32> for ParamValue {
    fn from(v: u32) -> Self {
        Self::Number(f64::from(v))
    }
}

impl From<String> for ParamValue {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}

impl From<&str> for ParamValue {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // One decimal is what a person reads; whole numbers print without one.
            Self::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => write!(f, "{n:.0}"),
            Self::Number(n) => write!(f, "{n:.1}"),
            Self::Text(t) => f.write_str(t),
        }
    }
}

/// One thing the self-check found, with the values its message needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Finding {
    pub code: FindingCode,
    pub area: Area,
    pub severity: Severity,
    /// Values for the message and the fix, e.g. `{"fps": 12.0, "requested": 30.0}`.
    pub params: BTreeMap<String, ParamValue>,
}

impl Finding {
    /// A finding with the code's own area and severity and no parameters.
    pub fn new(code: FindingCode) -> Self {
        Self {
            code,
            area: code.area(),
            severity: code.severity(),
            params: BTreeMap::new(),
        }
    }

    /// Adds a parameter for the message.
    pub fn with(mut self, key: &str, value: impl Into<ParamValue>) -> Self {
        self.params.insert(key.to_owned(), value.into());
        self
    }
}

/// The one answer a teacher reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ready,
    ReadyWithWarnings,
    NotReady,
}

impl Verdict {
    /// Not ready if anything blocks, ready with warnings if anything warns, else ready.
    pub fn from_findings(findings: &[Finding]) -> Self {
        match findings.iter().map(|f| f.severity).max() {
            Some(Severity::Blocker) => Self::NotReady,
            Some(Severity::Warning) => Self::ReadyWithWarnings,
            _ => Self::Ready,
        }
    }

    /// The stable string form, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::ReadyWithWarnings => "ready_with_warnings",
            Self::NotReady => "not_ready",
        }
    }
}

/// What the camera delivered during the check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CameraStats {
    pub device: String,
    pub requested_width: u32,
    pub requested_height: u32,
    pub requested_fps: u32,
    pub width: u32,
    pub height: u32,
    pub delivered_fps: f32,
    pub frames: u32,
    /// Share of frames with mean luma below 20.
    pub black_ratio: f32,
    /// Share of frames nearly identical to the one before.
    pub frozen_ratio: f32,
    /// Mean luma over all frames, 0–255.
    pub mean_luma: f32,
}

/// What the microphone delivered during the check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MicStats {
    pub device: String,
    pub rms_dbfs: f32,
    pub peak_dbfs: f32,
    /// The quiet level between sounds (10th percentile of 50 ms windows), dBFS.
    pub noise_floor_dbfs: f32,
    /// Runs of at least six consecutive full-scale samples.
    pub clipping_runs: u32,
    /// Seconds of audio analysed.
    pub seconds: f32,
}

/// How the speakers were checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum SpeakerMethod {
    /// A test signal was played and looked for in the microphone.
    Microphone,
    /// No microphone: the teacher is asked.
    AskUser,
}

/// What the speaker test measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SpeakerStats {
    pub device: String,
    pub method: SpeakerMethod,
    pub heard: Option<bool>,
    /// Peak of the normalized cross-correlation between the played and the recorded signal, 0–1.
    pub correlation: f32,
    /// Speaker-to-microphone delay, ms.
    pub delay_ms: Option<f32>,
    /// Level of the recorded test signal, dBFS.
    pub level_dbfs: Option<f32>,
}

/// A publish resolution Lectern can choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum PublishResolution {
    #[serde(rename = "360p")]
    P360,
    #[serde(rename = "540p")]
    P540,
    #[serde(rename = "720p")]
    P720,
}

impl PublishResolution {
    /// Largest first.
    pub const ALL: [Self; 3] = [Self::P720, Self::P540, Self::P360];

    /// Width and height in pixels.
    pub fn size(self) -> (u32, u32) {
        match self {
            Self::P720 => (1280, 720),
            Self::P540 => (960, 540),
            Self::P360 => (640, 360),
        }
    }

    /// The video bitrate Lectern encodes this resolution at, bits per second.
    pub fn video_bps(self) -> u32 {
        match self {
            Self::P720 => 1_500_000,
            Self::P540 => 1_000_000,
            Self::P360 => 600_000,
        }
    }

    /// The upload a class at this resolution needs, kbit/s: video plus 64 kbit/s of
    /// audio, plus 30 % for RTP/UDP/IP headers, retransmissions and keyframe bursts.
    pub fn upload_kbps(self) -> u32 {
        (self.video_bps() + 64_000) / 1000 * 13 / 10
    }

    /// `720p`, `540p`, `360p`.
    pub fn label(self) -> &'static str {
        match self {
            Self::P720 => "720p",
            Self::P540 => "540p",
            Self::P360 => "360p",
        }
    }
}

/// Measured encode speed at one resolution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct EncodeSpeed {
    pub resolution: PublishResolution,
    pub ms_per_frame: f32,
}

/// What the encoder probe measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct EncoderStats {
    pub speeds: Vec<EncodeSpeed>,
    /// The largest resolution encoded within half the 30 fps frame budget.
    pub sustainable: Option<PublishResolution>,
}

/// How the network probe reached the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum NetworkTransport {
    /// UDP works: media flows the way it should.
    Udp,
    /// UDP got no answer but HTTP over TCP did: media falls back to ICE-TCP.
    TcpOnly,
    /// Not even HTTP reached the relay.
    Unreachable,
}

/// What the network probe measured against the relay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NetworkStats {
    /// The relay's base URL.
    pub relay: String,
    pub transport: NetworkTransport,
    /// Median round-trip time, ms.
    pub rtt_p50_ms: Option<f32>,
    /// 95th-percentile round-trip time, ms.
    pub rtt_p95_ms: Option<f32>,
    /// Variation of the one-way delay towards the relay (RFC 3550 interarrival jitter
    /// over UDP; mean change between round trips over TCP), ms.
    pub jitter_ms: Option<f32>,
    /// Share of packets lost on the way to the relay, percent (UDP only).
    pub loss_percent: Option<f32>,
    /// Share of packets lost on the way back from the relay, percent (UDP only).
    pub loss_down_percent: Option<f32>,
    /// Estimated upload towards the relay, kbit/s.
    pub upload_kbps: Option<u32>,
    /// The estimate reached the probe's highest sending rate: the link may carry more.
    pub upload_at_ceiling: bool,
    /// Round trips measured.
    pub samples: u32,
}

/// A whole self-check: the verdict, the findings and the measurements behind them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SelfCheckReport {
    /// Row id once stored.
    pub id: Option<i64>,
    /// When the check finished, RFC 3339 UTC.
    pub created_at: String,
    pub duration_ms: u32,
    pub app_version: String,
    pub os: String,
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    pub devices: DeviceSelection,
    pub camera: Option<CameraStats>,
    pub microphone: Option<MicStats>,
    pub speakers: Option<SpeakerStats>,
    pub encoder: Option<EncoderStats>,
    /// Absent in reports stored before the network probe existed.
    #[serde(default)]
    pub network: Option<NetworkStats>,
}

impl SelfCheckReport {
    /// Adds findings, keeping the order the report promises (blockers first, then
    /// warnings, then the rest; by area within a severity) and the verdict current.
    pub fn add_findings(&mut self, findings: impl IntoIterator<Item = Finding>) {
        self.findings.extend(findings);
        sort_findings(&mut self.findings);
        self.verdict = Verdict::from_findings(&self.findings);
    }
}

/// Blockers first, then warnings, then the rest; by area within a severity.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.area.cmp(&b.area)));
}

/// One line of the self-check history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ReportSummary {
    pub id: i64,
    pub created_at: String,
    pub verdict: Verdict,
    pub warnings: u32,
    pub blockers: u32,
}

/// The stage a running self-check has reached, for the progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Devices,
    CameraAndMicrophone,
    Speakers,
    Encoder,
    Network,
    Done,
}

/// Progress of a running self-check.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SelfCheckProgress {
    pub stage: Stage,
    /// 0–1 over the whole check.
    pub fraction: f32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_follows_the_worst_finding() {
        assert_eq!(Verdict::from_findings(&[]), Verdict::Ready);
        let ok = Finding::new(FindingCode::CameraOk);
        let warn = Finding::new(FindingCode::CameraBlack);
        let block = Finding::new(FindingCode::MicSilent);
        assert_eq!(
            Verdict::from_findings(std::slice::from_ref(&ok)),
            Verdict::Ready
        );
        assert_eq!(
            Verdict::from_findings(&[ok.clone(), warn.clone()]),
            Verdict::ReadyWithWarnings
        );
        assert_eq!(
            Verdict::from_findings(&[warn, block, ok]),
            Verdict::NotReady
        );
    }

    #[test]
    fn codes_serialize_to_their_stable_names_and_areas_match() {
        for code in FindingCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
        let unique: std::collections::HashSet<_> = FindingCode::ALL.iter().collect();
        assert_eq!(unique.len(), FindingCode::ALL.len());
        assert_eq!(FindingCode::SpeakersHeard.area(), Area::Speakers);
        assert_eq!(FindingCode::MicNoisy.area(), Area::Microphone);
        assert_eq!(FindingCode::EncoderOk.area(), Area::Encoder);
        assert_eq!(FindingCode::CameraMissing.severity(), Severity::Warning);
    }

    #[test]
    fn network_codes_have_their_area_and_severity() {
        assert_eq!(FindingCode::NetworkTcpOnly.area(), Area::Network);
        assert_eq!(FindingCode::NetworkOk.severity(), Severity::Ok);
        assert_eq!(
            FindingCode::NetworkUnreachable.severity(),
            Severity::Blocker
        );
        assert_eq!(FindingCode::NetworkUploadLow.severity(), Severity::Warning);
    }

    #[test]
    fn the_upload_ladder_follows_the_resolutions() {
        let needs: Vec<u32> = PublishResolution::ALL
            .iter()
            .map(|r| r.upload_kbps())
            .collect();
        assert_eq!(needs, vec![2033, 1383, 863]);
    }

    /// A report as stored before the network probe existed (no `network` key, no
    /// network codes) still loads, and an unknown-to-old-versions field round-trips.
    #[test]
    fn reports_stored_before_the_network_probe_still_load() {
        let old = r#"{"id":3,"created_at":"2026-01-05T08:00:00Z","duration_ms":9000,
            "app_version":"0.1.0","os":"linux x86_64","verdict":"ready",
            "findings":[{"code":"camera_ok","area":"camera","severity":"ok","params":{"fps":30}}],
            "devices":{"camera":null,"microphone":null,"speaker":null},
            "camera":null,"microphone":null,"speakers":null,
            "encoder":{"speeds":[{"resolution":"720p","ms_per_frame":8.5}],"sustainable":"720p"}}"#;
        let report: SelfCheckReport = serde_json::from_str(old).unwrap();
        assert_eq!(report.network, None);
        assert_eq!(report.id, Some(3));
        let mut with = report.clone();
        with.network = Some(NetworkStats {
            relay: "http://127.0.0.1:8686".into(),
            transport: NetworkTransport::TcpOnly,
            rtt_p50_ms: Some(12.5),
            rtt_p95_ms: Some(20.0),
            jitter_ms: Some(1.0),
            loss_percent: None,
            loss_down_percent: None,
            upload_kbps: Some(900),
            upload_at_ceiling: false,
            samples: 10,
        });
        let json = serde_json::to_string(&with).unwrap();
        assert!(json.contains(r#""transport":"tcp_only""#), "{json}");
        assert_eq!(
            serde_json::from_str::<SelfCheckReport>(&json).unwrap(),
            with
        );
    }

    #[test]
    fn added_findings_keep_the_order_and_the_verdict() {
        let mut report: SelfCheckReport = serde_json::from_str(
            r#"{"id":null,"created_at":"","duration_ms":0,"app_version":"","os":"",
            "verdict":"ready","findings":[{"code":"camera_ok","area":"camera","severity":"ok","params":{}}],
            "devices":{"camera":null,"microphone":null,"speaker":null},
            "camera":null,"microphone":null,"speakers":null,"encoder":null}"#,
        )
        .unwrap();
        report.add_findings([
            Finding::new(FindingCode::NetworkTcpOnly),
            Finding::new(FindingCode::NetworkOk),
        ]);
        assert_eq!(report.verdict, Verdict::ReadyWithWarnings);
        assert_eq!(report.findings[0].code, FindingCode::NetworkTcpOnly);
        assert!(
            report
                .findings
                .windows(2)
                .all(|w| w[0].severity >= w[1].severity)
        );
    }

    #[test]
    fn params_print_as_people_read_them() {
        assert_eq!(ParamValue::from(30.0_f64).to_string(), "30");
        assert_eq!(ParamValue::from(-23.456_f64).to_string(), "-23.5");
        assert_eq!(ParamValue::from("720p").to_string(), "720p");
    }
}

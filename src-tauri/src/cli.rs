//! `lectern selfcheck` and `lectern devices`: the same checks without a window, for
//! school IT on lab machines.

use std::process::ExitCode;

use clap::Subcommand;
use lectern_media::{CaptureSession, Devices, MediaClock, selfcheck};
use lectern_proto::{DeviceSelection, Language, Severity, Verdict, VideoMode};
use lectern_record::Store;

use crate::{i18n, paths};

/// Exit status when the verdict is Not ready.
const NOT_READY: u8 = 1;
/// Exit status when the check itself could not run.
const FAILED: u8 = 2;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the device self-check and print the verdict; exits 1 when Not ready.
    Selfcheck {
        /// Print the report as JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Seconds to watch the camera and microphone.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(2..=60))]
        seconds: u32,
        /// Camera id (see `lectern devices`); default: the system's.
        #[arg(long)]
        camera: Option<String>,
        /// Microphone id; default: the system's.
        #[arg(long)]
        microphone: Option<String>,
        /// Speaker id; default: the system's.
        #[arg(long)]
        speaker: Option<String>,
        /// Message language, `zh-CN` or `en`; default: the OS locale.
        #[arg(long)]
        lang: Option<String>,
        /// Do not store the report in the history.
        #[arg(long)]
        no_save: bool,
        /// Also probe the network to this relay (its base URL, e.g. `https://relay.school.example`).
        #[arg(long)]
        relay: Option<String>,
        /// A token of that relay, if it only answers probes for token holders.
        #[arg(long, requires = "relay")]
        relay_token: Option<String>,
    },
    /// List the cameras, microphones and speakers Lectern can use, as JSON.
    Devices,
}

pub fn run(command: Command) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lectern: cannot start: {e}");
            return ExitCode::from(FAILED);
        }
    };
    match command {
        Command::Devices => {
            let list = Devices::from_env().list();
            println!(
                "{}",
                serde_json::to_string_pretty(&list).expect("device list serializes")
            );
            ExitCode::SUCCESS
        }
        Command::Selfcheck {
            json,
            seconds,
            camera,
            microphone,
            speaker,
            lang,
            no_save,
            relay,
            relay_token,
        } => {
            let language = lang
                .as_deref()
                .map_or_else(i18n::system_language, Language::from_locale);
            let selection = DeviceSelection {
                camera,
                microphone,
                speaker,
            };
            let network = match relay {
                Some(base_url) => lectern_client::selfcheck::NetworkCheck::Relay(
                    lectern_client::netprobe::ProbeTarget {
                        base_url,
                        token: relay_token,
                        udp_addr: None,
                    },
                ),
                None => lectern_client::selfcheck::NetworkCheck::Skip,
            };
            runtime.block_on(selfcheck_command(
                json, seconds, selection, language, !no_save, network,
            ))
        }
    }
}

async fn selfcheck_command(
    json: bool,
    seconds: u32,
    selection: DeviceSelection,
    language: Language,
    save: bool,
    network: lectern_client::selfcheck::NetworkCheck,
) -> ExitCode {
    let devices = Devices::from_env();
    let session = {
        let (devices, selection) = (devices.clone(), selection.clone());
        tokio::task::spawn_blocking(move || {
            CaptureSession::open(&devices, &selection, VideoMode::HD_30, MediaClock::start())
        })
        .await
        .unwrap_or_default()
    };
    let options = selfcheck::Options {
        seconds: seconds as f32,
        ..selfcheck::Options::default()
    };
    let mut quiet = |_| {};
    let mut report = lectern_client::selfcheck::run(
        &devices, &session, &selection, &options, &network, &mut quiet,
    )
    .await;
    drop(session);
    if save {
        let path = paths::db_path(&paths::data_dir());
        match Store::open(&path).await {
            Ok(store) => match store.save_report(&report).await {
                Ok(stored) => report = stored,
                Err(e) => eprintln!("lectern: report not saved: {e}"),
            },
            Err(e) => eprintln!("lectern: report not saved: {e}"),
        }
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("report serializes")
        );
    } else {
        print_report(&report, language);
    }
    if report.verdict == Verdict::NotReady {
        ExitCode::from(NOT_READY)
    } else {
        ExitCode::SUCCESS
    }
}

fn print_report(report: &lectern_proto::SelfCheckReport, language: Language) {
    let none = |_: &str| None;
    let title = i18n::text(language, "selfcheck.title", &none);
    let verdict = i18n::text(
        language,
        &format!("verdict.{}", report.verdict.as_str()),
        &none,
    );
    println!("{title}: {verdict}");
    for finding in &report.findings {
        let mark = match finding.severity {
            Severity::Ok => "✓",
            Severity::Info => "i",
            Severity::Warning => "!",
            Severity::Blocker => "✗",
        };
        let area = i18n::text(language, &format!("area.{}", area_key(finding.area)), &none);
        let (title, fix) = i18n::finding_text(language, finding);
        println!("  {mark} {area}: {title}");
        if finding.severity > Severity::Ok {
            println!("      → {fix}");
        }
    }
}

fn area_key(area: lectern_proto::Area) -> &'static str {
    match area {
        lectern_proto::Area::Camera => "camera",
        lectern_proto::Area::Microphone => "microphone",
        lectern_proto::Area::Speakers => "speakers",
        lectern_proto::Area::Encoder => "encoder",
        lectern_proto::Area::Network => "network",
    }
}

//! The Lectern desktop app: a thin Tauri shell. Commands delegate into the crates;
//! this crate owns only app state, IPC wiring and the command line.

mod class;
mod cli;
mod commands;
mod i18n;
mod paths;
mod relay;
mod stage;
mod state;

use std::process::ExitCode;

use clap::Parser;
use tauri::{Manager, Runtime};

pub use state::AppState;

/// The command line: no subcommand opens the window.
#[derive(Debug, Parser)]
#[command(
    name = "lectern",
    version,
    about = "Lectern, the teacher console for live online classes"
)]
struct Args {
    #[command(subcommand)]
    command: Option<cli::Command>,
}

/// Entry point of the `lectern` binary.
pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tao=warn,wry=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match args.command {
        Some(command) => cli::run(command),
        None => match run_app(tauri::Builder::default()) {
            Ok(app) => {
                app.run(|handle, event| {
                    if let tauri::RunEvent::Exit = event {
                        // Students get a `bye` instead of a silent drop.
                        let state = handle.state::<AppState>();
                        tauri::async_runtime::block_on(async {
                            // End the WHIP session before the relay says goodbye.
                            if let Some(class) = state.class.lock().await.take() {
                                class.stop().await;
                            }
                            state.relay.stop().await;
                        });
                    }
                });
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("lectern: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// The typed command set; tauri-specta generates `ui/src/bindings.ts` from it.
pub fn specta_builder<R: Runtime>() -> tauri_specta::Builder<R> {
    tauri_specta::Builder::<R>::new().commands(tauri_specta::collect_commands![
        commands::devices::list_devices,
        commands::settings::system_language,
        commands::settings::get_settings,
        commands::settings::save_settings,
        commands::selfcheck::run_selfcheck,
        commands::selfcheck::selfcheck_history,
        commands::selfcheck::get_report,
        commands::selfcheck::export_report,
        commands::selfcheck::answer_speaker_check,
        commands::devices::play_test_tone,
        commands::relay::relay_status,
        commands::class::class_start,
        commands::class::class_current,
        commands::class::class_stop,
        commands::files::save_export,
        commands::board::board_convert,
    ])
}

/// Builds the app on any runtime (the real one, or `tauri::test::mock_builder()`).
pub fn run_app<R: Runtime>(builder: tauri::Builder<R>) -> anyhow::Result<tauri::App<R>> {
    let typed = specta_builder::<R>();
    let typed_handler = typed.invoke_handler();
    let raw_handler = commands::preview::handler::<R>();
    let stage_handler = commands::stage::handler::<R>();
    // The same directory Tauri calls app_data_dir (data dir + identifier), computed
    // before the app exists so a broken database fails start-up with a clear message.
    let dir = paths::data_dir();
    let state = tauri::async_runtime::block_on(AppState::open(&dir))?;
    tracing::info!(db = %state.store.path().display(), "store open");
    let app = builder
        .manage(state)
        .invoke_handler(move |invoke| {
            // Preview and stage stream raw JPEG bytes, which tauri-specta cannot describe;
            // those commands are wired by hand and typed by hand in `ui/src/preview.ts`
            // and `ui/src/class/stage.ts`.
            match invoke.message.command() {
                "start_preview" | "stop_preview" | "preview_ack" => raw_handler(invoke),
                c if commands::stage::COMMANDS.contains(&c) => stage_handler(invoke),
                _ => typed_handler(invoke),
            }
        })
        .build(tauri::generate_context!("../tauri.conf.json"))?;
    let handle = app.handle().clone();
    tauri::async_runtime::spawn(async move {
        handle.state::<AppState>().relay.start().await;
    });
    Ok(app)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed TypeScript bindings match the Rust commands and types.
    /// `LECTERN_UPDATE_BINDINGS=1 cargo test -p lectern bindings` rewrites them.
    #[test]
    fn typescript_bindings_are_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings.ts");
        let fresh = tempfile::NamedTempFile::new().unwrap();
        specta_builder::<tauri::Wry>()
            .export(
                specta_typescript::Typescript::default()
                    .bigint(specta_typescript::BigIntExportBehavior::Number)
                    .header("// Generated by tauri-specta from src-tauri. Do not edit: run `cargo xtask bindings`.\n/* eslint-disable */\n// @ts-nocheck"),
                fresh.path(),
            )
            .unwrap();
        let fresh = std::fs::read_to_string(fresh.path()).unwrap();
        if std::env::var_os("LECTERN_UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &fresh).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "ui/src/bindings.ts is stale: run `cargo xtask bindings`"
        );
    }

    #[test]
    fn app_builds_on_the_mock_runtime() {
        let dir = tempfile::tempdir().unwrap();
        paths::override_for_tests(dir.path());
        let app = run_app(tauri::test::mock_builder()).unwrap();
        let state = app.state::<AppState>();
        assert!(state.store.path().starts_with(dir.path()));
        // The embedded relay comes up by itself (on free ports if 8686 is taken).
        let status = tauri::async_runtime::block_on(async {
            for _ in 0..100 {
                let s = state.relay.status().await;
                if s.state != lectern_proto::RelayState::Starting {
                    return s;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            state.relay.status().await
        });
        assert_eq!(
            status.state,
            lectern_proto::RelayState::Running,
            "{status:?}"
        );
        assert!(
            status.urls.iter().any(|u| u.starts_with("http://")),
            "{status:?}"
        );
        assert!(status.media_port > 0);
    }
}

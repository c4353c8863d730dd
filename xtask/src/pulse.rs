//! A private PulseAudio server with a null sink: what is played to the sink is captured
//! from its monitor, a real speaker→microphone loop paced in real time, for cpal tests.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::sh::cmd;

pub(crate) struct NullSink {
    dir: PathBuf,
    env: Vec<(String, String)>,
}

impl NullSink {
    pub(crate) fn start(root: &Path) -> Result<Self> {
        let dir = crate::target_dir(root).join("pulse");
        let _ = std::fs::remove_dir_all(&dir);
        let (home, runtime) = (dir.join("home"), dir.join("run"));
        std::fs::create_dir_all(&home)?;
        std::fs::create_dir_all(&runtime)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700))?;
        }
        std::fs::write(
            home.join(".asoundrc"),
            "pcm.!default { type pulse }\nctl.!default { type pulse }\n",
        )?;
        let mut env = vec![
            ("HOME".to_owned(), home.to_string_lossy().into_owned()),
            (
                "XDG_RUNTIME_DIR".to_owned(),
                runtime.to_string_lossy().into_owned(),
            ),
        ];
        // Cargo and rustup find their homes through HOME unless told; keep them where they are.
        for (key, default) in [("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup")] {
            let value = std::env::var_os(key)
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(default)))
                .context("HOME is not set")?;
            env.push((key.to_owned(), value.to_string_lossy().into_owned()));
        }
        let with_env = |mut c: crate::sh::Cmd| {
            for (k, v) in &env {
                c = c.env(k, v);
            }
            c
        };
        with_env(cmd("pulseaudio")).args([
            "-D",
            "--exit-idle-time=-1",
            "-n",
            "--load=module-native-protocol-unix",
            "--load=module-null-sink sink_name=vsink rate=48000 sink_properties=device.description=Lectern-test-sink",
            "--load=module-always-sink",
        ])
        .run()?;
        // From here on, dropping `sink` stops the server, whatever fails next.
        let sink = Self {
            dir,
            env: env.clone(),
        };
        let started = Instant::now();
        while !with_env(cmd("pactl")).arg("info").succeeds() {
            if started.elapsed() > Duration::from_secs(10) {
                bail!("PulseAudio did not come up within 10 s");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        with_env(cmd("pactl"))
            .args(["set-default-sink", "vsink"])
            .run()?;
        with_env(cmd("pactl"))
            .args(["set-default-source", "vsink.monitor"])
            .run()?;
        Ok(sink)
    }

    /// The environment a test process needs to reach this server through ALSA.
    pub(crate) fn env(&self) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        env.push(("LECTERN_PULSE".to_owned(), "1".to_owned()));
        env
    }
}

impl Drop for NullSink {
    fn drop(&mut self) {
        let mut c = cmd("pulseaudio").arg("--kill");
        for (k, v) in &self.env {
            c = c.env(k, v);
        }
        let _ = c.succeeds();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

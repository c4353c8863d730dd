//! A small command runner that echoes what it runs and fails with the command's name.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

pub(crate) struct Cmd(Command);

pub(crate) fn cmd(program: impl AsRef<OsStr>) -> Cmd {
    Cmd(Command::new(program))
}

impl Cmd {
    pub(crate) fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.0.arg(a);
        self
    }

    pub(crate) fn args<I, S>(mut self, a: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.0.args(a);
        self
    }

    pub(crate) fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.0.env(k, v);
        self
    }

    pub(crate) fn dir(mut self, d: &Path) -> Self {
        self.0.current_dir(d);
        self
    }

    fn describe(&self) -> String {
        let mut s = self.0.get_program().to_string_lossy().into_owned();
        for a in self.0.get_args() {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }

    /// Runs to completion; an error if it cannot start or exits non-zero.
    pub(crate) fn run(mut self) -> Result<()> {
        let what = self.describe();
        eprintln!("xtask: $ {what}");
        let status = self
            .0
            .status()
            .with_context(|| format!("cannot start `{what}`"))?;
        if !status.success() {
            bail!("`{what}` failed ({status})");
        }
        Ok(())
    }

    /// Runs and returns stdout; an error if it fails.
    pub(crate) fn output(mut self) -> Result<String> {
        let what = self.describe();
        let out = self
            .0
            .output()
            .with_context(|| format!("cannot start `{what}`"))?;
        if !out.status.success() {
            bail!(
                "`{what}` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// True when the command runs and exits zero; nothing is printed.
    pub(crate) fn succeeds(mut self) -> bool {
        self.0
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

/// True when `program` is on PATH (or in cargo's bin directory).
pub(crate) fn has(program: &str) -> bool {
    let exe = format!("{program}{}", std::env::consts::EXE_SUFFIX);
    let in_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(&exe).is_file()))
        .unwrap_or(false);
    in_path || cargo_bin().join(&exe).is_file()
}

/// `$CARGO_HOME/bin`.
pub(crate) fn cargo_bin() -> std::path::PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .unwrap_or_default()
        .join("bin")
}

/// FNV-1a, for change stamps.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

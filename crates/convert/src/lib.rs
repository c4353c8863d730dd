//! Office documents to PDF with LibreOffice headless.
//!
//! ```no_run
//! # fn main() -> Result<(), lectern_convert::ConvertError> {
//! let converter = lectern_convert::Converter::find()?;
//! let work = std::env::temp_dir().join("lectern-convert");
//! let pdf = converter.to_pdf("lesson.pptx".as_ref(), &work)?;
//! # let _ = pdf; Ok(()) }
//! ```
//!
//! Invariants:
//! - Every run has its own LibreOffice user profile inside the work directory, so a
//!   LibreOffice the user has open (which would take the request over its pipe and
//!   convert nothing here) and concurrent runs do not interfere.
//! - A run never outlives [`Converter::timeout`]: past it the process is killed.
//! - What is returned is a file that starts like a PDF; anything else is an error.
//!
//! Wiring (not built here): a Tauri command `board_convert(path) -> Result<String, ApiError>`
//! in `src-tauri/src/commands/board.rs` runs [`Converter::to_pdf`] in
//! `tauri::async_runtime::spawn_blocking` with a temporary work directory and returns the
//! PDF's path; the Class page reads it (or receives its bytes) and hands it to
//! `importPdf` as a `Blob`. [`ConvertError::code`] maps to the `{code, message}` error
//! the UI matches on: `not_found` when LibreOffice is missing (the UI then says to install
//! it), `invalid_input` for an unsupported type, `busy` on timeout, `internal` otherwise.

use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// File extensions LibreOffice is asked to convert (lowercase).
pub const SUPPORTED: &[&str] = &[
    "pptx", "ppt", "pps", "ppsx", "odp", "key", "docx", "doc", "odt", "rtf",
];

/// Why a document could not be converted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertError {
    /// LibreOffice (`soffice`) is not installed where we look.
    #[error("LibreOffice was not found; install it to import office documents")]
    NotInstalled,
    /// The file's type is not one we convert.
    #[error("files of type {0:?} are not converted")]
    Unsupported(String),
    /// LibreOffice ran but failed.
    #[error("LibreOffice failed ({status}): {stderr}")]
    Failed { status: String, stderr: String },
    /// LibreOffice took longer than the time limit and was stopped.
    #[error("LibreOffice took longer than {0:?}")]
    Timeout(Duration),
    /// LibreOffice finished but left no PDF (a damaged or password-protected document).
    #[error("LibreOffice produced no PDF from this document")]
    NoOutput,
    /// Reading or writing files, or starting the process, failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl ConvertError {
    /// The stable code for the `{code, message}` error (see `lectern_proto::ErrorCode`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotInstalled => "not_found",
            Self::Unsupported(_) | Self::NoOutput => "invalid_input",
            Self::Timeout(_) => "busy",
            Self::Failed { .. } | Self::Io(_) => "internal",
        }
    }
}

/// Runs one LibreOffice program.
#[derive(Debug, Clone)]
pub struct Converter {
    program: PathBuf,
    timeout: Duration,
}

/// Where installers put `soffice` when it is not on `PATH`.
fn known_locations() -> Vec<PathBuf> {
    if cfg!(target_os = "macos") {
        vec!["/Applications/LibreOffice.app/Contents/MacOS/soffice".into()]
    } else if cfg!(windows) {
        ["ProgramFiles", "ProgramFiles(x86)"]
            .iter()
            .filter_map(std::env::var_os)
            .map(|dir| PathBuf::from(dir).join(r"LibreOffice\program\soffice.exe"))
            .collect()
    } else {
        vec![
            "/usr/bin/soffice".into(),
            "/usr/lib/libreoffice/program/soffice".into(),
            "/opt/libreoffice/program/soffice".into(),
            "/snap/bin/libreoffice".into(),
        ]
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    let exe = if cfg!(windows) {
        format!("{name}.exe")
    } else {
        name.to_string()
    };
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(&exe))
        .find(|p| p.is_file())
}

impl Converter {
    /// A converter running `program`, with a 120 s limit.
    pub fn with_program(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            timeout: Duration::from_secs(120),
        }
    }

    /// Finds LibreOffice: `$LECTERN_SOFFICE`, then `soffice` or `libreoffice` on `PATH`,
    /// then where installers usually put it.
    pub fn find() -> Result<Self, ConvertError> {
        std::env::var_os("LECTERN_SOFFICE")
            .map(PathBuf::from)
            .filter(|p| p.is_file())
            .or_else(|| on_path("soffice"))
            .or_else(|| on_path("libreoffice"))
            .or_else(|| known_locations().into_iter().find(|p| p.is_file()))
            .map(Self::with_program)
            .ok_or(ConvertError::NotInstalled)
    }

    /// The LibreOffice program it runs.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// The same converter with another time limit.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = limit;
        self
    }

    /// Converts `input` into a PDF inside `work` (created if missing; the caller removes
    /// it) and returns the PDF's path. Blocks until LibreOffice is done or the time limit.
    pub fn to_pdf(&self, input: &Path, work: &Path) -> Result<PathBuf, ConvertError> {
        let ext = input
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        if !SUPPORTED.contains(&ext.as_str()) {
            return Err(ConvertError::Unsupported(ext));
        }
        let out_dir = work.join("out");
        fs::create_dir_all(&out_dir)?;
        let started = Instant::now();
        let mut attempt = self.run(input, &out_dir, &work.join("profile"), self.timeout);
        // LibreOffice sometimes aborts while it sets up a new profile (seen on a machine's
        // very first runs, two at once): once, with a fresh profile, in the time left.
        if let Err(Failed::Crashed(_)) = &attempt
            && let Some(left) = self.timeout.checked_sub(started.elapsed())
        {
            attempt = self.run(input, &out_dir, &work.join("profile-retry"), left);
        }
        attempt.map_err(|f| match f {
            Failed::Crashed(e) | Failed::Other(e) => e,
        })?;
        let stem = input.file_stem().unwrap_or_default();
        let pdf = out_dir.join(stem).with_extension("pdf");
        let mut head = [0u8; 5];
        let is_pdf = fs::File::open(&pdf)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok_and(|()| &head == b"%PDF-");
        if is_pdf {
            Ok(pdf)
        } else {
            Err(ConvertError::NoOutput)
        }
    }
}

impl Converter {
    /// One LibreOffice run converting `input` into `out_dir` with the profile in
    /// `profile`, stopped after `limit`.
    fn run(
        &self,
        input: &Path,
        out_dir: &Path,
        profile: &Path,
        limit: Duration,
    ) -> Result<(), Failed> {
        fs::create_dir_all(profile).map_err(|e| Failed::Other(e.into()))?;
        let mut profile_arg = OsString::from("-env:UserInstallation=");
        profile_arg.push(file_url(
            &fs::canonicalize(profile).map_err(|e| Failed::Other(e.into()))?,
        ));
        let mut child = Command::new(&self.program)
            .arg(profile_arg)
            .args([
                "--headless",
                "--invisible",
                "--norestore",
                "--nologo",
                "--nolockcheck",
            ])
            .args(["--convert-to", "pdf", "--outdir"])
            .arg(out_dir)
            .arg(input)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                Failed::Other(match e.kind() {
                    std::io::ErrorKind::NotFound => ConvertError::NotInstalled,
                    _ => ConvertError::Io(e),
                })
            })?;
        // Drain stderr on a thread so a chatty LibreOffice never blocks on a full pipe.
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = child.try_wait().map_err(|e| Failed::Other(e.into()))? {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Failed::Other(ConvertError::Timeout(self.timeout)));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stderr = reader.join().unwrap_or_default();
        if !status.success() {
            let e = ConvertError::Failed {
                status: status.to_string(),
                stderr: stderr.trim().chars().take(2000).collect(),
            };
            return Err(if crashed(&status) {
                Failed::Crashed(e)
            } else {
                Failed::Other(e)
            });
        }
        Ok(())
    }
}

/// A failed run: a crash (killed by a signal, or the wrapper's 128 + signal) may be
/// worth one more try; anything else is the answer.
enum Failed {
    Crashed(ConvertError),
    Other(ConvertError),
}

fn crashed(status: &std::process::ExitStatus) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if status.signal().is_some() {
            return true;
        }
    }
    status.code().is_some_and(|c| c > 128 && c < 160)
}

/// `path` (absolute) as a `file://` URL, as LibreOffice's `-env:` options want it.
fn file_url(path: &Path) -> String {
    let s = path.to_string_lossy().replace('\\', "/");
    let s = s.strip_prefix("//?/").unwrap_or(&s).to_string();
    let mut url = String::from(if s.starts_with('/') {
        "file://"
    } else {
        "file:///"
    });
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' | b':' => {
                url.push(b as char);
            }
            _ => url.push_str(&format!("%{b:02X}")),
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_paths_become_file_urls() {
        assert_eq!(file_url(Path::new("/tmp/a b/p")), "file:///tmp/a%20b/p");
        assert_eq!(
            file_url(Path::new(r"C:\Users\李\p")),
            "file:///C:/Users/%E6%9D%8E/p"
        );
        assert_eq!(
            file_url(Path::new(r"\\?\C:\x")),
            "file:///C:/x",
            "verbatim prefix dropped"
        );
    }

    #[test]
    fn unsupported_types_are_refused_before_anything_runs() {
        let c = Converter::with_program("/nonexistent/soffice");
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        for name in ["notes.txt", "movie.mp4", "noextension"] {
            let err = c.to_pdf(Path::new(name), &work).unwrap_err();
            assert!(matches!(err, ConvertError::Unsupported(_)), "{name}: {err}");
            assert_eq!(err.code(), "invalid_input");
        }
        let err = c.to_pdf(Path::new("Lesson.PPTX"), &work).unwrap_err();
        assert!(matches!(err, ConvertError::NotInstalled), "{err}");
        assert_eq!(err.code(), "not_found");
    }
}

//! A helper program (a Python script driving GStreamer, say) run beside a test: in its
//! own process group (a Ctrl-C in the terminal reaches the test, not it), killed with its
//! group on drop, its stderr kept and printed if the test fails.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Debian's `python3-gi` belongs to the system interpreter, whatever `python3` is first
/// on the PATH (pyenv, a virtualenv).
pub const PYTHON: &str = "/usr/bin/python3";

/// A running helper program.
#[derive(Debug)]
pub struct Script {
    child: Child,
    stdout: Option<BufReader<ChildStdout>>,
    log: Arc<Mutex<String>>,
}

impl Script {
    /// Runs `python3 -c source args…`.
    pub fn python(source: &str, args: &[&str]) -> Self {
        let mut child = Command::new(PYTHON)
            .arg("-c")
            .arg(source)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {PYTHON}: {e}"));
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr is piped");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap_or_else(|e| e.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
        });
        let stdout = child.stdout.take().map(BufReader::new);
        Self { child, stdout, log }
    }

    /// The next line the program prints on stdout (blocking), without its newline.
    pub fn read_line(&mut self) -> String {
        let mut line = String::new();
        let n = self
            .stdout
            .as_mut()
            .expect("stdout is piped")
            .read_line(&mut line)
            .expect("stdout readable");
        if n == 0 {
            panic!("the script exited before printing a line");
        }
        line.trim_end().to_owned()
    }

    /// Everything it wrote to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Panics if the process has exited (its log follows, from `drop`).
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("the script exited ({status})");
        }
    }

    fn signal(&self, signal: &str) {
        // The whole group: whatever the interpreter may have started goes too.
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
    }

    /// SIGTERM, then waits for a clean exit.
    pub async fn stop(mut self, timeout: Duration) {
        self.signal("-TERM");
        let started = Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    assert!(status.success(), "the script failed ({status})");
                    return;
                }
                Ok(None) if started.elapsed() < timeout => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                _ => panic!("the script did not stop in {timeout:?}"),
            }
        }
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        self.signal("-KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- script stderr ---\n{}--- end ---", self.log());
        }
    }
}

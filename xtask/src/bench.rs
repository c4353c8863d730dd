//! `cargo xtask bench`: runs the benchmarks and rewrites the results table in BENCHMARKS.md.

use std::path::Path;

use anyhow::{Context, Result};

use crate::sh::cmd;

const BEGIN: &str = "<!-- bench:begin -->";
const END: &str = "<!-- bench:end -->";

/// (criterion id, what it is, target)
const CRITERION: &[(&str, &str, &str)] = &[
    (
        "encode/h264_720p",
        "openh264 encode, 1280×720, per frame",
        "≤ 16.7 ms (half a 30 fps frame)",
    ),
    (
        "encode/h264_360p",
        "openh264 encode, 640×360, per frame",
        "≤ 16.7 ms",
    ),
    (
        "diagnostics/camera_frame_720p",
        "camera diagnostics, per 720p frame",
        "≤ 1 ms",
    ),
    (
        "diagnostics/mic_chunk_10ms",
        "microphone diagnostics, per 10 ms chunk",
        "≤ 50 µs",
    ),
    (
        "preview/jpeg_720p_to_640",
        "preview JPEG, 720p frame → 640×360",
        "≤ 5 ms",
    ),
    (
        "preview/synthetic_frame_720p",
        "synthetic camera, one 720p frame",
        "≤ 5 ms",
    ),
    (
        "stage/aec3_chunk_10ms",
        "stage: echo cancellation (AEC3) on the teacher's microphone, per 10 ms chunk with students playing",
        "≤ 1 ms (10 % of a core)",
    ),
    (
        "stage/decode_360p",
        "stage: a student's picture on the console, openh264 decode, 640×360",
        "≤ 5 ms (six students at 30 fps in one core)",
    ),
];

pub(crate) fn run(root: &Path) -> Result<()> {
    cmd("cargo")
        .args(["bench", "-p", "lectern-media", "--bench", "media"])
        .run()?;
    let mut rows = criterion_rows(root, "")?;
    let json = cmd("cargo")
        .args([
            "run",
            "--release",
            "-q",
            "-p",
            "lectern-media",
            "--example",
            "preview_cpu",
            "--",
            "10",
        ])
        .output()?;
    let field = |k: &str| field(&json, k);
    let (capture, total) = (field("capture_cpu"), field("capture_and_preview_cpu"));
    rows.push(format!(
        "| live preview at 720p30 (JPEG 640×360, {:.1} fps, {:.0} kbit/s over IPC), share of one core on top of capture | {:.1} % (capture alone {:.1} %) | ≤ 15 % | `cargo run --release -p lectern-media --example preview_cpu` |",
        field("preview_fps"),
        field("preview_kbps"),
        (total - capture) * 100.0,
        capture * 100.0
    ));
    rows.push(stage_console_row()?);
    rows.extend(crate::bench_publish::publish_rows()?);
    rows.extend(crate::bench_publish::impaired_rows()?);
    rows.extend(crate::bench_board::board_rows()?);
    rows.extend(crate::bench_flv::flv_rows()?);
    // xiu for the comparison: built outside the repository; without it, our rows still.
    let xiu = crate::xiu::build_xiu().map_err(|e| {
        eprintln!(
            "xtask: xiu {} could not be built: {e:#}",
            crate::xiu::VERSION
        );
        format!("{e:#}")
    });
    rows.extend(fanout(xiu)?);
    write_table(root, &rows)
}

/// Subscriber counts of the fan-out benchmark, and those also run against xiu.
const FANOUT: &str = "50,100,250,500";
const FANOUT_XIU: &str = "50,100,250";

/// The relay fan-out benchmark: one JSON line per subscriber count and server.
fn fanout(xiu: std::result::Result<std::path::PathBuf, String>) -> Result<Vec<String>> {
    let bench = |ns: &str, xiu: Option<&Path>| {
        let mut c = cmd("cargo").args([
            "bench",
            "-q",
            "-p",
            "lectern-e2e",
            "--bench",
            "fanout",
            "--",
            ns,
            "10",
        ]);
        if let Some(xiu) = xiu {
            c = c.arg("--xiu").arg(xiu);
        }
        c.output()
    };
    let out = match &xiu {
        Ok(binary) => {
            let xiu_ns: Vec<&str> = FANOUT_XIU.split(',').collect();
            let rest: Vec<&str> = FANOUT.split(',').filter(|n| !xiu_ns.contains(n)).collect();
            let mut out = bench(FANOUT_XIU, Some(binary))?;
            if !rest.is_empty() {
                out.push_str(&bench(&rest.join(","), None)?);
            }
            out
        }
        Err(_) => bench(FANOUT, None)?,
    };
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with('{')).collect();
    let mut rows = Vec::new();
    for line in lines.iter().filter(|l| !l.contains("\"server\":\"xiu\"")) {
        let f = Figures::of(line);
        rows.push(format!(
            "| relay fan-out, 1 publisher (600 kbit/s + audio) → {n} subscribers ({connected} connected): relay CPU, delay added p50 / p99, loss | {result} | ≥ 1000 subscribers per core; p99 ≤ 20 ms; 0 % | `cargo bench -p lectern-e2e --bench fanout -- {n} 10` |",
            n = f.subscribers,
            connected = f.connected,
            result = f.result(true),
        ));
    }
    anyhow::ensure!(!rows.is_empty(), "the fan-out benchmark printed no results");
    let xiu_lines: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains("\"server\":\"xiu\""))
        .collect();
    rows.extend(xiu_rows(&xiu_lines, xiu.err()));
    Ok(rows)
}

/// The figures of one fan-out JSON line (NaN where a field is missing).
struct Figures {
    subscribers: f64,
    connected: f64,
    cpu_percent: f64,
    per_core: f64,
    p50_ms: f64,
    p99_ms: f64,
    loss_percent: f64,
}

impl Figures {
    fn of(line: &str) -> Self {
        Self {
            subscribers: field(line, "subscribers"),
            connected: field(line, "connected"),
            cpu_percent: field(line, "relay_cpu") * 100.0,
            per_core: field(line, "subscribers_per_core"),
            p50_ms: field(line, "delay_p50_ms"),
            p99_ms: field(line, "delay_p99_ms"),
            loss_percent: field(line, "loss") * 100.0,
        }
    }

    /// The result cell: CPU and what it makes per core, delay, loss (`headline` bolds
    /// the per-core figure, the one the target is about).
    fn result(&self, headline: bool) -> String {
        let per_core = format!("{:.0} subscribers per core", self.per_core);
        let per_core = if headline {
            format!("**{per_core}**")
        } else {
            per_core
        };
        format!(
            "{:.1} % of a core = {per_core}; {:.1} / {:.1} ms; {:.2} %",
            self.cpu_percent, self.p50_ms, self.p99_ms, self.loss_percent
        )
    }
}

/// The xiu comparison rows: one per subscriber count, then the CPU ratios.
fn xiu_rows(lines: &[&str], build_error: Option<String>) -> Vec<String> {
    let version = crate::xiu::VERSION;
    let reproduce = format!(
        "`cargo bench -p lectern-e2e --bench fanout -- {FANOUT_XIU} 10 --xiu $(cargo xtask xiu)`"
    );
    if let Some(why) = build_error {
        let why = why.replace('|', "/").replace('\n', " ");
        return vec![format!(
            "| xiu {version} fan-out (comparison) | not measured: the xiu build failed: {why} | — | {reproduce} |"
        )];
    }
    let mut rows = Vec::new();
    let mut ratios = Vec::new();
    for line in lines {
        let n = field(line, "subscribers");
        if !line.contains("\"relay_cpu\"") {
            let why = string_after(line, "\"error\":").unwrap_or_else(|| "unknown".into());
            rows.push(format!(
                "| xiu {version} fan-out, 1 publisher (600 kbit/s + audio) → {n} subscribers | not measured: {} | — | {reproduce} |",
                why.replace('|', "/")
            ));
            continue;
        }
        let f = Figures::of(line);
        rows.push(format!(
            "| xiu {version} fan-out, 1 publisher (600 kbit/s + audio) → {n} subscribers ({connected} connected): CPU (whole process), delay added p50 / p99, loss | {result} | comparison | {reproduce} |",
            connected = f.connected,
            result = f.result(false),
        ));
        let ratio = field(line, "cpu_ratio_xiu_over_lectern");
        if ratio.is_finite() {
            ratios.push(if ratio >= 1.0 {
                format!("**{ratio:.1}× less** ({n} subscribers)")
            } else {
                format!("**{:.1}× more** ({n} subscribers)", 1.0 / ratio)
            });
        }
    }
    if !ratios.is_empty() {
        rows.push(format!(
            "| Lectern relay vs xiu {version}: CPU per connected subscriber, same scenario, same run | Lectern relay uses {} CPU per subscriber than xiu | — | {reproduce} |",
            ratios.join(", ")
        ));
    }
    rows
}

/// The JSON string value after `key`, unescaped just enough for a table cell.
fn string_after(text: &str, key: &str) -> Option<String> {
    let start = text.find(key)? + key.len();
    let rest = text[start..].trim_start().strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => out.push(chars.next()?),
            c => out.push(c),
        }
    }
    None
}

fn mean_ns(estimates: &str) -> Option<f64> {
    let mean = estimates.find("\"mean\"")?;
    number_after(&estimates[mean..], "\"point_estimate\":")
}

/// The number after `"key":` in one JSON line of a bench, NaN when absent.
pub(crate) fn field(line: &str, key: &str) -> f64 {
    number_after(line, &format!("\"{key}\":")).unwrap_or(f64::NAN)
}

pub(crate) fn number_after(text: &str, key: &str) -> Option<f64> {
    let start = text.find(key)? + key.len();
    let rest = text[start..].trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | 'e' | 'E' | '+')))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

fn human(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let date = cmd("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .unwrap_or_default();
    format!(
        "Measured {} on {cpu}, {cores} cores ({} {}).",
        date.trim(),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// `cargo xtask bench board|impaired`: re-measures one group of rows and puts them into
/// the existing table in place of the old ones; the other rows keep their figures.
/// The criterion rows whose id starts with `group`, from the last `cargo bench` run.
fn criterion_rows(root: &Path, group: &str) -> Result<Vec<String>> {
    let criterion = crate::target_dir(root).join("criterion");
    let mut rows = Vec::new();
    for (id, what, target) in CRITERION.iter().filter(|(id, ..)| id.starts_with(group)) {
        let file = criterion.join(id).join("new/estimates.json");
        let text = std::fs::read_to_string(&file).with_context(|| format!("{}", file.display()))?;
        let ns = mean_ns(&text).with_context(|| format!("no mean in {}", file.display()))?;
        rows.push(format!(
            "| {what} | {} | {target} | `cargo bench -p lectern-media --bench media -- {id}` |",
            human(ns)
        ));
    }
    Ok(rows)
}

/// The stage's rows: criterion's (echo cancellation, decoding a student) and the
/// console's whole cost of six students on stage.
fn stage_rows(root: &Path) -> Result<Vec<String>> {
    cmd("cargo")
        .args([
            "bench",
            "-p",
            "lectern-media",
            "--bench",
            "media",
            "--",
            "stage/",
        ])
        .run()?;
    let mut rows = criterion_rows(root, "stage/")?;
    rows.push(stage_console_row()?);
    Ok(rows)
}

/// What six students on stage cost the console.
fn stage_console_row() -> Result<String> {
    let out = cmd("cargo")
        .args([
            "bench",
            "-q",
            "-p",
            "lectern-e2e",
            "--bench",
            "stage",
            "--",
            "6",
            "10",
        ])
        .output()?;
    let line = out.lines().find(|l| l.starts_with('{')).unwrap_or_default();
    Ok(format!(
        "| stage: the console watching 6 students on stage (360p30 + Opus each, through the relay on loopback): WHEP, depacketizing, openh264 and Opus decoding, the speaker mix and a JPEG tile of every picture, share of one core | **{:.1} %** ({:.1} pictures/s per student) | ≤ 50 % | `cargo bench -p lectern-e2e --bench stage -- 6 10` |",
        field(line, "console_cpu_percent"),
        field(line, "per_student_fps")
    ))
}

pub(crate) fn run_group(root: &Path, group: &str) -> Result<()> {
    let (fresh, prefix, name) = match group {
        "stage" => (stage_rows(root)?, "| stage: ", "Stage"),
        "board" => (crate::bench_board::board_rows()?, "| board ", "Whiteboard"),
        "flv" => (crate::bench_flv::flv_rows()?, "| FLV ", "FLV bridge"),
        "impaired" => (
            crate::bench_publish::impaired_rows()?,
            "| publisher on ",
            "Impaired-uplink",
        ),
        other => anyhow::bail!(
            "unknown bench group {other:?}: try `board`, `flv`, `impaired` or `stage`"
        ),
    };
    let doc = std::fs::read_to_string(root.join("BENCHMARKS.md"))?;
    let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else {
        anyhow::bail!("BENCHMARKS.md lacks the {BEGIN} … {END} markers");
    };
    let table = &doc[b..e];
    let measured = table
        .lines()
        .find(|l| l.starts_with("Measured "))
        .unwrap_or_default()
        .to_owned();
    let mut rows: Vec<String> = table
        .lines()
        .skip_while(|l| !l.starts_with("|---"))
        .skip(1)
        .filter(|l| l.starts_with("| ") && !l.starts_with(prefix))
        .map(str::to_owned)
        .collect();
    rows.extend(fresh);
    let date = cmd("date").args(["-u", "+%Y-%m-%d"]).output()?;
    let header = with_note(&measured, name, date.trim());
    write_table_with(root, &header, &rows)
}

/// The table's "Measured …" line with "`name` rows re-measured `date`." at its end; an
/// older note of the same group is taken out, other groups' notes stay.
fn with_note(measured: &str, name: &str, date: &str) -> String {
    let note = format!(" {name} rows re-measured ");
    let kept = match measured.find(&note) {
        Some(at) => {
            let end = measured[at + note.len()..]
                .find(". ")
                .map_or(measured.len(), |e| at + note.len() + e + 1);
            format!("{}{}", &measured[..at], &measured[end..])
        }
        None => measured.to_owned(),
    };
    format!("{}{note}{date}.", kept.trim_end())
}

/// Rewrites the table between the markers in BENCHMARKS.md and in the README.
fn write_table(root: &Path, rows: &[String]) -> Result<()> {
    write_table_with(root, &machine(), rows)
}

fn write_table_with(root: &Path, header: &str, rows: &[String]) -> Result<()> {
    let table = format!(
        "{BEGIN}\n{header}\n\n| what | result | target | reproduce |\n|---|---|---|---|\n{}\n",
        rows.join("\n")
    );
    for file in ["BENCHMARKS.md", "README.md"] {
        let path = root.join(file);
        let doc = std::fs::read_to_string(&path).with_context(|| file.to_owned())?;
        let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else {
            anyhow::bail!("{file} lacks the {BEGIN} … {END} markers");
        };
        std::fs::write(&path, format!("{}{}{}", &doc[..b], table, &doc[e..]))?;
        eprintln!("xtask: {file} updated");
    }
    println!("{}", rows.join("\n"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_note_replaces_its_older_self_and_keeps_the_others() {
        let first = with_note("Measured 2026-12-03 on X.", "Whiteboard", "2026-12-04");
        assert_eq!(
            first,
            "Measured 2026-12-03 on X. Whiteboard rows re-measured 2026-12-04."
        );
        let both = with_note(&first, "Impaired-uplink", "2026-12-05");
        assert_eq!(
            both,
            "Measured 2026-12-03 on X. Whiteboard rows re-measured 2026-12-04. Impaired-uplink rows re-measured 2026-12-05."
        );
        assert_eq!(
            with_note(&both, "Whiteboard", "2026-12-06"),
            "Measured 2026-12-03 on X. Impaired-uplink rows re-measured 2026-12-05. Whiteboard rows re-measured 2026-12-06."
        );
    }

    #[test]
    fn xiu_rows_report_results_failures_and_the_ratio() {
        let lines = [
            r#"{"connected":50,"cpu_ratio_xiu_over_lectern":1.46,"delay_p50_ms":2.9,"delay_p99_ms":24.7,"loss":0.0,"relay_cpu":0.19,"server":"xiu","subscribers":50,"subscribers_per_core":261.8}"#,
            r#"{"connected":0,"error":"publisher: connection failed","publisher_connected":false,"server":"xiu","subscribers":100}"#,
        ];
        let rows = xiu_rows(&lines, None);
        assert_eq!(rows.len(), 3, "{rows:#?}");
        assert!(rows[0].contains("→ 50 subscribers (50 connected)") && rows[0].contains("19.0 %"));
        assert!(rows[1].contains("not measured: publisher: connection failed"));
        assert!(rows[2].contains("**1.5× less** (50 subscribers)"));
        let failed = xiu_rows(&[], Some("cargo failed".into()));
        assert!(failed[0].contains("the xiu build failed: cargo failed"));
    }
}

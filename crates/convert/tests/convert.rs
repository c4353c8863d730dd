//! The converter against stand-ins for LibreOffice (shell scripts that behave like it:
//! convert, fail, hang, print a lot, produce nothing), and against the real one when it is
//! installed.

use lectern_convert::{ConvertError, Converter};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Writes an executable script standing in for `soffice`. It sees the same arguments.
#[cfg(unix)]
fn fake(dir: &Path, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("soffice");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A stand-in that converts: records its arguments, writes `<outdir>/<stem>.pdf`.
#[cfg(unix)]
const CONVERTS: &str = r#"
printf '%s\n' "$@" > "$(dirname "$0")/args"
while [ "$#" -gt 1 ]; do
  if [ "$1" = "--outdir" ]; then out="$2"; fi
  shift
done
stem=$(basename "$1"); stem="${stem%.*}"
printf '%%PDF-1.4\n%%%%EOF\n' > "$out/$stem.pdf"
"#;

#[cfg(unix)]
#[test]
fn converts_with_a_private_profile_and_returns_the_pdf() {
    let dir = tempfile::tempdir().unwrap();
    let program = fake(dir.path(), CONVERTS);
    let input = dir.path().join("第一课 slides.pptx");
    std::fs::write(&input, b"PK\x03\x04").unwrap();
    let work = dir.path().join("work");
    let pdf = Converter::with_program(&program)
        .to_pdf(&input, &work)
        .unwrap();
    assert_eq!(pdf, work.join("out").join("第一课 slides.pdf"));
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"));

    let args = std::fs::read_to_string(dir.path().join("args")).unwrap();
    let args: Vec<&str> = args.lines().collect();
    let profile = args[0];
    assert!(
        profile.starts_with("-env:UserInstallation=file:///") && profile.ends_with("/work/profile"),
        "{profile}"
    );
    for flag in ["--headless", "--norestore", "--nolockcheck"] {
        assert!(args.contains(&flag), "{flag} in {args:?}");
    }
    let at = args.iter().position(|a| *a == "--convert-to").unwrap();
    assert_eq!(args[at + 1], "pdf");
    assert_eq!(args.last().copied(), Some(input.to_str().unwrap()));
}

#[cfg(unix)]
#[test]
fn a_crash_on_the_first_run_is_tried_once_more_with_a_fresh_profile() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("lesson.docx");
    std::fs::write(&input, b"PK").unwrap();
    // Aborts (as soffice does on SIGABRT: status 134) the first time, converts after.
    let crash_once = format!(
        "if [ ! -e \"$(dirname \"$0\")/crashed\" ]; then touch \"$(dirname \"$0\")/crashed\"; exit 134; fi\n{CONVERTS}"
    );
    let program = fake(dir.path(), &crash_once);
    let work = dir.path().join("work");
    let pdf = Converter::with_program(&program)
        .to_pdf(&input, &work)
        .unwrap();
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"));
    let args = std::fs::read_to_string(dir.path().join("args")).unwrap();
    assert!(
        args.lines()
            .next()
            .unwrap()
            .ends_with("/work/profile-retry"),
        "{args}"
    );

    // A crash every time is reported, not retried forever.
    let always = fake(dir.path(), "exit 134");
    let err = Converter::with_program(&always)
        .to_pdf(&input, &dir.path().join("work2"))
        .unwrap_err();
    assert!(matches!(err, ConvertError::Failed { .. }), "{err:?}");
}

#[cfg(unix)]
#[test]
fn failures_hangs_and_missing_output_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("deck.odp");
    std::fs::write(&input, b"PK").unwrap();
    let work = dir.path().join("work");

    let fails = fake(
        dir.path(),
        "echo 'Error: source file could not be loaded' >&2; exit 1",
    );
    let err = Converter::with_program(&fails)
        .to_pdf(&input, &work)
        .unwrap_err();
    match &err {
        ConvertError::Failed { stderr, .. } => assert!(stderr.contains("could not be loaded")),
        other => panic!("{other}"),
    }
    assert_eq!(err.code(), "internal");

    // LibreOffice exits 0 having written nothing for a document it cannot open.
    let nothing = fake(dir.path(), "exit 0");
    let err = Converter::with_program(&nothing)
        .to_pdf(&input, &work)
        .unwrap_err();
    assert!(matches!(err, ConvertError::NoOutput), "{err}");

    // Something that is not a PDF is not passed on as one.
    let junk = fake(
        dir.path(),
        r#"for a; do out=$prev; prev=$a; done; echo junk > "$(dirname "$0")/work/out/deck.pdf""#,
    );
    let err = Converter::with_program(&junk)
        .to_pdf(&input, &work)
        .unwrap_err();
    assert!(matches!(err, ConvertError::NoOutput), "{err}");

    // A hang is cut off at the limit, and the process does not outlive it.
    let hangs = fake(dir.path(), "exec sleep 30");
    let started = Instant::now();
    let err = Converter::with_program(&hangs)
        .timeout(Duration::from_millis(300))
        .to_pdf(&input, &work)
        .unwrap_err();
    assert!(matches!(err, ConvertError::Timeout(_)), "{err}");
    assert_eq!(err.code(), "busy");
    assert!(started.elapsed() < Duration::from_secs(5));

    // A lot of output on stderr does not block it.
    let chatty = fake(
        dir.path(),
        &format!(
            "i=0; while [ $i -lt 2000 ]; do echo 'warning: a long line of chatter from LibreOffice' >&2; i=$((i+1)); done\n{CONVERTS}"
        ),
    );
    Converter::with_program(&chatty)
        .timeout(Duration::from_secs(20))
        .to_pdf(&input, &work)
        .unwrap();
}

#[test]
#[ignore = "needs LibreOffice (cargo xtask test installs and runs it)"]
fn the_real_libreoffice_converts_a_document() {
    let converter = Converter::find().expect("LibreOffice is installed");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("lesson.rtf");
    std::fs::write(
        &input,
        r"{\rtf1\ansi {\b Fractions} \par One half is 0.5.\par}",
    )
    .unwrap();
    let pdf = converter.to_pdf(&input, &dir.path().join("work")).unwrap();
    assert!(std::fs::read(pdf).unwrap().starts_with(b"%PDF-"));
}

/// Three slides as a flat ODF presentation: plain XML that LibreOffice opens directly.
const SLIDES: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
  xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
  xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
  xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"
  office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.presentation">
<office:body><office:presentation>
<draw:page draw:name="1"><draw:frame svg:x="2cm" svg:y="2cm" svg:width="20cm" svg:height="3cm"><draw:text-box><text:p>分数 Fractions</text:p></draw:text-box></draw:frame></draw:page>
<draw:page draw:name="2"><draw:frame svg:x="2cm" svg:y="2cm" svg:width="20cm" svg:height="3cm"><draw:text-box><text:p>小数 Decimals</text:p></draw:text-box></draw:frame></draw:page>
<draw:page draw:name="3"><draw:frame svg:x="2cm" svg:y="2cm" svg:width="20cm" svg:height="3cm"><draw:text-box><text:p>百分数 Percent</text:p></draw:text-box></draw:frame></draw:page>
</office:presentation></office:body></office:document>
"#;

/// Page objects in a PDF (`/Type /Page`, not `/Pages`), as LibreOffice writes them.
fn pdf_pages(pdf: &[u8]) -> usize {
    let mut n = 0;
    for pat in [&b"/Type/Page"[..], &b"/Type /Page"[..]] {
        n += pdf
            .windows(pat.len() + 1)
            .filter(|w| w.starts_with(pat) && w[pat.len()] != b's')
            .count();
    }
    n
}

#[test]
#[ignore = "needs LibreOffice (cargo xtask test installs and runs it)"]
fn the_real_libreoffice_converts_a_powerpoint_deck_page_for_page() {
    let converter = Converter::find().expect("LibreOffice is installed");
    let dir = tempfile::tempdir().unwrap();
    // A real .pptx, written by LibreOffice's own PowerPoint filter from the flat ODP.
    let fodp = dir.path().join("deck.fodp");
    std::fs::write(&fodp, SLIDES).unwrap();
    let made = std::process::Command::new(converter.program())
        .arg("--headless")
        .arg(format!(
            "-env:UserInstallation=file://{}",
            dir.path().join("maker-profile").display()
        ))
        .args(["--convert-to", "pptx", "--outdir"])
        .arg(dir.path())
        .arg(&fodp)
        .output()
        .expect("soffice runs");
    let pptx = dir.path().join("deck.pptx");
    assert!(pptx.exists(), "no pptx: {made:?}");
    assert!(std::fs::read(&pptx).unwrap().starts_with(b"PK"), "a zip");

    let pdf = converter.to_pdf(&pptx, &dir.path().join("work")).unwrap();
    let bytes = std::fs::read(pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    assert_eq!(pdf_pages(&bytes), 3, "one PDF page per slide");
}

//! Files the UI makes (a board page as PNG or SVG, the whole board as PDF) saved into the
//! teacher's Downloads folder. The webviews of macOS and Linux ignore `<a download>`, so
//! the console hands the bytes to Rust instead; the student page, a plain browser, keeps
//! using the download link.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use lectern_proto::{ApiError, ErrorCode};

/// Largest file the UI may save this way (a long board as PDF stays far below it).
pub const MAX_EXPORT_BYTES: usize = 256 << 20;
/// Kinds of file the UI may save.
const EXTENSIONS: [&str; 3] = ["png", "svg", "pdf"];

/// Checks a file name the UI proposes: a plain name (no folders), at most 120
/// characters, ending in one of [`EXTENSIONS`].
pub fn check_name(name: &str) -> Result<(), ApiError> {
    let bad = |why: &str| {
        Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!("{name:?}: {why}"),
        ))
    };
    if name.is_empty() || name.chars().count() > 120 {
        return bad("a file name has 1 to 120 characters");
    }
    if name.starts_with('.')
        || name
            .chars()
            .any(|c| matches!(c, '/' | '\\' | ':') || c.is_control())
    {
        return bad("a file name cannot name a folder or start with a dot");
    }
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    if !ext.is_some_and(|e| EXTENSIONS.contains(&e.as_str())) {
        return bad("only PNG, SVG and PDF files are saved");
    }
    Ok(())
}

/// `dir/name`, or `dir/stem (2).ext`, `(3)`… when taken: an export never overwrites.
pub fn unique_path(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    (2..)
        .map(|n| dir.join(format!("{stem} ({n}).{ext}")))
        .find(|p| !p.exists())
        .expect("some number is free")
}

/// Writes `bytes` under a free variant of `name` in `dir`; the file appears whole or not
/// at all (written beside, then renamed).
pub async fn save(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, ApiError> {
    check_name(name)?;
    let io =
        |p: &Path, e: std::io::Error| ApiError::new(ErrorCode::Io, format!("{}: {e}", p.display()));
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| io(dir, e))?;
    let path = unique_path(dir, name);
    let partial = dir.join(format!(".{name}.part"));
    tokio::fs::write(&partial, bytes)
        .await
        .map_err(|e| io(&partial, e))?;
    tokio::fs::rename(&partial, &path)
        .await
        .map_err(|e| io(&path, e))?;
    Ok(path)
}

/// Saves a file the UI made into the Downloads folder (`LECTERN_EXPORT_DIR` when set)
/// and returns its path. `data` is the file, base64-encoded.
#[tauri::command]
#[specta::specta]
pub async fn save_export(name: String, data: String) -> Result<String, ApiError> {
    if data.len() > MAX_EXPORT_BYTES / 3 * 4 + 4 {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            "the file is too large to save",
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.as_bytes())
        .map_err(|e| ApiError::new(ErrorCode::InvalidInput, format!("not base64: {e}")))?;
    let path = save(&crate::paths::export_dir(), &name, &bytes).await?;
    Ok(path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_files_of_the_kinds_we_make() {
        for ok in ["math-7a-page-1.png", "数学-board.pdf", "x.SVG"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "../x.png",
            "a/b.pdf",
            "a\\b.pdf",
            ".hidden.png",
            "run.sh",
            "noext",
            "c:x.png",
        ] {
            assert_eq!(
                check_name(bad).unwrap_err().code,
                ErrorCode::InvalidInput,
                "{bad}"
            );
        }
        assert!(check_name(&format!("{}.png", "a".repeat(117))).is_err());
    }

    #[tokio::test]
    async fn saving_twice_keeps_both_files_whole() {
        let dir = tempfile::tempdir().unwrap();
        let a = save(dir.path(), "board.pdf", b"%PDF-first").await.unwrap();
        let b = save(dir.path(), "board.pdf", b"%PDF-second").await.unwrap();
        assert_eq!(a, dir.path().join("board.pdf"));
        assert_eq!(b, dir.path().join("board (2).pdf"));
        assert_eq!(std::fs::read(&a).unwrap(), b"%PDF-first");
        assert_eq!(std::fs::read(&b).unwrap(), b"%PDF-second");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "no partial file left behind: {names:?}");
        assert!(save(dir.path(), "../escape.pdf", b"x").await.is_err());
    }
}

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The app identifier; Tauri's app-data directory is named after it.
pub const IDENTIFIER: &str = "app.lectern.console";
const DB_FILE: &str = "lectern.db";

static TEST_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Where Lectern keeps its database: `LECTERN_DATA_DIR` if set, else the OS app-data
/// directory: the OS data directory joined with the app identifier, which is exactly
/// what Tauri's `app_data_dir` resolves to.
pub fn data_dir() -> PathBuf {
    if let Some(dir) = TEST_DIR.get() {
        return dir.clone();
    }
    if let Some(dir) = std::env::var_os("LECTERN_DATA_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::data_dir().map_or_else(|| PathBuf::from(".lectern"), |d| d.join(IDENTIFIER))
}

/// Where exported files go: `LECTERN_EXPORT_DIR` if set (tests, portable installs), else
/// the user's Downloads folder, else `exports/` in the data directory.
pub fn export_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LECTERN_EXPORT_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::download_dir().unwrap_or_else(|| data_dir().join("exports"))
}

/// The database file inside a data directory.
pub fn db_path(dir: &Path) -> PathBuf {
    dir.join(DB_FILE)
}

/// Points `data_dir` at `dir` for this process (tests only).
#[cfg(test)]
pub fn override_for_tests(dir: &Path) {
    let _ = TEST_DIR.set(dir.to_owned());
}

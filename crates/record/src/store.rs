use std::path::{Path, PathBuf};
use std::str::FromStr;

use lectern_proto::{ReportSummary, SelfCheckReport, Settings, Severity};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("cannot open database {path}: {source}")]
    Open { path: PathBuf, source: sqlx::Error },
    /// A migration failed; the database is left at the last good version.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// A stored document could not be read back (written by a broken build, or edited by hand).
    #[error("stored {what} is unreadable: {source}")]
    Corrupt {
        what: String,
        source: serde_json::Error,
    },
    /// No row with this id.
    #[error("{0} not found")]
    NotFound(String),
}

const SETTINGS_KEY: &str = "app";

/// The class store. Cheap to clone (a connection pool).
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it to the current schema.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            // A missing directory surfaces as the open error below, with the path in it.
            let _ = std::fs::create_dir_all(dir);
        }
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
            })?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
            })?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self {
            pool,
            path: path.to_owned(),
        })
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved settings, or the defaults when none were saved.
    pub async fn settings(&self) -> Result<Settings, StoreError> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = ?")
            .bind(SETTINGS_KEY)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            None => Ok(Settings::default()),
            Some(row) => {
                let text: String = row.try_get("value")?;
                serde_json::from_str(&text).map_err(|source| StoreError::Corrupt {
                    what: "settings".into(),
                    source,
                })
            }
        }
    }

    /// Replaces the saved settings.
    pub async fn save_settings(&self, settings: &Settings) -> Result<(), StoreError> {
        let value = serde_json::to_string(settings).expect("settings serialize");
        sqlx::query(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ','now'))
             ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(SETTINGS_KEY)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stores a self-check report and returns it with its id.
    pub async fn save_report(
        &self,
        report: &SelfCheckReport,
    ) -> Result<SelfCheckReport, StoreError> {
        let mut tx = self.pool.begin().await?;
        let id = sqlx::query(
            "INSERT INTO selfcheck_reports (created_at, verdict, warnings, blockers, report) VALUES (?, ?, ?, ?, '{}')",
        )
        .bind(&report.created_at)
        .bind(report.verdict.as_str())
        .bind(count(report, Severity::Warning))
        .bind(count(report, Severity::Blocker))
        .execute(&mut *tx)
        .await?
        .last_insert_rowid();
        let stored = SelfCheckReport {
            id: Some(id),
            ..report.clone()
        };
        sqlx::query("UPDATE selfcheck_reports SET report = ? WHERE id = ?")
            .bind(serde_json::to_string(&stored).expect("report serializes"))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Replaces a stored report (same id) with an amended one, e.g. after the teacher
    /// answered the speaker question.
    pub async fn update_report(&self, report: &SelfCheckReport) -> Result<(), StoreError> {
        let id = report
            .id
            .ok_or_else(|| StoreError::NotFound("report without id".into()))?;
        let done = sqlx::query(
            "UPDATE selfcheck_reports SET verdict = ?, warnings = ?, blockers = ?, report = ? WHERE id = ?",
        )
        .bind(report.verdict.as_str())
        .bind(count(report, Severity::Warning))
        .bind(count(report, Severity::Blocker))
        .bind(serde_json::to_string(report).expect("report serializes"))
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("report {id}")));
        }
        Ok(())
    }

    /// The newest `limit` reports, newest first.
    pub async fn history(&self, limit: u32) -> Result<Vec<ReportSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, created_at, verdict, warnings, blockers FROM selfcheck_reports ORDER BY created_at DESC, id DESC LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let verdict: String = row.try_get("verdict")?;
                Ok(ReportSummary {
                    id: row.try_get("id")?,
                    created_at: row.try_get("created_at")?,
                    verdict: serde_json::from_value(serde_json::Value::String(verdict)).map_err(
                        |source| StoreError::Corrupt {
                            what: "verdict".into(),
                            source,
                        },
                    )?,
                    warnings: row
                        .try_get::<i64, _>("warnings")?
                        .clamp(0, i64::from(u32::MAX)) as u32,
                    blockers: row
                        .try_get::<i64, _>("blockers")?
                        .clamp(0, i64::from(u32::MAX)) as u32,
                })
            })
            .collect()
    }

    /// One stored report.
    pub async fn report(&self, id: i64) -> Result<SelfCheckReport, StoreError> {
        let row = sqlx::query("SELECT report FROM selfcheck_reports WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("report {id}")))?;
        let text: String = row.try_get("report")?;
        serde_json::from_str(&text).map_err(|source| StoreError::Corrupt {
            what: format!("report {id}"),
            source,
        })
    }

    /// Closes the pool, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Findings of one severity, for the history columns.
fn count(report: &SelfCheckReport, severity: Severity) -> i64 {
    report
        .findings
        .iter()
        .filter(|f| f.severity == severity)
        .count() as i64
}

#[cfg(test)]
mod tests {
    use lectern_proto::{DeviceSelection, Finding, FindingCode, Language, Verdict};

    use super::*;

    fn report(created_at: &str, codes: &[FindingCode]) -> SelfCheckReport {
        let findings: Vec<Finding> = codes
            .iter()
            .map(|&c| Finding::new(c).with("fps", 12.0))
            .collect();
        SelfCheckReport {
            id: None,
            created_at: created_at.to_owned(),
            duration_ms: 1234,
            app_version: "test".into(),
            os: "linux".into(),
            verdict: Verdict::from_findings(&findings),
            findings,
            devices: DeviceSelection::default(),
            camera: None,
            microphone: None,
            speakers: None,
            encoder: None,
            network: None,
        }
    }

    #[tokio::test]
    async fn settings_round_trip_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/lectern.db");
        let store = Store::open(&path).await.unwrap();
        assert_eq!(store.settings().await.unwrap(), Settings::default());
        let mut s = Settings {
            language: Some(Language::ZhCn),
            ..Settings::default()
        };
        s.devices.camera = Some("synthetic:camera".into());
        store.save_settings(&s).await.unwrap();
        store.close().await;
        let store = Store::open(&path).await.unwrap();
        assert_eq!(store.settings().await.unwrap(), s);
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[tokio::test]
    async fn reports_are_stored_listed_newest_first_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).await.unwrap();
        let a = store
            .save_report(&report("2026-11-24T08:00:00Z", &[FindingCode::CameraOk]))
            .await
            .unwrap();
        let b = store
            .save_report(&report(
                "2026-11-24T09:00:00Z",
                &[FindingCode::CameraBlack, FindingCode::MicSilent],
            ))
            .await
            .unwrap();
        let history = store.history(10).await.unwrap();
        assert_eq!(
            history.iter().map(|h| h.id).collect::<Vec<_>>(),
            vec![b.id.unwrap(), a.id.unwrap()]
        );
        assert_eq!((history[0].warnings, history[0].blockers), (1, 1));
        assert_eq!(history[0].verdict, Verdict::NotReady);
        assert_eq!(store.report(b.id.unwrap()).await.unwrap(), b);
        assert_eq!(store.history(1).await.unwrap().len(), 1);

        let mut amended = b.clone();
        amended
            .findings
            .retain(|f| f.code != FindingCode::MicSilent);
        amended.verdict = Verdict::from_findings(&amended.findings);
        store.update_report(&amended).await.unwrap();
        assert_eq!(store.report(b.id.unwrap()).await.unwrap(), amended);
        let history = store.history(10).await.unwrap();
        assert_eq!(
            (history[0].verdict, history[0].blockers),
            (Verdict::ReadyWithWarnings, 0)
        );
        let missing = SelfCheckReport {
            id: Some(9999),
            ..amended
        };
        assert!(matches!(
            store.update_report(&missing).await,
            Err(StoreError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn a_corrupt_row_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).await.unwrap();
        let good = store
            .save_report(&report("2026-11-24T08:00:00Z", &[]))
            .await
            .unwrap();
        let bad = store
            .save_report(&report("2026-11-24T09:00:00Z", &[]))
            .await
            .unwrap();
        sqlx::query("UPDATE selfcheck_reports SET report = '{not json' WHERE id = ?")
            .bind(bad.id)
            .execute(&store.pool)
            .await
            .unwrap();
        assert!(matches!(
            store.report(bad.id.unwrap()).await,
            Err(StoreError::Corrupt { .. })
        ));
        assert_eq!(store.report(good.id.unwrap()).await.unwrap(), good);
        assert!(matches!(
            store.report(9999).await,
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(store.history(10).await.unwrap().len(), 2);
    }

    /// A row written before the self-check had a network probe (no `network` key)
    /// still loads, with no network figures; a new report keeps its figures.
    #[tokio::test]
    async fn reports_from_before_the_network_probe_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).await.unwrap();
        let row = store
            .save_report(&report("2026-11-24T08:00:00Z", &[FindingCode::CameraOk]))
            .await
            .unwrap();
        let mut old = serde_json::to_value(&row).unwrap();
        old.as_object_mut().unwrap().remove("network");
        sqlx::query("UPDATE selfcheck_reports SET report = ? WHERE id = ?")
            .bind(old.to_string())
            .bind(row.id)
            .execute(&store.pool)
            .await
            .unwrap();
        let loaded = store.report(row.id.unwrap()).await.unwrap();
        assert_eq!(loaded.network, None);
        assert_eq!(loaded, row);

        let mut new = report("2026-11-24T09:00:00Z", &[FindingCode::NetworkTcpOnly]);
        new.network = Some(lectern_proto::NetworkStats {
            relay: "http://127.0.0.1:8686".into(),
            transport: lectern_proto::NetworkTransport::TcpOnly,
            rtt_p50_ms: Some(3.5),
            rtt_p95_ms: Some(4.0),
            jitter_ms: Some(0.5),
            loss_percent: None,
            loss_down_percent: None,
            upload_kbps: Some(50_000),
            upload_at_ceiling: false,
            samples: 10,
        });
        let stored = store.save_report(&new).await.unwrap();
        assert_eq!(store.report(stored.id.unwrap()).await.unwrap(), stored);
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_database_is_an_open_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("garbage.db");
        std::fs::write(
            &path,
            b"this is not sqlite, just some text long enough to look like a header",
        )
        .unwrap();
        let err = Store::open(&path).await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Open { .. } | StoreError::Migrate(_) | StoreError::Query(_)
            ),
            "{err}"
        );
        // The file is left as it was for the user to rescue.
        assert!(
            std::fs::read(&path)
                .unwrap()
                .starts_with(b"this is not sqlite")
        );
    }
}

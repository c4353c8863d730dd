//! The class store: one SQLite file (sqlx, migrations embedded, WAL journal) holding
//! settings and self-check reports; later recordings and class timelines.
//!
//! Invariants: the schema only moves forward through `migrations/`; a report is stored
//! whole as JSON beside the columns the history needs, so a newer app can read reports
//! an older one wrote; a corrupt row is reported as an error for that row only.

mod store;

pub use store::{Store, StoreError};

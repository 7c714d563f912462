//! History (docs/api.md): telemetry older than a horizon is compacted from the journal into
//! Parquet files partitioned by UTC day, and `GET /api/history` aggregates a field over the
//! archive and the journal together with polars' `group_by_dynamic`.
//!
//! Layout of the archive: `<data-dir>/archive/day=YYYY-MM-DD/part-<run>-<chunk>.parquet`, long
//! format (one row per numeric field of an event, see [`archive`]). The journal's
//! `archive_files` table is the manifest: only listed files are read (see
//! [`ioc_ingest::journal::compaction`] for why that makes every event count exactly once).

pub mod archive;
pub mod baseline;
pub mod compact;
pub mod query;
pub mod request;

pub use compact::{CompactionReport, Compactor};
pub use query::{HistoryAnswer, Point};
pub use request::{Every, HistoryRequest, resolve_field};

use ioc_ingest::journal::JournalError;
use std::path::{Path, PathBuf};

/// Why a history query or a compaction failed.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The caller asked for something that cannot be answered (unknown field, bad range).
    #[error("{0}")]
    BadRequest(String),
    /// The journal could not be read or written.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// polars failed reading or writing Parquet or aggregating.
    #[error("polars: {0}")]
    Polars(#[from] polars::error::PolarsError),
    /// The archive directory could not be read or written.
    #[error("archive: {0}")]
    Io(#[from] std::io::Error),
}

/// Settings of history and compaction.
#[derive(Debug, Clone, PartialEq)]
pub struct HistorySettings {
    /// Telemetry with an event time older than now minus this leaves the journal (ms).
    pub horizon_ms: i64,
    /// Most events moved per compaction transaction (bounds memory and the journal's wait).
    pub chunk_events: usize,
}

impl Default for HistorySettings {
    fn default() -> Self {
        Self {
            horizon_ms: 48 * 3_600_000,
            chunk_events: 50_000,
        }
    }
}

/// History over one data directory: answers queries and runs compactions.
#[derive(Debug)]
pub struct History {
    data_dir: PathBuf,
    compactor: Compactor,
}

impl History {
    /// History for the journal and archive in `data_dir`.
    pub fn new(data_dir: &Path, settings: HistorySettings) -> Self {
        Self {
            data_dir: data_dir.to_path_buf(),
            compactor: Compactor::new(data_dir, settings),
        }
    }

    /// The archive directory, `<data-dir>/archive`.
    pub fn archive_dir(&self) -> PathBuf {
        archive::archive_dir(&self.data_dir)
    }

    /// Answers a query (blocking: reads SQLite and Parquet, runs polars).
    pub fn query(&self, request: &HistoryRequest) -> Result<HistoryAnswer, HistoryError> {
        query::run(&self.data_dir, request)
    }

    /// Moves telemetry older than the horizon to the archive now (blocking).
    pub fn compact(&self, now_ms: i64) -> Result<CompactionReport, HistoryError> {
        self.compactor.run(now_ms)
    }
}

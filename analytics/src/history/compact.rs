//! Compaction: moving telemetry older than the horizon from the journal into the archive.
//!
//! One run: remove files a crashed run left unlisted → repeatedly take the oldest eligible
//! events (a chunk), write one Parquet file per UTC day they cover, then in one journal
//! transaction list the files, delete the events and add them to the compacted counts →
//! forget compacted ids whose dedupe horizon has passed. A crash between a file's rename and
//! its transaction leaves the events in the journal and the file unlisted: queries never read
//! it, and the next run deletes it and compacts the events again.

use super::archive::{self, archive_dir, day_of};
use super::{HistoryError, HistorySettings};
use ioc_ingest::journal::compaction::{ArchiveFile, Compactable, CompactionStore};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What one compaction run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CompactionReport {
    /// Events moved out of the journal.
    pub events: u64,
    /// Parquet rows written.
    pub rows: u64,
    /// Files written, relative to the archive directory.
    pub files: Vec<String>,
    /// Unlisted files from an interrupted run that were removed.
    pub removed_orphans: u64,
    /// Events older than this (epoch ms) were eligible.
    pub cutoff_ms: i64,
}

/// Runs compactions over one data directory, one at a time.
#[derive(Debug)]
pub struct Compactor {
    data_dir: PathBuf,
    settings: HistorySettings,
    running: Mutex<()>,
}

impl Compactor {
    /// A compactor for the journal and archive in `data_dir`.
    pub fn new(data_dir: &Path, settings: HistorySettings) -> Self {
        Self {
            data_dir: data_dir.to_path_buf(),
            settings,
            running: Mutex::new(()),
        }
    }

    /// One run (blocking); a second caller waits for the first to finish.
    pub fn run(&self, now_ms: i64) -> Result<CompactionReport, HistoryError> {
        let _one_at_a_time = self
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let archive = archive_dir(&self.data_dir);
        let mut store = CompactionStore::open(&self.data_dir)?;
        let cutoff_ms = now_ms - self.settings.horizon_ms;
        let mut report = CompactionReport {
            removed_orphans: remove_orphans(&archive, &store)?,
            cutoff_ms,
            ..CompactionReport::default()
        };
        let chunk = self.settings.chunk_events.max(1);
        for number in 0.. {
            let events = store.candidates(cutoff_ms, chunk)?;
            if events.is_empty() {
                break;
            }
            let mut by_day: BTreeMap<String, Vec<&Compactable>> = BTreeMap::new();
            for item in &events {
                by_day
                    .entry(day_of(item.event.ts_ms))
                    .or_default()
                    .push(item);
            }
            let mut files: Vec<ArchiveFile> = Vec::new();
            let name = format!("part-{now_ms}-{number:04}");
            let written = by_day.iter().try_for_each(|(day, items)| {
                files.push(archive::write_file(&archive, day, &name, items)?);
                Ok::<(), HistoryError>(())
            });
            // Ids received within the horizon stay known for the rest of it.
            let committed = written.and_then(|()| {
                Ok(store.commit(&events, &files, now_ms - self.settings.horizon_ms)?)
            });
            if let Err(error) = committed {
                for file in &files {
                    let _ = std::fs::remove_file(archive.join(&file.path));
                }
                return Err(error);
            }
            report.events += events.len() as u64;
            report.rows += files.iter().map(|f| f.rows).sum::<u64>();
            report.files.extend(files.into_iter().map(|f| f.path));
            if events.len() < chunk {
                break;
            }
        }
        store.forget_ids(now_ms - self.settings.horizon_ms)?;
        if report.events > 0 || report.removed_orphans > 0 {
            tracing::info!(
                events = report.events,
                files = report.files.len(),
                orphans = report.removed_orphans,
                "telemetry compacted to the archive"
            );
        }
        Ok(report)
    }
}

/// Deletes files under the archive that the manifest does not list (left by a run that died
/// before its transaction); returns how many.
fn remove_orphans(archive: &Path, store: &CompactionStore) -> Result<u64, HistoryError> {
    let Ok(days) = std::fs::read_dir(archive) else {
        return Ok(0);
    };
    let listed: BTreeSet<String> = store
        .archive_files()?
        .into_iter()
        .map(|file| file.path)
        .collect();
    let mut removed = 0;
    for day in days {
        let day = day?;
        if !day.file_type()?.is_dir() {
            continue;
        }
        let day_name = day.file_name().to_string_lossy().into_owned();
        for file in std::fs::read_dir(day.path())? {
            let file = file?;
            let relative = format!("{day_name}/{}", file.file_name().to_string_lossy());
            if !listed.contains(&relative) {
                std::fs::remove_file(file.path())?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

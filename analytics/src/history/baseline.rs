//! Hourly means per area from the Parquet archive, to seed the anomaly rules' hour-of-week
//! baselines at start: replay rebuilds them from the journal, but the journal keeps only the
//! horizon (48 h by default) while a baseline needs weeks.

use super::{HistoryError, archive};
use ioc_ingest::Kind;
use ioc_ingest::journal::compaction::CompactionStore;
use polars::prelude::*;
use std::path::Path;

/// One hour of one field in one area, from the archive.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchivedHour {
    /// Area id.
    pub area: String,
    /// Start of the hour, epoch ms.
    pub hour_start_ms: i64,
    /// Mean of the hour's readings.
    pub mean: f64,
    /// Readings in the hour.
    pub count: u32,
}

/// One hour, ms.
const HOUR_MS: i64 = 3_600_000;

/// Hourly means of `kind`.`field` per area over the archived readings since `since_ms`. The
/// archive's newest hour is left out: the compaction cutoff may split it with the journal,
/// whose replay covers the rest.
pub fn archived_hours(
    data_dir: &Path,
    kind: Kind,
    field: &str,
    since_ms: i64,
) -> Result<Vec<ArchivedHour>, HistoryError> {
    let files: Vec<_> = CompactionStore::open(data_dir)?
        .archive_files()?
        .into_iter()
        .filter(|file| file.max_ts_ms >= since_ms)
        .collect();
    let Some(newest) = files.iter().map(|file| file.max_ts_ms).max() else {
        return Ok(Vec::new());
    };
    let last_full_hour = newest - newest.rem_euclid(HOUR_MS);
    let frame = archive::scan(&archive::archive_dir(data_dir), &files)?
        .filter(
            col("kind")
                .eq(lit(kind.as_str()))
                .and(col("field").eq(lit(field)))
                .and(col("ts").gt_eq(lit(since_ms)))
                .and(col("ts").lt(lit(last_full_hour))),
        )
        .with_column((col("ts") - col("ts") % lit(HOUR_MS)).alias("hour"))
        .group_by([col("area"), col("hour")])
        .agg([
            col("value").mean().alias("mean"),
            col("value").count().cast(DataType::UInt32).alias("count"),
        ])
        .sort(["hour"], SortMultipleOptions::default())
        .collect()?;
    let areas = frame.column("area")?.str()?;
    let hours = frame.column("hour")?.i64()?;
    let means = frame.column("mean")?.f64()?;
    let counts = frame.column("count")?.u32()?;
    Ok((0..frame.height())
        .filter_map(|i| {
            Some(ArchivedHour {
                area: areas.get(i)?.to_string(),
                hour_start_ms: hours.get(i)?,
                mean: means.get(i)?,
                count: counts.get(i)?,
            })
        })
        .collect())
}

//! The Parquet archive: writing one file of compacted events, and scanning files lazily.
//!
//! Long format, one row per numeric field of an event (booleans as 0/1): `seq`, `id`, `ts` (ms),
//! `area`, `kind`, `source`, `field`, `value`, `lat`, `lon`. A history query reads one field,
//! so long rows let the scan skip every other field with a predicate on `kind`/`field` that
//! Parquet row-group statistics answer (rows are sorted by kind, field, area, ts); the kinds'
//! different field sets need no nullable columns; and `id`/`seq`/`source`/`lat`/`lon` keep
//! everything a telemetry event held, so nothing is lost when its journal row goes.

use super::HistoryError;
use ioc_ingest::journal::compaction::{ArchiveFile, Compactable};
use polars::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The archive directory of a data directory.
pub fn archive_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("archive")
}

/// The UTC day of an event time, `YYYY-MM-DD`.
pub fn day_of(ts_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ts_ms)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "out-of-range".to_string())
}

/// The long-format frame of some events, sorted for the scan's statistics.
pub fn frame(events: &[&Compactable]) -> PolarsResult<DataFrame> {
    let mut seq = Vec::new();
    let mut id = Vec::new();
    let mut ts = Vec::new();
    let mut area = Vec::new();
    let mut kind = Vec::new();
    let mut source = Vec::new();
    let mut field = Vec::new();
    let mut value = Vec::new();
    let mut lat = Vec::new();
    let mut lon = Vec::new();
    for item in events {
        let event = &item.event;
        for (name, number) in event.numeric_fields() {
            seq.push(item.seq);
            id.push(event.id.as_str());
            ts.push(event.ts_ms);
            area.push(event.area.as_str());
            kind.push(event.kind.as_str());
            source.push(event.source.as_str());
            field.push(name);
            value.push(number);
            lat.push(event.lat);
            lon.push(event.lon);
        }
    }
    df!(
        "seq" => seq,
        "id" => id,
        "ts" => ts,
        "area" => area,
        "kind" => kind,
        "source" => source,
        "field" => field,
        "value" => value,
        "lat" => lat,
        "lon" => lon,
    )?
    .sort(
        ["kind", "field", "area", "ts"],
        SortMultipleOptions::default(),
    )
}

/// Writes the events of one day to `<archive>/day=<day>/<name>.parquet`: first under a
/// temporary name, synced, then renamed, so the listed name never holds a partial file.
pub fn write_file(
    archive: &Path,
    day: &str,
    name: &str,
    events: &[&Compactable],
) -> Result<ArchiveFile, HistoryError> {
    let mut data = frame(events)?;
    let relative = format!("day={day}/{name}.parquet");
    let dir = archive.join(format!("day={day}"));
    std::fs::create_dir_all(&dir)?;
    let temporary = dir.join(format!(".{name}.parquet.tmp"));
    let mut file = std::fs::File::create(&temporary)?;
    ParquetWriter::new(&mut file)
        .with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::default())
        .finish(&mut data)?;
    file.flush()?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, archive.join(&relative))?;
    std::fs::File::open(&dir)?.sync_all()?;
    Ok(ArchiveFile {
        path: relative,
        day: day.to_string(),
        min_ts_ms: events.iter().map(|c| c.event.ts_ms).min().unwrap_or(0),
        max_ts_ms: events.iter().map(|c| c.event.ts_ms).max().unwrap_or(0),
        events: events.len() as u64,
        rows: data.height() as u64,
    })
}

/// A lazy scan of some archive files, all columns.
pub fn scan(archive: &Path, files: &[ArchiveFile]) -> PolarsResult<LazyFrame> {
    let paths: Vec<PlRefPath> = files
        .iter()
        .map(|file| PlRefPath::from(archive.join(&file.path).to_string_lossy().as_ref()))
        .collect();
    let mut args = ScanArgsParquet::default();
    // Explicit files: the `day=` folder is for people and `ls`, the manifest has the day.
    args.hive_options.enabled = Some(false);
    args.glob = false;
    LazyFrame::scan_parquet_files(paths.into_iter().collect(), args)
}

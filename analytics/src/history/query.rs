//! Answering a history query: the journal's values and the archive's rows of one field,
//! unioned and bucketed with polars' `group_by_dynamic`.

use super::request::{Every, HistoryRequest};
use super::{HistoryError, archive};
use ioc_ingest::journal::compaction::read_history;
use polars::prelude::*;
use polars_time::prelude::{ClosedWindow, Duration, Label, StartBy};
use std::path::Path;

/// One bucket of a history answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Bucket start, epoch ms.
    pub ts_ms: i64,
    /// Readings in the bucket.
    pub count: u64,
    /// Their mean.
    pub mean: f64,
    /// Their minimum.
    pub min: f64,
    /// Their maximum.
    pub max: f64,
}

/// The buckets of a query (only buckets holding readings) and where the readings came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryAnswer {
    /// Buckets in time order.
    pub points: Vec<Point>,
    /// Readings taken from the journal.
    pub journal_values: u64,
    /// Archive files scanned.
    pub archive_files: u64,
}

/// Runs a query against the journal and archive of `data_dir`.
pub fn run(data_dir: &Path, request: &HistoryRequest) -> Result<HistoryAnswer, HistoryError> {
    let snapshot = read_history(
        data_dir,
        request.kind,
        &request.field,
        request.from_ms,
        request.to_ms,
    )?;
    let in_scope = |area: &str| {
        request
            .areas
            .as_ref()
            .is_none_or(|areas| areas.iter().any(|a| a == area))
    };
    let (ts, values): (Vec<i64>, Vec<f64>) = snapshot
        .values
        .iter()
        .filter(|v| in_scope(&v.area))
        .map(|v| (v.ts_ms, v.value))
        .unzip();
    let journal_values = ts.len() as u64;
    let mut parts = vec![df!("ts" => ts, "value" => values)?.lazy()];
    if !snapshot.files.is_empty() {
        let mut filter = col("kind")
            .eq(lit(request.kind.as_str()))
            .and(col("field").eq(lit(request.field.as_str())))
            .and(col("ts").gt_eq(lit(request.from_ms)))
            .and(col("ts").lt(lit(request.to_ms)));
        if let Some(areas) = &request.areas {
            let any = areas
                .iter()
                .map(|area| col("area").eq(lit(area.as_str())))
                .reduce(Expr::or)
                .unwrap_or(lit(false));
            filter = filter.and(any);
        }
        let dir = archive::archive_dir(data_dir);
        parts.push(
            archive::scan(&dir, &snapshot.files)?
                .filter(filter)
                .select([col("ts"), col("value")]),
        );
    }
    let readings = concat(parts, UnionArgs::default())?;
    Ok(HistoryAnswer {
        points: aggregate(readings, &request.every)?,
        journal_values,
        archive_files: snapshot.files.len() as u64,
    })
}

/// Buckets `ts` (epoch ms) / `value` readings by `every` (epoch-aligned, UTC) into count,
/// mean, min and max per bucket, in time order.
pub fn aggregate(readings: LazyFrame, every: &Every) -> PolarsResult<Vec<Point>> {
    let width = Duration::try_parse(&every.text)?;
    let options = DynamicGroupOptions {
        index_column: "ts".into(),
        every: width,
        period: width,
        offset: Duration::try_parse("0s")?,
        label: Label::Left,
        include_boundaries: false,
        closed_window: ClosedWindow::Left,
        start_by: StartBy::WindowBound,
    };
    let buckets = readings
        .with_column(col("ts").cast(DataType::Datetime(TimeUnit::Milliseconds, None)))
        .sort(["ts"], SortMultipleOptions::default())
        .group_by_dynamic(col("ts"), [], options)
        .agg([
            len().cast(DataType::UInt64).alias("count"),
            col("value").mean().alias("mean"),
            col("value").min().alias("min"),
            col("value").max().alias("max"),
        ])
        .with_column(col("ts").cast(DataType::Int64))
        .collect()?;
    let ts = buckets.column("ts")?.i64()?;
    let count = buckets.column("count")?.u64()?;
    let mean = buckets.column("mean")?.f64()?;
    let min = buckets.column("min")?.f64()?;
    let max = buckets.column("max")?.f64()?;
    Ok((0..buckets.height())
        .filter_map(|i| {
            Some(Point {
                ts_ms: ts.get(i)?,
                count: count.get(i)?,
                mean: mean.get(i)?,
                min: min.get(i)?,
                max: max.get(i)?,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// The reference: the same buckets computed by hand.
    fn reference(readings: &[(i64, f64)], every_ms: i64) -> Vec<Point> {
        let mut buckets: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
        for (ts, value) in readings {
            buckets
                .entry(ts.div_euclid(every_ms) * every_ms)
                .or_default()
                .push(*value);
        }
        buckets
            .into_iter()
            .map(|(ts_ms, values)| Point {
                ts_ms,
                count: values.len() as u64,
                mean: values.iter().sum::<f64>() / values.len() as f64,
                min: values.iter().copied().fold(f64::INFINITY, f64::min),
                max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            })
            .collect()
    }

    fn assert_same(got: &[Point], want: &[Point]) {
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(
                (g.ts_ms, g.count, g.min, g.max),
                (w.ts_ms, w.count, w.min, w.max)
            );
            assert!((g.mean - w.mean).abs() < 1e-9, "{g:?} vs {w:?}");
        }
    }

    fn readings() -> Vec<(i64, f64)> {
        // Three days of a reading every 7 minutes 13 seconds, unsorted, with a gap.
        let start = 1_767_225_600_000_i64; // 2026-01-01T00:00:00Z
        let mut out: Vec<(i64, f64)> = (0..600_i64)
            .filter(|i| !(200..260).contains(i))
            .map(|i| (start + i * 433_000, ((i * 37) % 101) as f64 / 3.0))
            .collect();
        out.reverse();
        out
    }

    fn frame(readings: &[(i64, f64)]) -> LazyFrame {
        let (ts, values): (Vec<i64>, Vec<f64>) = readings.iter().copied().unzip();
        df!("ts" => ts, "value" => values)
            .unwrap_or_else(|e| panic!("{e}"))
            .lazy()
    }

    #[test]
    fn buckets_match_a_reference_for_minutes_hours_and_days() {
        let readings = readings();
        for every in ["10m", "1h", "1d"] {
            let every = Every::parse(every).unwrap_or_else(|e| panic!("{e}"));
            let got = aggregate(frame(&readings), &every).unwrap_or_else(|e| panic!("{e}"));
            assert_same(&got, &reference(&readings, every.ms));
        }
    }

    #[test]
    fn no_readings_give_no_points() {
        let every = Every::parse("1h").unwrap_or_else(|e| panic!("{e}"));
        let got = aggregate(frame(&[]), &every).unwrap_or_else(|e| panic!("{e}"));
        assert!(got.is_empty());
    }
}

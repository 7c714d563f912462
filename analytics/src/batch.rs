//! The polars micro-batch: a batch of readings becomes one partial per (series, bucket),
//! computed with two group-bys on integer keys (statistics, and the quantile sketch's bin
//! counts). Series are interned ([`SeriesIndex`]) so a reading carries no strings.

use crate::partial::{ExactSum, Partial};
use crate::sketch::bin_of;
use crate::windows::{BUCKET_MS, SeriesKey};
use ioc_ingest::Kind;
use polars::prelude::*;
use rustc_hash::FxHashMap;

/// One numeric reading headed for the windows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// The series (area, kind, field), as numbered by the state's [`SeriesIndex`].
    pub series: u32,
    /// Bucket start, epoch ms.
    pub bucket: i64,
    /// Event time, epoch ms.
    pub ts: i64,
    /// The value.
    pub value: f64,
}

/// Numbers every series seen so far, so that readings and polars frames carry a `u32`
/// instead of three strings. Looking up a known series allocates nothing.
#[derive(Debug, Default)]
pub struct SeriesIndex {
    /// area → field → the series number for each kind (indexed by [`kind_slot`]).
    ids: FxHashMap<String, FxHashMap<String, [Option<u32>; KINDS]>>,
    keys: Vec<SeriesKey>,
}

/// Number of [`Kind`] variants.
const KINDS: usize = 8;

/// A kind's place in a per-field array: its declaration order.
fn kind_slot(kind: Kind) -> usize {
    kind as usize
}

impl SeriesIndex {
    /// The number of a series, given one the first time it is seen.
    pub fn id(&mut self, area: &str, kind: Kind, field: &str) -> u32 {
        let slot = kind_slot(kind);
        if let Some(id) = self
            .ids
            .get(area)
            .and_then(|fields| fields.get(field))
            .and_then(|kinds| kinds[slot])
        {
            return id;
        }
        let id = self.keys.len() as u32;
        self.keys.push(SeriesKey {
            area: area.to_string(),
            kind,
            field: field.to_string(),
        });
        self.ids
            .entry(area.to_string())
            .or_default()
            .entry(field.to_string())
            .or_insert([None; KINDS])[slot] = Some(id);
        id
    }

    /// The series behind a number.
    pub fn key(&self, id: u32) -> Option<&SeriesKey> {
        self.keys.get(id as usize)
    }
}

/// Aggregates readings into bucket partials with polars: `(series, bucket, partial)`.
pub fn aggregate(readings: &[Reading]) -> PolarsResult<Vec<(u32, i64, Partial)>> {
    if readings.is_empty() {
        return Ok(Vec::new());
    }
    // Rows in event-time order (a stable sort: equal times keep their arrival order), so that
    // a group's last row is its latest reading, the one `Partial::last` keeps. Sorting here
    // once costs less than polars sorting every group by `ts`.
    let mut by_time: Vec<&Reading> = readings.iter().collect();
    by_time.sort_by_key(|r| r.ts);
    let readings = by_time;
    // The sum in two integer limbs: integer sums are exact whatever the batch holds.
    let (sum_high, sum_low): (Vec<i64>, Vec<i64>) = readings
        .iter()
        .map(|r| ExactSum::of(r.value).limbs())
        .unzip();
    // One integer key per (series, bucket) cell: polars groups a single u64 column much faster
    // than two columns, which it row-encodes first. The bucket is counted from the batch's
    // earliest, so 32 bits hold any batch of accepted events (a span of 1,300 years).
    let base = readings.iter().map(|r| r.bucket).min().unwrap_or(0);
    let cells = readings
        .iter()
        .map(|r| {
            let index = u32::try_from((r.bucket - base) / BUCKET_MS).map_err(|_| {
                PolarsError::ComputeError("a window batch spans too many buckets".into())
            })?;
            Ok((u64::from(r.series) << 32) | u64::from(index))
        })
        .collect::<PolarsResult<Vec<u64>>>()?;
    let frame = df!(
        "cell" => cells,
        "ts" => readings.iter().map(|r| r.ts).collect::<Vec<_>>(),
        "value" => readings.iter().map(|r| r.value).collect::<Vec<_>>(),
        "sum_high" => sum_high,
        "sum_low" => sum_low,
        "bin" => readings.iter().map(|r| bin_of(r.value)).collect::<Vec<_>>(),
    )?;
    let stats = frame
        .clone()
        .lazy()
        .group_by([col("cell")])
        .agg([
            len().cast(DataType::UInt64).alias("count"),
            col("sum_high").sum(),
            col("sum_low").sum(),
            col("value").min().alias("min"),
            col("value").max().alias("max"),
            col("ts").max().alias("last_ts"),
            col("value").last().alias("last"),
        ])
        .collect()?;
    let bins = frame
        .lazy()
        .group_by([col("cell"), col("bin")])
        .agg([len().cast(DataType::UInt64).alias("n")])
        .collect()?;

    let mut partials: FxHashMap<u64, Partial> =
        FxHashMap::with_capacity_and_hasher(stats.height(), Default::default());
    let cell = stats.column("cell")?.u64()?;
    let count = stats.column("count")?.u64()?;
    let sum_high = stats.column("sum_high")?.i64()?;
    let sum_low = stats.column("sum_low")?.i64()?;
    let min = stats.column("min")?.f64()?;
    let max = stats.column("max")?.f64()?;
    let last_ts = stats.column("last_ts")?.i64()?;
    let last = stats.column("last")?.f64()?;
    for i in 0..stats.height() {
        let Some(cell) = cell.get(i) else {
            continue;
        };
        let partial = Partial {
            count: count.get(i).unwrap_or(0),
            sum: ExactSum::from_limbs(sum_high.get(i).unwrap_or(0), sum_low.get(i).unwrap_or(0)),
            min: min.get(i).unwrap_or(f64::INFINITY),
            max: max.get(i).unwrap_or(f64::NEG_INFINITY),
            last_ts: last_ts.get(i).unwrap_or(i64::MIN),
            last: last.get(i).unwrap_or(0.0),
            sketch: Default::default(),
        };
        partials.insert(cell, partial);
    }
    let cell = bins.column("cell")?.u64()?;
    let bin = bins.column("bin")?.i32()?;
    let n = bins.column("n")?.u64()?;
    for i in 0..bins.height() {
        if let (Some(cell), Some(bin), Some(n)) = (cell.get(i), bin.get(i), n.get(i))
            && let Some(partial) = partials.get_mut(&cell)
        {
            partial.sketch.add_bin(bin, n);
        }
    }
    Ok(partials
        .into_iter()
        .map(|(cell, partial)| {
            let series = (cell >> 32) as u32;
            let bucket = base + i64::from(cell as u32) * BUCKET_MS;
            (series, bucket, partial)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(series: u32, ts: i64, value: f64) -> Reading {
        Reading {
            series,
            bucket: crate::windows::bucket_of(ts),
            ts,
            value,
        }
    }

    #[test]
    fn series_numbers_are_stable_and_lookups_find_them() {
        let mut index = SeriesIndex::default();
        let a = index.id("a", Kind::AirQuality, "pm25");
        let b = index.id("a", Kind::Noise, "pm25");
        assert_ne!(a, b);
        assert_eq!(index.id("a", Kind::AirQuality, "pm25"), a);
        assert_eq!(index.key(b).map(|k| k.kind), Some(Kind::Noise));
        assert_eq!(index.key(99), None);
    }

    #[test]
    fn cells_give_back_their_series_and_bucket_at_real_times() -> PolarsResult<()> {
        // 2026-11-22 and an hour later, in two series far apart.
        let t0 = 1_795_338_000_000;
        let readings = vec![
            reading(70_000, t0 + 3_600_000, 2.0),
            reading(3, t0, 1.0),
            reading(70_000, t0 + 5, 4.0),
        ];
        let mut out = aggregate(&readings)?;
        out.sort_by_key(|(series, bucket, _)| (*series, *bucket));
        let cells: Vec<(u32, i64, u64)> = out.iter().map(|(s, b, p)| (*s, *b, p.count)).collect();
        assert_eq!(
            cells,
            [(3, t0, 1), (70_000, t0, 1), (70_000, t0 + 3_600_000, 1)]
        );
        Ok(())
    }

    #[test]
    fn polars_partials_equal_a_hand_computation() -> PolarsResult<()> {
        let readings = vec![
            reading(0, 1_000, 10.0),
            reading(0, 9_000, 30.0),
            reading(0, 5_000, 20.0),
            reading(0, 11_000, 99.0),
            reading(1, 1_000, 7.0),
        ];
        let mut out = aggregate(&readings)?;
        out.sort_by_key(|(series, bucket, _)| (*series, *bucket));
        assert_eq!(out.len(), 3);
        let (series, bucket, p) = &out[0];
        assert_eq!((*series, *bucket), (0, 0));
        assert_eq!(
            (p.count, p.sum.value(), p.min, p.max, p.last_ts, p.last),
            (3, 60.0, 10.0, 30.0, 9_000, 30.0)
        );
        assert_eq!(p.sketch.count(), 3);
        assert_eq!((out[1].1, out[1].2.count, out[1].2.last), (10_000, 1, 99.0));
        assert_eq!((out[2].0, out[2].2.sum.value()), (1, 7.0));
        Ok(())
    }
}

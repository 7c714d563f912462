//! The polars micro-batch: a batch of readings becomes one partial per (series, bucket),
//! its statistics computed with one polars group-by on an integer key and its quantile sketch
//! counted as the rows are numbered. Series are interned ([`SeriesIndex`]) so a reading carries
//! no strings.

use crate::partial::{ExactSum, Partial};
use crate::sketch::BinMemo;
use crate::windows::SeriesKey;
use ioc_ingest::Kind;
use ioc_ingest::event::same_field_name;
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
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct SeriesIndex {
    /// area → field → the series number for each kind (indexed by [`kind_slot`]).
    ids: FxHashMap<String, FxHashMap<String, [Option<u32>; KINDS]>>,
    keys: Vec<SeriesKey>,
}

/// Number of [`Kind`] variants.
const KINDS: usize = Kind::EVERY.len();

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

/// The series numbers one batch's readings of one area and kind have used, by field: a cache
/// in front of [`SeriesIndex::id`] that lives for one batch. The index hashes the area and the
/// field for every reading, some five readings an event (`SeriesIndex::id` was a tenth of
/// `State::admit` in the B2 profile); here a reading scans a few fields of its own area and
/// kind, which the batch's tally has found already.
#[derive(Debug)]
pub(crate) struct FieldIds<'e> {
    area: &'e str,
    kind: Kind,
    /// Fields seen in this batch with their numbers, in order of first appearance.
    ids: Vec<(&'e str, u32)>,
}

impl<'e> FieldIds<'e> {
    /// An empty cache for the series of `area` and `kind`.
    pub(crate) fn new(area: &'e str, kind: Kind) -> Self {
        Self {
            area,
            kind,
            ids: Vec::new(),
        }
    }

    /// The number of series (area, kind, `field`): the one `index` gives, asked the first time
    /// this cache sees the field, so a new series is numbered in the same order as without it.
    pub(crate) fn id(&mut self, index: &mut SeriesIndex, field: &'e str) -> u32 {
        // The decoder's known field names are the same static strings in every event: a first
        // pass by address alone finds them without comparing any bytes (`pm25` and `pm10`
        // share length and first byte); other spellings by their text.
        let found = self
            .ids
            .iter()
            .find(|(known, _)| std::ptr::eq(*known, field))
            .or_else(|| {
                self.ids
                    .iter()
                    .find(|(known, _)| same_field_name(known, field))
            });
        if let Some(&(_, id)) = found {
            return id;
        }
        let id = index.id(self.area, self.kind, field);
        self.ids.push((field, id));
        id
    }
}

/// Aggregates readings into bucket partials with polars: `(series, bucket, partial)`, one per
/// (series, bucket) cell the readings touch, in the order the cells first appear by time.
///
/// Each cell gets a dense number here, in order of appearance, and polars groups the cells'
/// single integer key for count, exact sum, min, max and the latest value; the results fold
/// into their cell by index. One integer column groups much faster than two, which polars
/// row-encodes first, and a vector indexed by cell needs no hash table (B2 and B8's profiles
/// in BENCHMARKS.md). Each reading's quantile-sketch bin is counted into its cell's sketch
/// as the rows are numbered: a second group-by of (cell, bin) pairs cost polars more than
/// the whole statistics one, to produce counts that are one increment per row here.
pub fn aggregate(readings: &[Reading]) -> PolarsResult<Vec<(u32, i64, Partial)>> {
    if readings.is_empty() {
        return Ok(Vec::new());
    }
    // Rows in event-time order (a stable sort: equal times keep their arrival order), so that
    // a group's last row is its latest reading, the one `Partial::last` keeps. Sorting here
    // once costs less than polars sorting every group by `ts`.
    let mut by_time: Vec<&Reading> = readings.iter().collect();
    by_time.sort_by_key(|r| r.ts);
    let mut cell_numbers: FxHashMap<(u32, i64), u32> = FxHashMap::default();
    // (series, bucket, partial) by cell number: what the batch returns.
    let mut cells: Vec<(u32, i64, Partial)> = Vec::new();
    let mut cell_of_row = Vec::with_capacity(by_time.len());
    let (mut sum_high, mut sum_low) = (
        Vec::with_capacity(by_time.len()),
        Vec::with_capacity(by_time.len()),
    );
    let mut bins = BinMemo::new();
    for reading in &by_time {
        let cell = *cell_numbers
            .entry((reading.series, reading.bucket))
            .or_insert_with(|| {
                cells.push((reading.series, reading.bucket, Partial::empty()));
                (cells.len() - 1) as u32
            });
        cell_of_row.push(cell);
        if let Some((_, _, partial)) = cells.get_mut(cell as usize) {
            partial.sketch.add_bin(bins.bin_of(reading.value), 1);
        }
        // The sum in two integer limbs: integer sums are exact whatever the batch holds.
        let (high, low) = ExactSum::of(reading.value).limbs();
        sum_high.push(high);
        sum_low.push(low);
    }
    // Columns made from the vectors themselves (`from_vec` takes them: no copy). `df!` copies
    // each slice into a new buffer, several megabytes a batch that the kernel zeroed page by
    // page (about 3 % of B2's time, in its profile, went to those copies and pages).
    let frame = DataFrame::new(
        by_time.len(),
        vec![
            UInt32Chunked::from_vec("cell".into(), cell_of_row).into_column(),
            Int64Chunked::from_vec("ts".into(), by_time.iter().map(|r| r.ts).collect())
                .into_column(),
            Float64Chunked::from_vec("value".into(), by_time.iter().map(|r| r.value).collect())
                .into_column(),
            Int64Chunked::from_vec("sum_high".into(), sum_high).into_column(),
            Int64Chunked::from_vec("sum_low".into(), sum_low).into_column(),
        ],
    )?;
    let stats = frame
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

    // Read as vectors: reading a chunked array by index looks its chunk up every time.
    let count: Vec<_> = stats.column("count")?.u64()?.iter().collect();
    let sum_high: Vec<_> = stats.column("sum_high")?.i64()?.iter().collect();
    let sum_low: Vec<_> = stats.column("sum_low")?.i64()?.iter().collect();
    let min: Vec<_> = stats.column("min")?.f64()?.iter().collect();
    let max: Vec<_> = stats.column("max")?.f64()?.iter().collect();
    let last_ts: Vec<_> = stats.column("last_ts")?.i64()?.iter().collect();
    let last: Vec<_> = stats.column("last")?.f64()?.iter().collect();
    for (i, cell) in stats.column("cell")?.u32()?.iter().enumerate() {
        let Some((_, _, partial)) = cell.and_then(|cell| cells.get_mut(cell as usize)) else {
            continue;
        };
        partial.count = count[i].unwrap_or(0);
        partial.sum = ExactSum::from_limbs(sum_high[i].unwrap_or(0), sum_low[i].unwrap_or(0));
        partial.min = min[i].unwrap_or(f64::INFINITY);
        partial.max = max[i].unwrap_or(f64::NEG_INFINITY);
        partial.last_ts = last_ts[i].unwrap_or(i64::MIN);
        partial.last = last[i].unwrap_or(0.0);
    }
    Ok(cells)
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
    fn cached_ids_are_the_index_ids_whatever_the_order() -> Result<(), serde_json::Error> {
        // Fields by their text (owned copies) and by a shared static string, areas and kinds
        // interleaved, and one index already holding series from an earlier batch.
        let owned: Vec<String> = ["speed", "pm25", "speed", "laeq", "level_cm"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let steps: Vec<(&str, Kind, &str)> = vec![
            ("a", Kind::Traffic, "speed"),
            ("b", Kind::AirQuality, &owned[1]),
            ("a", Kind::Traffic, &owned[0]),
            ("a", Kind::Noise, "laeq"),
            ("b", Kind::Traffic, &owned[2]),
            ("a", Kind::Traffic, "intensity"),
            ("a", Kind::Noise, &owned[3]),
            ("b", Kind::AirQuality, "pm25"),
            ("c", Kind::WaterLevel, &owned[4]),
            ("a", Kind::Traffic, "speed"),
            ("b", Kind::AirQuality, "pm10"),
        ];
        let mut plain = SeriesIndex::default();
        let mut cached = SeriesIndex::default();
        for index in [&mut plain, &mut cached] {
            index.id("b", Kind::AirQuality, "pm10");
        }
        let mut caches: Vec<FieldIds<'_>> = Vec::new();
        for (area, kind, field) in steps {
            let expected = plain.id(area, kind, field);
            let at = match caches.iter().position(|c| c.area == area && c.kind == kind) {
                Some(at) => at,
                None => {
                    caches.push(FieldIds::new(area, kind));
                    caches.len() - 1
                }
            };
            assert_eq!(
                caches[at].id(&mut cached, field),
                expected,
                "{area} {kind:?} {field}"
            );
        }
        assert_eq!(caches[0].ids.len(), 2, "speed once, intensity once");
        assert_eq!(
            serde_json::to_string(&cached)?,
            serde_json::to_string(&plain)?
        );
        Ok(())
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
    fn on_equal_times_the_reading_that_came_last_is_the_latest_whatever_its_bin() -> PolarsResult<()>
    {
        // Values far apart fall in different sketch bins, so in different polars groups.
        let readings = vec![
            reading(0, 3_000, 5.0),
            reading(0, 3_000, 500.0),
            reading(1, 3_000, 500.0),
            reading(1, 3_000, -5.0),
            reading(1, 1_000, 7.0),
        ];
        let mut out = aggregate(&readings)?;
        out.sort_by_key(|(series, _, _)| *series);
        let lasts: Vec<(u32, u64, i64, f64)> = out
            .iter()
            .map(|(series, _, p)| (*series, p.count, p.last_ts, p.last))
            .collect();
        assert_eq!(lasts, [(0, 2, 3_000, 500.0), (1, 3, 3_000, -5.0)]);
        assert_eq!(
            (out[1].2.min, out[1].2.max, out[1].2.sum.value()),
            (-5.0, 500.0, 502.0)
        );
        assert_eq!(out[1].2.sketch.count(), 3);
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

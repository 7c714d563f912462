//! The polars micro-batch: a batch of readings becomes one partial per (area, kind, field,
//! bucket), computed with two group-bys (statistics, and the quantile sketch's bin counts).

use crate::partial::Partial;
use crate::sketch::bin_of;
use crate::windows::SeriesKey;
use ioc_ingest::Kind;
use polars::prelude::*;
use std::collections::HashMap;

/// One numeric reading headed for the windows.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// Area id.
    pub area: String,
    /// Event kind.
    pub kind: Kind,
    /// Field name.
    pub field: String,
    /// Bucket start, epoch ms.
    pub bucket: i64,
    /// Event time, epoch ms.
    pub ts: i64,
    /// The value.
    pub value: f64,
}

/// Aggregates readings into bucket partials with polars.
pub fn aggregate(readings: &[Reading]) -> PolarsResult<Vec<(SeriesKey, i64, Partial)>> {
    if readings.is_empty() {
        return Ok(Vec::new());
    }
    let frame = df!(
        "area" => readings.iter().map(|r| r.area.as_str()).collect::<Vec<_>>(),
        "kind" => readings.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(),
        "field" => readings.iter().map(|r| r.field.as_str()).collect::<Vec<_>>(),
        "bucket" => readings.iter().map(|r| r.bucket).collect::<Vec<_>>(),
        "ts" => readings.iter().map(|r| r.ts).collect::<Vec<_>>(),
        "value" => readings.iter().map(|r| r.value).collect::<Vec<_>>(),
        "bin" => readings.iter().map(|r| bin_of(r.value)).collect::<Vec<_>>(),
    )?;
    let group = [col("area"), col("kind"), col("field"), col("bucket")];
    let stats = frame
        .clone()
        .lazy()
        .group_by(group.clone())
        .agg([
            len().cast(DataType::UInt64).alias("count"),
            col("value").sum().alias("sum"),
            col("value").min().alias("min"),
            col("value").max().alias("max"),
            col("ts").max().alias("last_ts"),
            col("value")
                .sort_by(
                    [col("ts")],
                    SortMultipleOptions::default().with_maintain_order(true),
                )
                .last()
                .alias("last"),
        ])
        .collect()?;
    let mut by_bin = group.to_vec();
    by_bin.push(col("bin"));
    let bins = frame
        .lazy()
        .group_by(by_bin)
        .agg([len().cast(DataType::UInt64).alias("n")])
        .collect()?;

    let mut partials: HashMap<(String, String, String, i64), Partial> = HashMap::new();
    let keys = key_columns(&stats)?;
    let count = stats.column("count")?.u64()?;
    let sum = stats.column("sum")?.f64()?;
    let min = stats.column("min")?.f64()?;
    let max = stats.column("max")?.f64()?;
    let last_ts = stats.column("last_ts")?.i64()?;
    let last = stats.column("last")?.f64()?;
    for (i, key) in keys.into_iter().enumerate() {
        let partial = Partial {
            count: count.get(i).unwrap_or(0),
            sum: sum.get(i).unwrap_or(0.0),
            min: min.get(i).unwrap_or(f64::INFINITY),
            max: max.get(i).unwrap_or(f64::NEG_INFINITY),
            last_ts: last_ts.get(i).unwrap_or(i64::MIN),
            last: last.get(i).unwrap_or(0.0),
            sketch: Default::default(),
        };
        partials.insert(key, partial);
    }
    let keys = key_columns(&bins)?;
    let bin = bins.column("bin")?.i32()?;
    let n = bins.column("n")?.u64()?;
    for (i, key) in keys.into_iter().enumerate() {
        if let (Some(partial), Some(bin), Some(n)) = (partials.get_mut(&key), bin.get(i), n.get(i))
        {
            partial.sketch.add_bin(bin, n);
        }
    }
    Ok(partials
        .into_iter()
        .filter_map(|((area, kind, field, bucket), partial)| {
            Kind::parse(&kind).map(|kind| (SeriesKey { area, kind, field }, bucket, partial))
        })
        .collect())
}

/// The (area, kind, field, bucket) of every row of a grouped frame.
fn key_columns(frame: &DataFrame) -> PolarsResult<Vec<(String, String, String, i64)>> {
    let area = frame.column("area")?.str()?;
    let kind = frame.column("kind")?.str()?;
    let field = frame.column("field")?.str()?;
    let bucket = frame.column("bucket")?.i64()?;
    Ok((0..frame.height())
        .map(|i| {
            (
                area.get(i).unwrap_or_default().to_string(),
                kind.get(i).unwrap_or_default().to_string(),
                field.get(i).unwrap_or_default().to_string(),
                bucket.get(i).unwrap_or_default(),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(area: &str, field: &str, ts: i64, value: f64) -> Reading {
        Reading {
            area: area.into(),
            kind: Kind::AirQuality,
            field: field.into(),
            bucket: crate::windows::bucket_of(ts),
            ts,
            value,
        }
    }

    #[test]
    fn polars_partials_equal_a_hand_computation() -> PolarsResult<()> {
        let readings = vec![
            reading("a", "pm25", 1_000, 10.0),
            reading("a", "pm25", 9_000, 30.0),
            reading("a", "pm25", 5_000, 20.0),
            reading("a", "pm25", 11_000, 99.0),
            reading("b", "pm25", 1_000, 7.0),
        ];
        let mut out = aggregate(&readings)?;
        out.sort_by(|x, y| (&x.0, x.1).cmp(&(&y.0, y.1)));
        assert_eq!(out.len(), 3);
        let (key, bucket, p) = &out[0];
        assert_eq!((key.area.as_str(), *bucket), ("a", 0));
        assert_eq!(
            (p.count, p.sum, p.min, p.max, p.last_ts, p.last),
            (3, 60.0, 10.0, 30.0, 9_000, 30.0)
        );
        assert_eq!(p.sketch.count(), 3);
        assert_eq!((out[1].1, out[1].2.count, out[1].2.last), (10_000, 1, 99.0));
        assert_eq!((out[2].0.area.as_str(), out[2].2.sum), ("b", 7.0));
        Ok(())
    }
}

//! Sliding windows by event time (docs/events.md): events land in 10-second buckets per series;
//! a window of width W ending at `end` is the merge of the buckets in `[end − W, end)`, so every
//! window slides by one bucket.

use crate::partial::Partial;
use ioc_ingest::Kind;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// Bucket width: the windows' slide.
pub const BUCKET_MS: i64 = 10_000;

/// The window widths kept, with the suffix used in field names (`pm25_1h` uses `60m`).
pub const WINDOWS: [(&str, i64); 4] = [
    ("1m", 60_000),
    ("5m", 300_000),
    ("15m", 900_000),
    ("60m", 3_600_000),
];

/// Pseudo-area id of city-wide series.
pub const CITY: &str = "_city";

/// The start of the bucket holding `ts_ms` (`ts − ts mod width`, floor for negatives too).
pub fn bucket_of(ts_ms: i64) -> i64 {
    ts_ms - ts_ms.rem_euclid(BUCKET_MS)
}

/// One aggregated series: an area (or [`CITY`]), a kind and a field.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct SeriesKey {
    /// Area id or [`CITY`].
    pub area: String,
    /// Event kind.
    pub kind: Kind,
    /// Field name.
    pub field: String,
}

/// Buckets of every series.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct WindowStore {
    /// Hashed with FxHash: every (series, bucket) cell of every polars batch looks up its
    /// series and the city's (SipHash over two strings each time showed in B2's profile).
    series: FxHashMap<SeriesKey, BTreeMap<i64, Partial>>,
    /// The city-wide key of each series merged so far, so that a merge builds no key; rebuilt
    /// as series are merged after a restart.
    #[serde(skip)]
    city_keys: FxHashMap<SeriesKey, SeriesKey>,
}

impl WindowStore {
    /// Merges a bucket partial into its series and into the city-wide series of the same field.
    /// A series already there is found by reference: no key is copied for it.
    pub fn merge(&mut self, key: &SeriesKey, bucket: i64, partial: &Partial) {
        merge_bucket(&mut self.series, key, bucket, partial);
        if let Some(city) = self.city_keys.get(key) {
            merge_bucket(&mut self.series, city, bucket, partial);
            return;
        }
        let city = SeriesKey {
            area: CITY.to_string(),
            ..key.clone()
        };
        merge_bucket(&mut self.series, &city, bucket, partial);
        self.city_keys.insert(key.clone(), city);
    }

    /// Drops buckets that start before `before_ms`, and series left empty. A series whose
    /// oldest bucket is kept is left as it is (splitting it would build a new map).
    pub fn prune(&mut self, before_ms: i64) {
        self.series.retain(|_, buckets| {
            if buckets
                .first_key_value()
                .is_some_and(|(&start, _)| start < before_ms)
            {
                *buckets = buckets.split_off(&before_ms);
            }
            !buckets.is_empty()
        });
    }

    /// The window `[end − width, end)` of one series.
    pub fn window(&self, key: &SeriesKey, end_ms: i64, width_ms: i64) -> Partial {
        let mut total = Partial::empty();
        if let Some(buckets) = self.series.get(key) {
            for partial in buckets.range(end_ms - width_ms..end_ms).map(|(_, p)| p) {
                total.merge(partial);
            }
        }
        total
    }

    /// One-minute means of a series over the `minutes` minutes before `end_ms`, oldest first;
    /// minutes without data are left out.
    pub fn minute_means(&self, key: &SeriesKey, end_ms: i64, minutes: i64) -> Vec<(i64, f64)> {
        let Some(buckets) = self.series.get(key) else {
            return Vec::new();
        };
        let mut per_minute: BTreeMap<i64, Partial> = BTreeMap::new();
        for (bucket, partial) in buckets.range(end_ms - minutes * 60_000..end_ms) {
            per_minute
                .entry(bucket - bucket.rem_euclid(60_000))
                .or_insert_with(Partial::empty)
                .merge(partial);
        }
        per_minute
            .into_iter()
            .filter_map(|(minute, partial)| partial.mean().map(|mean| (minute, mean)))
            .collect()
    }

    /// The series of one area (or [`CITY`]), sorted.
    pub fn keys_of(&self, area: &str) -> Vec<&SeriesKey> {
        let mut keys: Vec<&SeriesKey> = self.series.keys().filter(|k| k.area == area).collect();
        keys.sort();
        keys
    }
}

/// Merges `partial` into the `bucket` of `key`'s series, adding the series (a copy of `key`)
/// when it is new.
fn merge_bucket(
    series: &mut FxHashMap<SeriesKey, BTreeMap<i64, Partial>>,
    key: &SeriesKey,
    bucket: i64,
    partial: &Partial,
) {
    let buckets = match series.get_mut(key) {
        Some(buckets) => buckets,
        None => series.entry(key.clone()).or_default(),
    };
    buckets
        .entry(bucket)
        .or_insert_with(Partial::empty)
        .merge(partial);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(value: f64, ts: i64) -> Partial {
        let mut p = Partial::empty();
        p.merge(&Partial {
            count: 1,
            sum: crate::partial::ExactSum::of(value),
            min: value,
            max: value,
            last_ts: ts,
            last: value,
            sketch: Default::default(),
        });
        p
    }

    #[test]
    fn buckets_floor_negative_and_positive_times() {
        assert_eq!(bucket_of(12_345), 10_000);
        assert_eq!(bucket_of(-1), -10_000);
    }

    #[test]
    fn a_window_merges_exactly_its_buckets_and_the_city_sees_all_areas() {
        let mut store = WindowStore::default();
        let key = |area: &str| SeriesKey {
            area: area.into(),
            kind: Kind::Noise,
            field: "laeq".into(),
        };
        store.merge(&key("a"), 0, &one(50.0, 1));
        store.merge(&key("a"), 290_000, &one(70.0, 290_001));
        store.merge(&key("a"), 300_000, &one(90.0, 300_001));
        store.merge(&key("b"), 10_000, &one(60.0, 10_001));
        let w = store.window(&key("a"), 300_000, 300_000);
        assert_eq!(
            (w.count, w.sum.value(), w.max, w.last),
            (2, 120.0, 70.0, 70.0)
        );
        let city = store.window(&key(CITY), 310_000, 310_000);
        assert_eq!((city.count, city.min, city.max), (4, 50.0, 90.0));
        store.prune(290_000);
        assert_eq!(store.window(&key("b"), 310_000, 310_000).count, 0);
    }
}

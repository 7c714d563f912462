//! `air-quality`: per station, per area (`station = all`) and for the city, the VN_AQI of each
//! period with the pollutant means behind it. Hourly rows use the same hourly index (PM by
//! NowCast) as the live views; daily and monthly rows the index of the period's means; an
//! area's index combines its stations' as configured (worst by default).

use super::series::OpenDataBook;
use super::{ALL, CITY, Every, OpenDataQuery, area_order, period};
use crate::aqi;
use crate::config::AreaAqi;
use crate::hourly::{Hour, hourly_index};
use serde_json::{Value, json};
use std::collections::BTreeMap;

type RowKey = (i64, (bool, String), (bool, String));

/// The rows: period, then city before areas, then the aggregate before stations.
pub(crate) fn rows(
    book: &OpenDataBook,
    query: &OpenDataQuery,
    area_aqi: AreaAqi,
) -> Vec<Vec<Value>> {
    let mut stations: BTreeMap<RowKey, (Hour, Option<u32>)> = BTreeMap::new();
    let mut aggregates: BTreeMap<RowKey, (Hour, Vec<u32>)> = BTreeMap::new();
    for ((area, station), series) in book.stations() {
        if !query.wants(area) && !query.wants(CITY) {
            continue;
        }
        let mut periods: BTreeMap<i64, Hour> = BTreeMap::new();
        // Hourly sums where they reach (exact for any range), daily sums beyond.
        let hourly_reach = query.to_ms - query.from_ms <= super::MAX_HOURLY_DAYS * 24 * 3_600_000;
        let source = match query.every {
            Every::Hour => &series.hours,
            Every::All if hourly_reach => &series.hours,
            _ => &series.days,
        };
        for (start, sums) in source.range(query.from_ms..query.to_ms) {
            let period = query.period_of(*start);
            periods
                .entry(period)
                .or_insert_with(|| Hour::empty(period))
                .merge(sums);
        }
        for (start, sums) in periods {
            let index = if query.every == Every::Hour {
                hourly_index(start, |hour, i| series.hour_mean(hour, i)).map(|h| h.aqi)
            } else {
                sums.aqi_of_means()
            };
            if query.wants(area) {
                let key = (start, area_order(area), (true, station));
                stations.insert(owned(key), (sums, index));
            }
            for whole in [CITY, area] {
                if query.wants(whole) {
                    let key = (start, area_order(whole), (false, ALL));
                    let (merged, indices) = aggregates
                        .entry(owned(key))
                        .or_insert_with(|| (Hour::empty(start), Vec::new()));
                    merged.merge(&sums);
                    indices.extend(index);
                }
            }
        }
    }
    let mut rows: BTreeMap<RowKey, Vec<Value>> = BTreeMap::new();
    for (key, (sums, indices)) in aggregates {
        let index = area_aqi.combine(indices);
        let row = row(&key, &sums, index);
        rows.insert(key, row);
    }
    for (key, (sums, index)) in stations {
        let row = row(&key, &sums, index);
        rows.insert(key, row);
    }
    rows.into_values().collect()
}

fn owned((start, (a, area), (b, station)): (i64, (bool, &str), (bool, &str))) -> RowKey {
    (start, (a, area.to_string()), (b, station.to_string()))
}

fn row((start, (_, area), (_, station)): &RowKey, sums: &Hour, index: Option<u32>) -> Vec<Value> {
    let mut row = vec![
        json!(area),
        json!(station),
        json!(period::format_local(*start)),
        json!(index),
        json!(index.map(|i| aqi::level(i).key)),
    ];
    row.extend((0..aqi::Pollutant::ALL.len()).map(|i| json!(sums.mean(i).map(round2))));
    row
}

fn round2(value: f64) -> f64 {
    crate::views::round2(value)
}

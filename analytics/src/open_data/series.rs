//! The long series the open data needs beyond the live windows: each air-quality station's
//! hourly and daily pollutant sums, and dossier tallies per area and hour. Fed every journaled
//! event in journal order, so a replay rebuilds them.

use super::period;
use crate::dossiers::DossierTally;
use crate::hourly::Hour;
use crate::slots::StrKeyed;
use ioc_ingest::{Event, Kind};
use std::collections::BTreeMap;

/// Hours of pollutant sums kept per station (hourly rows reach this far back).
const HOURS_KEPT_MS: i64 = super::MAX_HOURLY_DAYS * 24 * 3_600_000;
/// Days of pollutant sums kept per station (daily and monthly rows reach this far back).
const DAYS_KEPT_MS: i64 = 400 * 24 * 3_600_000;

/// One station's sums in one area.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct StationSeries {
    /// By clock-hour start.
    pub(crate) hours: BTreeMap<i64, Hour>,
    /// By local-day start.
    pub(crate) days: BTreeMap<i64, Hour>,
}

impl StationSeries {
    fn add(&mut self, event: &Event) {
        let hour = period::hour_start(event.ts_ms);
        self.hours
            .entry(hour)
            .or_insert_with(|| Hour::empty(hour))
            .add_values(&event.values);
        let day = period::day_start(event.ts_ms);
        self.days
            .entry(day)
            .or_insert_with(|| Hour::empty(day))
            .add_values(&event.values);
        prune(&mut self.hours, HOURS_KEPT_MS);
        prune(&mut self.days, DAYS_KEPT_MS);
    }

    /// The mean of pollutant `i` in the hour starting at `start`.
    pub(crate) fn hour_mean(&self, start: i64, i: usize) -> Option<f64> {
        self.hours.get(&start).and_then(|hour| hour.mean(i))
    }
}

/// Drops the entries more than `kept_ms` older than the newest.
fn prune(series: &mut BTreeMap<i64, Hour>, kept_ms: i64) {
    let Some(newest) = series.keys().next_back().copied() else {
        return;
    };
    while series
        .first_key_value()
        .is_some_and(|(start, _)| *start < newest - kept_ms)
    {
        series.pop_first();
    }
}

/// Everything the open data keeps besides the register and the alert book.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OpenDataBook {
    /// Air-quality sums by area, then station. Nested rather than keyed by the pair so that
    /// a reading finds its series without building a key (two allocations per reading).
    stations: BTreeMap<String, BTreeMap<String, StationSeries>>,
    /// Dossier tallies by area, then clock-hour start (nested for the same reason).
    dossiers: BTreeMap<String, BTreeMap<i64, DossierTally>>,
}

impl OpenDataBook {
    /// Takes one journaled event; kinds other than air quality and dossiers are ignored.
    pub fn apply(&mut self, event: &Event) {
        match event.kind {
            Kind::AirQuality => self.stations.with_value(&event.area, |stations| {
                stations.with_value(&event.source, |series| series.add(event));
            }),
            Kind::Dossier => self.dossiers.with_value(&event.area, |hours| {
                hours
                    .entry(period::hour_start(event.ts_ms))
                    .or_default()
                    .add(event);
            }),
            _ => {}
        }
    }

    /// Each station's series with its area and id, ordered by area, then station.
    pub(crate) fn stations(&self) -> impl Iterator<Item = ((&str, &str), &StationSeries)> {
        self.stations.iter().flat_map(|(area, stations)| {
            stations
                .iter()
                .map(move |(station, series)| ((area.as_str(), station.as_str()), series))
        })
    }

    /// Each area's hourly dossier tallies, ordered by area, then hour.
    pub(crate) fn dossier_hours(&self) -> impl Iterator<Item = ((&str, i64), &DossierTally)> {
        self.dossiers.iter().flat_map(|(area, hours)| {
            hours
                .iter()
                .map(move |(hour, tally)| ((area.as_str(), *hour), tally))
        })
    }
}

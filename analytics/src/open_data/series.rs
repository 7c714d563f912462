//! The long series the open data needs beyond the live windows: each air-quality station's
//! hourly and daily pollutant sums, and dossier tallies per area and hour. Fed every journaled
//! event in journal order, so a replay rebuilds them.

use super::period;
use crate::dossiers::DossierTally;
use crate::hourly::Hour;
use ioc_ingest::{Event, Kind};
use std::collections::BTreeMap;

/// Hours of pollutant sums kept per station (hourly rows reach this far back).
const HOURS_KEPT_MS: i64 = super::MAX_HOURLY_DAYS * 24 * 3_600_000;
/// Days of pollutant sums kept per station (daily and monthly rows reach this far back).
const DAYS_KEPT_MS: i64 = 400 * 24 * 3_600_000;

/// One station's sums in one area.
#[derive(Debug, Clone, Default, PartialEq)]
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
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpenDataBook {
    /// Air-quality sums by (area, station).
    pub(crate) stations: BTreeMap<(String, String), StationSeries>,
    /// Dossier tallies by (area, clock-hour start).
    pub(crate) dossiers: BTreeMap<(String, i64), DossierTally>,
}

impl OpenDataBook {
    /// Takes one journaled event; kinds other than air quality and dossiers are ignored.
    pub fn apply(&mut self, event: &Event) {
        match event.kind {
            Kind::AirQuality => self
                .stations
                .entry((event.area.clone(), event.source.clone()))
                .or_default()
                .add(event),
            Kind::Dossier => self
                .dossiers
                .entry((event.area.clone(), period::hour_start(event.ts_ms)))
                .or_default()
                .add(event),
            _ => {}
        }
    }
}

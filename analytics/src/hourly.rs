//! Hourly means of each air-quality station's pollutants over the last day: what the hourly
//! VN_AQI (NowCast for PM over 12 h) and the daily VN_AQI are computed from.

use crate::aqi::{self, Pollutant};
use ioc_ingest::Values;
use std::collections::VecDeque;

/// One hour, ms.
const HOUR_MS: i64 = 3_600_000;
/// Hours kept per station: a day for the daily index, plus the current hour.
const HOURS_KEPT: i64 = 25;
/// Hours the NowCast looks back over.
const NOWCAST_HOURS: usize = 12;

/// Sums and counts of each pollutant (in [`Pollutant::ALL`] order) over a stretch of time: a
/// clock hour here, also a day or month in the open-data series.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Hour {
    pub(crate) start: i64,
    pub(crate) sums: [f64; 6],
    pub(crate) counts: [u32; 6],
}

impl Hour {
    pub(crate) fn empty(start: i64) -> Self {
        Hour {
            start,
            sums: [0.0; 6],
            counts: [0; 6],
        }
    }

    pub(crate) fn mean(&self, pollutant: usize) -> Option<f64> {
        (self.counts[pollutant] > 0)
            .then(|| self.sums[pollutant] / f64::from(self.counts[pollutant]))
    }

    /// Adds a reading's pollutant fields: one pass over the reading's fields (a field name
    /// comes once), where looking each pollutant up searched them six times.
    pub(crate) fn add_values(&mut self, values: &Values) {
        for (name, value) in values.iter() {
            let Some(i) = Pollutant::place_of_field(name) else {
                continue;
            };
            if let (Some(value), Some(sum), Some(count)) =
                (value.as_f64(), self.sums.get_mut(i), self.counts.get_mut(i))
            {
                *sum += value;
                *count += 1;
            }
        }
    }

    /// Adds another stretch's sums and counts.
    pub(crate) fn merge(&mut self, other: &Hour) {
        for i in 0..self.sums.len() {
            self.sums[i] += other.sums[i];
            self.counts[i] += other.counts[i];
        }
    }

    /// VN_AQI of the stretch's means (the daily index when the stretch is a day).
    pub(crate) fn aqi_of_means(&self) -> Option<u32> {
        let concentrations: Vec<(Pollutant, f64)> = Pollutant::ALL
            .iter()
            .enumerate()
            .filter_map(|(i, (pollutant, _))| self.mean(i).map(|c| (*pollutant, c)))
            .collect();
        aqi::aqi(&concentrations)
    }
}

/// The hourly VN_AQI of the clock hour starting at `current`, given each hour's mean of a
/// pollutant (by index in [`Pollutant::ALL`]): PM by NowCast when it can be computed, else the
/// hour's own mean; the other pollutants by the hour's mean.
pub(crate) fn hourly_index(
    current: i64,
    mean_of: impl Fn(i64, usize) -> Option<f64>,
) -> Option<HourlyAqi> {
    // Arrays, not vectors: this runs for every air-quality reading (the alerts watch the
    // station's hourly index), and its allocations showed in the B2 profile.
    let mut basis = AqiBasis::Nowcast;
    let mut concentrations = [(Pollutant::Pm25, 0.0); Pollutant::ALL.len()];
    let mut found = 0;
    for (i, (pollutant, _)) in Pollutant::ALL.iter().enumerate() {
        let this_hour = mean_of(current, i);
        let value = if matches!(pollutant, Pollutant::Pm25 | Pollutant::Pm10) {
            let hours: [Option<f64>; NOWCAST_HOURS] =
                std::array::from_fn(|back| mean_of(current - back as i64 * HOUR_MS, i));
            match aqi::nowcast(&hours) {
                Some(value) => Some(value),
                None if this_hour.is_some() => {
                    basis = AqiBasis::CurrentHour;
                    this_hour
                }
                None => None,
            }
        } else {
            this_hour
        };
        if let Some(value) = value {
            concentrations[found] = (*pollutant, value);
            found += 1;
        }
    }
    aqi::aqi(&concentrations[..found]).map(|aqi| HourlyAqi { aqi, basis })
}

/// How an hourly index was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AqiBasis {
    /// PM by the 12-hour NowCast (at least 2 of the last 3 hours present), as the Decision says.
    Nowcast,
    /// Too little history for the NowCast: the mean of the current hour so far.
    CurrentHour,
}

/// A station's or an area's index with how it was obtained.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HourlyAqi {
    /// The index.
    pub aqi: u32,
    /// How PM was averaged.
    pub basis: AqiBasis,
}

/// One station's hourly means.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HourlyAir {
    hours: VecDeque<Hour>,
}

impl HourlyAir {
    /// Adds a reading's pollutant fields at event time `ts`.
    pub fn add(&mut self, ts: i64, values: &Values) {
        let start = ts - ts.rem_euclid(HOUR_MS);
        let newest = self.hours.back().map_or(start, |h| h.start.max(start));
        if start <= newest - HOURS_KEPT * HOUR_MS {
            return; // older than anything kept
        }
        let position = self.hours.iter().position(|h| h.start >= start);
        let index = match position {
            Some(i) if self.hours[i].start == start => i,
            Some(i) => {
                self.hours.insert(i, Hour::empty(start));
                i
            }
            None => {
                self.hours.push_back(Hour::empty(start));
                self.hours.len() - 1
            }
        };
        self.hours[index].add_values(values);
        let newest = self.hours.back().map_or(start, |h| h.start);
        while self
            .hours
            .front()
            .is_some_and(|h| h.start <= newest - HOURS_KEPT * HOUR_MS)
        {
            self.hours.pop_front();
        }
    }

    fn mean_of(&self, start: i64, pollutant: usize) -> Option<f64> {
        // From the newest: the index asks for the last twelve hours, and each hour is kept once
        // (`add` keeps them ordered by start, without repeats), so the first found is the one,
        // and past an older hour it cannot come (a missing hour was a walk through the day).
        self.hours
            .iter()
            .rev()
            .take_while(|h| h.start >= start)
            .find(|h| h.start == start)
            .and_then(|h| h.mean(pollutant))
    }

    /// The hourly VN_AQI at the station's newest hour: PM by NowCast when it can be computed,
    /// the other pollutants by their mean of that hour.
    pub fn hourly_aqi(&self) -> Option<HourlyAqi> {
        let current = self.hours.back()?.start;
        hourly_index(current, |start, i| self.mean_of(start, i))
    }

    /// The daily VN_AQI: every pollutant's mean over the 24 hours ending with the newest hour.
    pub fn daily_aqi(&self) -> Option<u32> {
        let current = self.hours.back()?.start;
        let mut day = Hour::empty(current);
        for hour in self
            .hours
            .iter()
            .filter(|h| h.start > current - 24 * HOUR_MS)
        {
            day.merge(hour);
        }
        day.aqi_of_means()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pm25(value: f64) -> Values {
        Values::from_iter([("pm25", json!(value))])
    }

    #[test]
    fn twelve_constant_hours_give_the_index_of_the_constant() {
        let mut station = HourlyAir::default();
        for minute in (0..12 * 60).step_by(5) {
            station.add(1_000 * HOUR_MS + minute * 60_000, &pm25(55.7));
        }
        assert_eq!(
            station.hourly_aqi(),
            Some(HourlyAqi {
                aqi: 110,
                basis: AqiBasis::Nowcast
            })
        );
        assert_eq!(station.daily_aqi(), Some(110));
    }

    #[test]
    fn nowcast_follows_the_decision() {
        // Hours newest first 40, 10 → w = 0.5, NowCast 30 → PM2.5 sub-index 60.
        let mut station = HourlyAir::default();
        station.add(HOUR_MS * 100 + 10, &pm25(10.0));
        station.add(HOUR_MS * 101 + 10, &pm25(40.0));
        assert_eq!(station.hourly_aqi().map(|h| h.aqi), Some(60));
    }

    #[test]
    fn one_hour_of_data_falls_back_to_the_current_hour() {
        let mut station = HourlyAir::default();
        station.add(HOUR_MS * 100 + 10, &pm25(20.3));
        assert_eq!(
            station.hourly_aqi(),
            Some(HourlyAqi {
                aqi: 41,
                basis: AqiBasis::CurrentHour
            })
        );
    }

    #[test]
    fn hours_older_than_a_day_are_dropped() {
        let mut station = HourlyAir::default();
        station.add(HOUR_MS * 100, &pm25(300.0));
        station.add(HOUR_MS * 130, &pm25(10.0));
        assert_eq!(station.hours.len(), 1);
        station.add(HOUR_MS * 100, &pm25(300.0));
        assert_eq!(station.hours.len(), 1, "too old to keep");
    }
}

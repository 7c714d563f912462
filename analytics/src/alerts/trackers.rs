//! Per-subject state of each rule type: fed every event in journal order (live and in replay,
//! so a restart rebuilds them exactly), they say whether their condition holds now.

use super::conditions::Direction;
use crate::partial::ExactSum;
use std::collections::{HashMap, VecDeque};

/// A condition that holds: what an alert raised now would say.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Firing {
    /// Area of the subject.
    pub area: String,
    /// Sensor, for sensor rules.
    pub source: Option<String>,
    /// The value now.
    pub value: f64,
    /// The limit it crossed.
    pub threshold: f64,
    /// Position, when known.
    pub lat: Option<f64>,
    /// Position, when known.
    pub lon: Option<f64>,
    /// A reference value for the message (the baseline mean of an anomaly).
    pub reference: Option<f64>,
}

/// Where a subject's condition stands, and whether an operator closed its alert while it held.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Holding {
    /// `Some` while the condition holds.
    pub firing: Option<Firing>,
    /// An operator resolved the alert while the condition still held: no new alert until it
    /// clears once.
    pub suppressed: bool,
    /// The start of an episode not yet seen by the book: kept even if the condition clears
    /// within the same micro-batch, so a short episode still raises (and resolves) its alert.
    pub latched: Option<Firing>,
}

impl Holding {
    fn clear(&mut self) {
        self.firing = None;
        self.suppressed = false;
    }

    /// The condition starts to hold.
    fn fire(&mut self, firing: Firing) {
        self.latched = Some(firing.clone());
        self.firing = Some(firing);
    }
}

/// What a sensor reading says for the sensor rules.
#[derive(Debug, Clone)]
pub struct Observation<'a> {
    /// Sensor id.
    pub source: &'a str,
    /// Area.
    pub area: &'a str,
    /// Event time, ms.
    pub ts: i64,
    /// The metric's value.
    pub value: f64,
    /// Position.
    pub lat: Option<f64>,
    /// Position.
    pub lon: Option<f64>,
}

impl Observation<'_> {
    fn firing(&self, threshold: f64) -> Firing {
        Firing {
            area: self.area.to_string(),
            source: Some(self.source.to_string()),
            value: self.value,
            threshold,
            lat: self.lat,
            lon: self.lon,
            reference: None,
        }
    }
}

/// "Beyond the limit for a duration", per sensor.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ThresholdTracker {
    /// The condition.
    pub holding: Holding,
    pending_since: Option<i64>,
    last_ts: Option<i64>,
}

impl ThresholdTracker {
    /// Takes a reading against `limit`; `above` says which side is bad.
    pub fn observe(
        &mut self,
        reading: &Observation<'_>,
        limit: f64,
        above: bool,
        margin: f64,
        for_ms: i64,
    ) {
        if self.last_ts.is_some_and(|last| reading.ts < last) {
            return; // an older reading says nothing about now
        }
        self.last_ts = Some(reading.ts);
        let value = reading.value;
        let beyond = if above { value > limit } else { value < limit };
        let cleared = if above {
            value <= limit - margin
        } else {
            value >= limit + margin
        };
        if let Some(firing) = &mut self.holding.firing {
            if cleared {
                self.holding.clear();
                self.pending_since = None;
            } else {
                firing.value = value;
            }
            return;
        }
        if cleared {
            self.holding.suppressed = false;
        }
        if !beyond {
            self.pending_since = None;
            return;
        }
        let since = *self.pending_since.get_or_insert(reading.ts);
        if reading.ts - since >= for_ms {
            self.holding.fire(reading.firing(limit));
        }
    }
}

/// "Changed by this much within this span", per sensor.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct RateTracker {
    /// The condition.
    pub holding: Holding,
    /// The readings that can still be the span's extreme (its lowest when the rule watches
    /// rises, its highest for falls), oldest first, each more extreme than the ones before:
    /// a reading that a newer, more extreme one outdoes can never be the extreme again, so it
    /// is dropped. The front is the extreme; the back is the newest reading. O(1) amortized
    /// per reading instead of a scan of the span.
    extremes: VecDeque<(i64, f64)>,
    calm_since: Option<i64>,
}

impl RateTracker {
    /// Takes a reading; `rise` negative watches falls.
    pub fn observe(
        &mut self,
        reading: &Observation<'_>,
        rise: f64,
        clear_rise: f64,
        within_ms: i64,
    ) {
        if self
            .extremes
            .back()
            .is_some_and(|(last, _)| reading.ts < *last)
        {
            return;
        }
        let outdone = |kept: f64| {
            if rise > 0.0 {
                kept >= reading.value
            } else {
                kept <= reading.value
            }
        };
        while self.extremes.back().is_some_and(|(_, kept)| outdone(*kept)) {
            self.extremes.pop_back();
        }
        self.extremes.push_back((reading.ts, reading.value));
        while self
            .extremes
            .front()
            .is_some_and(|(ts, _)| *ts < reading.ts - within_ms)
        {
            self.extremes.pop_front();
        }
        // Never empty: the reading itself was just pushed and is within the span.
        let extreme = self.extremes.front().map_or(reading.value, |(_, v)| *v);
        let change = reading.value - extreme;
        let steep = if rise > 0.0 {
            change >= rise
        } else {
            change <= rise
        };
        let calm = if rise > 0.0 {
            change < clear_rise
        } else {
            change > clear_rise
        };
        match &mut self.holding.firing {
            None => {
                if steep && !self.holding.suppressed {
                    self.holding.fire(Firing {
                        value: change,
                        ..reading.firing(rise)
                    });
                    self.calm_since = None;
                } else if calm {
                    self.holding.suppressed = false;
                }
            }
            Some(firing) => {
                if calm {
                    let since = *self.calm_since.get_or_insert(reading.ts);
                    if reading.ts - since >= within_ms {
                        self.holding.clear();
                        self.calm_since = None;
                    }
                } else {
                    self.calm_since = None;
                    if steep {
                        firing.value = change;
                    }
                }
            }
        }
    }
}

/// "No reading for a while", per sensor; judged against the wall clock.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StaleTracker {
    /// The condition.
    pub holding: Holding,
    area: String,
    last_seen_ms: i64,
    recovered: u32,
}

impl StaleTracker {
    /// A sensor first seen at `now_ms` (wall clock).
    pub fn new(area: &str, now_ms: i64) -> Self {
        Self {
            holding: Holding::default(),
            area: area.to_string(),
            last_seen_ms: now_ms,
            recovered: 0,
        }
    }

    /// A reading arrived at `now_ms`.
    pub fn observe(&mut self, area: &str, now_ms: i64, recover_readings: u32) {
        self.last_seen_ms = self.last_seen_ms.max(now_ms);
        area.clone_into(&mut self.area);
        if self.holding.firing.is_some() {
            self.recovered += 1;
            if self.recovered >= recover_readings {
                self.holding.clear();
            }
        }
    }

    /// Marks the sensor silent when it has been for `after_ms`.
    pub fn check(&mut self, source: &str, now_ms: i64, after_ms: i64) {
        let silent_ms = now_ms - self.last_seen_ms;
        if silent_ms <= after_ms {
            return;
        }
        if self.holding.firing.is_some() {
            // Recovery needs readings in a row: a new silence starts the count again.
            self.recovered = 0;
        } else {
            self.mark_silent(source, silent_ms, after_ms, true);
        }
    }

    /// The sensor is silent: seen by [`StaleTracker::check`] (`latch`: a new episode), or read
    /// from a journaled alert (the episode is already in the book).
    pub fn mark_silent(&mut self, source: &str, silent_ms: i64, after_ms: i64, latch: bool) {
        if self.holding.firing.is_none() {
            self.recovered = 0;
            let firing = Firing {
                area: self.area.clone(),
                source: Some(source.to_string()),
                value: (silent_ms as f64 / 1000.0).round(),
                threshold: (after_ms as f64 / 1000.0).round(),
                lat: None,
                lon: None,
                reference: None,
            };
            if latch {
                self.holding.fire(firing);
            } else {
                self.holding.firing = Some(firing);
            }
        }
    }
}

/// A report with a place, as the burst rule keeps it.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct Placed {
    ts: i64,
    lat: f64,
    lon: f64,
}

/// A cluster of reports of one category: the subject of a burst alert.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Cluster {
    /// Category (service code).
    pub category: String,
    /// Centre.
    pub lat: f64,
    /// Centre.
    pub lon: f64,
    /// The condition.
    pub holding: Holding,
}

/// "N reports of one category within R metres in T", over all reports of a rule.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct BurstTracker {
    recent: HashMap<String, VecDeque<Placed>>,
    /// Live clusters by subject (`<category>@<lat>,<lon>` of the centre when first seen).
    pub clusters: HashMap<String, Cluster>,
}

/// Great-circle distance in metres (haversine; plenty for a city).
pub fn distance_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    const EARTH_RADIUS_M: f64 = 6_371_000.0;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// The parameters of a burst rule.
#[derive(Debug, Clone, Copy)]
pub struct BurstShape {
    /// Reports that make a cluster.
    pub count: usize,
    /// Radius, metres.
    pub radius_m: f64,
    /// Span, ms.
    pub within_ms: i64,
    /// Reports under which a cluster ends.
    pub clear_count: usize,
}

impl BurstTracker {
    /// Takes a report at a place.
    pub fn observe(
        &mut self,
        category: &str,
        area: &str,
        ts: i64,
        lat: f64,
        lon: f64,
        shape: BurstShape,
    ) {
        let recent = self.recent.entry(category.to_string()).or_default();
        recent.push_back(Placed { ts, lat, lon });
        let newest = recent.iter().map(|p| p.ts).max().unwrap_or(ts);
        recent.retain(|p| p.ts > newest - shape.within_ms);
        let near = |clat: f64, clon: f64| {
            recent
                .iter()
                .filter(|p| distance_m(clat, clon, p.lat, p.lon) <= shape.radius_m)
                .count()
        };
        // A report near a live cluster of its category belongs to it.
        for cluster in self.clusters.values_mut() {
            if cluster.category == category
                && distance_m(cluster.lat, cluster.lon, lat, lon) <= shape.radius_m
            {
                let count = near(cluster.lat, cluster.lon);
                if let Some(firing) = &mut cluster.holding.firing {
                    firing.value = count as f64;
                }
                return;
            }
        }
        let members: Vec<Placed> = recent
            .iter()
            .filter(|p| distance_m(lat, lon, p.lat, p.lon) <= shape.radius_m)
            .copied()
            .collect();
        if members.len() < shape.count {
            return;
        }
        let n = members.len() as f64;
        let (clat, clon) = (
            members.iter().map(|p| p.lat).sum::<f64>() / n,
            members.iter().map(|p| p.lon).sum::<f64>() / n,
        );
        let subject = format!("{category}@{clat:.4},{clon:.4}");
        self.clusters.insert(
            subject,
            Cluster {
                category: category.to_string(),
                lat: clat,
                lon: clon,
                holding: {
                    let mut holding = Holding::default();
                    holding.fire(Firing {
                        area: area.to_string(),
                        source: None,
                        value: n,
                        threshold: shape.count as f64,
                        lat: Some(clat),
                        lon: Some(clon),
                        reference: None,
                    });
                    holding
                },
            },
        );
    }

    /// Ends clusters that have thinned out by `now_ms`.
    pub fn check(&mut self, now_ms: i64, shape: BurstShape) {
        let recent = &self.recent;
        self.clusters.retain(|_, cluster| {
            let count = recent.get(&cluster.category).map_or(0, |reports| {
                reports
                    .iter()
                    .filter(|p| p.ts > now_ms - shape.within_ms)
                    .filter(|p| {
                        distance_m(cluster.lat, cluster.lon, p.lat, p.lon) <= shape.radius_m
                    })
                    .count()
            });
            if let Some(firing) = &mut cluster.holding.firing {
                firing.value = count as f64;
            }
            count >= shape.clear_count
        });
    }
}

/// Welford's running mean and variance of one hour-of-week slot across weeks.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
struct Slot {
    weeks: u32,
    mean: f64,
    m2: f64,
}

impl Slot {
    fn add(&mut self, value: f64) {
        self.weeks += 1;
        let delta = value - self.mean;
        self.mean += delta / f64::from(self.weeks);
        self.m2 += delta * (value - self.mean);
    }

    fn spread(&self) -> f64 {
        if self.weeks < 2 {
            0.0
        } else {
            (self.m2 / f64::from(self.weeks - 1)).sqrt()
        }
    }
}

/// Hours in a week.
const HOURS_PER_WEEK: i64 = 168;

/// Serde of an anomaly tracker's hour-of-week slots, as a sequence: serde's own arrays stop
/// at 32 elements.
mod week_slots {
    use super::{HOURS_PER_WEEK, Slot};

    type Week = [Slot; HOURS_PER_WEEK as usize];

    pub(super) fn serialize<S: serde::Serializer>(
        slots: &Week,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&slots[..], serializer)
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Box<Week>, D::Error> {
        let slots: Vec<Slot> = serde::Deserialize::deserialize(deserializer)?;
        let found = slots.len();
        slots
            .into_boxed_slice()
            .try_into()
            .map_err(|_| serde::de::Error::invalid_length(found, &"one slot per hour of the week"))
    }
}
/// One hour, ms.
const HOUR_MS: i64 = 3_600_000;
/// Vietnam's offset from UTC (no daylight saving), so slots follow local hours.
const LOCAL_OFFSET_MS: i64 = 7 * HOUR_MS;
/// Readings an hour needs before its mean joins the baseline.
const MIN_READINGS_PER_HOUR: u32 = 3;

/// The hour-of-week slot (0 = Monday 00:00 local … 167) of an epoch-ms time.
pub fn hour_of_week(ts_ms: i64) -> usize {
    // The epoch was a Thursday: shift by three days so slot 0 is Monday.
    let hours = (ts_ms + LOCAL_OFFSET_MS).div_euclid(HOUR_MS) + 3 * 24;
    hours.rem_euclid(HOURS_PER_WEEK) as usize
}

/// The parameters of an anomaly rule.
#[derive(Debug, Clone, Copy)]
pub struct AnomalyShape {
    /// Which side counts.
    pub direction: Direction,
    /// Raise at this many spreads.
    pub z: f64,
    /// Clear under this many.
    pub clear_z: f64,
    /// Span of the recent mean, ms.
    pub window_ms: i64,
    /// Weeks needed in the slot.
    pub min_weeks: u32,
    /// Floor of the spread as a share of the mean.
    pub min_spread: f64,
}

/// Width of the slices the recent mean is kept in. The readings of one second share one sum,
/// so a tracker holds at most `window / 1 s` slices whatever the rate: a list of every reading
/// held about 14 million of them, 230 MB, at 16,000 readings a second over 15 minutes.
const RECENT_SLICE_MS: i64 = 1_000;

/// The readings of one slice of the recent window.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
struct RecentSlice {
    /// Start of the second, epoch ms.
    start: i64,
    /// Sum of its readings, exact.
    sum: ExactSum,
    /// Number of its readings.
    count: u64,
}

/// "Far from the usual for this hour of the week", per area.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AnomalyTracker {
    /// The condition.
    pub holding: Holding,
    #[serde(with = "week_slots")]
    slots: Box<[Slot; HOURS_PER_WEEK as usize]>,
    hour: Option<(i64, f64, u32)>,
    /// The seconds of the recent window that had readings, oldest first.
    recent: VecDeque<RecentSlice>,
    /// Sum of `recent`, kept as slices come and go; exact, so it never drifts.
    recent_sum: ExactSum,
    /// Readings in `recent`.
    recent_count: u64,
}

impl Default for AnomalyTracker {
    fn default() -> Self {
        Self {
            holding: Holding::default(),
            slots: Box::new([Slot::default(); HOURS_PER_WEEK as usize]),
            hour: None,
            recent: VecDeque::new(),
            recent_sum: ExactSum::default(),
            recent_count: 0,
        }
    }
}

impl AnomalyTracker {
    /// Adds an archived hour's mean to its hour-of-week slot (start-up, before replay).
    pub fn seed_hour(&mut self, hour_start_ms: i64, mean: f64, readings: u32) {
        if readings >= MIN_READINGS_PER_HOUR && mean.is_finite() {
            self.slots[hour_of_week(hour_start_ms)].add(mean);
        }
    }

    /// Counts a reading into the recent window: the seconds after `newest − window`, where
    /// `newest` is the latest second seen. A reading older than that is left out.
    fn add_recent(&mut self, ts: i64, value: f64, window_ms: i64) {
        let start = ts - ts.rem_euclid(RECENT_SLICE_MS);
        let newest = self
            .recent
            .back()
            .map_or(start, |last| last.start.max(start));
        if start <= newest - window_ms {
            return;
        }
        let reading = ExactSum::of(value);
        // Readings mostly come in time order: their second is the newest or a new one, found
        // without a search (the search was a visible share of admission in B8's profile).
        let place = match self.recent.back() {
            Some(last) if last.start == start => Ok(self.recent.len() - 1),
            Some(last) if last.start < start => Err(self.recent.len()),
            None => Err(0),
            Some(_) => self
                .recent
                .binary_search_by_key(&start, |slice| slice.start),
        };
        match place {
            Ok(at) => {
                if let Some(slice) = self.recent.get_mut(at) {
                    slice.sum.add(reading);
                    slice.count += 1;
                }
            }
            Err(at) => self.recent.insert(
                at,
                RecentSlice {
                    start,
                    sum: reading,
                    count: 1,
                },
            ),
        }
        self.recent_sum.add(reading);
        self.recent_count += 1;
        while let Some(oldest) = self.recent.front()
            && oldest.start <= newest - window_ms
        {
            let gone = *oldest;
            self.recent.pop_front();
            self.recent_sum.add(gone.sum.negated());
            self.recent_count -= gone.count;
        }
    }

    /// Takes one reading of the area.
    pub fn observe(&mut self, area: &str, ts: i64, value: f64, shape: AnomalyShape) {
        let hour_start = ts - ts.rem_euclid(HOUR_MS);
        match self.hour {
            Some((start, sum, n)) if start == hour_start => {
                self.hour = Some((start, sum + value, n + 1));
            }
            Some((start, _, _)) if hour_start < start => return, // late: not for the baseline
            Some((start, sum, n)) => {
                if n >= MIN_READINGS_PER_HOUR {
                    self.slots[hour_of_week(start)].add(sum / f64::from(n));
                }
                self.hour = Some((hour_start, value, 1));
            }
            None => self.hour = Some((hour_start, value, 1)),
        }
        self.add_recent(ts, value, shape.window_ms);
        if self.recent_count == 0 {
            return;
        }
        let mean = self.recent_sum.value() / self.recent_count as f64;
        let slot = self.slots[hour_of_week(ts)];
        if slot.weeks < shape.min_weeks {
            self.holding.clear();
            return;
        }
        let spread = slot
            .spread()
            .max(shape.min_spread * slot.mean.abs())
            .max(f64::EPSILON);
        let z = (mean - slot.mean) / spread;
        let toward = match shape.direction {
            Direction::Above => z,
            Direction::Below => -z,
            Direction::Both => z.abs(),
        };
        let limit = |z: f64| match shape.direction {
            Direction::Below => slot.mean - z * spread,
            Direction::Above => slot.mean + z * spread,
            Direction::Both if mean < slot.mean => slot.mean - z * spread,
            Direction::Both => slot.mean + z * spread,
        };
        match &mut self.holding.firing {
            Some(firing) if toward < shape.clear_z => {
                let _ = firing;
                self.holding.clear();
            }
            Some(firing) => firing.value = mean,
            None if toward >= shape.z => {
                if !self.holding.suppressed {
                    self.holding.fire(Firing {
                        area: area.to_string(),
                        source: None,
                        value: mean,
                        threshold: limit(shape.z),
                        lat: None,
                        lon: None,
                        reference: Some(slot.mean),
                    });
                }
            }
            None => {
                if toward < shape.clear_z {
                    self.holding.suppressed = false;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ts: i64, value: f64) -> Observation<'static> {
        Observation {
            source: "s1",
            area: "a",
            ts,
            value,
            lat: None,
            lon: None,
        }
    }

    #[test]
    fn threshold_needs_the_whole_duration_and_clears_past_the_margin() {
        let mut t = ThresholdTracker::default();
        for (ts, value) in [(0, 210.0), (300_000, 220.0)] {
            t.observe(&at(ts, value), 200.0, true, 20.0, 600_000);
        }
        assert!(t.holding.firing.is_none(), "5 minutes is not 10");
        t.observe(&at(600_000, 205.0), 200.0, true, 20.0, 600_000);
        assert_eq!(t.holding.firing.as_ref().map(|f| f.value), Some(205.0));
        // Flapping inside the hysteresis band keeps it.
        t.observe(&at(660_000, 190.0), 200.0, true, 20.0, 600_000);
        assert!(t.holding.firing.is_some());
        t.observe(&at(720_000, 180.0), 200.0, true, 20.0, 600_000);
        assert!(t.holding.firing.is_none());
    }

    #[test]
    fn a_dip_restarts_the_duration() {
        let mut t = ThresholdTracker::default();
        for (ts, value) in [
            (0, 210.0),
            (400_000, 199.0),
            (700_000, 210.0),
            (1_000_000, 210.0),
        ] {
            t.observe(&at(ts, value), 200.0, true, 0.0, 600_000);
        }
        assert!(t.holding.firing.is_none());
        t.observe(&at(1_300_000, 210.0), 200.0, true, 0.0, 600_000);
        assert!(t.holding.firing.is_some());
    }

    #[test]
    fn rate_rises_and_calms_after_a_full_span() {
        let mut t = RateTracker::default();
        t.observe(&at(0, 100.0), 20.0, 10.0, 600_000);
        t.observe(&at(300_000, 125.0), 20.0, 10.0, 600_000);
        assert_eq!(t.holding.firing.as_ref().map(|f| f.value), Some(25.0));
        t.observe(&at(1_000_000, 126.0), 20.0, 10.0, 600_000);
        assert!(t.holding.firing.is_some(), "calm just started");
        t.observe(&at(1_600_000, 126.0), 20.0, 10.0, 600_000);
        assert!(t.holding.firing.is_none());
    }

    #[test]
    fn stale_needs_readings_to_recover() {
        let mut t = StaleTracker::new("a", 0);
        t.check("s1", 4_000, 5_000);
        assert!(t.holding.firing.is_none());
        t.check("s1", 6_000, 5_000);
        assert!(t.holding.firing.is_some());
        t.observe("a", 7_000, 3);
        t.observe("a", 8_000, 3);
        // Silent again before the third reading: the count starts over.
        t.check("s1", 14_000, 5_000);
        t.observe("a", 15_000, 3);
        t.observe("a", 16_000, 3);
        assert!(t.holding.firing.is_some());
        t.observe("a", 17_000, 3);
        assert!(t.holding.firing.is_none());
    }

    #[test]
    fn distance_of_a_known_pair() {
        let d = distance_m(21.0287, 105.8524, 21.0245, 105.8579);
        assert!((d - 737.5).abs() < 0.5, "{d}");
    }

    #[test]
    fn monday_midnight_local_is_slot_zero() {
        // 2026-11-23 00:00 +07:00 is a Monday.
        assert_eq!(hour_of_week(1_795_366_800_000), 0);
        assert_eq!(hour_of_week(1_795_366_800_000 + 3_600_000 * 25), 25);
        assert_eq!(hour_of_week(1_795_366_800_000 - 3_600_000), 167);
    }

    #[test]
    fn the_rate_trackers_extreme_is_the_spans_lowest_or_highest() {
        // A fixed pseudo-random walk with irregular gaps, against a scan of the span.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            state >> 33
        };
        for rise in [15.0, -15.0] {
            let mut tracker = RateTracker::default();
            let mut seen: Vec<(i64, f64)> = Vec::new();
            let mut ts = 0;
            for _ in 0..5_000 {
                ts += (next() % 90_000) as i64;
                let value = (next() % 1_000) as f64 / 10.0;
                tracker.observe(&at(ts, value), rise, 5.0, 600_000);
                seen.push((ts, value));
                let span = seen
                    .iter()
                    .filter(|(t, _)| *t >= ts - 600_000)
                    .map(|(_, v)| *v);
                let expected = if rise > 0.0 {
                    span.fold(f64::INFINITY, f64::min)
                } else {
                    span.fold(f64::NEG_INFINITY, f64::max)
                };
                assert_eq!(tracker.extremes.front().map(|(_, v)| *v), Some(expected));
                assert_eq!(tracker.extremes.back(), Some(&(ts, value)));
            }
        }
    }

    /// An anomaly rule above the baseline with the given window.
    fn anomaly_shape(window_ms: i64) -> AnomalyShape {
        AnomalyShape {
            direction: Direction::Above,
            z: 3.0,
            clear_z: 2.0,
            window_ms,
            min_weeks: 3,
            min_spread: 0.1,
        }
    }

    #[test]
    fn the_anomaly_trackers_running_sum_equals_the_spans_sum() {
        let shape = anomaly_shape(900_000);
        let mut tracker = AnomalyTracker::default();
        for i in 0..10_000_i64 {
            tracker.observe("a", i * 7_000, 40.0 + (i % 13) as f64 * 0.1, shape);
            let mut sum = ExactSum::default();
            for slice in &tracker.recent {
                sum.add(slice.sum);
            }
            assert_eq!(tracker.recent_sum, sum);
            assert_eq!(tracker.recent_count, tracker.recent.len() as u64);
        }
    }

    #[test]
    fn the_anomaly_window_keeps_one_slice_per_second_and_the_exact_mean_of_its_seconds() {
        let shape = anomaly_shape(60_000);
        let mut tracker = AnomalyTracker::default();
        let mut seen: Vec<(i64, f64)> = Vec::new();
        // 40 readings a second for 100 s, 25 ms apart, with a late one now and then.
        for i in 0..4_000_i64 {
            let ts = 1_000_000 + i * 25;
            let late = i % 97 == 0 && i > 0;
            let ts = if late { ts - 30_000 } else { ts };
            let value = (i % 17) as f64 * 1.5 + 0.25;
            tracker.observe("a", ts, value, shape);
            seen.push((ts, value));
            let newest = seen.iter().map(|(t, _)| t - t.rem_euclid(1_000)).max();
            let newest = newest.unwrap_or_default();
            let mut expected = ExactSum::default();
            let mut count = 0_u64;
            for (t, v) in &seen {
                let second = t - t.rem_euclid(1_000);
                if second > newest - 60_000 {
                    expected.add(ExactSum::of(*v));
                    count += 1;
                }
            }
            assert_eq!(tracker.recent_sum, expected, "reading {i}");
            assert_eq!(tracker.recent_count, count, "reading {i}");
            assert!(tracker.recent.len() <= 60);
            let starts: Vec<i64> = tracker.recent.iter().map(|slice| slice.start).collect();
            assert!(
                starts.windows(2).all(|pair| pair[0] < pair[1]),
                "reading {i}"
            );
        }
        assert_eq!(tracker.recent.len(), 60);
    }

    #[test]
    fn a_reading_older_than_the_window_leaves_the_recent_mean_alone() {
        let shape = anomaly_shape(60_000);
        let mut tracker = AnomalyTracker::default();
        tracker.observe("a", 500_000, 10.0, shape);
        tracker.observe("a", 500_400, 20.0, shape);
        tracker.observe("a", 440_000, 99.0, shape);
        assert_eq!(
            (tracker.recent_count, tracker.recent_sum.value()),
            (2, 30.0)
        );
        tracker.observe("a", 441_000, 5.0, shape);
        assert_eq!(
            (tracker.recent_count, tracker.recent_sum.value()),
            (3, 35.0)
        );
        assert_eq!(tracker.recent.len(), 2);
    }
}

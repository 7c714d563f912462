//! What the city's sensor and portal events build: lifetime counts, lateness, the watermark,
//! window buckets, each source's latest reading, hourly air means, the open-data series and
//! the live rates.

use super::tally::BatchTally;
use crate::batch::{FieldIds, Reading, SeriesIndex};
use crate::hourly::HourlyAir;
use crate::partial::Partial;
use crate::rate::RateMeter;
use crate::sketch::QuantileSketch;
use crate::slots::StrKeyed;
use crate::windows::{BUCKET_MS, SeriesKey, WindowStore, bucket_of};
use ioc_ingest::{Event, Kind, Values};
use rustc_hash::FxHashMap;
use serde_json::Value;
use std::collections::BTreeMap;

/// The hidden window field holding noise energy (10^(LAeq/10)); fields starting with `_`
/// are internal and left out of the views' series.
pub const LAEQ_ENERGY: &str = "_laeq_energy";

/// Buckets older than the newest event time minus this are dropped: the widest window
/// (60 min) plus the allowed lateness and a minute of margin.
const RETENTION_MARGIN_MS: i64 = 60_000;

/// The latest known state of one sensor or portal.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SourceState {
    /// Source id.
    pub id: String,
    /// Its kind.
    pub kind: Kind,
    /// Area of its latest event.
    pub area: String,
    /// Event time of its latest event, epoch ms.
    pub last_ts: i64,
    /// Fields of its latest event.
    pub values: Values,
    /// Its speeds so far (traffic sensors), to learn the free-flow speed.
    pub speeds: QuantileSketch,
}

impl SourceState {
    /// A source first seen in `event`, before that event is observed.
    fn new(event: &Event) -> Self {
        Self {
            id: event.source.clone(),
            kind: event.kind,
            area: event.area.clone(),
            last_ts: i64::MIN,
            values: Values::new(),
            speeds: QuantileSketch::default(),
        }
    }

    /// Takes the source's next event: its speed joins the sketch, and the newest event (by
    /// event time) gives the kind, area and latest fields.
    fn observe(&mut self, event: &Event) {
        // Only a traffic counter has a speed (validation keeps each kind's own fields): the
        // other kinds, four events in five, skip the search of their fields.
        if event.kind == Kind::Traffic
            && let Some(speed) = event.values.get("speed").and_then(Value::as_f64)
        {
            self.speeds.add(speed);
        }
        if event.ts_ms >= self.last_ts {
            self.last_ts = event.ts_ms;
            self.kind = event.kind;
            if self.area != event.area {
                self.area.clone_from(&event.area);
            }
            // Reuses the fields' storage when a source sends the same fields again (the
            // usual case): no allocation per reading.
            self.values.clone_from(&event.values);
        }
    }
}

/// The telemetry part of the state: everything the journal's city events (sensors, portals,
/// and the counting of reports) build, except the report register, the dossier book and the
/// alerts. Only [`crate::state::State::admit`] (per event) and
/// [`crate::state::State::merge`] (window partials) write it, plus
/// [`Telemetry::restore_compacted`] at start. Snapshots keep all of it but the rates, which
/// follow the wall clock and start empty after any restart, as after a replay.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Telemetry {
    /// Lifetime accepted events per area and kind.
    pub(crate) counts: BTreeMap<String, BTreeMap<Kind, u64>>,
    /// Accepted events ever, all areas and kinds.
    pub(crate) events_total: u64,
    /// Events ever that arrived behind the watermark.
    pub(crate) late_total: u64,
    /// Late events per area, so an area-scoped overview can total its own.
    pub(crate) late_by_area: BTreeMap<String, u64>,
    /// The newest event time seen, the watermark's base.
    pub(crate) max_ts: Option<i64>,
    /// The window buckets of every series.
    pub(crate) windows: WindowStore,
    /// Numbers of the window series, so readings carry no strings.
    pub(crate) series: SeriesIndex,
    /// Hashed, not ordered: looked up for every reading; views order what they show with
    /// [`Telemetry::sources_in`].
    pub(crate) sources: FxHashMap<String, SourceState>,
    /// Events per second, all areas (wall clock).
    #[serde(skip)]
    pub(crate) rate: RateMeter,
    /// Events per second per area, so an area-scoped overview can total its own.
    #[serde(skip)]
    pub(crate) rate_by_area: BTreeMap<String, RateMeter>,
    /// Hourly pollutant means per air-quality station, for the hourly and daily VN_AQI.
    pub(crate) hourly_air: FxHashMap<String, HourlyAir>,
    /// Long hourly/daily series behind the open data.
    pub(crate) open_data: crate::open_data::OpenDataBook,
}

impl Telemetry {
    /// Takes one city event (not an alert record): the source's latest reading (not for
    /// citizen reports), open-data series, hourly air means, then lateness and the watermark;
    /// pushes its window readings to `readings` unless it is late, numbered through `series`,
    /// the batch's cache for the event's area and kind. Returns the station's hourly VN_AQI
    /// after an air-quality reading (what the `aqi` alert metric watches). The event is
    /// counted once its batch is in ([`Telemetry::add_counts`]).
    pub(crate) fn admit<'e>(
        &mut self,
        event: &'e Event,
        allowed_lateness_ms: i64,
        series: &mut FieldIds<'e>,
        readings: &mut Vec<Reading>,
    ) -> Option<f64> {
        if !super::reports::is_citizen_report(event.kind) {
            // Reports are people, not sensors: they go to the register, never to `sources`
            // (whose last values the area view shows).
            self.update_source(event);
        }
        self.open_data.apply(event);
        let aqi = self.update_hourly_air(event);
        let watermark = self.max_ts.map(|max| max - allowed_lateness_ms);
        if watermark.is_some_and(|w| event.ts_ms < w) {
            self.late_total += 1;
            self.late_by_area.with_value(&event.area, |late| *late += 1);
            return aqi;
        }
        self.max_ts = Some(self.max_ts.map_or(event.ts_ms, |max| max.max(event.ts_ms)));
        if !windowed(event.kind) {
            return aqi;
        }
        let bucket = bucket_of(event.ts_ms);
        let index = &mut self.series;
        readings.extend(event.numeric_fields().map(|(field, value)| Reading {
            series: series.id(index, field),
            bucket,
            ts: event.ts_ms,
            value,
        }));
        if let (Kind::Noise, Some(laeq)) =
            (event.kind, event.values.get("laeq").and_then(Value::as_f64))
        {
            // Sound levels average by energy, not arithmetically: windows keep the mean
            // of 10^(L/10) so that LAeq over any window is 10·log10 of it.
            readings.push(Reading {
                series: series.id(&mut self.series, LAEQ_ENERGY),
                bucket,
                ts: event.ts_ms,
                value: 10_f64.powf(laeq / 10.0),
            });
        }
        aqi
    }

    /// Adds a batch's city events to the lifetime counts per area and kind, and to the total.
    pub(crate) fn add_counts(&mut self, tally: &BatchTally<'_>) {
        for (area, kinds) in tally.by_area_and_kind() {
            let mut events = 0;
            self.counts.with_value(area, |counts| {
                for (kind, n) in kinds {
                    *counts.entry(kind).or_insert(0) += n;
                    events += n;
                }
            });
            self.events_total += events;
        }
    }

    /// Records a live batch's city events in the rate meters at wall-clock `now_ms`: all of
    /// them, and each area's.
    pub(crate) fn record_rates(&mut self, now_ms: i64, tally: &BatchTally<'_>) {
        let mut counted = 0;
        for (area, n) in tally.by_area() {
            counted += n;
            self.rate_by_area
                .with_value(area, |meter| meter.record(now_ms, n));
        }
        self.rate.record(now_ms, counted);
    }

    /// Adds an air-quality reading to its station's hourly means; returns the station's hourly
    /// VN_AQI after it.
    fn update_hourly_air(&mut self, event: &Event) -> Option<f64> {
        if event.kind != Kind::AirQuality {
            return None;
        }
        self.hourly_air.with_value(&event.source, |station| {
            station.add(event.ts_ms, &event.values);
            station.hourly_aqi().map(|hourly| f64::from(hourly.aqi))
        })
    }

    fn update_source(&mut self, event: &Event) {
        self.sources.with_value_or(
            &event.source,
            || SourceState::new(event),
            |source| source.observe(event),
        );
    }

    /// Merges the polars partials into the windows and drops buckets no window reaches,
    /// given the allowed lateness in force.
    pub(crate) fn merge(&mut self, partials: Vec<(u32, i64, Partial)>, allowed_lateness_ms: i64) {
        for (series, bucket, partial) in partials {
            if let Some(key) = self.series.key(series) {
                self.windows.merge(key, bucket, &partial);
            }
        }
        if let Some(max) = self.max_ts {
            let keep_from = bucket_of(max) + BUCKET_MS
                - crate::windows::WINDOWS[3].1
                - allowed_lateness_ms
                - RETENTION_MARGIN_MS;
            self.windows.prune(keep_from);
        }
    }

    /// Adds the lifetime counts of events that left the journal for the archive, so that
    /// `events_total` and the per-area counts survive compaction.
    pub fn restore_compacted(&mut self, compacted: BTreeMap<(String, Kind), u64>) {
        for ((area, kind), n) in compacted {
            *self
                .counts
                .entry(area)
                .or_default()
                .entry(kind)
                .or_insert(0) += n;
            self.events_total += n;
        }
    }

    /// The sources that `keep` selects, ordered by id (views list and sum them in this order).
    pub(crate) fn sources_in(&self, keep: impl Fn(&SourceState) -> bool) -> Vec<&SourceState> {
        let mut found: Vec<&SourceState> = self.sources.values().filter(|s| keep(s)).collect();
        found.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        found
    }

    /// End of the current windows: the end of the bucket holding the newest event time.
    pub fn window_end(&self) -> Option<i64> {
        self.max_ts.map(|max| bucket_of(max) + BUCKET_MS)
    }

    /// The window of one series ending at [`Telemetry::window_end`].
    pub fn window(&self, area: &str, kind: Kind, field: &str, width_ms: i64) -> Partial {
        match self.window_end() {
            Some(end) => self.windows.window(
                &SeriesKey {
                    area: area.to_string(),
                    kind,
                    field: field.to_string(),
                },
                end,
                width_ms,
            ),
            None => Partial::empty(),
        }
    }

    /// Accepted events ever, all areas and kinds.
    pub fn events_total(&self) -> u64 {
        self.events_total
    }

    /// Late events ever.
    pub fn late_total(&self) -> u64 {
        self.late_total
    }

    /// Accepted events per second, all areas, over the last ten seconds.
    pub fn events_per_sec(&self, now_ms: i64) -> f64 {
        self.rate.per_second(now_ms)
    }

    /// Accepted events ever in one area, all kinds.
    pub fn area_events_total(&self, area: &str) -> u64 {
        self.counts
            .get(area)
            .map_or(0, |kinds| kinds.values().sum())
    }

    /// Late events ever in one area.
    pub fn area_late_total(&self, area: &str) -> u64 {
        self.late_by_area.get(area).copied().unwrap_or(0)
    }

    /// Accepted events per second in one area over the last ten seconds.
    pub fn area_events_per_sec(&self, area: &str, now_ms: i64) -> f64 {
        self.rate_by_area
            .get(area)
            .map_or(0.0, |meter| meter.per_second(now_ms))
    }

    /// Lifetime accepted events of one area and kind.
    pub fn count(&self, area: &str, kind: Kind) -> u64 {
        self.counts
            .get(area)
            .and_then(|k| k.get(&kind))
            .copied()
            .unwrap_or(0)
    }
}

/// Kinds whose numeric fields go into windows (dossiers and reports feed KPIs instead).
fn windowed(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Traffic | Kind::AirQuality | Kind::WaterLevel | Kind::Noise
    )
}

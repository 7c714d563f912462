//! Everything analytics knows, updated batch by batch: lifetime counts, the watermark, window
//! buckets, each source's latest reading, refusals.

use crate::alerts::{Alert, AlertBook, Applied, Evaluator, Transition};
use crate::batch::{Reading, SeriesIndex};
use crate::config::AnalyticsConfig;
use crate::hourly::HourlyAir;
use crate::partial::Partial;
use crate::rate::RateMeter;
use crate::sketch::QuantileSketch;
use crate::slots::StrKeyed;
use crate::windows::{BUCKET_MS, SeriesKey, WindowStore, bucket_of};
use ioc_ingest::deadletter::DeadLetter;
use ioc_ingest::{Areas, Event, Kind, Reason, Values};
use rustc_hash::FxHashMap;
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

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
        if let Some(speed) = event.values.get("speed").and_then(Value::as_f64) {
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

/// The analytics state. What the journal's events built is serialized in snapshots
/// ([`crate::snapshot`]); what the deployment or the wall clock gives is skipped.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct State {
    #[serde(skip)]
    pub(crate) areas: Arc<Areas>,
    #[serde(skip)]
    pub(crate) config: AnalyticsConfig,
    pub(crate) counts: BTreeMap<String, BTreeMap<Kind, u64>>,
    pub(crate) events_total: u64,
    pub(crate) late_total: u64,
    /// Late events per area, so an area-scoped overview can total its own.
    pub(crate) late_by_area: BTreeMap<String, u64>,
    pub(crate) max_ts: Option<i64>,
    pub(crate) windows: WindowStore,
    /// Numbers of the window series, so readings carry no strings.
    pub(crate) series: SeriesIndex,
    /// Hashed, not ordered: looked up for every reading; views order what they show with
    /// [`State::sources_in`].
    pub(crate) sources: FxHashMap<String, SourceState>,
    /// Refusals and their records come from the journal's own tables at start, not from a
    /// snapshot.
    #[serde(skip)]
    pub(crate) rejected: BTreeMap<Reason, u64>,
    #[serde(skip)]
    pub(crate) dead_letters: VecDeque<DeadLetter>,
    /// Wall-clock rates start empty after any restart, as after a replay.
    #[serde(skip)]
    pub(crate) rate: RateMeter,
    /// Events per second per area, so an area-scoped overview can total its own.
    #[serde(skip)]
    pub(crate) rate_by_area: BTreeMap<String, RateMeter>,
    pub(crate) reports: crate::reports::Register,
    pub(crate) dossiers: crate::dossiers::DossierBook,
    /// Hourly pollutant means per air-quality station, for the hourly and daily VN_AQI.
    pub(crate) hourly_air: FxHashMap<String, HourlyAir>,
    /// Every alert, as the journal's alert events left it.
    pub(crate) alerts: AlertBook,
    /// Long hourly/daily series behind the open data.
    pub(crate) open_data: crate::open_data::OpenDataBook,
    /// The alert rules and their per-subject trackers (a snapshot keeps the trackers apart:
    /// [`Evaluator::save_trackers`]).
    #[serde(skip)]
    pub(crate) evaluator: Evaluator,
    /// Alerts changed by live events since the engine last took them, for the push to
    /// websocket clients and MQTT (replay fills nothing here).
    #[serde(skip)]
    pub(crate) alert_changes: Vec<Alert>,
    /// Live engine instances and the stream slots this one holds (the overview's
    /// `instances` and `slots`): one and one for a single engine.
    #[serde(skip)]
    pub(crate) membership: (usize, usize),
}

impl State {
    /// An empty state for a deployment's areas.
    pub fn new(areas: Arc<Areas>, config: AnalyticsConfig) -> Self {
        Self {
            areas,
            config,
            counts: BTreeMap::new(),
            events_total: 0,
            late_total: 0,
            late_by_area: BTreeMap::new(),
            max_ts: None,
            windows: WindowStore::default(),
            series: SeriesIndex::default(),
            sources: FxHashMap::default(),
            rejected: BTreeMap::new(),
            dead_letters: VecDeque::new(),
            rate: RateMeter::default(),
            rate_by_area: BTreeMap::new(),
            reports: crate::reports::Register::default(),
            dossiers: crate::dossiers::DossierBook::default(),
            hourly_air: FxHashMap::default(),
            alerts: AlertBook::default(),
            open_data: crate::open_data::OpenDataBook::default(),
            evaluator: Evaluator::default(),
            alert_changes: Vec::new(),
            membership: (1, 1),
        }
    }

    /// This (empty) state's deployment, areas, settings and rules, with everything else from
    /// `saved`, a state decoded from a snapshot.
    pub(crate) fn adopt(self, saved: State) -> State {
        State {
            areas: self.areas,
            config: self.config,
            evaluator: self.evaluator,
            membership: self.membership,
            ..saved
        }
    }

    /// First phase of a batch: counts, lateness, sources; returns the readings for the windows.
    ///
    /// Events are taken in journal order, so replay reaches the same state as the live run.
    pub fn admit(&mut self, events: &[Event], live_at_ms: Option<i64>) -> Vec<Reading> {
        let mut readings = Vec::new();
        let wall_ms = live_at_ms.unwrap_or_else(ioc_ingest::event::now_ms);
        let mut counted = 0_u64;
        let mut per_area: BTreeMap<&str, u64> = BTreeMap::new();
        for event in events {
            if event.kind == Kind::Alert {
                // The engine's own record, not a city event: it moves the alert book only.
                self.apply_alert(event, live_at_ms.is_some());
                continue;
            }
            counted += 1;
            if live_at_ms.is_some() {
                // Only the live rate meters need it; replay skips the lookup.
                *per_area.entry(event.area.as_str()).or_insert(0) += 1;
            }
            self.counts.with_value(&event.area, |kinds| {
                *kinds.entry(event.kind).or_insert(0) += 1
            });
            self.events_total += 1;
            if matches!(event.kind, Kind::Report | Kind::ReportUpdate) {
                // Reports are people, not sensors: they go to the register, never to `sources`
                // (whose last values the area view shows).
                let config = &self.config;
                self.reports.apply(event, &|code| config.sla_ms(code));
            } else {
                // Dossiers are lifetime tallies (late ones count too), not windows.
                self.dossiers.apply(event);
                self.update_source(event);
            }
            self.open_data.apply(event);
            let aqi = self.update_hourly_air(event);
            self.evaluator.observe(event, aqi, wall_ms);
            let watermark = self.max_ts.map(|max| max - self.config.allowed_lateness_ms);
            if watermark.is_some_and(|w| event.ts_ms < w) {
                self.late_total += 1;
                self.late_by_area.with_value(&event.area, |late| *late += 1);
                continue;
            }
            self.max_ts = Some(self.max_ts.map_or(event.ts_ms, |max| max.max(event.ts_ms)));
            if !windowed(event.kind) {
                continue;
            }
            let bucket = bucket_of(event.ts_ms);
            let series = &mut self.series;
            readings.extend(event.numeric_fields().map(|(field, value)| Reading {
                series: series.id(&event.area, event.kind, field),
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
                    series: self.series.id(&event.area, Kind::Noise, LAEQ_ENERGY),
                    bucket,
                    ts: event.ts_ms,
                    value: 10_f64.powf(laeq / 10.0),
                });
            }
        }
        if let Some(now) = live_at_ms {
            self.rate.record(now, counted);
            for (area, n) in per_area {
                self.rate_by_area
                    .entry(area.to_string())
                    .or_default()
                    .record(now, n);
            }
        }
        readings
    }

    /// Applies a journaled alert transition to the book and the trackers.
    fn apply_alert(&mut self, event: &Event, live: bool) {
        let Some(transition) = Transition::from_event(event) else {
            tracing::warn!(id = %event.id, "unreadable alert event ignored");
            return;
        };
        if let Applied::Changed(alert) = self.alerts.apply(&transition)
            && live
        {
            self.alert_changes.push(*alert);
        }
        self.evaluator.applied(&transition, &self.alerts);
    }

    /// Adds an air-quality reading to its station's hourly means; returns the station's hourly
    /// VN_AQI after it (what the `aqi` alert metric watches).
    fn update_hourly_air(&mut self, event: &Event) -> Option<f64> {
        if event.kind != Kind::AirQuality {
            return None;
        }
        self.hourly_air.with_value(&event.source, |station| {
            station.add(event.ts_ms, &event.values);
            station.hourly_aqi().map(|hourly| f64::from(hourly.aqi))
        })
    }

    /// The transitions that bring the alert book in line with the rules now (live only).
    pub fn reconcile_alerts(&mut self, now_ms: i64) -> Vec<(Transition, String)> {
        let transitions = self.evaluator.reconcile(&self.alerts, &self.areas, now_ms);
        for transition in &transitions {
            tracing::debug!(?transition, "alert transition decided");
        }
        transitions
            .into_iter()
            .map(|transition| {
                let area = match &transition {
                    Transition::Raise(alert) => alert.area.clone(),
                    other => self
                        .alerts
                        .get(other.alert_id())
                        .map(|alert| alert.area.clone())
                        .unwrap_or_default(),
                };
                (transition, area)
            })
            .collect()
    }

    /// Second phase: merges the polars partials and drops buckets no window reaches.
    pub fn merge(&mut self, partials: Vec<(u32, i64, Partial)>) {
        for (series, bucket, partial) in partials {
            if let Some(key) = self.series.key(series) {
                self.windows.merge(key.clone(), bucket, &partial);
            }
        }
        if let Some(max) = self.max_ts {
            let keep_from = bucket_of(max) + BUCKET_MS
                - crate::windows::WINDOWS[3].1
                - self.config.allowed_lateness_ms
                - RETENTION_MARGIN_MS;
            self.windows.prune(keep_from);
        }
    }

    /// Counts refusals and keeps the newest records.
    pub fn record_rejected(&mut self, records: Vec<DeadLetter>) {
        for record in records {
            *self.rejected.entry(record.reason).or_insert(0) += 1;
            self.keep_dead_letter(record);
        }
    }

    /// Restores refusal counts and records from the journal at start.
    pub fn restore_rejected(&mut self, counts: BTreeMap<Reason, u64>, records: Vec<DeadLetter>) {
        self.rejected = counts;
        for record in records {
            self.keep_dead_letter(record);
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

    fn keep_dead_letter(&mut self, record: DeadLetter) {
        self.dead_letters.push_back(record);
        while self.dead_letters.len() > self.config.dead_letter_capacity {
            self.dead_letters.pop_front();
        }
    }

    fn update_source(&mut self, event: &Event) {
        self.sources.with_value_or(
            &event.source,
            || SourceState::new(event),
            |source| source.observe(event),
        );
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

    /// The window of one series ending at [`State::window_end`].
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

    /// Total refusals.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Refusals by reason, every reason listed.
    pub fn rejected_by_reason(&self) -> BTreeMap<Reason, u64> {
        Reason::ALL
            .into_iter()
            .map(|reason| (reason, self.rejected.get(&reason).copied().unwrap_or(0)))
            .collect()
    }

    /// Accepted events ever, all areas and kinds.
    pub fn events_total(&self) -> u64 {
        self.events_total
    }

    /// Late events ever.
    pub fn late_total(&self) -> u64 {
        self.late_total
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

//! The deterministic city: every area's sensors and portal, and the stream of events they emit.
//!
//! [`City::next_event`] is pure given the seed and the simulated times asked for: the same seed
//! and the same times give the same events, byte for byte. Publishing lives elsewhere.

use ioc_ingest::event::{Kind, format_ts};
use ioc_ingest::{Area, Areas};
use serde_json::{Map, Value, json};

use crate::readings::{Model, Site};
use crate::rng::Rng;
use crate::scenario::{Scenario, Scenarios};

/// Sensors per area and their share of the event stream, per published kind.
///
/// `(kind, id prefix, sources per area, share of events)`.
const SOURCE_PLAN: [(Kind, &str, usize, f64); 5] = [
    (Kind::Traffic, "tf", 3, 0.30),
    (Kind::AirQuality, "aq", 2, 0.20),
    (Kind::WaterLevel, "wl", 2, 0.15),
    (Kind::Noise, "ns", 2, 0.20),
    (Kind::Dossier, "dvc", 1, 0.15),
];

/// Distance from the centre, in km, at which an area counts as fully rural.
const RURAL_KM: f64 = 25.0;

/// One simulated source: a sensor or an area's public-service portal.
#[derive(Debug, Clone)]
pub struct Source {
    /// Stable id, `hn-<tf|aq|wl|ns|dvc>-<area>-<n>` (e.g. `hn-aq-hoan-kiem-1`).
    pub id: String,
    /// What it publishes.
    pub kind: Kind,
    /// Index of its area in [`City::areas`].
    pub area: usize,
    /// Where it stands (near its area's centroid).
    pub lat: f64,
    /// Where it stands (near its area's centroid).
    pub lon: f64,
    model: Model,
}

/// One generated event: its topic and native JSON payload (docs/events.md), plus the parts a
/// publisher or a test needs without parsing the payload.
#[derive(Debug, Clone, PartialEq)]
pub struct SimEvent {
    /// Unique id, `{source}:{ts_ms}:{seq}`; the engine's idempotency key.
    pub id: String,
    /// The source that produced it.
    pub source: String,
    /// What it is about.
    pub kind: Kind,
    /// Area id.
    pub area: String,
    /// Index of the area in the city's area list.
    pub area_index: usize,
    /// Simulated event time, epoch milliseconds (UTC).
    pub ts_ms: i64,
    /// MQTT topic, `{root}/{area}/{kind}/{source}`.
    pub topic: String,
    /// The native JSON payload: `{"id","source","kind","area","ts","lat","lon","values"}`.
    pub payload: Value,
}

impl SimEvent {
    /// The reading's fields (`values` of the payload).
    pub fn values(&self) -> Option<&Map<String, Value>> {
        self.payload.get("values").and_then(Value::as_object)
    }

    /// The payload as the bytes published over MQTT.
    pub fn payload_bytes(&self) -> Vec<u8> {
        self.payload.to_string().into_bytes()
    }

    /// The manifest line for this event (no trailing newline):
    /// `{"id","source","kind","area","ts","topic","values"}`.
    pub fn manifest_line(&self) -> String {
        json!({
            "id": self.id,
            "source": self.source,
            "kind": self.kind.as_str(),
            "area": self.area,
            "ts": self.payload.get("ts").cloned().unwrap_or(Value::Null),
            "topic": self.topic,
            "values": self.values().cloned().unwrap_or_default(),
        })
        .to_string()
    }
}

/// The simulated city: areas, their sources, the active scenarios and one random stream.
#[derive(Debug, Clone)]
pub struct City {
    areas: Areas,
    sites: Vec<Site>,
    sources: Vec<Source>,
    /// `by_area_kind[area][k]`: indices into `sources` of area `area` and kind `SOURCE_PLAN[k]`.
    by_area_kind: Vec<[Vec<usize>; SOURCE_PLAN.len()]>,
    kind_weights: [f64; SOURCE_PLAN.len()],
    scenarios: Scenarios,
    topic_root: String,
    rng: Rng,
    seq: u64,
}

impl City {
    /// A city with the given areas, every source's traits drawn from `seed`, topic root `city`
    /// and no scenario.
    pub fn new(seed: u64, areas: Areas) -> Self {
        let centre = centre_of(areas.all());
        let sites: Vec<Site> = areas
            .all()
            .iter()
            .map(|area| Site {
                urbanity: (1.0 - distance_km(area, centre) / RURAL_KM).clamp(0.0, 1.0),
            })
            .collect();
        let mut sources = Vec::new();
        let mut by_area_kind = Vec::with_capacity(areas.len());
        for (area_index, area) in areas.all().iter().enumerate() {
            let site = sites[area_index];
            let lists: [Vec<usize>; SOURCE_PLAN.len()] = std::array::from_fn(|plan_index| {
                let (kind, prefix, count, _) = SOURCE_PLAN[plan_index];
                (1..=count)
                    .map(|n| {
                        let id = format!("hn-{prefix}-{}-{n}", area.id);
                        let mut rng = Rng::derive(seed, &id);
                        let model = match kind {
                            Kind::Traffic => Model::traffic(&mut rng, site),
                            Kind::AirQuality => Model::air_quality(&mut rng, site),
                            Kind::WaterLevel => Model::water_level(&mut rng, site),
                            Kind::Noise => Model::noise(&mut rng, site),
                            _ => Model::Dossier,
                        };
                        // Sensors stand within about 500 m of the centroid; the portal at it.
                        let (dlat, dlon) = if kind == Kind::Dossier {
                            (0.0, 0.0)
                        } else {
                            (rng.range(-0.0045, 0.0045), rng.range(-0.0045, 0.0045))
                        };
                        sources.push(Source {
                            id,
                            kind,
                            area: area_index,
                            lat: round5(area.lat + dlat),
                            lon: round5(area.lon + dlon),
                            model,
                        });
                        sources.len() - 1
                    })
                    .collect()
            });
            by_area_kind.push(lists);
        }
        Self {
            areas,
            sites,
            sources,
            by_area_kind,
            kind_weights: SOURCE_PLAN.map(|(_, _, _, share)| share),
            scenarios: Scenarios::default(),
            topic_root: "city".to_string(),
            rng: Rng::derive(seed, "city-stream"),
            seq: 0,
        }
    }

    /// The same city with these scenarios switched on.
    pub fn with_scenarios(mut self, scenarios: &[Scenario]) -> Self {
        self.scenarios = Scenarios::from_list(scenarios);
        self
    }

    /// The same city publishing under another first topic level.
    pub fn with_topic_root(mut self, root: impl Into<String>) -> Self {
        self.topic_root = root.into();
        self
    }

    /// The city's areas.
    pub fn areas(&self) -> &Areas {
        &self.areas
    }

    /// Every source of the city, area by area.
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// Number of events generated so far.
    pub fn generated(&self) -> u64 {
        self.seq
    }

    /// The next event, observed at simulated time `ts_ms`: a random area, a kind drawn by its
    /// share of the stream, one of that area's sources of the kind, and its reading.
    pub fn next_event(&mut self, ts_ms: i64) -> SimEvent {
        // Citizen reports (`report-burst`) will be drawn here once the simulator posts through
        // Open311; until then the scenario flag is accepted and the stream is telemetry only.
        let _reports_pending = self.scenarios.report_burst;

        let area_index = self.rng.below(self.areas.len());
        let plan_index = self.rng.weighted(&self.kind_weights);
        let candidates = &self.by_area_kind[area_index][plan_index];
        let source_index = candidates[self.rng.below(candidates.len())];
        let area: &Area = &self.areas.all()[area_index];
        let source = &mut self.sources[source_index];
        let values = source.model.read(
            &mut self.rng,
            ts_ms,
            self.sites[area_index],
            self.scenarios,
            &area.name,
        );
        let seq = self.seq;
        self.seq += 1;
        let id = format!("{}:{ts_ms}:{seq}", source.id);
        let kind = source.kind;
        let topic = format!(
            "{}/{}/{}/{}",
            self.topic_root,
            area.id,
            kind.as_str(),
            source.id
        );
        let payload = json!({
            "id": id,
            "source": source.id,
            "kind": kind.as_str(),
            "area": area.id,
            "ts": format_ts(ts_ms),
            "lat": source.lat,
            "lon": source.lon,
            "values": values,
        });
        SimEvent {
            id,
            source: source.id.clone(),
            kind,
            area: area.id.clone(),
            area_index,
            ts_ms,
            topic,
            payload,
        }
    }

    /// An endless stream of events starting at `start_ms`, `step_ms` apart in simulated time.
    pub fn events(&mut self, start_ms: i64, step_ms: f64) -> Events<'_> {
        Events {
            city: self,
            start_ms,
            step_ms,
            index: 0,
        }
    }
}

/// Iterator over a [`City`]'s events at evenly spaced simulated times (see [`City::events`]).
#[derive(Debug)]
pub struct Events<'a> {
    city: &'a mut City,
    start_ms: i64,
    step_ms: f64,
    index: u64,
}

impl Iterator for Events<'_> {
    type Item = SimEvent;

    fn next(&mut self) -> Option<SimEvent> {
        let ts_ms = self.start_ms + (self.index as f64 * self.step_ms).floor() as i64;
        self.index += 1;
        Some(self.city.next_event(ts_ms))
    }
}

/// The city centre: Hoàn Kiếm when the areas have it, else the mean of the centroids.
fn centre_of(areas: &[Area]) -> (f64, f64) {
    if let Some(area) = areas.iter().find(|area| area.id == "hoan-kiem") {
        return (area.lat, area.lon);
    }
    let n = areas.len().max(1) as f64;
    let (lat, lon) = areas
        .iter()
        .fold((0.0, 0.0), |(lat, lon), a| (lat + a.lat, lon + a.lon));
    (lat / n, lon / n)
}

fn distance_km(area: &Area, (lat, lon): (f64, f64)) -> f64 {
    let dlat = (area.lat - lat) * 111.2;
    let dlon = (area.lon - lon) * 111.2 * lat.to_radians().cos();
    (dlat * dlat + dlon * dlon).sqrt()
}

fn round5(value: f64) -> f64 {
    (value * 100_000.0).round() / 100_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashSet};

    /// 2026-01-15 00:00 Hanoi time, epoch ms.
    const JAN_15_LOCAL_MIDNIGHT: i64 = 1_768_410_000_000;

    fn city(seed: u64) -> City {
        City::new(seed, Areas::hanoi())
    }

    fn payloads(seed: u64, n: usize) -> Vec<(String, Value)> {
        city(seed)
            .events(JAN_15_LOCAL_MIDNIGHT, 997.0)
            .take(n)
            .map(|event| (event.topic, event.payload))
            .collect()
    }

    #[test]
    fn same_seed_gives_the_identical_sequence() {
        assert_eq!(payloads(42, 3_000), payloads(42, 3_000));
    }

    #[test]
    fn different_seeds_give_different_sequences() {
        let a = payloads(42, 200);
        let b = payloads(43, 200);
        assert_ne!(a, b);
        let differing = a.iter().zip(&b).filter(|(x, y)| x != y).count();
        assert!(differing > 150, "only {differing} of 200 differ");
    }

    #[test]
    fn sources_have_stable_ids_and_every_area_has_every_kind() {
        let city = city(1);
        assert_eq!(city.sources().len(), 30 * 10);
        let ids: HashSet<&str> = city.sources().iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids.len(), city.sources().len());
        assert!(ids.contains("hn-aq-hoan-kiem-1"));
        assert!(ids.contains("hn-tf-ung-hoa-3"));
        assert!(ids.contains("hn-dvc-ba-vi-1"));
        let bounds = city.areas().bounds();
        assert!(city.sources().iter().all(|s| bounds.contains(s.lat, s.lon)));
    }

    #[test]
    fn twenty_thousand_events_cover_every_area_and_kind_with_unique_ids() {
        let mut city = city(7);
        let mut seen = BTreeSet::new();
        let mut ids = HashSet::new();
        for event in city.events(JAN_15_LOCAL_MIDNIGHT, 50.0).take(20_000) {
            assert!(ids.insert(event.id.clone()), "duplicate id {}", event.id);
            assert_eq!(
                event.topic,
                format!(
                    "city/{}/{}/{}",
                    event.area,
                    event.kind.as_str(),
                    event.source
                )
            );
            seen.insert((event.area.clone(), event.kind));
        }
        for area in Areas::hanoi().all() {
            for kind in Kind::TELEMETRY {
                assert!(
                    seen.contains(&(area.id.clone(), kind)),
                    "missing {} {kind}",
                    area.id
                );
            }
        }
        assert_eq!(seen.len(), 30 * 5);
    }

    fn number(values: &Map<String, Value>, field: &str) -> f64 {
        match values.get(field).and_then(Value::as_f64) {
            Some(n) if n.is_finite() => n,
            other => panic!("field {field} is {other:?} in {values:?}"),
        }
    }

    #[test]
    fn payloads_have_the_native_shape_and_values_in_valid_ranges() {
        let areas = Areas::hanoi();
        let all = [
            vec![],
            vec![
                Scenario::RushHour,
                Scenario::Flood,
                Scenario::Pollution,
                Scenario::ReportBurst,
            ],
        ];
        for scenarios in all {
            let mut city = City::new(11, areas.clone()).with_scenarios(&scenarios);
            // Two days at about 8.6 s steps: every hour, with and without scenarios.
            for event in city.events(JAN_15_LOCAL_MIDNIGHT, 8_640.0).take(20_000) {
                let p = &event.payload;
                let keys: Vec<&str> = p
                    .as_object()
                    .map_or(vec![], |o| o.keys().map(String::as_str).collect());
                assert_eq!(
                    keys,
                    ["id", "source", "kind", "area", "ts", "lat", "lon", "values"]
                );
                assert_eq!(p["ts"], Value::String(format_ts(event.ts_ms)));
                assert!(
                    p["ts"]
                        .as_str()
                        .is_some_and(|ts| ts.ends_with('Z') && ts.len() == 24)
                );
                assert!(areas.get(&event.area).is_some());
                let values = event.values().cloned().unwrap_or_default();
                match event.kind {
                    Kind::Traffic => {
                        let speed = number(&values, "speed");
                        assert!((0.0..=300.0).contains(&speed));
                        assert!((0.0..=1.0).contains(&number(&values, "occupancy")));
                        assert!(number(&values, "intensity") >= 0.0);
                        assert_eq!(values["congested"], Value::Bool(speed < 15.0));
                    }
                    Kind::AirQuality => {
                        for field in ["pm25", "pm10", "no2", "o3", "co", "so2"] {
                            assert!(number(&values, field) >= 0.0, "{field}");
                        }
                        assert!(number(&values, "pm10") >= number(&values, "pm25"));
                        assert!((0.0..=1.0).contains(&number(&values, "humidity")));
                        assert!((-5.0..=45.0).contains(&number(&values, "temperature")));
                    }
                    Kind::WaterLevel => {
                        let level = number(&values, "level_cm");
                        assert!((0.0..500.0).contains(&level));
                        assert!(number(&values, "danger_cm") > number(&values, "alert_cm"));
                    }
                    Kind::Noise => {
                        let laeq = number(&values, "laeq");
                        assert!((30.0..=110.0).contains(&laeq));
                        assert!(number(&values, "lamax") >= laeq);
                    }
                    Kind::Dossier => {
                        assert!(values["service"].as_str().is_some_and(|s| !s.is_empty()));
                        assert!(values["agency"].as_str().is_some_and(|s| !s.is_empty()));
                        assert!(matches!(
                            values["channel"].as_str(),
                            Some("online" | "offline")
                        ));
                        assert!(matches!(values["level"].as_u64(), Some(2..=4)));
                        match values["stage"].as_str() {
                            Some("resolved") => assert!(values["on_time"].is_boolean()),
                            Some("received") => assert!(!values.contains_key("on_time")),
                            other => panic!("stage {other:?}"),
                        }
                    }
                    other => panic!("unexpected kind {other}"),
                }
            }
        }
    }

    /// Mean of `field` over `n` events of `kind` at local hour `hour` on 15 January.
    fn mean_at(city: &mut City, kind: Kind, field: &str, hour: i64, n: usize) -> f64 {
        let start = JAN_15_LOCAL_MIDNIGHT + hour * 3_600_000;
        let samples: Vec<f64> = city
            .events(start, 100.0)
            .filter(|event| event.kind == kind)
            .take(n)
            .filter_map(|event| {
                event
                    .values()
                    .and_then(|v| v.get(field))
                    .and_then(Value::as_f64)
            })
            .collect();
        assert_eq!(samples.len(), n);
        samples.iter().sum::<f64>() / n as f64
    }

    #[test]
    fn rush_hour_traffic_is_slower_and_denser_than_at_three_in_the_morning() {
        let mut city = city(5);
        let night_speed = mean_at(&mut city, Kind::Traffic, "speed", 3, 2_000);
        let rush_speed = mean_at(&mut city, Kind::Traffic, "speed", 8, 2_000);
        let evening_speed = mean_at(&mut city, Kind::Traffic, "speed", 18, 2_000);
        assert!(
            rush_speed < 0.6 * night_speed,
            "8h {rush_speed} vs 3h {night_speed}"
        );
        assert!(
            evening_speed < 0.6 * night_speed,
            "18h {evening_speed} vs 3h {night_speed}"
        );
        let night_occupancy = mean_at(&mut city, Kind::Traffic, "occupancy", 3, 2_000);
        let rush_occupancy = mean_at(&mut city, Kind::Traffic, "occupancy", 8, 2_000);
        assert!(rush_occupancy > night_occupancy + 0.3);
        let night_flow = mean_at(&mut city, Kind::Traffic, "intensity", 3, 2_000);
        let rush_flow = mean_at(&mut city, Kind::Traffic, "intensity", 8, 2_000);
        assert!(rush_flow > 2.0 * night_flow, "{rush_flow} vs {night_flow}");

        let mut jammed = City::new(5, Areas::hanoi()).with_scenarios(&[Scenario::RushHour]);
        let noon_normal = mean_at(&mut city, Kind::Traffic, "speed", 12, 2_000);
        let noon_jammed = mean_at(&mut jammed, Kind::Traffic, "speed", 12, 2_000);
        assert!(
            noon_jammed < noon_normal - 5.0,
            "{noon_jammed} vs {noon_normal}"
        );
    }

    #[test]
    fn pm25_is_higher_at_night_and_in_winter_and_in_a_smog_episode() {
        let mut city = city(9);
        let night = mean_at(&mut city, Kind::AirQuality, "pm25", 2, 2_000);
        let afternoon = mean_at(&mut city, Kind::AirQuality, "pm25", 14, 2_000);
        assert!(
            night > 1.2 * afternoon,
            "night {night} vs afternoon {afternoon}"
        );

        let mut summer_city = City::new(9, Areas::hanoi());
        let july = 181 * 24; // hours after 15 January
        let summer_night = mean_at(&mut summer_city, Kind::AirQuality, "pm25", july + 2, 2_000);
        assert!(
            night > 1.5 * summer_night,
            "winter {night} vs summer {summer_night}"
        );

        let mut smog = City::new(9, Areas::hanoi()).with_scenarios(&[Scenario::Pollution]);
        let smog_night = mean_at(&mut smog, Kind::AirQuality, "pm25", 2, 2_000);
        assert!(smog_night > 2.0 * night, "smog {smog_night} vs {night}");
    }

    #[test]
    fn noise_is_higher_by_day() {
        let mut city = city(4);
        let night = mean_at(&mut city, Kind::Noise, "laeq", 3, 1_000);
        let day = mean_at(&mut city, Kind::Noise, "laeq", 11, 1_000);
        assert!(day > night + 8.0, "day {day} vs night {night}");
    }

    #[test]
    fn flood_scenario_pushes_gauges_past_danger() {
        let mut city = City::new(2, Areas::hanoi()).with_scenarios(&[Scenario::Flood]);
        let mut above_danger = HashSet::new();
        for event in city.events(JAN_15_LOCAL_MIDNIGHT, 100.0).take(200_000) {
            if let Some(values) = event.values().filter(|_| event.kind == Kind::WaterLevel)
                && number(values, "level_cm") > number(values, "danger_cm")
            {
                above_danger.insert(event.source.clone());
            }
        }
        // Over 5.5 simulated hours of rain, many (not all) gauges pass their danger level.
        assert!(above_danger.len() > 10, "{}", above_danger.len());
        assert!(above_danger.len() < 60, "{}", above_danger.len());
    }

    #[test]
    fn manifest_line_lists_the_event() {
        let event = city(3).next_event(JAN_15_LOCAL_MIDNIGHT);
        let line: Value = serde_json::from_str(&event.manifest_line()).expect("json");
        let keys: Vec<&str> = line
            .as_object()
            .map_or(vec![], |o| o.keys().map(String::as_str).collect());
        assert_eq!(
            keys,
            ["id", "source", "kind", "area", "ts", "topic", "values"]
        );
        assert_eq!(line["id"], Value::String(event.id.clone()));
        assert_eq!(line["topic"], Value::String(event.topic.clone()));
        assert_eq!(line["values"], event.payload["values"]);
        let reparsed: Value = serde_json::from_slice(&event.payload_bytes()).expect("json");
        assert_eq!(reparsed, event.payload);
        let event = City::new(3, Areas::hanoi())
            .with_topic_root("simtest")
            .next_event(0);
        assert!(event.topic.starts_with("simtest/"));
    }
}

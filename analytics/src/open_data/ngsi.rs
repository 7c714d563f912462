//! Per-area observations for NGSI-LD consumers (a province's integration platform, FIWARE
//! tools): one entity per area and type, with Smart Data Models attribute names, read from the
//! same windows and area figures as the live views.

use crate::aqi;
use crate::state::{LAEQ_ENERGY, State};
use crate::views::metrics::area_metrics;
use crate::windows::WINDOWS;
use ioc_ingest::Kind;
use serde_json::{Value, json};

/// Width of the 5-minute window traffic and noise are published over.
const FIVE_MIN_MS: i64 = WINDOWS[1].1;
/// Width of the hourly window air quality is published over.
const HOUR_MS: i64 = WINDOWS[3].1;

/// The entity types served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityType {
    /// Air-quality stations of an area.
    AirQualityObserved,
    /// Traffic counters of an area.
    TrafficFlowObserved,
    /// Flood gauges of an area.
    WaterObserved,
    /// Noise meters of an area.
    NoiseLevelObserved,
}

impl EntityType {
    /// Every type, in listing order.
    pub const ALL: [EntityType; 4] = [
        EntityType::AirQualityObserved,
        EntityType::TrafficFlowObserved,
        EntityType::WaterObserved,
        EntityType::NoiseLevelObserved,
    ];

    /// The type name.
    pub fn name(self) -> &'static str {
        match self {
            EntityType::AirQualityObserved => "AirQualityObserved",
            EntityType::TrafficFlowObserved => "TrafficFlowObserved",
            EntityType::WaterObserved => "WaterObserved",
            EntityType::NoiseLevelObserved => "NoiseLevelObserved",
        }
    }

    /// Parses a type name.
    pub fn parse(name: &str) -> Option<EntityType> {
        EntityType::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The sensor kind behind it.
    fn kind(self) -> Kind {
        match self {
            EntityType::AirQualityObserved => Kind::AirQuality,
            EntityType::TrafficFlowObserved => Kind::Traffic,
            EntityType::WaterObserved => Kind::WaterLevel,
            EntityType::NoiseLevelObserved => Kind::Noise,
        }
    }
}

/// One attribute: Smart Data Models name, value, UN/CEFACT unit code.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// Attribute name.
    pub name: &'static str,
    /// Its value.
    pub value: Value,
    /// Unit code, when the value has a unit.
    pub unit_code: Option<&'static str>,
}

/// One area's current observation of one type.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Entity type.
    pub entity_type: EntityType,
    /// Area slug.
    pub area: String,
    /// Area name (Vietnamese).
    pub area_name: String,
    /// Area centroid latitude.
    pub lat: f64,
    /// Area centroid longitude.
    pub lon: f64,
    /// Event time of the newest reading behind it, epoch ms.
    pub observed_ms: i64,
    /// The attributes that have a value.
    pub attributes: Vec<Attribute>,
}

/// The observations of `only` (or every type), for each area with at least one source of the
/// type, in (type, area) order.
pub(crate) fn observations(state: &State, only: Option<EntityType>) -> Vec<Observation> {
    let mut found = Vec::new();
    for entity_type in EntityType::ALL {
        if only.is_some_and(|t| t != entity_type) {
            continue;
        }
        for area in state.areas.all() {
            let newest = state
                .telemetry
                .sources
                .values()
                .filter(|s| s.kind == entity_type.kind() && s.area == area.id)
                .map(|s| s.last_ts)
                .max();
            let Some(observed_ms) = newest else { continue };
            found.push(Observation {
                entity_type,
                area: area.id.clone(),
                area_name: area.name.clone(),
                lat: area.lat,
                lon: area.lon,
                observed_ms,
                attributes: attributes(state, &area.id, entity_type),
            });
        }
    }
    found
}

fn attributes(state: &State, area: &str, entity_type: EntityType) -> Vec<Attribute> {
    let kind = entity_type.kind();
    let mean = |field: &str, width: i64| state.telemetry.window(area, kind, field, width).mean();
    let number = |name, value: Option<f64>, unit_code| {
        value.map(|v| Attribute {
            name,
            value: json!(crate::views::round2(v)),
            unit_code,
        })
    };
    let attributes: Vec<Option<Attribute>> = match entity_type {
        EntityType::AirQualityObserved => {
            let metrics = area_metrics(state, area);
            let mut list: Vec<Option<Attribute>> = aqi::Pollutant::ALL
                .iter()
                .map(|(_, field)| number(*field, mean(field, HOUR_MS), Some("GQ")))
                .collect();
            list.push(number(
                "temperature",
                mean("temperature", HOUR_MS),
                Some("CEL"),
            ));
            list.push(number("relativeHumidity", mean("humidity", HOUR_MS), None));
            list.push(metrics.aqi.map(|index| Attribute {
                name: "airQualityIndex",
                value: json!(index),
                unit_code: None,
            }));
            list.push(metrics.aqi.map(|index| Attribute {
                name: "airQualityLevel",
                value: json!(aqi::level(index).key),
                unit_code: None,
            }));
            list
        }
        EntityType::TrafficFlowObserved => {
            let metrics = area_metrics(state, area);
            vec![
                number("intensity", mean("intensity", FIVE_MIN_MS), None),
                number(
                    "averageVehicleSpeed",
                    mean("speed", FIVE_MIN_MS),
                    Some("KMH"),
                ),
                number("occupancy", mean("occupancy", FIVE_MIN_MS), None),
                Some(Attribute {
                    name: "congested",
                    value: json!(metrics.congested_sensors > 0),
                    unit_code: None,
                }),
            ]
        }
        EntityType::WaterObserved => {
            let metrics = area_metrics(state, area);
            vec![number("height", metrics.water_level_max_cm, Some("CMT"))]
        }
        EntityType::NoiseLevelObserved => {
            let laeq = mean(LAEQ_ENERGY, FIVE_MIN_MS)
                .filter(|energy| *energy > 0.0)
                .map(|energy| 10.0 * energy.log10());
            let lamax = state.telemetry.window(area, kind, "lamax", FIVE_MIN_MS);
            vec![
                number("LAeq", laeq, Some("2N")),
                number("LAmax", (lamax.count > 0).then_some(lamax.max), Some("2N")),
            ]
        }
    };
    attributes.into_iter().flatten().collect()
}

//! NGSI-LD / NGSI-v2 entities (FIWARE Smart Data Models), keyValues or normalized, so that
//! FIWARE-speaking sensor platforms can publish without a translation layer.
//!
//! The entity `type` gives the kind, `id` the source, `dateObserved` (else a property's
//! `observedAt`) the time and the GeoJSON `location` the position. Times may come as the Smart
//! Data Models examples write them: without a zone (read in the deployment's device zone) or
//! as an interval (its end). Attributes are renamed to the
//! native field names and passed through untouched otherwise: no unit conversion, so a
//! `relativeHumidity` sent in percent (e.g. 65) is refused by the validator as `out_of_range`
//! rather than silently divided, and a string where a number belongs is reported as
//! `wrong_type` there. Attributes without a native counterpart (`areaServed`, `address`, …)
//! are ignored.

use super::time::{Observed, parse_observed};
use super::{Draft, optional_str};
use crate::event::{Kind, Values};
use crate::reject::{Reason, Rejection};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Smart Data Model entity types and the kind each one feeds (docs/events.md "NGSI").
const KINDS: [(&str, Kind); 4] = [
    ("AirQualityObserved", Kind::AirQuality),
    ("TrafficFlowObserved", Kind::Traffic),
    ("FloodMonitoring", Kind::WaterLevel),
    ("NoiseLevelObserved", Kind::Noise),
];

/// AirQualityObserved attributes → native `air_quality` fields. The model's examples spell
/// pollutants both in lower case (`no2`, keyValues) and as chemists do (`NO2`, normalized);
/// when an entity carries both, the first spelling listed wins.
const AIR_QUALITY: &[(&str, &str)] = &[
    ("pm25", "pm25"),
    ("pm10", "pm10"),
    ("no2", "no2"),
    ("o3", "o3"),
    ("co", "co"),
    ("so2", "so2"),
    ("PM25", "pm25"),
    ("PM10", "pm10"),
    ("NO2", "no2"),
    ("O3", "o3"),
    ("CO", "co"),
    ("SO2", "so2"),
    ("temperature", "temperature"),
    ("relativeHumidity", "humidity"),
];

/// TrafficFlowObserved attributes → native `traffic` fields.
const TRAFFIC: &[(&str, &str)] = &[
    ("intensity", "intensity"),
    ("averageVehicleSpeed", "speed"),
    ("occupancy", "occupancy"),
    ("congested", "congested"),
];

/// FloodMonitoring attributes → native `water_level` fields.
const WATER_LEVEL: &[(&str, &str)] = &[("currentLevel", "level_cm")];

/// NoiseLevelObserved attributes → native `noise` fields.
const NOISE: &[(&str, &str)] = &[("LAeq", "laeq"), ("LAmax", "lamax")];

/// Whether an object looks like an NGSI entity: a string `type`, an `id` or `@context`, and no
/// `values` (which marks native JSON). Cheap, since every object payload goes through it.
pub(super) fn is_entity(map: &Map<String, Value>) -> bool {
    map.get("type").is_some_and(Value::is_string)
        && (map.contains_key("id") || map.contains_key("@context"))
        && !map.contains_key("values")
}

/// Decodes one entity into a draft whose kind comes from its `type`; also says whether its
/// time had no zone and was read in `zone`.
pub(super) fn decode(
    entity: &Map<String, Value>,
    zone: chrono_tz::Tz,
) -> Result<(Draft, bool), Rejection> {
    let type_name = optional_str(entity, "type")?
        .ok_or_else(|| Rejection::new(Reason::MissingField, "NGSI entity without `type`"))?;
    let kind = kind_of(&type_name)?;
    let (lat, lon) = location(entity)?;
    let observed = observed_time(entity, zone)?;
    let draft = Draft {
        id: None,
        source: source_of(entity)?,
        kind: Some(Cow::Borrowed(kind.as_str())),
        area: None,
        ts_ms: observed.map(|o| o.ts_ms),
        lat,
        lon,
        values: fields_of(entity, kind),
    };
    Ok((draft, observed.is_some_and(|o| o.zoneless)))
}

/// The kind for an entity type, given short (`AirQualityObserved`) or as a full URI ending in it.
fn kind_of(type_name: &str) -> Result<Kind, Rejection> {
    let short = type_name.rsplit(['/', '#']).next().unwrap_or(type_name);
    KINDS
        .iter()
        .find(|(name, _)| *name == short)
        .map(|(_, kind)| *kind)
        .ok_or_else(|| {
            let known: Vec<&str> = KINDS.iter().map(|(name, _)| *name).collect();
            Rejection::new(
                Reason::UnknownKind,
                format!(
                    "NGSI entity type {type_name:?} is none of {}",
                    known.join(", ")
                ),
            )
        })
}

/// The source: what follows the type in an NGSI-LD URN
/// (`urn:ngsi-ld:AirQualityObserved:hn-aq-0042` → `hn-aq-0042`, colons in the rest kept, as in
/// ids that end in a time), else the id's last `:` segment; `None` lets the topic's source
/// apply.
fn source_of(entity: &Map<String, Value>) -> Result<Option<String>, Rejection> {
    let Some(id) = optional_str(entity, "id")? else {
        return Ok(None);
    };
    let rest = match id.get(..URN_PREFIX.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(URN_PREFIX) => id[URN_PREFIX.len()..]
            .split_once(':')
            .map(|(_type, rest)| rest),
        _ => id.rsplit(':').next(),
    };
    Ok(rest.filter(|s| !s.is_empty()).map(str::to_string))
}

/// How NGSI-LD entity ids begin.
const URN_PREFIX: &str = "urn:ngsi-ld:";

/// The observation time: the entity's `dateObserved`, else the first property's `observedAt`
/// (NGSI-LD puts it on each property). `None` lets the validator report the missing time.
fn observed_time(
    entity: &Map<String, Value>,
    zone: chrono_tz::Tz,
) -> Result<Option<Observed>, Rejection> {
    if let Some(value) = entity.get("dateObserved").filter(|value| !value.is_null()) {
        return parse_observed(time_value(value), "dateObserved", zone).map(Some);
    }
    let observed_at = entity
        .values()
        .filter_map(Value::as_object)
        .find_map(|property| property.get("observedAt").filter(|value| !value.is_null()));
    observed_at
        .map(|value| parse_observed(value, "observedAt", zone))
        .transpose()
}

/// Unwraps a time: the property's value, and an NGSI-LD `{"@type":"DateTime","@value":…}`.
fn time_value(value: &Value) -> &Value {
    let value = property_value(value);
    value
        .as_object()
        .and_then(|object| object.get("@value"))
        .unwrap_or(value)
}

/// A normalized attribute's `value` (`{"type":"Property","value":…}` in NGSI-LD,
/// `{"type":"Number","value":…}` in NGSI-v2); a keyValues attribute as it is.
fn property_value(value: &Value) -> &Value {
    value
        .as_object()
        .and_then(|object| object.get("value"))
        .unwrap_or(value)
}

/// The kind's attributes renamed to native fields, values untouched for the validator to check.
fn fields_of(entity: &Map<String, Value>, kind: Kind) -> Values {
    let mapping = match kind {
        Kind::AirQuality => AIR_QUALITY,
        Kind::Traffic => TRAFFIC,
        Kind::WaterLevel => WATER_LEVEL,
        Kind::Noise => NOISE,
        Kind::Report | Kind::ReportUpdate | Kind::Dossier | Kind::Alert => &[],
    };
    let mut fields = Values::new();
    for (attribute, native) in mapping {
        if let Some(value) = entity.get(*attribute)
            && !fields.contains_key(native)
        {
            fields.insert(*native, property_value(value).clone());
        }
    }
    fields
}

/// Latitude and longitude from `location`: GeoJSON (bare, in a `GeoProperty` or `geo:json`)
/// or an NGSI-v2 `geo:point` text `"lat, lon"`.
fn location(entity: &Map<String, Value>) -> Result<(Option<f64>, Option<f64>), Rejection> {
    let Some(raw) = entity.get("location").filter(|value| !value.is_null()) else {
        return Ok((None, None));
    };
    let (lat, lon) = match property_value(raw) {
        Value::Object(geometry) => geometry_point(geometry)?,
        Value::String(text) => geo_point_text(text)?,
        _ => return Err(wrong_location("must be GeoJSON or a \"lat, lon\" text")),
    };
    Ok((Some(lat), Some(lon)))
}

/// One point for a GeoJSON geometry: a Point itself, else the mean of a LineString's or
/// MultiPoint's positions or of a Polygon's outer ring (a road segment places like its middle).
fn geometry_point(geometry: &Map<String, Value>) -> Result<(f64, f64), Rejection> {
    let coordinates = geometry
        .get("coordinates")
        .ok_or_else(|| wrong_location("GeoJSON without `coordinates`"))?;
    match geometry.get("type").and_then(Value::as_str) {
        Some("Point") => position(coordinates),
        Some("LineString" | "MultiPoint") => mean_position(coordinates),
        Some("Polygon") => match coordinates.as_array().and_then(|rings| rings.first()) {
            Some(outer) => mean_position(outer),
            None => Err(wrong_location("Polygon without rings")),
        },
        other => Err(wrong_location(&format!(
            "GeoJSON type {other:?} is not supported"
        ))),
    }
}

/// A GeoJSON position `[lon, lat, …]` as (lat, lon).
fn position(value: &Value) -> Result<(f64, f64), Rejection> {
    match value.as_array().map(Vec::as_slice) {
        Some([lon, lat, ..]) => match (lat.as_f64(), lon.as_f64()) {
            (Some(lat), Some(lon)) => Ok((lat, lon)),
            _ => Err(wrong_location("coordinates must be numbers")),
        },
        _ => Err(wrong_location("a position must be [lon, lat]")),
    }
}

/// The mean of a list of positions, leaving out a ring's closing repeat of its first position.
fn mean_position(value: &Value) -> Result<(f64, f64), Rejection> {
    let mut points = value
        .as_array()
        .ok_or_else(|| wrong_location("coordinates must be a list of positions"))?
        .iter()
        .map(position)
        .collect::<Result<Vec<_>, _>>()?;
    if points.len() > 1 && points.first() == points.last() {
        points.pop();
    }
    if points.is_empty() {
        return Err(wrong_location("no positions"));
    }
    let count = points.len() as f64;
    let (lat, lon) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (lat, lon)| (a + lat, b + lon));
    Ok((lat / count, lon / count))
}

/// An NGSI-v2 `geo:point` text `"lat, lon"`.
fn geo_point_text(text: &str) -> Result<(f64, f64), Rejection> {
    let parse = |part: &str| part.trim().parse::<f64>().ok().filter(|n| n.is_finite());
    match text
        .split_once(',')
        .map(|(lat, lon)| (parse(lat), parse(lon)))
    {
        Some((Some(lat), Some(lon))) => Ok((lat, lon)),
        _ => Err(wrong_location(&format!("{text:?} is not \"lat, lon\""))),
    }
}

/// A `wrong_type` rejection about `location`.
fn wrong_location(detail: &str) -> Rejection {
    Rejection::new(Reason::WrongType, format!("`location`: {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A JSON object literal as a map.
    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn entities_are_told_from_native_objects() {
        assert!(is_entity(&object(
            json!({"id": "x", "type": "NoiseLevelObserved"})
        )));
        assert!(is_entity(&object(
            json!({"@context": [], "type": "NoiseLevelObserved"})
        )));
        assert!(!is_entity(&object(
            json!({"id": "x", "type": "a", "values": {}})
        )));
        assert!(!is_entity(&object(json!({"type": "NoiseLevelObserved"}))));
        assert!(!is_entity(&object(json!({"id": "x", "type": 3}))));
    }

    #[test]
    fn types_map_to_kinds_short_or_as_uris() {
        assert_eq!(kind_of("FloodMonitoring"), Ok(Kind::WaterLevel));
        assert_eq!(
            kind_of("https://smartdatamodels.org/dataModel.Environment/AirQualityObserved"),
            Ok(Kind::AirQuality)
        );
        assert_eq!(
            kind_of("WeatherObserved").map_err(|e| e.reason),
            Err(Reason::UnknownKind)
        );
    }

    #[test]
    fn flood_monitoring_normalized_v2_with_geo_point() {
        let entity = object(json!({
            "id": "FloodMonitoring-hn-wl-3", "type": "FloodMonitoring",
            "dateObserved": {"type": "DateTime", "value": "2026-11-22T09:00:00Z"},
            "currentLevel": {"type": "Number", "value": 42.5},
            "location": {"type": "geo:point", "value": "21.006, 105.857"}
        }));
        let (draft, zoneless) =
            decode(&entity, super::super::time::DEFAULT_DEVICE_ZONE).expect("valid entity");
        assert!(!zoneless);
        assert_eq!(draft.source.as_deref(), Some("FloodMonitoring-hn-wl-3"));
        assert_eq!(draft.kind.as_deref(), Some("water_level"));
        assert_eq!(draft.ts_ms, Some(1_795_338_000_000));
        assert_eq!((draft.lat, draft.lon), (Some(21.006), Some(105.857)));
        assert_eq!(
            draft.values,
            Values::from(object(json!({"level_cm": 42.5})))
        );
    }

    /// The observation time in epoch ms, read with the default device zone.
    fn observed_ms(entity: &Map<String, Value>) -> Result<Option<i64>, Rejection> {
        observed_time(entity, super::super::time::DEFAULT_DEVICE_ZONE)
            .map(|observed| observed.map(|o| o.ts_ms))
    }

    #[test]
    fn observed_at_on_properties_and_ld_datetime_objects_give_the_time() {
        let per_property = object(json!({
            "id": "urn:ngsi-ld:NoiseLevelObserved:n1", "type": "NoiseLevelObserved",
            "LAeq": {"type": "Property", "value": 61, "observedAt": "2026-11-22T09:00:00Z"}
        }));
        assert_eq!(observed_ms(&per_property), Ok(Some(1_795_338_000_000)));
        let ld_value = object(json!({"dateObserved": {"type": "Property",
            "value": {"@type": "DateTime", "@value": "2026-11-22T09:00:00Z"}}}));
        assert_eq!(observed_ms(&ld_value), Ok(Some(1_795_338_000_000)));
        let interval = object(json!({"dateObserved": "2026-11-22T08:55:00Z/2026-11-22T09:00:00Z"}));
        assert_eq!(observed_ms(&interval), Ok(Some(1_795_338_000_000)));
        assert_eq!(observed_ms(&object(json!({}))), Ok(None));
    }

    #[test]
    fn line_strings_place_at_their_mean_and_bad_locations_are_wrong_type() {
        let road = object(json!({"location": {"type": "LineString",
            "coordinates": [[105.85, 21.02], [105.86, 21.04]]}}));
        let (lat, lon) = location(&road).expect("valid line");
        assert!((lat.unwrap_or(0.0) - 21.03).abs() < 1e-9);
        assert!((lon.unwrap_or(0.0) - 105.855).abs() < 1e-9);
        let bad = object(json!({"location": {"type": "Point", "coordinates": ["a", 1]}}));
        assert_eq!(location(&bad).map_err(|e| e.reason), Err(Reason::WrongType));
        let text = object(json!({"location": "north"}));
        assert_eq!(
            location(&text).map_err(|e| e.reason),
            Err(Reason::WrongType)
        );
    }

    #[test]
    fn urn_ids_keep_everything_after_the_type_as_the_source() {
        let source = |id: &str| source_of(&object(json!({"id": id})));
        assert_eq!(
            source("urn:ngsi-ld:AirQualityObserved:Madrid-28079004-2016-03-15T11:00:00"),
            Ok(Some("Madrid-28079004-2016-03-15T11:00:00".to_string()))
        );
        assert_eq!(source("urn:ngsi-ld:AirQualityObserved:"), Ok(None));
        assert_eq!(source("plain:hn-aq-1"), Ok(Some("hn-aq-1".to_string())));
        assert_eq!(source_of(&object(json!({}))), Ok(None));
    }

    #[test]
    fn pollutants_in_either_spelling_map_to_the_same_fields() {
        let upper = object(
            json!({"NO2": 69, "CO": 500, "SO2": 11, "O3": {"type": "Property", "value": 30}}),
        );
        assert_eq!(
            fields_of(&upper, Kind::AirQuality),
            Values::from(object(json!({"no2": 69, "o3": 30, "co": 500, "so2": 11})))
        );
        let both = object(json!({"NO2": 1, "no2": 2}));
        assert_eq!(
            fields_of(&both, Kind::AirQuality),
            Values::from(object(json!({"no2": 2})))
        );
    }

    #[test]
    fn unmapped_attributes_are_ignored_and_wrong_types_pass_through() {
        let entity = object(json!({"pm25": "12", "areaServed": "Hoàn Kiếm", "address": {}}));
        assert_eq!(
            fields_of(&entity, Kind::AirQuality),
            Values::from(object(json!({"pm25": "12"})))
        );
    }
}

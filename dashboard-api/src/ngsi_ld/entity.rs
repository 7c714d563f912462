//! One area's observation as an NGSI-LD entity (normalized form).

use ioc_analytics::open_data::{EntityType, Observation};
use serde_json::{Map, Value, json};

/// The JSON-LD context of the entities: Smart Data Models' terms.
pub(crate) const CONTEXT: &str = "https://smartdatamodels.org/context.jsonld";

/// The NGSI-LD core context, listed after the data models' in bodies.
const CORE_CONTEXT: &str = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld";

/// The entity id of an area's observation of a type.
pub(crate) fn id_of(entity_type: EntityType, area: &str) -> String {
    format!("urn:ngsi-ld:{}:{area}", entity_type.name())
}

/// Reads `urn:ngsi-ld:<Type>:<area>`: the type (`None` when not one served) and the area;
/// `None` when the id does not have that shape.
pub(crate) fn parse_id(id: &str) -> Option<(Option<EntityType>, String)> {
    let rest = id.strip_prefix("urn:ngsi-ld:")?;
    let (type_name, area) = rest.split_once(':')?;
    if type_name.is_empty() || area.is_empty() {
        return None;
    }
    Some((EntityType::parse(type_name), area.to_string()))
}

/// The entity, with `@context` when `with_context` (JSON-LD).
pub(crate) fn render(observation: &Observation, with_context: bool) -> Value {
    let observed_at = ioc_ingest::event::format_ts(observation.observed_ms);
    let property =
        |value: Value| json!({"type": "Property", "value": value, "observedAt": observed_at});
    let mut entity = Map::new();
    entity.insert(
        "id".into(),
        json!(id_of(observation.entity_type, &observation.area)),
    );
    entity.insert("type".into(), json!(observation.entity_type.name()));
    entity.insert("name".into(), property(json!(observation.area_name)));
    entity.insert("areaServed".into(), property(json!(observation.area)));
    entity.insert(
        "location".into(),
        json!({
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [observation.lon, observation.lat]},
            "observedAt": observed_at,
        }),
    );
    for attribute in &observation.attributes {
        let mut value = property(attribute.value.clone());
        if let (Some(unit), Some(object)) = (attribute.unit_code, value.as_object_mut()) {
            object.insert("unitCode".into(), json!(unit));
        }
        entity.insert(attribute.name.into(), value);
    }
    if with_context {
        entity.insert("@context".into(), json!([CONTEXT, CORE_CONTEXT]));
    }
    Value::Object(entity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_odd_ids_are_refused() {
        let id = id_of(EntityType::NoiseLevelObserved, "ha-dong");
        assert_eq!(id, "urn:ngsi-ld:NoiseLevelObserved:ha-dong");
        assert_eq!(
            parse_id(&id),
            Some((Some(EntityType::NoiseLevelObserved), "ha-dong".into()))
        );
        assert_eq!(parse_id("urn:ngsi-ld:Bus:x"), Some((None, "x".into())));
        assert_eq!(parse_id("hoan-kiem"), None);
        assert_eq!(parse_id("urn:ngsi-ld:AirQualityObserved:"), None);
    }
}

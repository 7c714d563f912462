//! SenML (RFC 8428) and NGSI (Smart Data Models) payloads through the public decode → validate
//! path, with the exact events they must become (docs/events.md).

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ioc_ingest::decode::{Draft, decode};
use ioc_ingest::topic::{TopicInfo, TopicScheme};
use ioc_ingest::validate::Validator;
use ioc_ingest::{Areas, Event, Kind, Reason, Values};
use serde_json::{Value, json};
use std::sync::Arc;

/// 2026-11-22T09:00:30Z: half a minute after the payloads' 09:00:00Z.
const NOW_MS: i64 = 1_795_338_030_000;

/// 2026-11-22T09:00:00Z.
const NINE_MS: i64 = 1_795_338_000_000;

/// Parses a test topic under the default `city` root.
fn topic(name: &str) -> TopicInfo<'_> {
    TopicScheme::new("city")
        .parse(name)
        .expect("test topic is valid")
}

/// Decodes a payload that must decode.
fn drafts(payload: &str, topic_name: &str) -> Vec<Draft> {
    decode(payload.as_bytes(), &topic(topic_name), NOW_MS).expect("payload decodes")
}

/// Decodes and validates a payload whose every draft must become an event.
fn events(payload: &str, topic_name: &str) -> Vec<Event> {
    let validator = Validator::new(Arc::new(Areas::hanoi()));
    drafts(payload, topic_name)
        .into_iter()
        .map(|draft| validator.validate(draft, NOW_MS).expect("draft validates"))
        .collect()
}

/// The reason the decoder refuses a payload.
fn decode_reason(payload: &str, topic_name: &str) -> Reason {
    match decode(payload.as_bytes(), &topic(topic_name), NOW_MS) {
        Ok(drafts) => panic!("expected a rejection, got {drafts:?}"),
        Err(rejection) => rejection.reason,
    }
}

/// The reason the validator refuses the one draft a payload decodes to.
fn validate_reason(payload: &str, topic_name: &str) -> Reason {
    let validator = Validator::new(Arc::new(Areas::hanoi()));
    let mut drafts = drafts(payload, topic_name);
    assert_eq!(drafts.len(), 1);
    match validator.validate(drafts.remove(0), NOW_MS) {
        Ok(event) => panic!("expected a rejection, got {event:?}"),
        Err(rejection) => rejection.reason,
    }
}

/// A JSON object literal as an event's values map.
fn values(value: Value) -> Values {
    match value {
        Value::Object(map) => map.into(),
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn senml_pack_with_base_name_and_time_is_one_event() {
    let pack = r#"[
        {"bn":"urn:dev:ow:hn-aq-0042:","bt":1795337940,"bu":"ug/m3","bver":10,"n":"pm25","v":48.2},
        {"n":"pm10","v":71.0}
    ]"#;
    let got = events(pack, "city/hoan-kiem/air_quality/hn-aq-0042");
    let expected = Event {
        id: "urn:dev:ow:hn-aq-0042:1795337940000:air_quality".into(),
        source: "urn:dev:ow:hn-aq-0042".into(),
        kind: Kind::AirQuality,
        area: "hoan-kiem".into(),
        ts_ms: 1_795_337_940_000,
        lat: None,
        lon: None,
        values: values(json!({"pm25": 48.2, "pm10": 71.0})),
    };
    assert_eq!(got, vec![expected]);
}

#[test]
fn senml_pack_with_two_times_is_two_events() {
    let pack = r#"[
        {"bn":"hn-noise-7:","bt":1795337880,"bu":"dB","n":"laeq","v":61.5},
        {"n":"lamax","v":74},
        {"n":"laeq","v":63.0,"t":60}
    ]"#;
    let got = events(pack, "city/dong-da/noise/hn-noise-7");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].ts_ms, 1_795_337_880_000);
    assert_eq!(got[0].values, values(json!({"laeq": 61.5, "lamax": 74})));
    assert_eq!(got[1].ts_ms, 1_795_337_940_000);
    assert_eq!(got[1].values, values(json!({"laeq": 63.0})));
    for event in &got {
        assert_eq!(event.source, "hn-noise-7");
        assert_eq!(event.area, "dong-da");
        assert_eq!(event.kind, Kind::Noise);
    }
    assert_eq!(got[1].id, "hn-noise-7:1795337940000:noise");
}

#[test]
fn senml_relative_and_absent_times_resolve_against_now() {
    let got = events(
        r#"[{"n":"level_cm","v":120,"t":-30}]"#,
        "city/hoan-kiem/water_level/hn-wl-3",
    );
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].ts_ms, NOW_MS - 30_000);
    assert_eq!(got[0].source, "hn-wl-3");
    assert_eq!(
        got[0].id,
        format!("hn-wl-3:{}:water_level", NOW_MS - 30_000)
    );
    assert_eq!(got[0].values, values(json!({"level_cm": 120})));

    let got = events(
        r#"[{"n":"level_cm","v":80.5}]"#,
        "city/hoan-kiem/water_level/hn-wl-3",
    );
    assert_eq!(got[0].ts_ms, NOW_MS);
}

#[test]
fn senml_lat_lon_records_place_the_event_on_an_any_area_topic() {
    let pack = r#"[
        {"bn":"hn-noise-9/","bt":1795338000,"n":"laeq","v":58},
        {"n":"lat","v":21.029,"u":"lat"},{"n":"lon","v":105.853,"u":"lon"}
    ]"#;
    let got = events(pack, "city/_/noise/hn-noise-9");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].area, "hoan-kiem");
    assert_eq!((got[0].lat, got[0].lon), (Some(21.029), Some(105.853)));
    assert_eq!(got[0].values, values(json!({"laeq": 58})));
}

#[test]
fn senml_bver_above_10_is_refused() {
    let pack = r#"[{"bver":11,"n":"laeq","v":58}]"#;
    assert_eq!(
        decode_reason(pack, "city/dong-da/noise/n1"),
        Reason::InvalidSenml
    );
}

#[test]
fn senml_must_understand_label_is_refused() {
    let pack = r#"[{"n":"laeq","v":58,"foo_":"x"}]"#;
    assert_eq!(
        decode_reason(pack, "city/dong-da/noise/n1"),
        Reason::InvalidSenml
    );
}

#[test]
fn senml_structural_errors_are_refused_as_invalid_senml() {
    for pack in [
        "[]",
        r#"[{"v":58}]"#,
        r#"[{"n":"laeq"}]"#,
        r#"[{"n":"laeq","v":58,"vb":true}]"#,
        r#"[{"n":"la eq","v":58}]"#,
        r#"[{"n":"_laeq","v":58}]"#,
    ] {
        assert_eq!(
            decode_reason(pack, "city/dong-da/noise/n1"),
            Reason::InvalidSenml,
            "{pack}"
        );
    }
}

#[test]
fn senml_wrong_value_type_is_wrong_type() {
    let pack = r#"[{"n":"laeq","v":"58"}]"#;
    assert_eq!(
        decode_reason(pack, "city/dong-da/noise/n1"),
        Reason::WrongType
    );
    let pack = r#"[{"n":"laeq","vd":"AAE"}]"#;
    assert_eq!(
        decode_reason(pack, "city/dong-da/noise/n1"),
        Reason::WrongType
    );
}

#[test]
fn ngsi_ld_normalized_air_quality_is_placed_by_coordinates() {
    let entity = r#"{
        "id": "urn:ngsi-ld:AirQualityObserved:hn-aq-0042",
        "type": "AirQualityObserved",
        "@context": ["https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/context.jsonld"],
        "dateObserved": {"type": "Property", "value": {"@type": "DateTime", "@value": "2026-11-22T09:00:00Z"}},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [105.853, 21.029]}},
        "pm25": {"type": "Property", "value": 48.2, "unitCode": "GQ"},
        "no2": {"type": "Property", "value": 31},
        "relativeHumidity": {"type": "Property", "value": 0.74},
        "areaServed": {"type": "Property", "value": "Hoàn Kiếm"},
        "reliability": {"type": "Property", "value": 0.9}
    }"#;
    let got = events(entity, "city/_/air_quality/hn-aq-0042");
    let expected = Event {
        id: format!("hn-aq-0042:{NINE_MS}:air_quality"),
        source: "hn-aq-0042".into(),
        kind: Kind::AirQuality,
        area: "hoan-kiem".into(),
        ts_ms: NINE_MS,
        lat: Some(21.029),
        lon: Some(105.853),
        values: values(json!({"pm25": 48.2, "no2": 31, "humidity": 0.74})),
    };
    assert_eq!(got, vec![expected]);
}

#[test]
fn ngsi_v2_key_values_traffic_flow_maps_average_speed() {
    let entity = r#"{
        "id": "urn:ngsi-ld:TrafficFlowObserved:hn-tf-12",
        "type": "TrafficFlowObserved",
        "dateObserved": "2026-11-22T09:00:00Z",
        "location": {"type": "Point", "coordinates": [105.79, 21.03]},
        "intensity": 42,
        "averageVehicleSpeed": 31.5,
        "occupancy": 0.35,
        "congested": false,
        "laneId": 1,
        "address": {"streetAddress": "Xuân Thủy", "addressLocality": "Hà Nội"}
    }"#;
    let got = events(entity, "city/cau-giay/traffic/hn-tf-12");
    let expected = Event {
        id: format!("hn-tf-12:{NINE_MS}:traffic"),
        source: "hn-tf-12".into(),
        kind: Kind::Traffic,
        area: "cau-giay".into(),
        ts_ms: NINE_MS,
        lat: Some(21.03),
        lon: Some(105.79),
        values: values(
            json!({"intensity": 42, "speed": 31.5, "occupancy": 0.35, "congested": false}),
        ),
    };
    assert_eq!(got, vec![expected]);
}

#[test]
fn ngsi_v2_normalized_noise_level_maps_laeq() {
    let entity = r#"{
        "id": "hn-noise-3",
        "type": "NoiseLevelObserved",
        "dateObserved": {"type": "DateTime", "value": "2026-11-22T09:00:00Z"},
        "LAeq": {"type": "Number", "value": 64.3},
        "LAmax": {"type": "Number", "value": 78.1},
        "LAS": {"type": "Number", "value": 60.0}
    }"#;
    let got = events(entity, "city/hai-ba-trung/noise/hn-noise-3");
    let expected = Event {
        id: format!("hn-noise-3:{NINE_MS}:noise"),
        source: "hn-noise-3".into(),
        kind: Kind::Noise,
        area: "hai-ba-trung".into(),
        ts_ms: NINE_MS,
        lat: None,
        lon: None,
        values: values(json!({"laeq": 64.3, "lamax": 78.1})),
    };
    assert_eq!(got, vec![expected]);
}

#[test]
fn ngsi_ld_observed_at_on_a_property_gives_the_time() {
    let entity = r#"{
        "id": "urn:ngsi-ld:FloodMonitoring:hn-wl-8",
        "type": "FloodMonitoring",
        "currentLevel": {"type": "Property", "value": 35, "observedAt": "2026-11-22T16:00:00+07:00"}
    }"#;
    let got = events(entity, "city/hoang-mai/water_level/hn-wl-8");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].ts_ms, NINE_MS);
    assert_eq!(got[0].kind, Kind::WaterLevel);
    assert_eq!(got[0].values, values(json!({"level_cm": 35})));
}

#[test]
fn ngsi_unknown_type_is_unknown_kind() {
    let entity = r#"{"id":"urn:ngsi-ld:WeatherObserved:w1","type":"WeatherObserved",
        "dateObserved":"2026-11-22T09:00:00Z","temperature":30}"#;
    assert_eq!(
        decode_reason(entity, "city/ba-dinh/air_quality/w1"),
        Reason::UnknownKind
    );
}

#[test]
fn ngsi_values_are_passed_as_is_for_the_validator_to_judge() {
    let percent = r#"{"id":"aq-1","type":"AirQualityObserved","dateObserved":"2026-11-22T09:00:00Z",
        "relativeHumidity":65}"#;
    assert_eq!(
        validate_reason(percent, "city/ba-dinh/air_quality/aq-1"),
        Reason::OutOfRange
    );
    let text = r#"{"id":"aq-1","type":"AirQualityObserved","dateObserved":"2026-11-22T09:00:00Z",
        "pm25":"48.2"}"#;
    assert_eq!(
        validate_reason(text, "city/ba-dinh/air_quality/aq-1"),
        Reason::WrongType
    );
}

#[test]
fn native_objects_with_a_type_field_stay_native() {
    let native = r#"{"source":"hn-aq-1","type":"AirQualityObserved","id":"x1",
        "ts":"2026-11-22T09:00:00Z","values":{"pm25":10}}"#;
    let got = events(native, "city/ba-dinh/air_quality/hn-aq-1");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id, "x1");
    assert_eq!(got[0].values, values(json!({"pm25": 10})));
}

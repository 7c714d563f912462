//! Native JSON through the intake: what is accepted, and every refusal with its reason.

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ioc_ingest::intake::Intake;
use ioc_ingest::journal::Entry;
use ioc_ingest::topic::TopicScheme;
use ioc_ingest::validate::Validator;
use ioc_ingest::{Areas, Kind, Reason};
use serde_json::json;
use std::sync::Arc;

const NOW: i64 = 1_795_338_000_000; // 2026-11-22T09:00:00Z

fn intake() -> Intake {
    Intake::new(
        TopicScheme::new("city"),
        Validator::new(Arc::new(Areas::hanoi())),
        64 * 1024,
    )
}

fn reason_of(topic: &str, payload: &[u8]) -> Option<Reason> {
    match intake().classify(topic, payload, NOW).as_slice() {
        [Entry::Rejected(record)] => Some(record.reason),
        _ => None,
    }
}

#[test]
fn the_design_example_is_accepted_with_its_id_and_values() {
    let payload = br#"{"id":"hn-aq-0042:1732262400000","source":"hn-aq-0042","kind":"air_quality","area":"hoan-kiem","ts":"2026-11-22T09:00:00Z","lat":21.029,"lon":105.853,"values":{"pm25":48.2,"pm10":71.0}}"#;
    let entries = intake().classify("city/hoan-kiem/air_quality/hn-aq-0042", payload, NOW);
    let [Entry::Event(event)] = entries.as_slice() else {
        panic!("not accepted: {entries:?}")
    };
    assert_eq!(event.id, "hn-aq-0042:1732262400000");
    assert_eq!(
        (event.kind, event.area.as_str(), event.ts_ms),
        (Kind::AirQuality, "hoan-kiem", NOW)
    );
    assert_eq!(
        event.values,
        json!({"pm25": 48.2, "pm10": 71.0})
            .as_object()
            .cloned()
            .unwrap_or_default()
            .into()
    );
}

#[test]
fn area_comes_from_coordinates_and_id_is_derived() {
    let payload = json!({"ts": NOW - 1000, "lat": 21.2187, "lon": 105.8042, "values": {"laeq": 58.5, "bogus": 1}});
    let entries = intake().classify("city/_/noise/nm-7", payload.to_string().as_bytes(), NOW);
    let [Entry::Event(event)] = entries.as_slice() else {
        panic!("not accepted: {entries:?}")
    };
    assert_eq!(event.area, "soc-son");
    assert_eq!(event.source, "nm-7");
    assert_eq!(event.id, format!("nm-7:{}:noise", NOW - 1000));
    assert_eq!(event.values.len(), 1, "unknown fields are not stored");
}

#[test]
fn dossiers_need_their_fields() {
    let ok = json!({"ts": NOW, "values": {"service": "Cấp giấy phép xây dựng", "channel": "online", "level": 4, "stage": "resolved", "on_time": true, "agency": "UBND quận"}});
    assert!(matches!(
        intake()
            .classify(
                "city/ba-dinh/dossier/portal",
                ok.to_string().as_bytes(),
                NOW
            )
            .as_slice(),
        [Entry::Event(_)]
    ));
    let bad_level = json!({"ts": NOW, "values": {"service": "x", "channel": "online", "level": 5, "stage": "received"}});
    assert_eq!(
        reason_of(
            "city/ba-dinh/dossier/portal",
            bad_level.to_string().as_bytes()
        ),
        Some(Reason::OutOfRange)
    );
    let no_stage = json!({"ts": NOW, "values": {"service": "x", "channel": "online", "level": 3}});
    assert_eq!(
        reason_of(
            "city/ba-dinh/dossier/portal",
            no_stage.to_string().as_bytes()
        ),
        Some(Reason::MissingField)
    );
}

#[test]
fn every_refusal_has_its_reason() {
    let ts = NOW - 1000;
    let noise =
        |values: serde_json::Value| json!({"ts": ts, "values": values}).to_string().into_bytes();
    let cases: Vec<(&str, Vec<u8>, Reason)> = vec![
        (
            "city/hoan-kiem/noise/n",
            vec![b'x'; 65 * 1024 + 1],
            Reason::TooLarge,
        ),
        (
            "city/hoan-kiem/noise/n",
            vec![0xc3, 0x28],
            Reason::InvalidUtf8,
        ),
        (
            "city/hoan-kiem/noise/n",
            b"{".to_vec(),
            Reason::MalformedJson,
        ),
        (
            "city/hoan-kiem/noise/n",
            b"42".to_vec(),
            Reason::MalformedJson,
        ),
        (
            "city/hoan-kiem",
            noise(json!({"laeq": 50})),
            Reason::BadTopic,
        ),
        (
            "town/hoan-kiem/noise/n",
            noise(json!({"laeq": 50})),
            Reason::BadTopic,
        ),
        (
            "city/hoan-kiem/laser/n",
            noise(json!({"laeq": 50})),
            Reason::UnknownKind,
        ),
        (
            "city/hoan-kiem/noise/n",
            json!({"ts": ts, "kind": "traffic", "values": {"laeq": 50}})
                .to_string()
                .into_bytes(),
            Reason::UnknownKind,
        ),
        (
            "city/gotham/noise/n",
            noise(json!({"laeq": 50})),
            Reason::UnknownArea,
        ),
        (
            "city/_/noise/n",
            json!({"ts": ts, "lat": 48.85, "lon": 2.35, "values": {"laeq": 50}})
                .to_string()
                .into_bytes(),
            Reason::OutsideCity,
        ),
        (
            "city/_/noise/n",
            noise(json!({"laeq": 50})),
            Reason::MissingField,
        ),
        (
            "city/hoan-kiem/noise/n",
            json!({"values": {"laeq": 50}}).to_string().into_bytes(),
            Reason::MissingField,
        ),
        (
            "city/hoan-kiem/noise/n",
            noise(json!({"lamax": 50})),
            Reason::MissingField,
        ),
        (
            "city/hoan-kiem/noise/n",
            noise(json!({"laeq": "50"})),
            Reason::WrongType,
        ),
        (
            "city/hoan-kiem/noise/n",
            format!("{{\"ts\":{ts},\"values\":{{\"laeq\":Infinity}}}}").into_bytes(),
            Reason::NonFinite,
        ),
        (
            "city/hoan-kiem/noise/n",
            format!("{{\"ts\":{ts},\"values\":{{\"laeq\":1e999}}}}").into_bytes(),
            Reason::NonFinite,
        ),
        (
            "city/hoan-kiem/air_quality/a",
            noise(json!({"pm25": -1})),
            Reason::OutOfRange,
        ),
        (
            "city/hoan-kiem/traffic/t",
            noise(json!({"speed": 301})),
            Reason::OutOfRange,
        ),
        (
            "city/hoan-kiem/air_quality/a",
            noise(json!({"humidity": 1.01})),
            Reason::OutOfRange,
        ),
        (
            "city/hoan-kiem/noise/n",
            json!({"ts": NOW + 5 * 60_000 + 1, "values": {"laeq": 50}})
                .to_string()
                .into_bytes(),
            Reason::FutureTimestamp,
        ),
        (
            "city/hoan-kiem/air_quality/a",
            br#"[{"n":"a:pm25","v":1,"x_":1}]"#.to_vec(),
            Reason::InvalidSenml,
        ),
    ];
    for (topic, payload, expected) in cases {
        assert_eq!(
            reason_of(topic, &payload),
            Some(expected),
            "{topic} {}",
            String::from_utf8_lossy(&payload[..payload.len().min(80)])
        );
    }
    // Exactly at the 5-minute skew is still accepted.
    let edge = json!({"ts": NOW + 5 * 60_000, "values": {"laeq": 50}});
    assert_eq!(
        reason_of("city/hoan-kiem/noise/n", edge.to_string().as_bytes()),
        None
    );
}

#[test]
fn fields_are_kept_in_the_kinds_order_and_the_first_problem_in_that_order_is_named() {
    // Written backwards, with an unknown field and a null: the event keeps the kind's order.
    let payload = br#"{"source":"tc-1","ts":1795338000000,"values":{"congested":true,"extra":7,"occupancy":0.5,"speed":null,"intensity":12}}"#;
    let entries = intake().classify("city/hoan-kiem/traffic/tc-1", payload, NOW);
    let [Entry::Event(event)] = entries.as_slice() else {
        panic!("not accepted: {entries:?}")
    };
    assert_eq!(
        event.values.keys().collect::<Vec<_>>(),
        ["intensity", "occupancy", "congested"]
    );
    // Already in the kind's order (the usual case, read without sorting), and in that order
    // but for one null or one unknown field, and out of order: the same fields kept.
    for (values, kept) in [
        (
            r#"{"intensity":12,"speed":40,"congested":false}"#,
            &["intensity", "speed", "congested"][..],
        ),
        (
            r#"{"intensity":12,"speed":null,"congested":false}"#,
            &["intensity", "congested"],
        ),
        (
            r#"{"intensity":12,"speed":40,"extra":1}"#,
            &["intensity", "speed"],
        ),
        (
            r#"{"speed":40,"occupancy":0.5,"intensity":12}"#,
            &["intensity", "speed", "occupancy"],
        ),
    ] {
        let payload = format!(r#"{{"source":"tc-1","ts":1795338000000,"values":{values}}}"#);
        let entries = intake().classify("city/hoan-kiem/traffic/tc-1", payload.as_bytes(), NOW);
        let [Entry::Event(event)] = entries.as_slice() else {
            panic!("{values} not accepted: {entries:?}")
        };
        assert_eq!(event.values.keys().collect::<Vec<_>>(), kept, "{values}");
    }
    // Two fields out of range, written in reverse: the kind's first one is the reason given.
    let payload = br#"{"source":"aq-1","ts":1795338000000,"values":{"humidity":7,"pm10":-1}}"#;
    let entries = intake().classify("city/hoan-kiem/air_quality/aq-1", payload, NOW);
    let [Entry::Rejected(record)] = entries.as_slice() else {
        panic!("not refused: {entries:?}")
    };
    assert_eq!(record.reason, Reason::OutOfRange);
    assert_eq!(record.detail, "`pm10` = -1 is outside 0..=1000000");
    // A required field missing after a good one: named, whatever else came.
    let payload =
        br#"{"source":"wl-1","ts":1795338000000,"values":{"alert_cm":40,"danger_cm":"x"}}"#;
    let entries = intake().classify("city/hoan-kiem/water_level/wl-1", payload, NOW);
    let [Entry::Rejected(record)] = entries.as_slice() else {
        panic!("not refused: {entries:?}")
    };
    assert_eq!(
        (record.reason, record.detail.as_str()),
        (Reason::MissingField, "water_level needs `level_cm`")
    );
}

#[test]
fn ids_and_sources_with_controls_or_wildcards_are_refused_ascii_or_not() {
    let payload = |id: &str, source: &str| {
        json!({"id": id, "source": source, "ts": NOW - 1000, "values": {"laeq": 50}})
            .to_string()
            .into_bytes()
    };
    let topic = "city/hoan-kiem/noise";
    for bad in [
        "a\tb",
        "a\u{7f}b",
        "a#",
        "+b",
        "\u{1}",
        "hà\u{85}nội",
        "hà#nội",
        "nội+",
        "x\u{9f}",
    ] {
        assert_eq!(
            reason_of(topic, &payload(bad, "nm-1")),
            Some(Reason::WrongType),
            "id {bad:?}"
        );
        assert_eq!(
            reason_of(topic, &payload("e-1", bad)),
            Some(Reason::WrongType),
            "source {bad:?}"
        );
    }
    for good in ["nm-1", "hà-nội:đo-ồn", "a b~!", "x\u{a0}y"] {
        let entries = intake().classify(topic, &payload(good, good), NOW);
        let [Entry::Event(event)] = entries.as_slice() else {
            panic!("{good:?} not accepted: {entries:?}")
        };
        assert_eq!((event.id.as_str(), event.source.as_str()), (good, good));
    }
}

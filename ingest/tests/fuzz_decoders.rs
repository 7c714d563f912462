//! Property tests of the intake (every decoder behind it): whatever bytes arrive on whatever
//! topic, the intake never panics, answers with either events or exactly one dead-letter record,
//! and every event it accepts satisfies the documented invariants.

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ioc_ingest::fields::{self, FieldType};
use ioc_ingest::intake::Intake;
use ioc_ingest::journal::Entry;
use ioc_ingest::topic::TopicScheme;
use ioc_ingest::validate::Validator;
use ioc_ingest::{Areas, Event};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::sync::Arc;

const NOW: i64 = 1_795_338_000_000;

fn intake() -> Intake {
    Intake::new(
        TopicScheme::new("city"),
        Validator::new(Arc::new(Areas::hanoi())),
        64 * 1024,
    )
}

/// Checks one message's answer and every accepted event's invariants.
fn check(topic: &str, payload: &[u8]) {
    let areas = Areas::hanoi();
    let entries = intake().classify(topic, payload, NOW);
    let rejected = entries
        .iter()
        .filter(|e| matches!(e, Entry::Rejected(_)))
        .count();
    assert!(
        (rejected == 1 && entries.len() == 1) || (rejected == 0 && !entries.is_empty()),
        "an answer is events or one refusal, got {} entries with {rejected} refusals",
        entries.len()
    );
    for entry in &entries {
        match entry {
            Entry::Event(event) => check_event(&areas, event),
            Entry::Rejected(record) => {
                assert!(!record.detail.is_empty());
                assert_eq!(record.payload_bytes, payload.len());
            }
        }
    }
}

fn check_event(areas: &Areas, event: &Event) {
    assert!(
        areas.get(&event.area).is_some(),
        "unknown area {}",
        event.area
    );
    assert!(event.ts_ms <= NOW + 5 * 60_000, "future ts accepted");
    assert!(!event.id.is_empty() && event.id.len() <= 256);
    assert!(!event.values.is_empty());
    if let (Some(lat), Some(lon)) = (event.lat, event.lon) {
        assert!(areas.bounds().contains(lat, lon));
    }
    let specs = fields::specs(event.kind);
    for (name, value) in &event.values {
        let Some(spec) = specs.iter().find(|s| s.name == name) else {
            // Reports carry their own fields, checked by the report validator.
            assert!(
                specs.is_empty(),
                "unknown field {name} kept for {}",
                event.kind
            );
            continue;
        };
        if let FieldType::Number { min, max } = spec.ty {
            let n = value.as_f64().unwrap_or(f64::NAN);
            assert!(
                n.is_finite() && n >= min && n <= max,
                "{name} = {value} outside {min}..={max}"
            );
        }
    }
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn topic() -> impl Strategy<Value = String> {
    let areas = prop_oneof![
        Just("hoan-kiem".to_string()),
        Just("_".to_string()),
        "[a-z-]{1,10}"
    ];
    let kinds = prop_oneof![
        Just("traffic"),
        Just("air_quality"),
        Just("water_level"),
        Just("noise"),
        Just("dossier"),
        Just("report"),
        Just("radar"),
    ];
    (areas, kinds, "[a-z0-9-]{1,8}").prop_map(|(area, kind, source)| {
        if kind == "report" {
            format!("city/{area}/report")
        } else {
            format!("city/{area}/{kind}/{source}")
        }
    })
}

/// Payloads close to valid: native shape with random field values and times.
fn near_native() -> impl Strategy<Value = Value> {
    let field = prop_oneof![
        Just("pm25"),
        Just("humidity"),
        Just("speed"),
        Just("occupancy"),
        Just("laeq"),
        Just("level_cm"),
        Just("channel"),
        Just("level"),
    ];
    let number = prop_oneof![
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        -10.0..400.0_f64
    ];
    let ts = prop_oneof![
        Just(json!(NOW - 1000)),
        (NOW - 10_000_000..NOW + 10_000_000).prop_map(|t| json!(t)),
        json_value()
    ];
    let location = prop_oneof![
        Just(None),
        (20.0..21.6_f64, 105.0..106.2_f64).prop_map(Some),
        (-90.0..90.0_f64, -180.0..180.0_f64).prop_map(Some),
    ];
    (
        prop::collection::btree_map(
            field,
            prop_oneof![number.prop_map(|n| json!(n)), json_value()],
            1..4,
        ),
        ts,
        location,
    )
        .prop_map(|(values, ts, location)| {
            let mut body = json!({"source": "s-1", "ts": ts, "values": values});
            if let (Some((lat, lon)), Value::Object(map)) = (location, &mut body) {
                map.insert("lat".into(), json!(lat));
                map.insert("lon".into(), json!(lon));
            }
            body
        })
}

/// Cases per property: `default` in CI, `PROPTEST_CASES` for a longer run (see the README).
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(512)))]

    #[test]
    fn arbitrary_bytes_never_crash_the_intake(topic in topic(), payload in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&topic, &payload);
    }

    #[test]
    fn arbitrary_json_never_crashes_the_intake(topic in topic(), value in json_value()) {
        check(&topic, value.to_string().as_bytes());
    }

    #[test]
    fn near_valid_native_payloads_keep_every_invariant(topic in topic(), body in near_native()) {
        check(&topic, body.to_string().as_bytes());
    }

    #[test]
    fn senml_packs_of_random_records_keep_every_invariant(
        records in prop::collection::vec(prop::collection::btree_map(
            prop_oneof![Just("bn"), Just("bt"), Just("n"), Just("v"), Just("vs"), Just("vb"), Just("t"), Just("bver"), Just("u"), Just("x_")],
            json_value(), 0..5), 0..6)
    ) {
        let pack = Value::Array(records.into_iter().map(|r| Value::Object(r.into_iter().map(|(k, v)| (k.to_string(), v)).collect())).collect());
        check("city/hoan-kiem/air_quality/aq-1", pack.to_string().as_bytes());
    }
}

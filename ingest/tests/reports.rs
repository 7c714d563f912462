//! Citizen reports: the MQTT report topic through the intake, and the shared field checks.

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ioc_ingest::intake::Intake;
use ioc_ingest::journal::Entry;
use ioc_ingest::report::{self, ProblemKind};
use ioc_ingest::topic::TopicScheme;
use ioc_ingest::validate::Validator;
use ioc_ingest::{Areas, Kind, Reason};
use serde_json::{Map, Value, json};
use std::sync::Arc;

const NOW: i64 = 1_795_338_000_000; // 2026-11-22T09:00:00Z

fn intake() -> Intake {
    Intake::new(
        TopicScheme::new("city"),
        Validator::new(Arc::new(Areas::hanoi())),
        64 * 1024,
    )
}

fn fields(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

#[test]
fn a_flat_open311_report_on_the_report_topic_becomes_a_report_event() {
    let payload = json!({
        "id": "app-1:42", "service_code": "flooding", "lat": 21.029, "long": 105.853,
        "description": "Ngập sâu 30cm trước số 12 Hàng Bạc", "phone": "0912345678",
        "attribute[depth_cm]": "30"
    });
    let entries = intake().classify("city/_/report", payload.to_string().as_bytes(), NOW);
    let [Entry::Event(event)] = entries.as_slice() else {
        panic!("not accepted: {entries:?}")
    };
    assert_eq!(event.kind, Kind::Report);
    assert_eq!(event.area, "hoan-kiem");
    assert_eq!(event.id, "app-1:42");
    assert_eq!(event.ts_ms, NOW);
    assert_eq!(
        event.values["service_request_id"],
        json!(report::request_id("app-1:42"))
    );
    assert_eq!(event.values["attributes"]["depth_cm"], json!(30.0));
    assert_eq!(
        event.values["description"],
        json!("Ngập sâu 30cm trước số 12 Hàng Bạc")
    );
}

#[test]
fn the_native_shape_with_values_is_accepted_too_and_the_topic_names_the_area() {
    let payload = json!({"source": "app-2", "ts": NOW - 1000,
        "values": {"service_code": "environment", "address_string": "Phố Huế"}});
    let entries = intake().classify(
        "city/hai-ba-trung/report",
        payload.to_string().as_bytes(),
        NOW,
    );
    let [Entry::Event(event)] = entries.as_slice() else {
        panic!("not accepted: {entries:?}")
    };
    assert_eq!(
        (event.area.as_str(), event.ts_ms),
        ("hai-ba-trung", NOW - 1000)
    );
    assert_eq!(event.id, format!("app-2:{}:report", NOW - 1000));
}

#[test]
fn bad_reports_on_the_topic_go_to_the_dead_letter() {
    let reason = |payload: Value| match intake()
        .classify("city/_/report", payload.to_string().as_bytes(), NOW)
        .as_slice()
    {
        [Entry::Rejected(record)] => Some(record.reason),
        _ => None,
    };
    assert_eq!(
        reason(json!({"service_code": "traffic"})),
        Some(Reason::MissingField)
    );
    assert_eq!(
        reason(json!({"service_code": "traffic", "lat": 10.8, "long": 106.6})),
        Some(Reason::OutsideCity)
    );
    assert_eq!(
        reason(json!({"service_code": "ufo", "lat": 21.03, "long": 105.85})),
        Some(Reason::OutOfRange)
    );
    // Operators' updates are not accepted from the broker.
    let update = intake().classify(
        "city/hoan-kiem/report_update/x",
        br#"{"ts":1,"values":{}}"#,
        NOW,
    );
    assert!(matches!(update.as_slice(), [Entry::Rejected(_)]));
}

#[test]
fn every_problem_is_reported_at_once() {
    let long = "x".repeat(report::MAX_DESCRIPTION_CHARS + 1);
    let problems = report::check(
        &fields(json!({
            "service_code": "traffic", "lat": "abc", "long": "105.85",
            "description": long, "media_url": "ftp://x/y.jpg",
            "email": "not-an-email", "phone": "12ab", "first_name": "N".repeat(101)
        })),
        &Areas::hanoi(),
        None,
    )
    .err()
    .unwrap_or_default();
    let mut named: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    named.sort_unstable();
    assert_eq!(
        named,
        [
            "description",
            "email",
            "first_name",
            "lat",
            "media_url",
            "phone"
        ]
    );
    let unknown = report::check(
        &fields(json!({"service_code": "ufo", "address_string": "Hà Nội"})),
        &Areas::hanoi(),
        None,
    )
    .err()
    .unwrap_or_default();
    assert_eq!(
        unknown.first().map(|p| p.kind),
        Some(ProblemKind::UnknownService)
    );
}

#[test]
fn an_address_naming_an_area_places_the_report_there() {
    let checked = report::check(
        &fields(
            json!({"service_code": "traffic", "address_string": "12 Hàng Bạc, Hoàn Kiếm, Hà Nội"}),
        ),
        &Areas::hanoi(),
        None,
    );
    assert_eq!(checked.map(|c| c.area), Ok("hoan-kiem".to_string()));
    let nowhere = report::check(
        &fields(json!({"service_code": "traffic", "address_string": "ngõ 5"})),
        &Areas::hanoi(),
        None,
    );
    assert_eq!(nowhere.map(|c| c.area), Ok(report::UNPLACED.to_string()));
}

#[test]
fn retried_posts_get_the_same_ids_and_fresh_ones_differ() {
    let a = report::http_event_id("key", Some("dev-1"), Some("c-1"));
    assert_eq!(a, report::http_event_id("key", Some("dev-1"), Some("c-1")));
    assert_ne!(a, report::http_event_id("key", Some("dev-1"), Some("c-2")));
    assert_ne!(a, report::http_event_id("key", Some("dev-2"), Some("c-1")));
    assert_ne!(
        a,
        report::http_event_id("other", Some("dev-1"), Some("c-1"))
    );
    assert_eq!(
        report::http_event_id("key", None, Some("c-1")),
        report::http_event_id("key", None, Some("c-1"))
    );
    assert_ne!(
        report::http_event_id("key", Some("dev-1"), None),
        report::http_event_id("key", Some("dev-1"), None)
    );
    assert_eq!(report::request_id(&a), report::request_id(&a));
}

//! The Smart Data Models `AirQualityObserved` examples as devices copy them (location moved to
//! Hanoi, nothing else changed) through the intake: a time without a zone read in the device
//! zone, an interval by its end, pollutants in both spellings (docs/events.md "NGSI").

// Test code: a panic is how a failed expectation reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ioc_ingest::decode::Format;
use ioc_ingest::intake::{DEFAULT_MAX_PAYLOAD_BYTES, Intake};
use ioc_ingest::journal::Entry;
use ioc_ingest::topic::TopicScheme;
use ioc_ingest::validate::Validator;
use ioc_ingest::{Areas, Event, Kind};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;

/// 2026-11-22T09:00:30Z; the examples date from 2016 and are accepted as old events.
const NOW_MS: i64 = 1_795_338_030_000;

/// 2016-03-15T11:00:00 in Hanoi (+07:00) = 04:00:00Z.
const ELEVEN_HANOI_MS: i64 = 1_458_014_400_000;

/// 2016-03-15T12:00:00 in Hanoi = 05:00:00Z.
const NOON_HANOI_MS: i64 = 1_458_018_000_000;

/// The source both examples name: everything after the type in their URN.
const SOURCE: &str = "Madrid-AmbientObserved-28079004-2016-03-15T11:00:00";

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/smart-data-models")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn intake() -> Intake {
    Intake::new(
        TopicScheme::new("city"),
        Validator::new(Arc::new(Areas::hanoi())),
        DEFAULT_MAX_PAYLOAD_BYTES,
    )
}

/// The one event a payload must become.
fn event(intake: &Intake, payload: &[u8]) -> Event {
    let mut entries = intake.classify("city/_/air_quality/madrid-28079004", payload, NOW_MS);
    assert_eq!(entries.len(), 1);
    match entries.remove(0) {
        Entry::Event(event) => event,
        Entry::Rejected(record) => panic!("refused: {record:?}"),
    }
}

#[test]
fn key_values_example_with_a_zoneless_time_is_read_in_hanoi_time() {
    let intake = intake();
    let event = event(&intake, &fixture("AirQualityObserved-example.jsonld"));
    assert_eq!(event.kind, Kind::AirQuality);
    assert_eq!(event.area, "hoan-kiem");
    assert_eq!(event.source, SOURCE);
    assert_eq!(event.ts_ms, ELEVEN_HANOI_MS);
    assert_eq!(event.id, format!("{SOURCE}:{ELEVEN_HANOI_MS}:air_quality"));
    assert_eq!(
        serde_json::Value::from(event.values),
        json!({"no2": 69, "co": 500, "so2": 11, "temperature": 12.2, "humidity": 0.54})
    );
    assert_eq!(intake.counters().zoneless(), 1);
}

#[test]
fn normalized_example_with_an_interval_and_upper_case_pollutants_counts_at_its_end() {
    let intake = intake();
    let event = event(
        &intake,
        &fixture("AirQualityObserved-example-normalized.jsonld"),
    );
    assert_eq!(event.area, "hoan-kiem");
    assert_eq!(event.source, SOURCE);
    assert_eq!(event.ts_ms, NOON_HANOI_MS);
    assert_eq!(
        serde_json::Value::from(event.values),
        json!({"no2": 69, "co": 500, "so2": 11, "temperature": 12.2, "humidity": 0.54})
    );
    assert_eq!(intake.counters().zoneless(), 1);
}

#[test]
fn the_device_zone_is_configurable_and_both_examples_are_counted_as_ngsi() {
    let intake = intake().with_device_zone(chrono_tz::UTC);
    let first = event(&intake, &fixture("AirQualityObserved-example.jsonld"));
    let second = event(
        &intake,
        &fixture("AirQualityObserved-example-normalized.jsonld"),
    );
    let seven_hours = 7 * 3_600_000;
    assert_eq!(first.ts_ms, ELEVEN_HANOI_MS + seven_hours);
    assert_eq!(second.ts_ms, NOON_HANOI_MS + seven_hours);
    let counters = intake.counters();
    assert_eq!(counters.zoneless(), 2);
    let ngsi_air: u64 = counters
        .events()
        .iter()
        .filter(|(kind, format, _)| *kind == Kind::AirQuality && *format == Format::Ngsi)
        .map(|(_, _, count)| count)
        .sum();
    assert_eq!(ngsi_air, 2);
    let all: u64 = counters.events().iter().map(|(_, _, count)| count).sum();
    assert_eq!(all, 2);
}

//! Real devices' payloads end to end: the Smart Data Models `AirQualityObserved` examples
//! (location moved to Hanoi, otherwise as published: a time without a zone, an interval,
//! `no2` and `NO2` spellings) published over MQTT to a real broker are accepted, placed in
//! Hoàn Kiếm at their Hanoi-time instants, counted as zone-less, and, being from 2016 while the
//! engine has already seen a current event, counted as late (docs/events.md "NGSI").

use ioc_tests::engine::count;
use ioc_tests::publish::Publisher;
use ioc_tests::{Engine, EngineOptions};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

const SOURCE: &str = "Madrid-AmbientObserved-28079004-2016-03-15T11:00:00";

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../ingest/tests/fixtures/smart-data-models")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[tokio::test(flavor = "multi_thread")]
async fn smart_data_models_examples_are_accepted_over_mqtt() {
    let engine = Engine::start(EngineOptions::new("sdm")).await;
    let root = engine.options.topic_root.clone();
    let (host, port) = engine.options.broker.address();
    let mut publisher = Publisher::connect(&host, port).await;
    let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let current = json!({"source": "hn-noise-sdm", "ts": ts, "values": {"laeq": 60}});
    publisher
        .publish(&format!("{root}/hoan-kiem/noise/sdm"), current.to_string())
        .await;
    publisher.wait_acked().await;
    engine
        .wait_for(Duration::from_secs(30), |o| o["events_total"] == 1)
        .await;
    let topic = format!("{root}/_/air_quality/madrid-28079004");
    publisher
        .publish(&topic, fixture("AirQualityObserved-example.jsonld"))
        .await;
    publisher
        .publish(
            &topic,
            fixture("AirQualityObserved-example-normalized.jsonld"),
        )
        .await;
    publisher.wait_acked().await;

    let overview = engine
        .wait_for(Duration::from_secs(30), |o| o["events_total"] == 3)
        .await;
    assert_eq!(overview["events_total"], 3, "{overview}");
    assert_eq!(overview["rejected_total"], 0);
    assert_eq!(overview["late_total"], 2);
    assert_eq!(count(&overview, "hoan-kiem", "air_quality"), 2);
    assert_eq!(
        engine.metric("ioc_zoneless_timestamps_total").await,
        Some(2.0)
    );
    let ngsi = "ioc_ingest_events_total{kind=\"air_quality\",format=\"ngsi\"}";
    assert_eq!(engine.metric(ngsi).await, Some(2.0));

    let area = engine.get_json("/api/views/area?area=hoan-kiem").await;
    let station = area["sources"]
        .as_array()
        .and_then(|sources| sources.iter().find(|s| s["id"] == SOURCE))
        .unwrap_or_else(|| panic!("source {SOURCE} in {}", area["sources"]));
    assert_eq!(station["kind"], "air_quality");
    assert_eq!(
        station["values"],
        json!({"no2": 69, "co": 500, "so2": 11, "temperature": 12.2, "humidity": 0.54})
    );
    // The interval's end, 12:00 in Hanoi.
    let last = station["last_ts"]
        .as_str()
        .map(chrono::DateTime::parse_from_rfc3339);
    let expected = chrono::DateTime::parse_from_rfc3339("2016-03-15T12:00:00+07:00");
    assert_eq!(last.map(|t| t.ok()), Some(expected.ok()));
    let dead = engine.get_json("/api/deadletter").await;
    assert_eq!(dead["total"], 0, "{dead}");
    assert_eq!(dead["items"], json!([]));
}

//! Replay rebuilds exactly the live state: after 100,000 simulated events of every kind, with
//! citizens' reports, an operator desk working them and the scenarios that raise alerts, every
//! view an operator can open is, byte for byte, the same before a stop and after the restart.
//! Only `events_per_sec` differs by nature (a rate over the last ten seconds of wall time).
//! The restart reads the snapshot a clean stop writes; a second one, without it, replays the
//! whole journal; both serve the same views.

use ioc_sim::{MqttTarget, ReportTarget, Scenario, SimConfig};
use ioc_tests::simulate;
use ioc_tests::{Engine, EngineOptions};
use serde_json::Value;
use std::time::Duration;

const EVENTS: u64 = 100_000;
/// Below what a debug build journals while other tests share the two cores (see
/// `manifest_counts.rs`), so Mosquitto's default queue never drops a message.
const RATE: f64 = 2_500.0;
const KEY: &str = "restart-app";
/// The analytics snapshot in the data directory (docs/operations.md, "Snapshots").
const SNAPSHOT_FILE: &str = "analytics.snapshot";

/// Drops the wall-clock rate wherever it appears, leaving every other byte as served.
fn without_rate(text: &str) -> String {
    let mut value: Value = serde_json::from_str(text).expect("JSON view");
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.remove("events_per_sec");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut value);
    serde_json::to_string(&value).expect("JSON")
}

/// Every view, as served: the raw bytes where nothing is wall-clock, else without the rate.
async fn every_view(engine: &Engine) -> Vec<(String, String)> {
    let mut paths = vec![
        "/api/views/kpi".to_string(),
        "/api/views/alerts?status=all".to_string(),
        "/api/views/reports?status=all".to_string(),
        "/api/alerts?state=all".to_string(),
    ];
    let overview = engine.get_text("/api/views/overview").await;
    let areas: Value = serde_json::from_str(&overview).expect("overview");
    for area in areas["areas"].as_array().expect("areas") {
        let id = area["id"].as_str().expect("area id");
        paths.push(format!("/api/views/area?area={id}"));
    }
    let mut views = vec![("overview".to_string(), without_rate(&overview))];
    for path in paths {
        let text = engine.get_text(&path).await;
        let text = if text.contains("events_per_sec") {
            without_rate(&text)
        } else {
            text
        };
        views.push((path, text));
    }
    views
}

/// Waits until the engine has taken in everything: the total stops moving for three seconds.
async fn quiet_total(engine: &Engine) -> u64 {
    let mut last = None;
    let mut still = 0;
    for _ in 0..600 {
        let total = engine.overview().await["events_total"].as_u64();
        if total == last {
            still += 1;
            if still == 6 {
                return total.unwrap_or(0);
            }
        } else {
            still = 0;
            last = total;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("the event total never settled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_view_is_the_same_byte_for_byte_after_a_restart() {
    let mut engine =
        Engine::start(EngineOptions::new("restart-views").with_env("IOC_OPEN311_API_KEYS", KEY))
            .await;
    let (host, port) = engine.options.broker.address();
    let mut reports = ReportTarget::new(engine.url(""), KEY);
    reports.operator_token = Some(ioc_tests::engine::mint(&engine.data_dir, "operator"));
    reports.per_min = 600.0;
    reports.desk_delay = (Duration::from_millis(20), Duration::from_millis(200));
    let summary = simulate::publish_all(SimConfig {
        scenarios: Scenario::ALL.to_vec(),
        reports: Some(reports),
        ..simulate::city(
            MqttTarget::new(host, port),
            &engine.options.topic_root,
            EVENTS,
            RATE,
            17,
        )
    })
    .await;
    assert_eq!(summary.reports.failed, 0, "{:?}", summary.reports);
    assert!(summary.reports.posted > 0 && summary.reports.operator_actions > 0);

    let total = quiet_total(&engine).await;
    assert!(total >= EVENTS + summary.reports.posted, "{total}");
    let alerts = engine.get_json("/api/alerts?state=all").await;
    assert!(
        alerts["total"].as_u64() > Some(0),
        "the scenarios raised alerts"
    );
    let before = every_view(&engine).await;
    assert_eq!(before.len(), 5 + 30);

    // A clean stop writes a snapshot of the state; the restart reads it and replays only the
    // journal after it.
    assert!(engine.terminate().is_some_and(|status| status.success()));
    assert!(
        engine.data_dir.join(SNAPSHOT_FILE).exists(),
        "a clean stop writes the snapshot"
    );
    engine.restart().await;
    let from_snapshot = after_restart(&engine, total, &before, "from the snapshot").await;
    assert!(from_snapshot.snapshot_seq > 0);

    // Without the snapshot the whole journal is replayed, to the same views.
    assert!(engine.terminate().is_some_and(|status| status.success()));
    std::fs::remove_file(engine.data_dir.join(SNAPSHOT_FILE)).expect("remove the snapshot");
    engine.restart().await;
    let full = after_restart(&engine, total, &before, "by a full replay").await;
    assert_eq!(full.snapshot_seq, 0, "no snapshot was read");
    assert!(
        full.replayed >= from_snapshot.snapshot_seq + from_snapshot.replayed,
        "the full replay reads every event: {full:?} against {from_snapshot:?}"
    );
    assert!(
        from_snapshot.replayed < full.replayed,
        "the snapshot spared the replay: {from_snapshot:?} against {full:?}"
    );
}

/// How a start rebuilt the state, as `/metrics` reports it.
#[derive(Debug)]
struct Start {
    /// Journal seq of the snapshot read (0: none).
    snapshot_seq: u64,
    /// Events replayed from the journal.
    replayed: u64,
}

/// Waits for the restarted engine to hold `total` events, checks that every view is what it
/// was `before`, and returns how the start rebuilt the state.
async fn after_restart(
    engine: &Engine,
    total: u64,
    before: &[(String, String)],
    how: &str,
) -> Start {
    engine
        .wait_for(Duration::from_secs(120), |o| {
            o["events_total"].as_u64() == Some(total)
        })
        .await;
    let after = every_view(engine).await;
    assert_eq!(after.len(), before.len());
    for ((path, was), (_, is)) in before.iter().zip(&after) {
        assert_eq!(was, is, "{path} after the restart {how}");
    }
    let gauge = |value: Option<f64>| value.expect("gauge on /metrics") as u64;
    Start {
        snapshot_seq: gauge(engine.metric("ioc_snapshot_seq").await),
        replayed: gauge(engine.metric("ioc_start_replayed_events").await),
    }
}

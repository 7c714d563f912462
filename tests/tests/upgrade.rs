//! Upgrades: data directories written by earlier journal formats open with today's engine
//! (which moves their rows into blocks), every view comes back as that release showed it, and
//! new events add to the old ones.
//!
//! - `tests/fixtures/datadir-v0/`: one row per event, each event as JSON (the first format).
//! - `tests/fixtures/datadir-v1/`: one row per event, each event in the binary event format.
//!
//! Both were made the same way by the release of their format: `ioc serve` fed by `ioc sim
//! --seed 11 --rate 400 --duration 8s --reports-per-min 600 --scenario flood,report-burst` with
//! Open311 posts, one report assigned, resolved and rated and the report-cluster alert
//! acknowledged; the `view-*.json` files are its views just before the stop (v1's journal was
//! checkpointed out of its WAL file afterwards, so the directory is one file).

use ioc_tests::publish::Publisher;
use ioc_tests::{Engine, EngineOptions};
use serde_json::{Value, json};
use std::path::Path;

fn fixture(format: &str, name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("fixtures/datadir-{format}"))
        .join(name)
}

fn saved_view(format: &str, name: &str) -> Value {
    serde_json::from_slice(
        &std::fs::read(fixture(format, &format!("view-{name}.json"))).expect("view"),
    )
    .expect("view JSON")
}

/// The fields of an area that depend only on the journal (not on the wall clock), exact.
fn stable_area_fields(area: &Value) -> Value {
    json!({
        "id": area["id"], "counts": area["counts"], "aqi": area["aqi"],
        "congestion": area["congestion"], "water_level_max_cm": area["water_level_max_cm"],
        "reports_open": area["reports_open"], "rank": area["rank"],
    })
}

/// Window means shown with two decimals: a sum folded in other batch boundaries (the live
/// run's commits against the replay's chunks) may land one rounding step away.
const MEANS: [&str; 3] = ["pm25_1h", "traffic_speed_5m", "laeq_5m"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_of_the_json_journal_format_opens_with_its_views_as_they_were() {
    opens_with_its_views_as_they_were("v0", 3288, 85).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_of_one_binary_row_per_event_opens_with_its_views_as_they_were() {
    opens_with_its_views_as_they_were("v1", 3289, 86).await;
}

/// Opens the fixture of journal format `format` (which holds `events_total` events and
/// `reports_total` reports) and checks its views, then that new events add to it.
async fn opens_with_its_views_as_they_were(format: &str, events_total: u64, reports_total: u64) {
    let mut engine = Engine::start(EngineOptions::new(&format!("upgrade-{format}"))).await;
    engine.terminate();
    for name in ["journal.sqlite-wal", "journal.sqlite-shm"] {
        let _ = std::fs::remove_file(engine.data_dir.join(name));
    }
    std::fs::copy(
        fixture(format, "journal.sqlite"),
        engine.data_dir.join("journal.sqlite"),
    )
    .expect("copy the fixture journal");
    engine.restart().await;

    let before = saved_view(format, "overview");
    let after = engine.get_json("/api/views/overview").await;
    assert_eq!(after["events_total"], json!(events_total));
    assert_eq!(after["events_total"], before["events_total"]);
    assert_eq!(after["rejected_total"], before["rejected_total"]);
    assert_eq!(after["late_total"], before["late_total"]);
    let areas = |view: &Value| -> Vec<Value> {
        view["areas"]
            .as_array()
            .expect("areas")
            .iter()
            .map(stable_area_fields)
            .collect()
    };
    assert_eq!(areas(&after), areas(&before));
    for (now, then) in after["areas"]
        .as_array()
        .expect("areas")
        .iter()
        .zip(before["areas"].as_array().expect("areas"))
    {
        for field in MEANS {
            let (a, b) = (now[field].as_f64(), then[field].as_f64());
            assert!(
                matches!((a, b), (Some(a), Some(b)) if (a - b).abs() <= 0.0101),
                "{} {field}: {a:?} after, {b:?} before",
                now["id"]
            );
        }
    }

    let reports = |view: &Value| -> Vec<Value> {
        view["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|r| {
                json!([
                    r["id"],
                    r["status"],
                    r["agency"],
                    r["rating"],
                    r["description"]
                ])
            })
            .collect()
    };
    let reports_after = engine.get_json("/api/views/reports").await;
    assert_eq!(
        reports(&reports_after),
        reports(&saved_view(format, "reports"))
    );
    assert_eq!(reports_after["total"], json!(reports_total));

    let alerts = |view: &Value| -> Vec<Value> {
        view["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|a| {
                json!([
                    a["id"],
                    a["rule"],
                    a["raised_at"],
                    a["acked_by"],
                    a["message"]
                ])
            })
            .collect()
    };
    let alerts_after = engine.get_json("/api/views/alerts").await;
    assert_eq!(alerts(&alerts_after), alerts(&saved_view(format, "alerts")));
    assert_eq!(alerts(&alerts_after).len(), 1);

    // New events go into blocks next to the moved rows; both count after a restart.
    let (host, port) = engine.options.broker.address();
    let mut publisher = Publisher::connect(&host, port).await;
    let root = engine.options.topic_root.clone();
    let now = chrono::Utc::now().timestamp_millis();
    for i in 0..20 {
        let body = json!({"id": format!("upgrade-{i}"), "source": "noise-up", "ts": now - 1_000 + i,
                          "values": {"laeq": 60.5}});
        publisher
            .publish(
                &format!("{root}/hoan-kiem/noise/noise-up"),
                body.to_string(),
            )
            .await;
    }
    publisher.wait_acked().await;
    engine
        .wait_for(std::time::Duration::from_secs(60), |o| {
            o["events_total"] == json!(events_total + 20)
        })
        .await;
    engine.terminate();
    engine.restart().await;
    let again = engine.get_json("/api/views/overview").await;
    assert_eq!(again["events_total"], json!(events_total + 20));
    let hoan_kiem = again["areas"]
        .as_array()
        .and_then(|areas| areas.iter().find(|a| a["id"] == "hoan-kiem"))
        .expect("hoan-kiem");
    let before_hk = before["areas"]
        .as_array()
        .and_then(|areas| areas.iter().find(|a| a["id"] == "hoan-kiem"))
        .expect("hoan-kiem before");
    assert_eq!(
        hoan_kiem["counts"]["noise"].as_u64(),
        before_hk["counts"]["noise"].as_u64().map(|n| n + 20)
    );
}

//! The operators' dashboard page in a real browser: headless Chromium loads it with a token,
//! follows the live-view protocol over the websocket and renders the areas with their numbers.

use ioc_tests::publish::Publisher;
use ioc_tests::{Engine, EngineOptions};
use serde_json::json;
use std::process::Command;
use std::time::Duration;

fn chromium() -> String {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(String::from)
        .expect("Chromium not found: scripts/test-all.sh installs the `chromium` package")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_renders_live_numbers_in_chromium() {
    let engine = Engine::start(EngineOptions::new("page")).await;
    let root = engine.options.topic_root.clone();
    let (host, port) = engine.options.broker.address();
    let mut publisher = Publisher::connect(&host, port).await;
    let now = chrono::Utc::now().timestamp_millis();
    for i in 0..37 {
        let body = json!({"source": "aq-hk", "ts": now - 60_000 + i * 1000, "values": {"pm25": 55.7, "pm10": 20.0}});
        publisher
            .publish(
                &format!("{root}/hoan-kiem/air_quality/aq-hk"),
                body.to_string(),
            )
            .await;
    }
    publisher.wait_acked().await;
    engine
        .wait_for(Duration::from_secs(30), |o| {
            o["events_total"].as_u64() == Some(37)
        })
        .await;

    let profile = std::env::temp_dir().join(format!("chromium-{root}"));
    let url = format!("{}/?access_token={}", engine.url(""), engine.token);
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=8000",
            "--run-all-compositor-stages-before-draw",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("run chromium");
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        dom.contains("trực tuyến"),
        "the page did not connect its websocket:\n{dom}"
    );
    // The row of Hoàn Kiếm: AQI 110 for PM2.5 55.7 (sub-index of Decision 1459), PM2.5 55.7,
    // 37 events; the totals tile shows 37.
    let row = dom
        .split("<tr>")
        .find(|row| row.contains("Hoàn Kiếm"))
        .unwrap_or_else(|| panic!("no Hoàn Kiếm row:\n{dom}"));
    assert!(row.contains(">110<"), "AQI missing in {row}");
    assert!(row.contains(">55.7<"), "PM2.5 missing in {row}");
    assert!(row.contains(">37<"), "event count missing in {row}");
    assert!(dom.contains("id=\"events_total\">37<"), "total tile wrong");
    assert_eq!(dom.matches("<tr>").count(), 31, "header + 30 areas");
}

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

/// Loads `url` in headless Chromium and returns the DOM after the page's scripts ran.
fn dump_dom(url: &str, profile_name: &str) -> String {
    let profile = std::env::temp_dir().join(format!("chromium-{profile_name}"));
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
        .arg(url)
        .output()
        .expect("run chromium");
    let _ = std::fs::remove_dir_all(&profile);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_renders_live_numbers_in_chromium() {
    // One rule that the readings below trip at once, so the alerts table has a row.
    let rules = std::env::temp_dir().join(format!("ioc-page-rules-{}.toml", std::process::id()));
    std::fs::write(
        &rules,
        "[[rule]]\nid = \"pm25-over-50\"\ntype = \"threshold\"\nmetric = \"air_quality.pm25\"\nabove = 50\nseverity = \"major\"\n",
    )
    .expect("rules file");
    let mut options = EngineOptions::new("page").with_env("IOC_OPEN311_API_KEYS", "page-key");
    options.extra_args = vec!["--rules".into(), rules.display().to_string()];
    let engine = Engine::start(options).await;
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
    // One citizen report (in Tây Hồ), so the report tiles have something to show.
    let answer = ioc_tests::open311::Open311Client::new(&engine.url(""))
        .post_form(
            "json",
            &[
                ("api_key", "page-key"),
                ("service_code", "environment"),
                ("lat", "21.070"),
                ("long", "105.818"),
                ("description", "Rác thải ùn ứ"),
            ],
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    engine
        .wait_for(Duration::from_secs(30), |o| {
            o["events_total"].as_u64() == Some(38)
        })
        .await;

    let url = format!("{}/?access_token={}", engine.url(""), engine.token);
    // Headless Chromium's virtual time may end before the websocket's first frames arrive; load
    // the page again (at most 10 times) until it has rendered the live data.
    let mut dom = String::new();
    for attempt in 0..10 {
        dom = dump_dom(&url, &format!("{root}-{attempt}"));
        if dom.contains("trực tuyến") && dom.contains("Hoàn Kiếm") && dom.contains("vượt ngưỡng")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        dom.contains("trực tuyến"),
        "the page did not connect its websocket:\n{dom}"
    );
    // The row of Hoàn Kiếm: AQI 110 for PM2.5 55.7 (sub-index of Decision 1459), PM2.5 55.7,
    // 37 events (the report went to Tây Hồ).
    // The alert raised by the rule, in the alerts table with its Vietnamese message.
    assert!(
        dom.contains("Nồng độ bụi PM2.5 tại aq-hk (Hoàn Kiếm) là 55.7, vượt ngưỡng 50"),
        "alert missing:\n{dom}"
    );
    assert!(dom.contains("id=\"alerts_active\">1<"), "alert tile wrong");
    let areas_table = dom
        .split("id=\"areas\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no areas table:\n{dom}"));
    let row = areas_table
        .split("<tr>")
        .find(|row| row.contains("Hoàn Kiếm"))
        .unwrap_or_else(|| panic!("no Hoàn Kiếm row:\n{dom}"));
    assert!(row.contains(">110<"), "AQI missing in {row}");
    assert!(row.contains(">55.7<"), "PM2.5 missing in {row}");
    assert!(row.contains(">37<"), "event count missing in {row}");
    assert!(
        dom.contains("id=\"events_total\">38<"),
        "total tile wrong (37 readings + 1 report)"
    );
    assert!(
        dom.contains("id=\"reports_open\">1<"),
        "open reports tile wrong"
    );
    assert!(
        dom.contains("id=\"reports_overdue\">0<"),
        "overdue reports tile wrong"
    );
    assert_eq!(areas_table.matches("<tr>").count(), 30, "30 areas");
}

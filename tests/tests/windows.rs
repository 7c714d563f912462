//! Window values against a straightforward reference computation over the same events:
//! count, mean and max of the 5-minute window for a few areas.

use ioc_tests::publish::Publisher;
use ioc_tests::{Engine, EngineOptions};
use serde_json::json;
use std::time::Duration;

const BUCKET_MS: i64 = 10_000;
const FIVE_MIN_MS: i64 = 300_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_minute_windows_equal_the_reference() {
    let engine = Engine::start(EngineOptions::new("windows")).await;
    let root = engine.options.topic_root.clone();
    let (host, port) = engine.options.broker.address();
    let mut publisher = Publisher::connect(&host, port).await;

    let max_ts = chrono::Utc::now().timestamp_millis() - 1_000;
    let areas = ["hoan-kiem", "cau-giay", "thanh-tri"];
    // 60 readings per area, 7 s apart: 7 minutes, so the 5-minute window holds only part.
    // Oldest first, so no reading is late.
    let mut sent: Vec<(&str, i64, f64)> = Vec::new();
    for k in (0..60_i64).rev() {
        for (a, area) in areas.iter().enumerate() {
            let ts = max_ts - k * 7_000 - a as i64;
            let value = 40.0 + ((k * 37 + a as i64 * 11) % 41) as f64 + 0.25;
            let body = json!({"source": format!("nm-{area}"), "ts": ts, "values": {"laeq": value}});
            publisher
                .publish(&format!("{root}/{area}/noise/nm-{area}"), body.to_string())
                .await;
            sent.push((area, ts, value));
        }
    }
    publisher.wait_acked().await;
    engine
        .wait_for(Duration::from_secs(30), |o| {
            o["events_total"].as_u64() == Some(sent.len() as u64)
        })
        .await;

    let newest = sent.iter().map(|(_, ts, _)| *ts).max().unwrap_or_default();
    let end = newest - newest.rem_euclid(BUCKET_MS) + BUCKET_MS;
    for area in areas {
        let in_window: Vec<f64> = sent
            .iter()
            .filter(|(a, ts, _)| *a == area && *ts >= end - FIVE_MIN_MS && *ts < end)
            .map(|(_, _, v)| *v)
            .collect();
        let count = in_window.len() as u64;
        let mean = in_window.iter().sum::<f64>() / count as f64;
        let max = in_window.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let view = engine
            .get_json(&format!("/api/views/area?area={area}"))
            .await;
        let window = &view["windows"]["laeq"]["5m"];
        assert_eq!(window["count"].as_u64(), Some(count), "{area}: {window}");
        assert!(
            (window["mean"].as_f64().unwrap_or(f64::NAN) - mean).abs() < 1e-9,
            "{area}: {window} vs {mean}"
        );
        assert_eq!(window["max"].as_f64(), Some(max), "{area}");
        let all = sent.iter().filter(|(a, _, _)| *a == area).count() as u64;
        assert_eq!(
            view["windows"]["laeq"]["60m"]["count"].as_u64(),
            Some(all),
            "{area}"
        );
        // The overview's laeq_5m is the energetic mean of the same readings (sound levels
        // average by energy: 10·log10 of the mean of 10^(L/10)), rounded to 2 decimals.
        let energetic = 10.0
            * (in_window.iter().map(|l| 10_f64.powf(l / 10.0)).sum::<f64>() / count as f64).log10();
        let overview = engine.overview().await;
        let line = overview["areas"]
            .as_array()
            .and_then(|a| a.iter().find(|l| l["id"] == area))
            .cloned();
        let shown = line.and_then(|l| l["laeq_5m"].as_f64()).unwrap_or(f64::NAN);
        assert!(
            (shown - (energetic * 100.0).round() / 100.0).abs() < 1e-9,
            "{area}: {shown} vs {energetic}"
        );
    }
}

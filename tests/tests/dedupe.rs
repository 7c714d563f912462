//! The same event id twice (a QoS 1 redelivery, an app's retry) counts once.

use ioc_tests::engine::count;
use ioc_tests::publish::Publisher;
use ioc_tests::{Engine, EngineOptions};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_events_published_twice_count_two_hundred() {
    let engine = Engine::start(EngineOptions::new("dedupe")).await;
    let root = engine.options.topic_root.clone();
    let (host, port) = engine.options.broker.address();
    let mut publisher = Publisher::connect(&host, port).await;
    let base = chrono::Utc::now().timestamp_millis() - 60_000;
    let events: Vec<(String, String)> = (0..200)
        .map(|i| {
            let area = ["ba-dinh", "tay-ho", "ha-dong", "soc-son"][i % 4];
            let body = json!({
                "id": format!("dup-{i}"),
                "source": format!("tf-{area}"),
                "ts": base + i as i64 * 100,
                "values": {"speed": 30 + i % 20, "intensity": 12, "occupancy": 0.3}
            });
            (format!("{root}/{area}/traffic/tf-{area}"), body.to_string())
        })
        .collect();
    for (topic, body) in events.iter().chain(events.iter()) {
        publisher.publish(topic, body.clone()).await;
    }
    publisher.wait_acked().await;
    // Once the engine has acknowledged all 400 messages, both copies have been through the journal.
    engine
        .wait_metric(
            "ioc_mqtt_acknowledged_total",
            400.0,
            Duration::from_secs(30),
        )
        .await;
    let overview = engine
        .wait_for(Duration::from_secs(30), |o| {
            o["events_total"].as_u64() == Some(200)
        })
        .await;
    assert_eq!(overview["events_total"].as_u64(), Some(200));
    for area in ["ba-dinh", "tay-ho", "ha-dong", "soc-son"] {
        assert_eq!(count(&overview, area, "traffic"), 50, "{area}");
    }
}

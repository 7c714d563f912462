//! kill -9 of the engine under load, then restart: every message the broker accepted is counted
//! exactly once (acknowledged ones from the journal, the rest redelivered by the broker).

use ioc_tests::engine::count;
use ioc_tests::publish::Publisher;
use ioc_tests::{Engine, EngineOptions};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

/// Kept below Mosquitto's default offline queue (`max_queued_messages 1000`) for the time the
/// engine is down; see README "Broker settings".
const RATE_PER_SEC: u64 = 400;
const TOTAL: u64 = 6_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_under_load_loses_nothing_and_counts_nothing_twice() {
    let mut engine = Engine::start(EngineOptions::new("kill9")).await;
    let root = engine.options.topic_root.clone();
    let (host, port) = engine.options.broker.address();
    let areas = ["ba-dinh", "hoan-kiem", "tay-ho", "gia-lam", "my-duc"];
    let kinds = [
        (
            "traffic",
            json!({"speed": 31.5, "intensity": 20, "occupancy": 0.4}),
        ),
        ("noise", json!({"laeq": 61.0})),
    ];

    let mut expected: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut plan = Vec::new();
    let start = chrono::Utc::now().timestamp_millis() - 20_000;
    for i in 0..TOTAL {
        let area = areas[(i % 5) as usize];
        let (kind, values) = &kinds[((i / 5) % 2) as usize];
        let source = format!("{kind}-{area}");
        let body = json!({"id": format!("k-{i}"), "source": source, "ts": start + i as i64, "values": values});
        plan.push((format!("{root}/{area}/{kind}/{source}"), body.to_string()));
        *expected
            .entry((area.to_string(), kind.to_string()))
            .or_default() += 1;
    }

    let mut publisher = Publisher::connect(&host, port).await;
    let feeder = tokio::spawn(async move {
        for chunk in plan.chunks((RATE_PER_SEC / 10) as usize) {
            for (topic, body) in chunk {
                publisher.publish(topic, body.clone()).await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        publisher.wait_acked().await;
    });

    // Kill twice while the feeder runs, each time once the engine has made some progress.
    for round in 1..=2_u64 {
        engine
            .wait_metric(
                "ioc_mqtt_acknowledged_total",
                500.0,
                Duration::from_secs(60),
            )
            .await;
        engine.kill9();
        engine.restart().await;
        assert!(round <= 2);
    }
    feeder.await.expect("feeder");
    let overview = engine
        .wait_for(Duration::from_secs(60), |o| {
            o["events_total"].as_u64() == Some(TOTAL)
        })
        .await;
    // Give redeliveries that might still be on their way a moment: the count must not move.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let overview_later = engine.overview().await;
    assert_eq!(overview["events_total"].as_u64(), Some(TOTAL));
    assert_eq!(overview_later["events_total"].as_u64(), Some(TOTAL));
    for ((area, kind), n) in &expected {
        assert_eq!(count(&overview_later, area, kind), *n, "{area}/{kind}");
    }

    // And once more from the journal alone: replay gives the same numbers.
    engine.restart().await;
    let replayed = engine.overview().await;
    assert_eq!(replayed["events_total"].as_u64(), Some(TOTAL));
    for ((area, kind), n) in &expected {
        assert_eq!(
            count(&replayed, area, kind),
            *n,
            "after replay {area}/{kind}"
        );
    }
}

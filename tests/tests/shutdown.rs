//! SIGTERM: the engine stops taking messages, finishes what it holds, closes websockets with
//! 1001 (going away) and exits 0; what it acknowledged before is all there after a restart.

use ioc_tests::publish::Publisher;
use ioc_tests::ws::LiveClient;
use ioc_tests::{Engine, EngineOptions};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_websockets_with_1001_and_exits_zero() {
    let mut engine = Engine::start(EngineOptions::new("sigterm")).await;
    let root = engine.options.topic_root.clone();
    let (host, port) = engine.options.broker.address();
    let mut publisher = Publisher::connect(&host, port).await;
    let now = chrono::Utc::now().timestamp_millis();
    for i in 0..500 {
        let body = json!({"id": format!("st-{i}"), "source": "nm-1", "ts": now - 10_000 + i, "values": {"laeq": 60}});
        publisher
            .publish(&format!("{root}/dong-da/noise/nm-1"), body.to_string())
            .await;
    }
    publisher.wait_acked().await;
    engine
        .wait_for(Duration::from_secs(30), |o| {
            o["events_total"].as_u64() == Some(500)
        })
        .await;

    let mut client = LiveClient::connect(&engine.ws_url()).await;
    client.subscribe("s1", "overview", json!({})).await;
    let snapshot = client
        .next(Duration::from_secs(10))
        .await
        .unwrap_or_default();
    assert_eq!(snapshot["type"], "snapshot");

    let status = engine.terminate().expect("the engine was running");
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(client.close_code(Duration::from_secs(10)).await, Some(1001));

    engine.restart().await;
    assert_eq!(engine.overview().await["events_total"].as_u64(), Some(500));
}

//! A backlog queued in the broker while the engine was away is drained without the engine
//! losing its session: the keep-alive is set to 2 s, the drain takes several keep-alive
//! periods, and the engine must count every queued message exactly once with no reconnect.

use ioc_sim::MqttTarget;
use ioc_tests::mosquitto::{Mosquitto, MosquittoOptions};
use ioc_tests::simulate;
use ioc_tests::{Broker, Engine, EngineOptions};
use std::time::Duration;

/// Messages queued while the engine is stopped (a debug build drains them in well over the
/// keep-alive).
const QUEUED: u64 = 40_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_backlog_drains_in_one_session_with_every_message_counted_once() {
    let broker = Mosquitto::start("backlog", MosquittoOptions::default());
    let config = std::env::temp_dir().join(format!("ioc-backlog-{}.toml", std::process::id()));
    std::fs::write(&config, "mqtt_keep_alive = \"2s\"\n").expect("config file");
    let mut options = EngineOptions::new("backlog");
    options.broker = Broker::External(broker.url());
    options.extra_args = vec![
        "--config".into(),
        config.display().to_string(),
        "--mqtt-client-id".into(),
        "backlog-engine".into(),
    ];
    // The persistent session exists, then the engine goes away and the backlog piles up.
    let mut engine = Engine::start(options).await;
    engine.terminate();
    let target = MqttTarget::new("127.0.0.1", broker.port);
    let root = &engine.options.topic_root;
    simulate::publish_all(simulate::city(target, root, QUEUED, 1_000_000.0, 5)).await;

    engine.restart().await;
    let counted = engine
        .wait_metric("ioc_events_total", QUEUED as f64, Duration::from_secs(600))
        .await;
    // Redeliveries would show as more acknowledgements than messages, a lost session as a
    // connection error.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(counted, QUEUED as f64);
    assert_eq!(engine.metric("ioc_events_total").await, Some(QUEUED as f64));
    assert_eq!(
        engine.metric("ioc_mqtt_connection_errors_total").await,
        Some(0.0)
    );
    assert_eq!(
        engine.metric("ioc_mqtt_acknowledged_total").await,
        Some(QUEUED as f64)
    );
    let _ = std::fs::remove_file(&config);
}

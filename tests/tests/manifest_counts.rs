//! The simulator's manifest against the engine's numbers: N ≥ 20,000 events across every area
//! and kind, counted exactly per area × kind — on Mosquitto and on the embedded broker.

use ioc_sim::{MqttTarget, SimConfig};
use ioc_tests::engine::count;
use ioc_tests::simulate::{self, Manifest};
use ioc_tests::{Engine, EngineOptions};
use std::collections::BTreeMap;
use std::time::Duration;

const EVENTS: u64 = 20_000;
/// Well below what a debug build of the engine sustains while other tests share the two cores
/// (see BENCHMARKS.md): a publisher faster than the engine overflows the broker's queue for it,
/// and Mosquitto drops what does not fit (README "Broker settings").
const RATE: f64 = 2_500.0;

async fn manifest_counts_equal_the_overview(options: EngineOptions) {
    let engine = Engine::start(options).await;
    let (host, port) = engine.options.broker.address();
    let manifest = engine.data_dir.with_extension("manifest.jsonl");
    let config = SimConfig {
        manifest: Some(manifest.clone()),
        ..simulate::city(
            MqttTarget::new(host, port),
            &engine.options.topic_root,
            EVENTS,
            RATE,
            42,
        )
    };
    simulate::publish_all(config).await;

    // The manifest: what the broker acknowledged, line by line.
    let Manifest {
        ids,
        counts: expected,
    } = Manifest::read(&manifest);
    assert_eq!(ids.len() as u64, EVENTS);
    assert_eq!(
        expected.len(),
        30 * 5,
        "every area × telemetry kind and dossiers"
    );

    let overview = engine
        .wait_for(Duration::from_secs(60), |o| {
            o["events_total"].as_u64() == Some(EVENTS)
        })
        .await;
    assert_eq!(overview["events_total"].as_u64(), Some(EVENTS));
    assert_eq!(overview["rejected_total"].as_u64(), Some(0));
    let mut actual: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (area, kind) in expected.keys() {
        actual.insert((area.clone(), kind.clone()), count(&overview, area, kind));
    }
    assert_eq!(actual, expected);
    let _ = std::fs::remove_file(manifest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_counts_on_mosquitto() {
    manifest_counts_equal_the_overview(EngineOptions::new("manifest")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_counts_on_the_embedded_broker() {
    manifest_counts_equal_the_overview(EngineOptions::embedded("manifest-emb")).await;
}

//! The benchmark harness must not rot: its short smoke run (small volumes, debug build)
//! runs here against private Mosquitto brokers and every figure it reports is checked for
//! shape and for exact counts. Speed itself is never asserted (see BENCHMARKS.md).

use serde_json::Value;
use std::process::Command;

#[test]
fn the_benchmark_harness_runs_every_benchmark_on_small_volumes() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf();
    let out = std::env::temp_dir().join(format!("ioc-bench-smoke-{}.json", std::process::id()));
    let binary = ioc_tests::engine::binary();
    let target = binary
        .parent()
        .and_then(|profile| profile.parent())
        .expect("target dir");
    let status = Command::new("python3")
        .arg(root.join("scripts/bench.py"))
        .args(["--smoke", "--json"])
        .arg(&out)
        .env("CARGO_TARGET_DIR", target)
        .status()
        .expect("python3 runs the harness");
    assert!(status.success(), "bench.py --smoke failed: {status}");
    let report: Value =
        serde_json::from_slice(&std::fs::read(&out).expect("results file")).expect("JSON");
    let _ = std::fs::remove_file(&out);
    let results = report["results"].as_array().expect("results");
    let value = |id: &str, what: &str| -> f64 {
        results
            .iter()
            .find(|r| r["id"] == id && r["what"].as_str().is_some_and(|w| w.contains(what)))
            .and_then(|r| r["value"].as_f64())
            .unwrap_or_else(|| panic!("no {id} {what:?} in {results:?}"))
    };
    for id in [
        "B1a", "B1b", "B2", "B3", "B4", "B6", "B7", "B8", "B10", "B11",
    ] {
        assert!(results.iter().any(|r| r["id"] == id), "{id} missing");
    }
    // Counts are exact: every queued message was drained, every journaled event replayed.
    assert_eq!(value("B1a", "queued"), 20_000.0);
    // 2,000/s for 3 s at QoS 1: the broker acknowledged each of the 6,000 publishes.
    assert_eq!(value("B1b", "acknowledged by the broker"), 6_000.0);
    assert_eq!(value("B8", "replayed events"), 20_000.0);
    // The restart after the clean stop reads the snapshot: the same count, nothing replayed.
    assert_eq!(
        value("B8", "events counted after the snapshot restart"),
        20_000.0
    );
    assert!(value("B8", "snapshot size") > 0.0);
    // Every probe's alert frame arrived.
    assert_eq!(value("B4", "probes under"), 20.0);
    assert_eq!(value("B2", "events counted"), 20_000.0);
    // 50 websocket clients: every one connected and got every tick of the interval, in order.
    assert_eq!(value("B6", "clients connected"), 50.0);
    assert!(value("B6", "ticks in the") > 0.0);
    assert_eq!(
        value("B6", "fewest ticks a client received"),
        value("B6", "ticks in the")
    );
    assert_eq!(value("B6", "clients that missed a tick"), 0.0);
    assert_eq!(value("B6", "gaps in seq"), 0.0);
    // 300 Open311 POSTs all acknowledged, and every one readable after kill -9 and a restart.
    assert_eq!(value("B10", "POSTs answered 201"), 300.0);
    assert_eq!(value("B10", "readable after kill -9"), 300.0);
    assert_eq!(value("B10", "acknowledged but not readable"), 0.0);
    // The soak: 1,000/s for 15 s, every acknowledged event counted.
    assert_eq!(value("B7", "acknowledged by the broker"), 15_000.0);
    assert_eq!(value("B7", "engine lost"), 0.0);
    assert!(value("B3", "bytes per event") > 0.0);
    assert!(value("B11", "CPU at 1,000") > 0.0);
}

//! The simulated city as the tests drive it: a seeded QoS 1 run to a test's topic root, run to
//! the end with every event acknowledged, and the manifest it leaves read back into what the
//! engine must then count.

use ioc_sim::{MqttTarget, SimConfig, SimSummary};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

/// A seeded QoS 1 run of `events` events at `rate` per second to `topic_root` on `mqtt`,
/// without a progress bar; other fields by struct update (`SimConfig { manifest, ..city(…) }`).
pub fn city(mqtt: MqttTarget, topic_root: &str, events: u64, rate: f64, seed: u64) -> SimConfig {
    SimConfig {
        mqtt,
        topic_root: topic_root.to_string(),
        rate,
        // Long enough never to be what ends the run: `max_events` does.
        duration: Duration::from_secs(3600),
        max_events: Some(events),
        seed,
        qos: 1,
        progress: false,
        ..SimConfig::default()
    }
}

/// Runs the simulator to its end and checks that the broker acknowledged every planned event.
pub async fn publish_all(config: SimConfig) -> SimSummary {
    let planned = config.planned_events();
    let summary = ioc_sim::run(config, std::future::pending())
        .await
        .expect("simulator run");
    assert_eq!((summary.sent, summary.unacknowledged), (planned, 0));
    summary
}

/// What a simulator manifest says was acknowledged: the event ids and the count per
/// `(area, kind)`.
#[derive(Debug, Default)]
pub struct Manifest {
    /// Every event id, once.
    pub ids: BTreeSet<String>,
    /// Events per `(area, kind)`.
    pub counts: BTreeMap<(String, String), u64>,
}

impl Manifest {
    /// Reads a manifest file; a line that is not JSON or an id written twice fails the test.
    pub fn read(path: &Path) -> Manifest {
        let text = std::fs::read_to_string(path).expect("manifest");
        let mut manifest = Manifest::default();
        for line in text.lines() {
            let event: Value = serde_json::from_str(line).expect("manifest line");
            let field = |name: &str| event[name].as_str().unwrap_or_default().to_string();
            *manifest
                .counts
                .entry((field("area"), field("kind")))
                .or_default() += 1;
            assert!(
                manifest.ids.insert(field("id")),
                "duplicate id in the manifest"
            );
        }
        manifest
    }

    /// How many events the manifest holds.
    pub fn total(&self) -> u64 {
        self.ids.len() as u64
    }
}

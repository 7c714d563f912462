//! Harness for the end-to-end tests: starts the real `ioc` binary as a process against a real
//! broker, publishes over MQTT, reads REST and websocket answers.
//!
//! The broker is the machine's Mosquitto by default; `IOC_TEST_MQTT` names another one, and
//! tests that want the in-process broker start the engine with [`Broker::Embedded`]. Every test
//! uses its own topic root and data directory, so tests run in parallel on one broker.

pub mod alerts_topic;
pub mod browser;
pub mod engine;
pub mod latency;
pub mod mosquitto;
pub mod open311;
pub mod postgres;
pub mod publish;
pub mod raw;
pub mod simulate;
pub mod ws;

pub use engine::{Broker, Engine, EngineOptions};

/// The external broker the tests use (`IOC_TEST_MQTT`, default the local Mosquitto).
pub fn test_broker_url() -> String {
    std::env::var("IOC_TEST_MQTT").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".to_string())
}

/// A topic root no other test run uses.
pub fn unique_root(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("t-{test}-{}-{nanos}", std::process::id())
}

/// A fresh scratch directory for a test's files (config files, keys), unique to this run.
pub fn scratch_dir(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(unique_root(test));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The seed of a fault test's random moments: `IOC_FAULT_SEED`, else the clock. Printed with
/// the test's name either way, so a failing run can be replayed.
pub fn fault_seed(test: &str) -> u64 {
    let seed = std::env::var("IOC_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("{test} fault seed: IOC_FAULT_SEED={seed}");
    seed
}

//! The IOC city simulator (docs/cli.md): a deterministic model of Hanoi's sensors and public-service
//! portals, published over MQTT as native JSON events at a chosen rate.
//!
//! - [`City`] generates events without any I/O: same seed and simulated times, same events.
//! - [`run`] connects to a broker, publishes `rate × duration` events paced in wall-clock time,
//!   waits for every PUBACK at QoS 1, optionally writes a JSON-lines manifest of what the broker
//!   took, and returns a [`SimSummary`].
//!
//! Simulated time runs `speedup` times faster than the wall clock and is anchored so that the
//! run's last event is stamped about "now"; no event is ever stamped in the future.

#![warn(missing_docs)]

pub mod citizens;
pub mod city;
pub mod config;
pub mod error;
pub mod manifest;
pub mod progress;
pub mod rng;
pub mod scenario;
pub mod summary;

mod publisher;
mod readings;
mod reporter;
mod tracker;

use std::future::Future;

pub use city::{City, SimEvent, Source};
pub use config::{ConfigError, MqttTarget, SimConfig, parse_mqtt_url};
pub use error::SimError;
pub use reporter::{ReportSummary, ReportTarget};
pub use scenario::{Scenario, UnknownScenario};
pub use summary::SimSummary;

/// Plays the configured city against the broker until `duration`, `max_events` or `shutdown`,
/// whichever comes first; at QoS 1 it returns only once the broker acknowledged what was sent.
pub async fn run(
    config: SimConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<SimSummary, SimError> {
    config.validate()?;
    let city = City::new(config.seed, config.areas.clone())
        .with_scenarios(&config.scenarios)
        .with_topic_root(config.topic_root.clone());
    let manifest = config
        .manifest
        .as_deref()
        .map(manifest::ManifestWriter::create)
        .transpose()?;
    tracing::info!(
        rate = config.rate,
        duration_s = config.duration.as_secs_f64(),
        seed = config.seed,
        qos = config.qos,
        planned = config.planned_events(),
        "starting the city simulator"
    );
    let (stop, _) = tokio::sync::watch::channel(false);
    let stopped = |stop: &tokio::sync::watch::Sender<bool>| {
        let mut receiver = stop.subscribe();
        async move {
            let _ = receiver.wait_for(|stopped| *stopped).await;
        }
    };
    let reporter = config.reports.clone().map(|target| {
        tokio::spawn(reporter::play(
            target,
            config.seed,
            config.areas.clone(),
            config.scenarios.contains(&Scenario::ReportBurst),
            stopped(&stop),
        ))
    });
    let publish = publisher::publish(&config, city, manifest, stopped(&stop));
    tokio::pin!(publish);
    tokio::pin!(shutdown);
    let mut stopping = false;
    let result = loop {
        tokio::select! {
            result = &mut publish => break result,
            _ = &mut shutdown, if !stopping => {
                stopping = true;
                stop.send_replace(true);
            }
        }
    };
    stop.send_replace(true);
    let mut summary = result?;
    if let Some(reporter) = reporter {
        match reporter.await {
            Ok(reports) => summary.reports = reports,
            Err(error) => tracing::warn!(%error, "report player failed"),
        }
    }
    Ok(summary)
}

//! Alert latency: publishes readings that cross a threshold over MQTT and times each one until
//! the websocket `alert` frame announcing its alert arrives. Start the engine with
//! `--rules tests/examples/alert_latency_rules.toml` and load it with the simulator; see
//! BENCHMARKS.md.
//!
//! `cargo run -p ioc-tests --release --example alert_latency -- <http base> <token>
//!  <mqtt host:port> <topic root> <probes>`

use ioc_tests::latency::{next_frame, percentiles, probe_client, subscribed_socket};
use rumqttc::QoS;
use serde_json::json;
use std::time::{Duration, Instant};

const AREA: &str = "hoan-kiem";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, http, token, broker, root, probes] = args.as_slice() else {
        return Err(
            "usage: alert_latency <http base> <token> <mqtt host:port> <topic root> <probes>"
                .into(),
        );
    };
    let probes: usize = probes.parse()?;
    let mut socket = subscribed_socket(
        http,
        token,
        &json!({"op": "subscribe", "id": "al", "view": "alerts"}),
    )
    .await?;

    let client = probe_client(broker, "alert-latency")?;

    let run = std::process::id();
    let mut samples = Vec::with_capacity(probes);
    for probe in 0..probes {
        // A new sensor per probe: each one is a new subject, so each raises its own alert.
        let source = format!("alert-probe-{run}-{probe}");
        let body = json!({"source": source, "ts": chrono::Utc::now().timestamp_millis(), "values": {"laeq": 160.0}});
        let sent = Instant::now();
        client
            .publish(
                format!("{root}/{AREA}/noise/{source}"),
                QoS::AtLeastOnce,
                false,
                body.to_string(),
            )
            .await?;
        loop {
            let frame = next_frame(&mut socket).await?;
            if frame["type"] == "alert" && frame["alert"]["subject"] == source.as_str() {
                samples.push(sent.elapsed());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50 + (probe as u64 * 37) % 200)).await;
    }
    println!("{}", percentiles(samples));
    Ok(())
}

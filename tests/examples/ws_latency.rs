//! Publish-to-websocket latency: publishes probe readings over MQTT and times each one until
//! the `area` view frame that shows it arrives on the websocket. Run it while the simulator
//! loads the engine; see BENCHMARKS.md.
//!
//! `cargo run -p ioc-tests --release --example ws_latency -- <http base> <token> <mqtt host:port>
//!  <topic root> <probes>`

use ioc_tests::latency::{next_frame, percentiles, probe_client, subscribed_socket};
use ioc_tests::ws::merge_patch;
use rumqttc::QoS;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const AREA: &str = "hoan-kiem";
const SOURCE: &str = "latency-probe";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, http, token, broker, root, probes] = args.as_slice() else {
        return Err(
            "usage: ws_latency <http base> <token> <mqtt host:port> <topic root> <probes>".into(),
        );
    };
    let probes: usize = probes.parse()?;
    let mut socket = subscribed_socket(
        http,
        token,
        &json!({"op": "subscribe", "id": "lat", "view": "area", "area": AREA}),
    )
    .await?;

    let client = probe_client(broker, "latency")?;

    let mut data = Value::Null;
    let mut samples = Vec::with_capacity(probes);
    for probe in 0..probes {
        // Values 40.0, 40.5, … identify the probe in the source's last values.
        let value = 40.0 + (probe % 100) as f64 * 0.5;
        let body = json!({"source": SOURCE, "ts": chrono::Utc::now().timestamp_millis(), "values": {"laeq": value}});
        let sent = Instant::now();
        client
            .publish(
                format!("{root}/{AREA}/noise/{SOURCE}"),
                QoS::AtLeastOnce,
                false,
                body.to_string(),
            )
            .await?;
        loop {
            let frame = next_frame(&mut socket).await?;
            match frame["type"].as_str() {
                Some("snapshot") => data = frame["data"].clone(),
                Some("update") => merge_patch(&mut data, &frame["patch"]),
                _ => continue,
            }
            let shown = data["sources"].as_array().and_then(|sources| {
                sources
                    .iter()
                    .find(|s| s["id"] == SOURCE)
                    .and_then(|s| s["values"]["laeq"].as_f64())
            });
            if shown == Some(value) {
                samples.push(sent.elapsed());
                break;
            }
        }
        // Spread probes over the tick's phases (a fixed pause would lock onto one phase).
        tokio::time::sleep(Duration::from_millis(100 + (probe as u64 * 211) % 500)).await;
    }
    println!("{}", percentiles(samples));
    Ok(())
}
